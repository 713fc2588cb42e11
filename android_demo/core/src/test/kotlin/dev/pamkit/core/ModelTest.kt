package dev.pamkit.core

import org.junit.Assert.assertEquals
import org.junit.Assert.assertTrue
import org.junit.Test

/** A clock that advances a fixed step each time it is read. */
class FakeClock(private val stepNs: Long) {
    private var t = 0L

    fun now(): Long {
        t += stepNs
        return t
    }
}

/** A runtime stand-in: output value i is i + 0.5 (argmax: the last label; a single output is on), and it counts its calls. */
class FakeRunner(private val manifest: Manifest, override val backend: Backend = Backend.EXECUTORCH) : EntryRunner {
    val prepared = mutableListOf<String>()
    var runs = 0
    var lastInput: FloatArray? = null

    override fun prepare(entry: Entry) {
        prepared += backend.entryName(entry)
    }

    override fun run(entry: Entry, input: FloatArray, shape: LongArray): Map<String, FloatArray> {
        runs++
        lastInput = input
        require(shape.toList() == manifest.input.shape.map { it.toLong() })
        return entry.outputs.associateWith { name ->
            val task = manifest.tasks.first { it.output == name }
            FloatArray(task.labels.size) { it + 0.5f }
        }
    }

    override fun close() {}
}

class ModelTest {
    private val manifest = Fixtures.manifest("three_tasks")

    @Test
    fun `a request runs the entry point of exactly those tasks and decodes each`() {
        val runner = FakeRunner(manifest)
        val model = MultitaskModel(manifest, runner, FakeClock(1_500_000)::now)
        val prediction = model.run(listOf("odd", "digit"), FloatArray(manifest.input.size))
        assertEquals("digit__odd", prediction.entry.name)
        assertEquals(Answer.Label("9", 9.5f), prediction.answers["digit"])
        assertEquals(Answer.Present(listOf("odd")), prediction.answers["odd"]) // its one output is 0.5 > 0
        assertEquals(1.5, prediction.latencyMs, 1e-9)
    }

    @Test
    fun `only the requested tasks are answered when a covering entry point runs`() {
        val partial = Manifest.parse(Fixtures.edited("three_tasks") { root ->
            val all = root.getJSONArray("combinations")
            val kept = org.json.JSONArray()
            for (i in 0 until all.length()) if (all.getJSONObject(i).getString("entry") != "odd") kept.put(all.getJSONObject(i))
            root.put("combinations", kept)
            root.getJSONArray("files").let { f -> for (i in 0 until f.length()) f.getJSONObject(i).put("entries", org.json.JSONArray()) }
        })
        val prediction = MultitaskModel(partial, FakeRunner(partial)).run(listOf("odd"), FloatArray(partial.input.size))
        assertTrue(prediction.entry.tasks.size > 1)
        assertEquals(setOf("odd"), prediction.answers.keys)
    }

    @Test
    fun `preprocessing goes through the manifest's steps`() {
        val model = MultitaskModel(manifest, FakeRunner(manifest))
        val white = IntArray(28 * 28) { -1 } // 0xFFFFFFFF
        val x = model.preprocess(white, 28, 28)
        val norm = manifest.input.steps.filterIsInstance<PreprocessingStep.Normalize>().single()
        assertEquals(32 * 32, x.size)
        assertEquals((1f - norm.mean) / norm.std, x[0], 1e-6f)
    }

    @Test
    fun `each backend finds its artifact and names entry points by the manifest`() {
        assertEquals("executorch", Backend.EXECUTORCH.artifact(manifest).format)
        assertEquals("tflite", Backend.LITERT.artifact(manifest).format)
        assertEquals("digit__high", Backend.LITERT.entryName(manifest.entry("digit__high")))
        val e = runCatching { Backend.EXECUTORCH.artifact(manifest, int8 = true) }.exceptionOrNull()!!
        assertTrue(e.message!!, e is ManifestException && e.message!!.contains("--formats executorch-int8"))
    }

    @Test
    fun `an entry point that returns no output for a task is an error`() {
        val broken =
            object : EntryRunner by FakeRunner(manifest) {
                override fun run(entry: Entry, input: FloatArray, shape: LongArray): Map<String, FloatArray> = emptyMap()
            }
        val e = runCatching { MultitaskModel(manifest, broken).run(listOf("high"), FloatArray(manifest.input.size)) }.exceptionOrNull()!!
        assertTrue(e.message!!, e is ManifestException && e.message!!.contains("no output 'high'"))
    }
}
