package dev.pamkit.core

import org.json.JSONArray
import org.json.JSONObject
import java.io.File

/** The shared test data the Python side writes (tests/selection_cases.json, tests/app_fixtures/). */
object Fixtures {
    /** The repository root: -Dpamkit.root, else two levels above android_demo/core (Gradle's working directory). */
    val root: File = File(System.getProperty("pamkit.root") ?: "../..").absoluteFile

    /** Where tests leave files for the Python side to check (-Dpamkit.out). */
    val out: File = File(System.getProperty("pamkit.out") ?: "build/test-out").absoluteFile

    fun text(path: String): String = File(root, path).readText()

    fun manifestText(name: String): String = text("tests/app_fixtures/manifests/$name.json")

    fun manifest(name: String): Manifest = Manifest.parse(manifestText(name))

    val selection: JSONObject by lazy { JSONObject(text("tests/selection_cases.json")) }

    val appCases: JSONObject by lazy { JSONObject(text("tests/app_fixtures/app_cases.json")) }

    /** One parameter row per item of `app_cases.json` section [key]: (name, item). */
    fun rows(section: JSONArray, name: (JSONObject, Int) -> String): List<Array<Any>> =
        (0 until section.length()).map { i -> arrayOf<Any>(name(section.getJSONObject(i), i), section.getJSONObject(i)) }

    /** A manifest text with one change applied to its JSON (for the bad-manifest tests). */
    fun edited(name: String, edit: (JSONObject) -> Unit): String = JSONObject(manifestText(name)).also(edit).toString()

    fun strings(array: JSONArray): List<String> = (0 until array.length()).map { array.getString(it) }

    fun floats(array: JSONArray): FloatArray = FloatArray(array.length()) { array.getDouble(it).toFloat() }
}
