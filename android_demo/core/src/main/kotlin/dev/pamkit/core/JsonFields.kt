package dev.pamkit.core

import org.json.JSONArray
import org.json.JSONException
import org.json.JSONObject

/** Thrown for a manifest this code cannot use; the message names the field and what to do. */
class ManifestException(message: String) : Exception(message)

/**
 * Typed reads of one JSON object that name the field's path in every error ("tasks[1].labels").
 *
 * org.json's own getters throw messages without the path, and its opt* getters silently invent
 * defaults; neither tells an app developer which field of which file is wrong.
 */
internal class JsonFields(private val obj: JSONObject, private val path: String) {
    private fun where(key: String) = if (path.isEmpty()) key else "$path.$key"

    private fun fail(key: String, problem: String): Nothing =
        throw ManifestException("manifest.json: ${where(key)} $problem; re-run `pamkit export` to write a valid manifest")

    private fun value(key: String): Any {
        if (!obj.has(key) || obj.isNull(key)) fail(key, "is missing")
        return obj.get(key)
    }

    fun has(key: String): Boolean = obj.has(key) && !obj.isNull(key)

    fun string(key: String): String = value(key) as? String ?: fail(key, "must be a string")

    fun long(key: String): Long {
        val v = value(key)
        if (v !is Number || v.toDouble() != Math.floor(v.toDouble())) fail(key, "must be a whole number")
        return v.toLong()
    }

    fun int(key: String): Int = long(key).toInt()

    fun double(key: String): Double = (value(key) as? Number)?.toDouble() ?: fail(key, "must be a number")

    fun boolean(key: String): Boolean = value(key) as? Boolean ?: fail(key, "must be true or false")

    fun obj(key: String): JsonFields = JsonFields(value(key) as? JSONObject ?: fail(key, "must be an object"), where(key))

    fun optObj(key: String): JsonFields? = if (has(key)) obj(key) else null

    fun objects(key: String): List<JsonFields> {
        val array = array(key)
        return (0 until array.length()).map { i ->
            JsonFields(array.opt(i) as? JSONObject ?: fail("$key[$i]", "must be an object"), "${where(key)}[$i]")
        }
    }

    fun strings(key: String): List<String> {
        val array = array(key)
        return (0 until array.length()).map { i -> array.opt(i) as? String ?: fail("$key[$i]", "must be a string") }
    }

    fun stringLists(key: String): List<List<String>> {
        val array = array(key)
        return (0 until array.length()).map { i ->
            val inner = array.opt(i) as? JSONArray ?: fail("$key[$i]", "must be a list of strings")
            (0 until inner.length()).map { j -> inner.opt(j) as? String ?: fail("$key[$i][$j]", "must be a string") }
        }
    }

    fun numbers(key: String): List<Double> {
        val array = array(key)
        return (0 until array.length()).map { i -> (array.opt(i) as? Number)?.toDouble() ?: fail("$key[$i]", "must be a number") }
    }

    fun nonEmpty(key: String, size: Int) {
        if (size == 0) fail(key, "must not be empty")
    }

    fun invalid(key: String, problem: String): Nothing = fail(key, problem)

    private fun array(key: String): JSONArray = value(key) as? JSONArray ?: fail(key, "must be a list")

    companion object {
        /** The top-level object of a JSON text, or a ManifestException saying it is not JSON. */
        fun parse(text: String): JsonFields =
            try {
                JsonFields(JSONObject(text), "")
            } catch (e: JSONException) {
                throw ManifestException("manifest.json is not a JSON object (${e.message}); pass the file `pamkit export` wrote")
            }
    }
}
