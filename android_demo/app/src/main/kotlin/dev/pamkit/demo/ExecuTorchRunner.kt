package dev.pamkit.demo

import dev.pamkit.core.Backend
import dev.pamkit.core.Entry
import dev.pamkit.core.EntryRunner
import dev.pamkit.core.ManifestException
import org.pytorch.executorch.EValue
import org.pytorch.executorch.Module
import org.pytorch.executorch.Tensor

/**
 * Runs entry points of a pamkit `.pte` with ExecuTorch's Android API: one method per task combination, named
 * by the manifest; the method returns its tasks' outputs in the manifest's `outputs` order.
 *
 * No `android.*` import: the same file is compiled here against ExecuTorch's Java classes (a compile check) and
 * in the app against the `executorch-android` AAR.
 */
class ExecuTorchRunner(path: String) : EntryRunner {
    private val module: Module = Module.load(path, Module.LOAD_MODE_MMAP)
    private val methods: Set<String> = module.methods.toSet()

    override val backend = Backend.EXECUTORCH

    override fun prepare(entry: Entry) = module.loadMethod(method(entry))

    override fun run(entry: Entry, input: FloatArray, shape: LongArray): Map<String, FloatArray> {
        val outputs = module.execute(method(entry), EValue.from(Tensor.fromBlob(input, shape)))
        if (outputs.size != entry.outputs.size) {
            throw ManifestException("method '${entry.name}' returned ${outputs.size} outputs, the manifest lists ${entry.outputs.size}: the .pte and manifest.json are from different exports")
        }
        return entry.outputs.zip(outputs) { name, value -> name to value.toTensor().dataAsFloatArray }.toMap()
    }

    override fun close() = module.destroy()

    private fun method(entry: Entry): String {
        val name = backend.entryName(entry)
        if (name !in methods) {
            throw ManifestException("the .pte has no method '$name' (it has ${methods.sorted().joinToString(", ")}): the .pte and manifest.json are from different exports")
        }
        return name
    }
}
