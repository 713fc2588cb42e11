package dev.pamkit.core

/** A task's answer for one image. */
sealed class Answer {
    /** Multiclass: the label of the largest output, and that output's raw score. */
    data class Label(val label: String, val score: Float) : Answer()

    /** Binary / multilabel: the labels whose outputs pass the threshold (empty: none present). */
    data class Present(val labels: List<String>) : Answer()
}

/**
 * Decode one image's raw outputs (logits) of this task as the manifest's decision rule says, the way
 * `pamkit` scores the task: argmax (the first of equal maxima), or each output above the threshold.
 */
fun TaskSpec.decode(values: FloatArray): Answer {
    require(values.size == labels.size) { "task '$name' has ${labels.size} outputs, got ${values.size} values: pass this task's output only" }
    return when (val d = decision) {
        TaskSpec.Decision.Argmax -> {
            var best = 0
            for (i in values.indices) if (values[i] > values[best]) best = i
            Answer.Label(labels[best], values[best])
        }
        is TaskSpec.Decision.Threshold -> Answer.Present(labels.filterIndexed { i, _ -> values[i] > d.threshold })
    }
}

/** A short human-readable answer: the label, or the present labels ("none" when there are none). */
fun Answer.describe(): String =
    when (this) {
        is Answer.Label -> label
        is Answer.Present -> if (labels.isEmpty()) "none" else labels.joinToString(", ")
    }
