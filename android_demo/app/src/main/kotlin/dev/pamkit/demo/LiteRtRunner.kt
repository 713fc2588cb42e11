package dev.pamkit.demo

import dev.pamkit.core.Backend
import dev.pamkit.core.Entry
import dev.pamkit.core.EntryRunner
import dev.pamkit.core.ManifestException
import org.tensorflow.lite.Interpreter
import java.io.File
import java.io.FileInputStream
import java.nio.ByteBuffer
import java.nio.ByteOrder
import java.nio.channels.FileChannel

/**
 * Runs entry points of a pamkit `.tflite` with LiteRT's Interpreter: one signature per task combination, keyed
 * by the manifest's entry name, taking the input by its name and returning outputs by the tasks' output names.
 * (Not compiled here: no LiteRT jar is reachable from this machine; written against the documented API.)
 */
class LiteRtRunner(file: File, threads: Int = 2) : EntryRunner {
    private val interpreter: Interpreter =
        FileInputStream(file).channel.use { channel ->
            Interpreter(channel.map(FileChannel.MapMode.READ_ONLY, 0, channel.size()), Interpreter.Options().setNumThreads(threads))
        }
    private val signatures: Set<String> = interpreter.signatureKeys.toSet()

    override val backend = Backend.LITERT

    override fun run(entry: Entry, input: FloatArray, shape: LongArray): Map<String, FloatArray> {
        val key = backend.entryName(entry)
        if (key !in signatures) {
            throw ManifestException("the .tflite has no signature '$key' (it has ${signatures.sorted().joinToString(", ")}): the .tflite and manifest.json are from different exports")
        }
        val inputName = interpreter.getSignatureInputs(key).single()
        val buffer = ByteBuffer.allocateDirect(4 * input.size).order(ByteOrder.nativeOrder())
        buffer.asFloatBuffer().put(input)
        val outputs = entry.outputs.associateWith { name -> FloatBuffer(interpreter.getOutputTensorFromSignature(name, key).numElements()) }
        interpreter.runSignature(mapOf(inputName to buffer), outputs.mapValues { it.value.buffer as Any }, key)
        return outputs.mapValues { (_, out) -> out.floats() }
    }

    override fun close() = interpreter.close()

    /** A direct float buffer for one output, read back as a FloatArray. */
    private class FloatBuffer(size: Int) {
        val buffer: ByteBuffer = ByteBuffer.allocateDirect(4 * size).order(ByteOrder.nativeOrder())

        fun floats(): FloatArray {
            buffer.rewind()
            return FloatArray(buffer.capacity() / 4).also { buffer.asFloatBuffer().get(it) }
        }
    }
}
