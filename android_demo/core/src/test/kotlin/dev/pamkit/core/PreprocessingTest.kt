package dev.pamkit.core

import org.json.JSONArray
import org.json.JSONObject
import org.junit.Assert.assertArrayEquals
import org.junit.Assert.assertEquals
import org.junit.Assert.assertTrue
import org.junit.Test
import org.junit.runner.RunWith
import org.junit.runners.Parameterized

/** The input tensor for the same pixels as pamkit.data.prepare_images makes it (app_cases.json, "preprocessing"). */
@RunWith(Parameterized::class)
class PreprocessingCasesTest(
    @Suppress("unused") private val label: String,
    private val case: JSONObject,
) {
    companion object {
        @JvmStatic
        @Parameterized.Parameters(name = "{0}")
        fun cases(): List<Array<Any>> = Fixtures.rows(Fixtures.appCases.getJSONArray("preprocessing")) { c, _ -> c.getString("name") }

        /** Gray values as opaque gray ARGB pixels, as Bitmap.getPixels returns them. */
        fun argb(values: JSONArray): IntArray = IntArray(values.length()) { i -> values.getInt(i).let { v -> (0xFF shl 24) or (v shl 16) or (v shl 8) or v } }

        /** A manifest whose `input` is [input] (the real three-task manifest otherwise). */
        fun withInput(input: JSONObject): Manifest = Manifest.parse(Fixtures.edited("three_tasks") { it.put("input", input) })
    }

    @Test
    fun `matches pamkit's preprocessing`() {
        val spec = withInput(case.getJSONObject("input")).input
        val got = Preprocessor(spec).fromArgb(argb(case.getJSONArray("pixels")), case.getInt("width"), case.getInt("height"))
        val expected = Fixtures.floats(case.getJSONArray("expected"))
        assertEquals(spec.size, got.size)
        assertArrayEquals(expected, got, 2e-5f)
    }
}

class PreprocessingTest {
    private val threeTasks = Fixtures.manifest("three_tasks")

    @Test
    fun `an image of another size is refused with the fix`() {
        val e = runCatching { Preprocessor(threeTasks.input).fromArgb(IntArray(32 * 32), 32, 32) }.exceptionOrNull()!!
        assertTrue(e is IllegalArgumentException)
        assertTrue(e.message!!, e.message!!.contains("28x28") && e.message!!.contains("createScaledBitmap"))
    }

    @Test
    fun `gray models read the luma of colour pixels`() {
        val input = rgbInput(channels = 1, order = "gray")
        val pixels = intArrayOf(0xFFFF0000.toInt(), 0xFF00FF00.toInt(), 0xFF0000FF.toInt(), 0xFF808080.toInt())
        val x = Preprocessor(PreprocessingCasesTest.withInput(input).input).fromArgb(pixels, 2, 2)
        assertArrayEquals(floatArrayOf(76f, 150f, 29f, 128f), x, 0f) // BT.601: 0.299 R + 0.587 G + 0.114 B, rounded
    }

    @Test
    fun `colour models get R, G and B planes in NCHW order`() {
        val input = rgbInput(channels = 3, order = "RGB")
        val pixels = intArrayOf(0xFF010203.toInt(), 0xFF040506.toInt(), 0xFF070809.toInt(), 0xFF0A0B0C.toInt())
        val x = Preprocessor(PreprocessingCasesTest.withInput(input).input).fromArgb(pixels, 2, 2)
        assertArrayEquals(floatArrayOf(1f, 4f, 7f, 10f, 2f, 5f, 8f, 11f, 3f, 6f, 9f, 12f), x, 0f)
    }

    /** A 2x2 input of [channels] with no steps, so the tensor holds the channel values themselves. */
    private fun rgbInput(channels: Int, order: String): JSONObject =
        JSONObject(Fixtures.manifestText("three_tasks")).getJSONObject("input").apply {
            put("shape", JSONArray(listOf(1, channels, 2, 2)))
            getJSONObject("preprocessing").put("steps", JSONArray())
            getJSONObject("preprocessing").getJSONObject("source").put("size", JSONArray(listOf(2, 2))).put("channels", channels).put("channel_order", order)
        }
}
