package dev.pamkit.core

import org.json.JSONArray
import org.json.JSONObject
import kotlin.math.floor
import kotlin.math.sqrt

/** Summary of latency samples, computed as `pamkit.bench.stats.summarize` does (numpy's linear percentiles). */
data class LatencyStats(
    val count: Int,
    val min: Double?,
    val median: Double?,
    val mean: Double?,
    val p90: Double?,
    val p99: Double?,
    val std: Double?,
    val trimmedMean: Double?,
    val cv: Double?,
) {
    /** A warning when the samples are too few or vary too much to trust (`pamkit.bench.stats.spread_warning`). */
    fun spreadWarning(limit: Double = SPREAD_LIMIT): String? =
        when {
            count < 5 -> "only $count timed runs: too few to trust; use --runs 20 or more"
            cv != null && cv > limit ->
                "spread too large to trust: std is ${Math.round(cv * 100)}% of the mean (limit ${Math.round(limit * 100)}%); the machine " +
                    "is busy or throttling: close other work, pin CPUs (--pin), add --cooldown-ms or more --runs"
            else -> null
        }

    fun toJson(): JSONObject =
        JSONObject()
            .put("count", count)
            .put("min", json(min))
            .put("median", json(median))
            .put("mean", json(mean))
            .put("p90", json(p90))
            .put("p99", json(p99))
            .put("std", json(std))
            .put("trimmed_mean", json(trimmedMean))
            .put("cv", json(cv))

    companion object {
        const val SPREAD_LIMIT = 0.15

        /** The statistics of [samplesMs]; [trim] is the share cut from each end for the trimmed mean. */
        fun of(samplesMs: List<Double>, trim: Double = 0.1): LatencyStats {
            if (samplesMs.isEmpty()) return LatencyStats(0, null, null, null, null, null, null, null, null)
            val x = samplesMs.sorted()
            val n = x.size
            val cut = (n * trim).toInt()
            val trimmed = if (n > 2 * cut) x.subList(cut, n - cut) else x
            val mean = x.sum() / n
            val std = sqrt(x.sumOf { (it - mean) * (it - mean) } / n)
            return LatencyStats(n, x[0], percentile(x, 50.0), mean, percentile(x, 90.0), percentile(x, 99.0), std, trimmed.sum() / trimmed.size, if (mean > 0) std / mean else null)
        }

        /** numpy's default ("linear") percentile of sorted values. */
        private fun percentile(sorted: List<Double>, q: Double): Double {
            val position = (sorted.size - 1) * q / 100.0
            val lo = floor(position).toInt()
            val hi = minOf(lo + 1, sorted.size - 1)
            return sorted[lo] + (sorted[hi] - sorted[lo]) * (position - lo)
        }
    }
}

/**
 * The ANALYTICAL energy estimate of one inference that `pamkit bench` records beside every measurement
 * (`pamkit.bench.energy.estimate_energy`: Horowitz's 45 nm per-operation energies); never a measurement.
 */
object EnergyEstimate {
    private val OP_PJ = mapOf("float32" to (3.7 to 0.9), "float16" to (1.1 to 0.4), "int8" to (0.2 to 0.03))
    private const val SRAM_PJ_PER_32BIT = 5.0
    private const val DRAM_PJ_PER_32BIT = 640.0

    fun joules(macs: Long, weightBytes: Long, activationBytes: Long, precision: String): Double {
        val (multiply, add) = OP_PJ[precision] ?: throw IllegalArgumentException("no per-operation energies for precision '$precision'; use one of ${OP_PJ.keys}")
        return macs * (multiply + add) * 1e-12 + weightBytes / 4.0 * DRAM_PJ_PER_32BIT * 1e-12 + 2 * activationBytes / 4.0 * SRAM_PJ_PER_32BIT * 1e-12
    }

