// The pamkit Android demo: `core` (pure Kotlin, reusable by any app) and `app` (one screen over it).
// Open this folder (android_demo/) in Android Studio; fill the app's assets first (README.md).
pluginManagement {
    repositories {
        google()
        mavenCentral()
        gradlePluginPortal()
    }
}
dependencyResolutionManagement {
    repositoriesMode.set(RepositoriesMode.FAIL_ON_PROJECT_REPOS)
    repositories {
        google()
        mavenCentral()
    }
}
rootProject.name = "pamkit-android-demo"
include(":core", ":app")
