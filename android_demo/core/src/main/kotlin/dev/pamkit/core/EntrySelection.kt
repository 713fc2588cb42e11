package dev.pamkit.core

/** Thrown when no entry point can serve a request; [reason] says why, the message what to do. */
class SelectionException(val reason: Reason, message: String) : Exception(message) {
    enum class Reason { UNKNOWN_TASK, NO_TASKS, NOT_COVERED }
}

/**
 * The entry point to run for [tasks]: the one whose tasks are exactly these, else the cheapest (fewest MACs;
 * ties: fewer tasks, then the entry name) that runs all of them. The rule of `pamkit.export.select_entry`,
 * pinned for every side by tests/selection_cases.json.
 */
fun Manifest.select(tasks: Collection<String>): Entry {
    val known = taskNames
    val unknown = tasks.filter { it !in known }
    if (unknown.isNotEmpty()) {
        throw SelectionException(
            SelectionException.Reason.UNKNOWN_TASK,
            "unknown task(s) ${unknown.joinToString(", ") { "'$it'" }}; the model's tasks are: ${known.joinToString(", ")}",
        )
    }
    if (tasks.isEmpty()) {
        throw SelectionException(SelectionException.Reason.NO_TASKS, "no tasks requested; the model's tasks are: ${known.joinToString(", ")}")
    }
    val wanted = tasks.toSet()
    entries.firstOrNull { it.tasks.toSet() == wanted }?.let { return it }
    return entries
        .filter { it.tasks.containsAll(wanted) }
        .minWithOrNull(compareBy<Entry>({ it.macs }, { it.tasks.size }, { it.name }))
        ?: throw SelectionException(
            SelectionException.Reason.NOT_COVERED,
            "no entry point runs all of ${tasks.joinToString(", ")}; export that combination (pamkit export --combinations)",
        )
}
