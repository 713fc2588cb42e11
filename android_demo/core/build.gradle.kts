// Pure Kotlin: no android.* import, so it builds and tests on any JVM. org.json is Android's own at run time
// (compileOnly here); the tests use Debian's copy of it when run by scripts/test-jvm.sh.
plugins { id("org.jetbrains.kotlin.jvm") }

kotlin { jvmToolchain(17) }

tasks.withType<org.jetbrains.kotlin.gradle.tasks.KotlinCompile>().configureEach {
    compilerOptions.jvmTarget.set(org.jetbrains.kotlin.gradle.dsl.JvmTarget.JVM_1_8)
}
java {
    sourceCompatibility = JavaVersion.VERSION_1_8
    targetCompatibility = JavaVersion.VERSION_1_8
}

dependencies {
    compileOnly("org.json:json:20240303")
    testImplementation("org.json:json:20240303")
    testImplementation("junit:junit:4.13.2")
}

tasks.test { systemProperty("pamkit.root", rootDir.parentFile.absolutePath) }
