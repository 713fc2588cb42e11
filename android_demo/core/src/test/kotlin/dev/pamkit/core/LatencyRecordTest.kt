package dev.pamkit.core

import org.json.JSONObject
import org.junit.Assert.assertEquals
import org.junit.Assert.assertTrue
import org.junit.Test
import org.junit.runner.RunWith
import org.junit.runners.Parameterized

/** Latency statistics and the spread warning as pamkit.bench.stats computes them (app_cases.json, "latency"). */
@RunWith(Parameterized::class)
class LatencyCasesTest(
    @Suppress("unused") private val label: String,
    private val case: JSONObject,
) {
    companion object {
        @JvmStatic
        @Parameterized.Parameters(name = "{0}")
        fun cases(): List<Array<Any>> = Fixtures.rows(Fixtures.appCases.getJSONArray("latency")) { c, _ -> "${c.getJSONArray("samples_ms").length()} samples" }
    }

    @Test
    fun `summarises as pamkit bench does`() {
        val samples = (0 until case.getJSONArray("samples_ms").length()).map { case.getJSONArray("samples_ms").getDouble(it) }
        val stats = LatencyStats.of(samples)
        val expected = case.getJSONObject("stats")
        val got = stats.toJson()
        for (key in listOf("count", "min", "median", "mean", "p90", "p99", "std", "trimmed_mean", "cv")) {
            assertEquals(key, expected.getDouble(key), got.getDouble(key), 1e-9)
        }
        assertEquals(if (case.isNull("warning")) null else case.getString("warning"), stats.spreadWarning())
    }
}

class LatencyRecordTest {
    @Test
    fun `the energy estimate is pamkit bench's`() {
        val cases = Fixtures.appCases.getJSONArray("energy")
        for (i in 0 until cases.length()) {
            val c = cases.getJSONObject(i)
            val joules = EnergyEstimate.joules(c.getLong("macs"), 4 * c.getLong("params"), c.getLong("activation_bytes"), c.getString("precision"))
            assertEquals(c.getDouble("joules"), joules, c.getDouble("joules") * 1e-12)
        }
    }

    @Test
    fun `every entry point is timed, and the record is a pamkit bench results file`() {
        val manifest = Fixtures.manifest("three_tasks")
        val clock = FakeClock(stepNs = 2_000_000)
        val runner = FakeRunner(manifest)
        val model = MultitaskModel(manifest, runner, clock::now)
        val input = FloatArray(manifest.input.size)
        val cases = benchmarkEveryEntry(model, input, runs = 6, warmup = 2, clock = clock::now)
        assertEquals(manifest.entries.map { it.name }, cases.map { it.entry.name })
        assertEquals(manifest.entries.map { it.name }, runner.prepared)
        assertEquals(manifest.entries.size * (1 + 2 + 6), runner.runs)
        assertTrue(cases.all { it.samplesMs == List(6) { 2.0 } && it.firstMs == 2.0 && it.loadMs == 2.0 })

        val setup =
            BenchSetup(
                device = "JVM test (FakeRunner)",
                runner = "android_demo core with a fake runtime",
                artifactLabel = "pam",
                manifestPath = "tests/app_fixtures/manifests/three_tasks.json",
                format = "executorch",
                precision = "float32",
                runs = 6,
                warmup = 2,
                versions = mapOf("pamkit-android-core" to "test"),
                created = "2026-12-02T00:00:00+00:00",
            )
        val record = benchResults(setup, cases)
        assertEquals("pamkit-bench-results", record.getString("schema"))
        assertEquals("android", record.getJSONObject("target").getString("kind"))
        val first = record.getJSONArray("cases").getJSONObject(0)
        assertTrue(first.getJSONObject("energy").isNull("joules"))
        assertEquals("estimate", first.getJSONObject("energy_estimate").getString("kind"))
        assertTrue(first.isNull("warning")) // six identical samples: no spread
        Fixtures.out.mkdirs()
        java.io.File(Fixtures.out, "bench-android.json").writeText(record.toString(1)) // android_demo/scripts/test-jvm.sh reports it with `pamkit bench report`
    }

    @Test
    fun `a run that stopped early says so`() {
        val manifest = Fixtures.manifest("demo")
        val setup = BenchSetup("d", "r", "pam", "m", "tflite", "float32", 1, 0, emptyMap(), "t")
        val record = benchResults(setup, emptyList(), error = "LiteRT failed: out of memory")
        assertEquals(false, record.getBoolean("complete"))
        assertEquals("LiteRT failed: out of memory", record.getString("error"))
        assertEquals(manifest.entries.size, 3)
    }
}
