package dev.pamkit.core

/** What a task's outputs mean and how to read an answer from them (the manifest's `tasks[]`). */
data class TaskSpec(
    val name: String,
    /** The task's output name in every format (LiteRT signature output, ExecuTorch by position). */
    val output: String,
    val kind: Kind,
    /** The name of each output value, in order. */
    val labels: List<String>,
    /** Per label: the dataset classes (or attributes) that turn it on. */
    val covers: List<List<String>>,
    val decision: Decision,
    /** Test accuracy recorded at export, or null when the export did not measure it. */
    val accuracy: Double?,
) {
    enum class Kind { MULTICLASS, BINARY, MULTILABEL }

    /** How raw scores (logits) become an answer: the largest output's label, or every output above a threshold. */
    sealed class Decision {
        object Argmax : Decision()

        data class Threshold(val threshold: Float) : Decision()
    }
}

/** One step from source pixels to the input tensor (the manifest's `input.preprocessing.steps[]`). */
sealed class PreprocessingStep {
    /** x / divideBy: the source's pixel range to [0, 1]. */
    data class Scale(val divideBy: Float) : PreprocessingStep()

    /** Bilinear resampling to height x width, half-pixel centres; antialiased (as torch does) when shrinking. */
    data class Resize(val height: Int, val width: Int, val alignCorners: Boolean, val antialias: Boolean) : PreprocessingStep()

    /** (x - mean) / std, every channel alike. */
    data class Normalize(val mean: Float, val std: Float) : PreprocessingStep()
}

/** The source image the steps start from: its size, channels and the range of its pixel values. */
data class SourceImage(val height: Int, val width: Int, val channels: Int, val channelOrder: String, val pixelMax: Double)

/** The network's input: name, NCHW shape, and how to get there from a source image. */
data class InputSpec(val name: String, val shape: List<Int>, val source: SourceImage, val steps: List<PreprocessingStep>) {
    val channels: Int get() = shape[1]
    val height: Int get() = shape[2]
    val width: Int get() = shape[3]

    /** Number of floats in one input tensor. */
    val size: Int get() = shape.fold(1) { a, b -> a * b }
}

/** One task combination's entry point: the ExecuTorch method, Core ML function and LiteRT signature of that name. */
data class Entry(
    val tasks: List<String>,
    val name: String,
    /** Output names in output order (ExecuTorch returns its outputs in this order). */
    val outputs: List<String>,
    val macs: Long,
    val params: Long,
    /** Estimate of the largest input + output of any one op, or null when the export did not record it. */
    val activationBytes: Long?,
)

/** One artifact file and the entry points it holds (the manifest's `files[]`). */
data class Artifact(val format: String, val precision: String, val path: String, val size: Long, val sha256: String, val entries: List<String>)

/**
 * A pamkit export manifest (schema `pamkit-export-manifest`, version 1): everything an app needs to choose,
 * feed and read an entry point. [parse] checks what the app relies on and names the field when it is wrong.
 */