    fun toJson(entry: Entry, precision: String): JSONObject =
        JSONObject()
            .put("kind", "estimate")
            .put("joules", joules(entry.macs, 4 * entry.params, entry.activationBytes ?: 0, precision))
            .put("precision", precision)
            .put("source", "Horowitz ISSCC 2014, 45 nm")
}

/** What was measured for one entry point: its load (method / signature preparation), first run and timed runs. */
data class BenchCase(val entry: Entry, val loadMs: Double?, val firstMs: Double?, val samplesMs: List<Double>)

/** Where and how a benchmark ran, as the results file's `target` and `settings` state it. */
data class BenchSetup(
    val device: String,
    val runner: String,
    val artifactLabel: String,
    val manifestPath: String,
    val format: String,
    val precision: String,
    val runs: Int,
    val warmup: Int,
    val versions: Map<String, String>,
    val created: String,
)

/** Time every entry point of [model]: prepare it, one first run, [warmup] untimed runs, then [runs] timed runs. */
fun benchmarkEveryEntry(model: MultitaskModel, input: FloatArray, runs: Int, warmup: Int, clock: () -> Long = System::nanoTime): List<BenchCase> {
    require(runs > 0 && warmup >= 0) { "runs must be 1 or more and warmup 0 or more, got $runs and $warmup" }
    return model.manifest.entries.map { entry ->
        val start = clock()
        model.prepare(entry)
        val loadMs = (clock() - start) / 1e6
        val firstMs = model.timed(entry, input).second
        repeat(warmup) { model.timed(entry, input) }
        BenchCase(entry, loadMs, firstMs, List(runs) { model.timed(entry, input).second })
    }
}

/**
 * A `pamkit bench` results file (schema `pamkit-bench-results`, version 1) of what the phone measured, so
 * that `pamkit bench report` tabulates and plots it beside host runs. [error] marks a run that stopped early.
 */
fun benchResults(setup: BenchSetup, cases: List<BenchCase>, error: String? = null): JSONObject {
    val rows = JSONArray()
    for (case in cases) {
        val stats = LatencyStats.of(case.samplesMs)
        rows.put(
            JSONObject()
                .put("artifact", setup.artifactLabel)
                .put("entry", case.entry.name)
                .put("tasks", JSONArray(case.entry.tasks))
                .put("macs", case.entry.macs)
                .put("params", case.entry.params)
                .put("load_ms", json(case.loadMs))
                .put("first_ms", json(case.firstMs))
                .put("stats", stats.toJson())
                .put("reported", JSONObject.NULL)
                .put("samples_ms", JSONArray(case.samplesMs))
                .put("warning", json(stats.spreadWarning()))
                .put("energy", JSONObject().put("joules", JSONObject.NULL).put("note", ENERGY_NOTE))
                .put("energy_estimate", EnergyEstimate.toJson(case.entry, setup.precision)),
        )
    }
    return JSONObject()
        .put("schema", "pamkit-bench-results")
        .put("schema_version", 1)
        .put("target", JSONObject().put("kind", "android").put("runner", setup.runner).put("emulated", false).put("device", setup.device))
        .put("format", setup.format)
        .put("settings", JSONObject().put("runs", setup.runs).put("warmup", setup.warmup).put("threads", JSONObject.NULL))
        .put("artifacts", JSONObject().put(setup.artifactLabel, setup.manifestPath))
        .put("complete", error == null)
        .put("error", json(error))
        .put("cases", rows)
        .put("versions", JSONObject(setup.versions as Map<*, *>))
        .put("command", "pamkit android_demo: benchmark every combination")
        .put("created", setup.created)
}

private const val ENERGY_NOTE =
    "not measured: the app reads no power counter; measure with a power monitor, or `pamkit bench --target android` " +
        "over adb on Wi-Fi (the fuel gauge is meaningless while charging)"

/** A JSON value for a nullable one: org.json drops a key put with Kotlin's null, so null must be JSONObject.NULL. */
private fun json(value: Any?): Any = value ?: JSONObject.NULL
