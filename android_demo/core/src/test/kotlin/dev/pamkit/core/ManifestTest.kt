package dev.pamkit.core

import org.json.JSONObject
import org.junit.Assert.assertEquals
import org.junit.Assert.assertNull
import org.junit.Assert.assertTrue
import org.junit.Assert.fail
import org.junit.Test

class ManifestTest {
    private fun refused(text: String): String =
        try {
            Manifest.parse(text)
            fail("the manifest was accepted")
            ""
        } catch (e: ManifestException) {
            e.message!!
        }

    @Test
    fun `the demo export's manifest parses into its two tasks and three entry points`() {
        val m = Fixtures.manifest("demo")
        assertEquals(listOf("a", "b"), m.taskNames)
        assertEquals(setOf("a", "b", "a__b"), m.entries.map { it.name }.toSet())
        assertEquals("a__b", m.defaultEntry)
        assertEquals(listOf(1, 1, 28, 28), m.input.shape)
        val a = m.task("a")
        assertEquals(TaskSpec.Kind.MULTILABEL, a.kind)
        assertEquals(TaskSpec.Decision.Threshold(0f), a.decision)
        assertTrue("accuracy is recorded", a.accuracy!! > 0.5)
        assertTrue(m.artifacts.map { it.format }.containsAll(listOf("executorch", "coreml", "tflite")))
        assertTrue(m.entries.all { it.macs > 0 && it.params > 0 && it.activationBytes != null })
    }

    @Test
    fun `the three-task export's manifest has every kind, labels and the resize step`() {
        val m = Fixtures.manifest("three_tasks")
        assertEquals(listOf("digit", "odd", "high"), m.taskNames)
        assertEquals(7, m.entries.size)
        val digit = m.task("digit")
        assertEquals(TaskSpec.Kind.MULTICLASS, digit.kind)
        assertEquals(TaskSpec.Decision.Argmax, digit.decision)
        assertEquals((0..9).map { "$it" }, digit.labels)
        assertEquals(TaskSpec.Kind.BINARY, m.task("odd").kind)
        assertEquals(listOf("1", "3", "5", "7", "9"), m.task("odd").covers.single())
        assertEquals(listOf(1, 1, 32, 32), m.input.shape)
        assertEquals(28, m.input.source.width)
        val resize = m.input.steps.filterIsInstance<PreprocessingStep.Resize>().single()
        assertEquals(PreprocessingStep.Resize(32, 32, alignCorners = false, antialias = false), resize)
        assertEquals(listOf("digit", "odd"), m.entry("digit__odd").outputs)
    }

    @Test
    fun `a missing field is named with its path`() {
        val text = Fixtures.edited("three_tasks") { it.getJSONArray("tasks").getJSONObject(1).remove("labels") }
        val message = refused(text)
        assertTrue(message, message.contains("tasks[1].labels is missing"))
        assertTrue(message, message.contains("pamkit export"))
    }

    @Test
    fun `a newer schema version asks for a newer app`() {
        val message = refused(Fixtures.edited("demo") { it.put("schema_version", 2) })
        assertTrue(message, message.contains("schema version 2") && message.contains("update the app"))
    }

    @Test
    fun `another kind of JSON file is not taken for a manifest`() {
        assertTrue(refused(Fixtures.edited("demo") { it.put("schema", "pamkit-bench-results") }).contains("not a pamkit export manifest"))
        assertTrue(refused("[1, 2]").contains("not a JSON object"))
        assertTrue(refused("{\"schema\": ").contains("not a JSON object"))
    }

    @Test
    fun `a default entry point that does not exist is refused`() {
        val message = refused(Fixtures.edited("demo") { it.put("default_combination", "a__c") })
        assertTrue(message, message.contains("default_combination") && message.contains("'a__c' is not an entry point"))
    }

    @Test
    fun `a file listing an entry point that does not exist is refused`() {
        val text = Fixtures.edited("demo") { it.getJSONArray("files").getJSONObject(0).getJSONArray("entries").put("b__c") }
        assertTrue(refused(text).contains("files[0].entries names entry points that do not exist: b__c"))
    }

    @Test
    fun `an entry point of an unknown task, or with other outputs, is refused`() {
        val unknown = Fixtures.edited("demo") { it.getJSONArray("combinations").getJSONObject(0).getJSONArray("tasks").put(0, "z") }
        assertTrue(refused(unknown).contains("combinations[0].tasks names unknown task(s) z"))
        val outputs = Fixtures.edited("three_tasks") { it.getJSONArray("combinations").getJSONObject(3).getJSONArray("outputs").put(0, "high") }
        assertTrue(refused(outputs).contains("combinations[3].outputs"))
    }

    @Test
    fun `wrong types and unknown values are named`() {
        val macs = Fixtures.edited("demo") { it.getJSONArray("combinations").getJSONObject(2).put("macs", "many") }
        assertTrue(refused(macs).contains("combinations[2].macs must be a whole number"))
        val op = Fixtures.edited("three_tasks") { it.getJSONObject("input").getJSONObject("preprocessing").getJSONArray("steps").getJSONObject(0).put("op", "crop") }
        assertTrue(refused(op).contains("input.preprocessing.steps[0].op is 'crop'"))
        val kind = Fixtures.edited("demo") { it.getJSONArray("tasks").getJSONObject(0).put("kind", "regression") }
        assertTrue(refused(kind).contains("tasks[0].kind is 'regression'"))
        val covers = Fixtures.edited("three_tasks") { it.getJSONArray("tasks").getJSONObject(0).getJSONArray("covers").remove(0) }
        assertTrue(refused(covers).contains("tasks[0].covers has 9 items for 10 labels"))
    }

    @Test
    fun `optional fields may be absent or null`() {
        val text =
            Fixtures.edited("demo") { root ->
                root.getJSONArray("tasks").getJSONObject(0).put("accuracy", JSONObject.NULL)
                root.getJSONArray("combinations").getJSONObject(0).remove("activation_bytes")
                root.remove("model")
            }
        val m = Manifest.parse(text)
        assertNull(m.task("a").accuracy)
        assertNull(m.entries[0].activationBytes)
    }
}
