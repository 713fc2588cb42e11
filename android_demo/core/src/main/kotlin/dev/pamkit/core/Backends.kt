package dev.pamkit.core

import java.io.Closeable

/** A runtime that runs a pamkit artifact, with the manifest formats it reads (preferred first). */
enum class Backend(val label: String, val formats: List<String>) {
    EXECUTORCH("ExecuTorch", listOf("executorch", "executorch-int8")),
    LITERT("LiteRT", listOf("tflite", "tflite-int8")),
    ;

    /**
     * The name to run an entry point by: the ExecuTorch method, or the LiteRT signature key. pamkit gives both
     * the combination's entry name (tasks joined by `__`); this is the one place an adapter asks for it.
     */
    fun entryName(entry: Entry): String = entry.name

    /** The artifact this backend loads ([int8] picks the quantized one); a clear error when it was not exported. */
    fun artifact(manifest: Manifest, int8: Boolean = false): Artifact {
        val wanted = if (int8) formats.filter { it.endsWith("int8") } else formats.filterNot { it.endsWith("int8") }
        return manifest.artifact(wanted)
            ?: throw ManifestException(
                "the export has no ${wanted.joinToString(" or ")} file; re-run `pamkit export --formats ${wanted.first()}` " +
                    "(it has: ${manifest.artifacts.joinToString(", ") { it.format }.ifEmpty { "none" }})",
            )
    }
}

/**
 * Runs entry points of one loaded artifact. An adapter wraps one runtime (ExecuTorch's Module, LiteRT's
 * Interpreter); everything else (which entry, preprocessing, decoding, timing) is shared and tested on the JVM.
 */
interface EntryRunner : Closeable {
    val backend: Backend

    /** Load or prepare [entry] ahead of its first run, so that the first timed run does not pay for it. */
    fun prepare(entry: Entry) {}

    /** Run [entry] on one NCHW [input] of [shape]; returns each output's values by output name (batch of one). */
    fun run(entry: Entry, input: FloatArray, shape: LongArray): Map<String, FloatArray>
}

/** The answers of one run: the entry point that ran, each requested task's answer, and the wall time it took. */
data class Prediction(val entry: Entry, val answers: Map<String, Answer>, val latencyMs: Double)

/**
 * A pamkit multitask model on one runtime: give it the tasks the app needs now and an image, and it runs the
 * entry point that computes only those tasks' groups.
 */
class MultitaskModel(val manifest: Manifest, private val runner: EntryRunner, private val clock: () -> Long = System::nanoTime) : Closeable {
    private val preprocessor = Preprocessor(manifest.input)
    private val shape = manifest.input.shape.map { it.toLong() }.toLongArray()

    /** The input tensor for an image of the source's size (see [Preprocessor.fromArgb]). */
    fun preprocess(pixels: IntArray, width: Int, height: Int): FloatArray = preprocessor.fromArgb(pixels, width, height)

    /** Answer [tasks] on a preprocessed [input]; only the requested tasks are decoded even if the entry runs more. */
    fun run(tasks: Collection<String>, input: FloatArray): Prediction {
        val entry = manifest.select(tasks)
        val (outputs, ms) = timed(entry, input)
        val answers =
            tasks.associateWith { name ->
                val task = manifest.task(name)
                task.decode(outputs[task.output] ?: throw ManifestException("entry point '${entry.name}' returned no output '${task.output}'"))
            }
        return Prediction(entry, answers, ms)
    }

    /** One timed run of [entry] (the runner's own wall time, preprocessing excluded). */
    fun timed(entry: Entry, input: FloatArray): Pair<Map<String, FloatArray>, Double> {
        val start = clock()
        val outputs = runner.run(entry, input, shape)
        return outputs to (clock() - start) / 1e6
    }

    fun prepare(entry: Entry) = runner.prepare(entry)

    val backend: Backend get() = runner.backend

    override fun close() = runner.close()
}
