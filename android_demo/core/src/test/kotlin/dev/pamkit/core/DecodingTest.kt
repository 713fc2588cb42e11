package dev.pamkit.core

import org.json.JSONObject
import org.junit.Assert.assertEquals
import org.junit.Test
import org.junit.runner.RunWith
import org.junit.runners.Parameterized

/** Outputs decoded as pamkit's Task.predict decides them (tests/app_fixtures/app_cases.json, "decoding"). */
@RunWith(Parameterized::class)
class DecodingCasesTest(
    @Suppress("unused") private val label: String,
    private val case: JSONObject,
) {
    companion object {
        @JvmStatic
        @Parameterized.Parameters(name = "{0}")
        fun cases(): List<Array<Any>> =
            Fixtures.rows(Fixtures.appCases.getJSONArray("decoding")) { c, i ->
                val task = c.getJSONObject("task")
                "$i ${c.getString("suite")}/${task.getString("name")} ${task.getString("kind")} ${task.getString("encoding")}"
            }
    }

    @Test
    fun `decodes as pamkit does`() {
        val task = taskFrom(case.getJSONObject("task"))
        val answer = task.decode(Fixtures.floats(case.getJSONArray("values")))
        val expected = case.getJSONObject("answer")
        if (expected.has("label")) {
            assertEquals(expected.getString("label"), (answer as Answer.Label).label)
        } else {
            assertEquals(Fixtures.strings(expected.getJSONArray("present")), (answer as Answer.Present).labels)
        }
    }

    /** A TaskSpec parsed from a manifest `tasks` item, through the real parser (in the three-task manifest). */
    private fun taskFrom(item: JSONObject): TaskSpec {
        val text =
            Fixtures.edited("three_tasks") { root ->
                val tasks = root.getJSONArray("tasks")
                tasks.put(0, JSONObject(item.toString()).put("name", "digit").put("output", "digit"))
            }
        return Manifest.parse(text).task("digit")
    }
}

class DecodingTest {
    @Test
    fun `answers read as text`() {
        assertEquals("7", Answer.Label("7", 2f).describe())
        assertEquals("none", Answer.Present(emptyList()).describe())
        assertEquals("Sandal, Sneaker", Answer.Present(listOf("Sandal", "Sneaker")).describe())
    }

    @Test(expected = IllegalArgumentException::class)
    fun `values of another width are refused`() {
        Fixtures.manifest("three_tasks").task("digit").decode(FloatArray(3))
    }
}
