package dev.pamkit.core

import kotlin.math.abs
import kotlin.math.floor
import kotlin.math.max
import kotlin.math.min

/**
 * From an image's ARGB pixels to the network's input tensor, following the manifest's preprocessing steps in order.
 *
 * The pixels are `Bitmap.getPixels` order (row-major, 0xAARRGGBB) of an image of the source's size; each colour
 * channel holds the source's raw pixel value (0..255 for 8-bit images). Gray models read the luma
 * (ITU-R BT.601, rounded), which is the value itself for a gray image. The arithmetic is float32, as in
 * `pamkit.data.prepare_images`, which the tests compare against.
 */
class Preprocessor(private val spec: InputSpec) {
    /** The input tensor, NCHW with N = 1, as a flat array of [InputSpec.size] floats. */
    fun fromArgb(pixels: IntArray, width: Int, height: Int): FloatArray {
        val source = spec.source
        require(width == source.width && height == source.height) {
            "the image is ${width}x$height; the model's source images are ${source.width}x${source.height}: " +
                "scale (or crop) it to that size first, e.g. Bitmap.createScaledBitmap"
        }
        require(pixels.size == width * height) { "${pixels.size} pixels for a ${width}x$height image: pass width * height ARGB values" }
        var planes = channels(pixels, source)
        var h = height
        var w = width
        for (step in spec.steps) {
            when (step) {
                is PreprocessingStep.Scale -> planes.forEach { p -> for (i in p.indices) p[i] = p[i] / step.divideBy }
                is PreprocessingStep.Resize -> {
                    planes = Array(planes.size) { c -> resize(planes[c], h, w, step) }
                    h = step.height
                    w = step.width
                }
                is PreprocessingStep.Normalize -> planes.forEach { p -> for (i in p.indices) p[i] = (p[i] - step.mean) / step.std }
            }
        }
        if (h != spec.height || w != spec.width) {
            throw ManifestException("manifest.json: the preprocessing steps end at ${w}x$h but the input is ${spec.width}x${spec.height}; re-run `pamkit export`")
        }
        val out = FloatArray(spec.size)
        planes.forEachIndexed { c, p -> p.copyInto(out, c * h * w) }
        return out
    }

    private fun channels(pixels: IntArray, source: SourceImage): Array<FloatArray> {
        fun r(p: Int) = (p shr 16) and 0xFF
        fun g(p: Int) = (p shr 8) and 0xFF
        fun b(p: Int) = p and 0xFF
        return when {
            source.channels == 1 -> arrayOf(FloatArray(pixels.size) { i -> ((299 * r(pixels[i]) + 587 * g(pixels[i]) + 114 * b(pixels[i]) + 500) / 1000).toFloat() })
            source.channels == 3 && source.channelOrder == "RGB" ->
                arrayOf(FloatArray(pixels.size) { r(pixels[it]).toFloat() }, FloatArray(pixels.size) { g(pixels[it]).toFloat() }, FloatArray(pixels.size) { b(pixels[it]).toFloat() })
            else -> throw ManifestException("manifest.json: source images of ${source.channels} channels in '${source.channelOrder}' order are not supported by this app")
        }
    }

    private fun resize(plane: FloatArray, h: Int, w: Int, step: PreprocessingStep.Resize): FloatArray {
        val rows = axisWeights(h, step.height, step)
        val cols = axisWeights(w, step.width, step)
        val horizontal = FloatArray(h * step.width) // columns first, then rows, as torch's separable kernel
        for (y in 0 until h) for (x in 0 until step.width) horizontal[y * step.width + x] = cols.at(x) { i -> plane[y * w + i] }
        val out = FloatArray(step.height * step.width)
        for (y in 0 until step.height) for (x in 0 until step.width) out[y * step.width + x] = rows.at(y) { i -> horizontal[i * step.width + x] }
        return out
    }

    /** For each output position along one axis: the input positions it reads and their weights. */
    private class AxisWeights(val first: IntArray, val weights: Array<FloatArray>) {
        /** Output position [o]: the weighted sum of the inputs it reads; [read] gives input position i's value. */
        inline fun at(o: Int, read: (Int) -> Float): Float {
            var sum = 0f
            for (k in weights[o].indices) sum += weights[o][k] * read(first[o] + k)
            return sum
        }
    }

    private fun axisWeights(inSize: Int, outSize: Int, step: PreprocessingStep.Resize): AxisWeights {
        val scale = if (step.alignCorners) (if (outSize > 1) (inSize - 1).toFloat() / (outSize - 1) else 0f) else inSize.toFloat() / outSize
        val first = IntArray(outSize)
        val weights =
            Array(outSize) { o ->
                if (step.antialias && !step.alignCorners && scale > 1f) {
                    // torch's antialiased bilinear (from Pillow): a triangle filter stretched over `scale` inputs, normalised
                    val support = scale
                    val center = scale * (o + 0.5f)
                    val lo = max((center - support + 0.5f).toInt(), 0)
                    val hi = min((center + support + 0.5f).toInt(), inSize)
                    val raw = FloatArray(hi - lo) { j -> max(0f, 1f - abs((j + lo - center + 0.5f) / scale)) }
                    val total = raw.sum()
                    first[o] = lo
                    FloatArray(raw.size) { raw[it] / total }
                } else {
                    val src = if (step.alignCorners) scale * o else max(scale * (o + 0.5f) - 0.5f, 0f)
                    val i0 = min(floor(src).toInt(), inSize - 1)
                    val frac = src - i0
                    first[o] = i0
                    if (i0 < inSize - 1) floatArrayOf(1f - frac, frac) else floatArrayOf(1f)
                }
            }
        return AxisWeights(first, weights)
    }
}