data class Manifest(
    val tasks: List<TaskSpec>,
    val input: InputSpec,
    val entries: List<Entry>,
    val defaultEntry: String,
    val artifacts: List<Artifact>,
) {
    val taskNames: List<String> get() = tasks.map { it.name }

    fun task(name: String): TaskSpec =
        tasks.firstOrNull { it.name == name }
            ?: throw SelectionException(SelectionException.Reason.UNKNOWN_TASK, "unknown task '$name'; the model's tasks are: ${taskNames.joinToString(", ")}")

    fun entry(name: String): Entry =
        entries.firstOrNull { it.name == name }
            ?: throw ManifestException("no entry point named '$name'; the manifest has: ${entries.joinToString(", ") { it.name }}")

    /** The first artifact of any of [formats] (in that order of preference), or null when none was exported. */
    fun artifact(formats: List<String>): Artifact? = formats.asSequence().mapNotNull { f -> artifacts.firstOrNull { it.format == f } }.firstOrNull()

    companion object {
        const val SCHEMA = "pamkit-export-manifest"
        const val SCHEMA_VERSION = 1

        /** Parse and check a manifest.json text; every problem is a [ManifestException] naming its field. */
        fun parse(text: String): Manifest {
            val root = JsonFields.parse(text)
            val schema = root.string("schema")
            if (schema != SCHEMA) root.invalid("schema", "is '$schema', not '$SCHEMA': this is not a pamkit export manifest")
            val version = root.int("schema_version")
            if (version != SCHEMA_VERSION) {
                throw ManifestException(
                    "manifest.json has schema version $version; this app reads version $SCHEMA_VERSION: " +
                        (if (version > SCHEMA_VERSION) "update the app's pamkit core" else "re-export with this pamkit"),
                )
            }
            val tasks = root.objects("tasks").map(::parseTask)
            root.nonEmpty("tasks", tasks.size)
            val entries = root.objects("combinations").map(::parseEntry)
            root.nonEmpty("combinations", entries.size)
            val manifest =
                Manifest(
                    tasks = tasks,
                    input = parseInput(root.obj("input")),
                    entries = entries,
                    defaultEntry = root.string("default_combination"),
                    artifacts = root.objects("files").map(::parseArtifact),
                )
            manifest.check(root)
            return manifest
        }

        private fun parseTask(t: JsonFields): TaskSpec {
            val kind =
                when (val k = t.string("kind")) {
                    "multiclass" -> TaskSpec.Kind.MULTICLASS
                    "binary" -> TaskSpec.Kind.BINARY
                    "multilabel" -> TaskSpec.Kind.MULTILABEL
                    else -> t.invalid("kind", "is '$k', not one of multiclass, binary, multilabel")
                }
            val outputKind = t.string("output_kind")
            if (outputKind != "logits") t.invalid("output_kind", "is '$outputKind'; this app decodes logits")
            val d = t.obj("decision")
            val decision =
                when (val rule = d.string("rule")) {
                    "argmax" -> TaskSpec.Decision.Argmax
                    "threshold" -> TaskSpec.Decision.Threshold(d.double("threshold").toFloat())
                    else -> d.invalid("rule", "is '$rule', not argmax or threshold")
                }
            val labels = t.strings("labels")
            t.nonEmpty("labels", labels.size)
            val covers = t.stringLists("covers")
            if (covers.size != labels.size) t.invalid("covers", "has ${covers.size} items for ${labels.size} labels")
            return TaskSpec(
                name = t.string("name"),
                output = t.string("output"),
                kind = kind,
                labels = labels,
                covers = covers,
                decision = decision,
                accuracy = t.optObj("accuracy")?.double("score"),
            )
        }

        private fun parseInput(i: JsonFields): InputSpec {
            val shape = i.numbers("shape").map { it.toInt() }
            if (shape.size != 4 || shape.any { it < 1 }) i.invalid("shape", "must be 4 positive sizes (N, C, H, W)")
            val layout = i.string("layout")
            if (layout != "NCHW") i.invalid("layout", "is '$layout'; this app feeds NCHW tensors")
            val dtype = i.string("dtype")
            if (dtype != "float32") i.invalid("dtype", "is '$dtype'; this app feeds float32 tensors")
            val p = i.obj("preprocessing")
            val s = p.obj("source")
            val size = s.numbers("size").map { it.toInt() }
            if (size.size != 2) s.invalid("size", "must be [height, width]")
            val range = s.numbers("pixel_range")
            if (range.size != 2 || range[1] <= range[0]) s.invalid("pixel_range", "must be [low, high] with low < high")
            val source = SourceImage(size[0], size[1], s.int("channels"), s.string("channel_order"), range[1])
            if (source.channels != shape[1]) s.invalid("channels", "is ${source.channels} but the input has ${shape[1]}")
            val steps = p.objects("steps").map(::parseStep)
            return InputSpec(i.string("name"), shape, source, steps)
        }

        private fun parseStep(s: JsonFields): PreprocessingStep =
            when (val op = s.string("op")) {
                "scale" -> PreprocessingStep.Scale(s.double("divide_by").toFloat())
                "resize" -> {
                    val size = s.numbers("size").map { it.toInt() }
                    if (size.size != 2) s.invalid("size", "must be [height, width]")
                    val method = s.string("method")
                    if (method != "bilinear") s.invalid("method", "is '$method'; this app resizes bilinearly")
                    PreprocessingStep.Resize(size[0], size[1], s.boolean("align_corners"), s.boolean("antialias"))
                }
                "normalize" -> PreprocessingStep.Normalize(s.double("mean").toFloat(), s.double("std").toFloat())
                else -> s.invalid("op", "is '$op', not one of scale, resize, normalize: update the app's pamkit core")
            }

        private fun parseEntry(c: JsonFields): Entry =
            Entry(
                tasks = c.strings("tasks"),
                name = c.string("entry"),
                outputs = c.strings("outputs"),
                macs = c.long("macs"),
                params = c.long("params"),
                activationBytes = if (c.has("activation_bytes")) c.long("activation_bytes") else null,
            )

        private fun parseArtifact(f: JsonFields): Artifact =
            Artifact(f.string("format"), f.string("precision"), f.string("path"), f.long("size"), f.string("sha256"), f.strings("entries"))
    }

    /** Cross-field checks: every entry's tasks and outputs exist, the default and every file's entries exist. */
    private fun check(root: JsonFields) {
        val outputs = tasks.associate { it.name to it.output }
        entries.forEachIndexed { i, e ->
            val unknown = e.tasks.filter { it !in outputs }
            if (unknown.isNotEmpty()) root.invalid("combinations[$i].tasks", "names unknown task(s) ${unknown.joinToString(", ")}")
            if (e.outputs.toSet() != e.tasks.map { outputs.getValue(it) }.toSet()) {
                root.invalid("combinations[$i].outputs", "${e.outputs} are not the outputs of its tasks ${e.tasks}")
            }
        }
        val names = entries.map { it.name }.toSet()
        if (defaultEntry !in names) root.invalid("default_combination", "'$defaultEntry' is not an entry point")
        artifacts.forEachIndexed { i, a ->
            val missing = a.entries.filter { it !in names }
            if (missing.isNotEmpty()) root.invalid("files[$i].entries", "names entry points that do not exist: ${missing.joinToString(", ")}")
        }
    }
}
