package dev.pamkit.core

import org.json.JSONObject
import org.junit.Assert.assertEquals
import org.junit.Assert.assertTrue
import org.junit.Assert.fail
import org.junit.Test
import org.junit.runner.RunWith
import org.junit.runners.Parameterized

/** Every case of tests/selection_cases.json, which pamkit.export.select_entry and the iOS side answer too. */
@RunWith(Parameterized::class)
class SelectionCasesTest(
    @Suppress("unused") private val label: String,
    private val case: JSONObject,
) {
    companion object {
        @JvmStatic
        @Parameterized.Parameters(name = "{0}")
        fun cases(): List<Array<Any>> =
            Fixtures.rows(Fixtures.selection.getJSONArray("cases")) { c, _ -> Fixtures.strings(c.getJSONArray("tasks")).joinToString("+").ifEmpty { "none" } }

        /** The cases' manifest fragment, completed into a full manifest (the real three-task one's other fields). */
        val manifest: Manifest by lazy {
            Manifest.parse(
                Fixtures.edited("three_tasks") { root ->
                    val fragment = Fixtures.selection.getJSONObject("manifest")
                    val real = root.getJSONArray("tasks").getJSONObject(0)
                    val tasks = fragment.getJSONArray("tasks")
                    for (i in 0 until tasks.length()) {
                        val name = tasks.getJSONObject(i).getString("name")
                        tasks.put(i, JSONObject(real.toString()).put("name", name).put("output", name.replace('-', '_')))
                    }
                    val combos = fragment.getJSONArray("combinations")
                    for (i in 0 until combos.length()) combos.getJSONObject(i).put("params", 1)
                    root.put("tasks", tasks).put("combinations", combos).put("default_combination", combos.getJSONObject(0).getString("entry"))
                    root.getJSONArray("files").let { files -> for (i in 0 until files.length()) files.getJSONObject(i).put("entries", org.json.JSONArray()) }
                },
            )
        }
    }

    @Test
    fun `answers as pamkit does`() {
        val tasks = Fixtures.strings(case.getJSONArray("tasks"))
        if (case.has("error")) {
            try {
                manifest.select(tasks)
                fail("selected an entry point for $tasks")
            } catch (e: SelectionException) {
                assertEquals(case.getString("error"), e.reason.name.lowercase())
            }
        } else {
            val entry = manifest.select(tasks)
            assertEquals(case.getString("entry"), entry.name)
            assertEquals(Fixtures.strings(case.getJSONArray("outputs")), entry.outputs)
        }
    }
}

class SelectionTest {
    @Test
    fun `on a real export every subset of tasks gets its own entry point`() {
        val m = Fixtures.manifest("three_tasks")
        val names = m.taskNames
        for (mask in 1 until (1 shl names.size)) {
            val wanted = names.filterIndexed { i, _ -> mask and (1 shl i) != 0 }
            val entry = m.select(wanted.reversed()) // the order asked in does not matter
            assertEquals(wanted, entry.tasks)
            assertEquals(wanted.joinToString("__"), entry.name)
        }
    }

    @Test
    fun `errors name the model's tasks and the way out`() {
        val m = Fixtures.manifest("demo")
        val unknown = runCatching { m.select(listOf("a", "shoe")) }.exceptionOrNull() as SelectionException
        assertEquals(SelectionException.Reason.UNKNOWN_TASK, unknown.reason)
        assertTrue(unknown.message!!, unknown.message!!.contains("'shoe'") && unknown.message!!.contains("tasks are: a, b"))
        val none = runCatching { m.select(emptyList()) }.exceptionOrNull() as SelectionException
        assertEquals(SelectionException.Reason.NO_TASKS, none.reason)
        val partial = Manifest.parse(Fixtures.edited("demo") { root -> root.put("combinations", org.json.JSONArray().put(root.getJSONArray("combinations").getJSONObject(0))).put("default_combination", "a").put("files", org.json.JSONArray()) })
        val notCovered = runCatching { partial.select(listOf("a", "b")) }.exceptionOrNull() as SelectionException
        assertEquals(SelectionException.Reason.NOT_COVERED, notCovered.reason)
        assertTrue(notCovered.message!!.contains("--combinations"))
    }
}
