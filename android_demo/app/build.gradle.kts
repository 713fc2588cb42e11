plugins {
    id("com.android.application")
    id("org.jetbrains.kotlin.android")
}

android {
    namespace = "dev.pamkit.demo"
    compileSdk = 35

    defaultConfig {
        applicationId = "dev.pamkit.demo"
        minSdk = 26
        targetSdk = 35
        versionCode = 1
        versionName = "0.1"
    }
    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_1_8
        targetCompatibility = JavaVersion.VERSION_1_8
    }
    kotlinOptions { jvmTarget = "1.8" }
    // .pte and .tflite are memory-mapped from a copy in the app's files; keep them uncompressed in the APK too.
    androidResources { noCompress += listOf("pte", "tflite") }
}

dependencies {
    implementation(project(":core"))
    implementation("org.pytorch:executorch-android:${property("pamkit.executorchAndroid")}")
    implementation("com.google.ai.edge.litert:litert:${property("pamkit.litert")}")
}
