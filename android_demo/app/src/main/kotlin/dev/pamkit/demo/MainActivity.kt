package dev.pamkit.demo

import android.app.Activity
import android.graphics.Bitmap
import android.graphics.BitmapFactory
import android.os.Build
import android.os.Bundle
import android.widget.Button
import android.widget.CheckBox
import android.widget.ImageView
import android.widget.LinearLayout
import android.widget.RadioGroup
import android.widget.TextView
import dev.pamkit.core.Backend
import dev.pamkit.core.BenchSetup
import dev.pamkit.core.Manifest
import dev.pamkit.core.MultitaskModel
import dev.pamkit.core.benchResults
import dev.pamkit.core.benchmarkEveryEntry
import dev.pamkit.core.describe
import org.json.JSONObject
import java.io.File
import java.time.Instant
import java.util.concurrent.Executors

/**
 * One screen: tick the tasks to run, pick a runtime and a sample image, and see every task's answer and the
 * latency of the entry point that ran. "Benchmark every combination" times each entry point and writes a
 * `pamkit bench` results file (README: pull it with adb, then `pamkit bench report`).
 */
class MainActivity : Activity() {
    private val worker = Executors.newSingleThreadExecutor()
    private lateinit var modelAssets: ModelAssets  // not `assets`: that would override Context.getAssets()
    private lateinit var manifest: Manifest
    private val boxes = mutableMapOf<String, CheckBox>()
    private var sample = 0
    private var model: MultitaskModel? = null

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        setContentView(R.layout.activity_main)
        val result = findViewById<TextView>(R.id.result)
        try {
            modelAssets = ModelAssets(this)
            manifest = modelAssets.manifest
        } catch (e: Exception) {
            result.text = "${getString(R.string.no_assets)}\n\n${e.message}"
            return
        }
        val list = findViewById<LinearLayout>(R.id.task_boxes)
        for (task in manifest.tasks) {
            val box = CheckBox(this).apply { text = task.labels.joinToString(prefix = "${task.name}: ", limit = 4); isChecked = true }
            boxes[task.name] = box
            list.addView(box)
        }
        findViewById<RadioGroup>(R.id.runtime).setOnCheckedChangeListener { _, _ -> closeModel() }
        findViewById<Button>(R.id.next_sample).setOnClickListener { showSample(sample + 1) }
        findViewById<Button>(R.id.run).setOnClickListener { runSelected(result) }
        findViewById<Button>(R.id.benchmark).setOnClickListener { benchmark(result) }
        showSample(0)
    }

    override fun onDestroy() {
        closeModel()
        worker.shutdown()
        super.onDestroy()
    }

    private fun backend(): Backend = if (findViewById<RadioGroup>(R.id.runtime).checkedRadioButtonId == R.id.litert) Backend.LITERT else Backend.EXECUTORCH

    /** The model on the chosen runtime, loaded on first use (on the worker thread). */
    private fun model(): MultitaskModel = model ?: MultitaskModel(manifest, modelAssets.runner(backend())).also { model = it }

    private fun closeModel() {
        worker.execute {
            model?.close()
            model = null
        }
    }

    private fun showSample(index: Int) {
        if (modelAssets.samples.isEmpty()) return
        sample = index % modelAssets.samples.size
        val s = modelAssets.samples[sample]
        findViewById<ImageView>(R.id.image).setImageBitmap(Bitmap.createScaledBitmap(s.bitmap, 112, 112, false))
        findViewById<TextView>(R.id.truth).text = "shows ${s.shows}; truth: ${s.truth}"
    }

    private fun pixels(bitmap: Bitmap): IntArray = IntArray(bitmap.width * bitmap.height).also { bitmap.getPixels(it, 0, bitmap.width, 0, 0, bitmap.width, bitmap.height) }

    private fun runSelected(result: TextView) {
        val tasks = manifest.taskNames.filter { boxes.getValue(it).isChecked }
        val bitmap = modelAssets.samples.getOrNull(sample)?.bitmap ?: return
        worker.execute {
            val text =
                try {
                    val m = model()
                    val p = m.run(tasks, m.preprocess(pixels(bitmap), bitmap.width, bitmap.height))
                    buildString {
                        append("${m.backend.label}, entry point ${p.entry.name} (${p.entry.macs} MACs): ${"%.2f".format(p.latencyMs)} ms\n")
                        p.answers.forEach { (task, answer) -> append("  $task: ${answer.describe()}\n") }
                    }
                } catch (e: Exception) {
                    "error: ${e.message}"
                }
            runOnUiThread { result.text = text }
        }
    }

    private fun benchmark(result: TextView) {
        val bitmap = modelAssets.samples.getOrNull(sample)?.bitmap ?: return
        result.text = "benchmarking ${manifest.entries.size} entry points..."
        worker.execute {
            val text =
                try {
                    val m = model()
                    val cases = benchmarkEveryEntry(m, m.preprocess(pixels(bitmap), bitmap.width, bitmap.height), runs = RUNS, warmup = WARMUP)
                    val artifact = m.backend.artifact(manifest)
                    val setup =
                        BenchSetup(
                            device = "${Build.MANUFACTURER} ${Build.MODEL} (Android ${Build.VERSION.RELEASE}, ${Build.SUPPORTED_ABIS.first()})",
                            runner = "pamkit android_demo, ${m.backend.label} Java API",
                            artifactLabel = "pam",
                            manifestPath = "manifest.json",
                            format = artifact.format,
                            precision = artifact.precision,
                            runs = RUNS,
                            warmup = WARMUP,
                            versions = mapOf("android_demo" to "0.1", "android" to Build.VERSION.RELEASE),
                            created = Instant.now().toString(),
                        )
                    val file = File(getExternalFilesDir(null), "bench-android-${artifact.format}.json")
                    file.writeText(benchResults(setup, cases).toString(1))
                    cases.joinToString("\n", postfix = "\n\nwritten to ${file.path}") { c ->
                        "%-24s %10d MACs  median %.3f ms".format(c.entry.name, c.entry.macs, c.samplesMs.sorted()[c.samplesMs.size / 2])
                    }
                } catch (e: Exception) {
                    "error: ${e.message}"
                }
            runOnUiThread { result.text = text }
        }
    }

    private companion object {
        const val RUNS = 50
        const val WARMUP = 5
    }
}

/** The manifest, artifacts and samples that `pamkit app-assets` put under assets/pamkit/. */
class ModelAssets(private val activity: Activity) {
    class Sample(val bitmap: Bitmap, val shows: String, val truth: String)

    val manifest: Manifest = Manifest.parse(read("manifest.json"))

    val samples: List<Sample> =
        if (FOLDER + "/samples.json" !in list()) {
            emptyList()
        } else {
            val items = JSONObject(read("samples.json")).getJSONArray("samples")
            (0 until items.length()).map { i ->
                val item = items.getJSONObject(i)
                val options = BitmapFactory.Options().apply { inScaled = false; inPreferredConfig = Bitmap.Config.ARGB_8888 }
                val bitmap = activity.assets.open("$FOLDER/${item.getString("file")}").use { BitmapFactory.decodeStream(it, null, options)!! }
                val shows = item.getJSONArray("shows")
                Sample(bitmap, (0 until shows.length()).joinToString { shows.getString(it) }, item.getJSONObject("truth").toString())
            }
        }

    /**
     * A runner for [backend]. Runtimes memory-map files, so the artifact is copied out of the APK once, under a
     * name holding its sha256: a new export never reuses an old copy.
     */
    fun runner(backend: Backend) =
        backend.artifact(manifest).let { artifact ->
            val file = File(activity.filesDir, "${artifact.sha256.take(16)}-${File(artifact.path).name}")
            if (!file.exists() || file.length() != artifact.size) {
                val partial = File(file.path + ".partial")
                activity.assets.open("$FOLDER/${artifact.path}").use { input -> partial.outputStream().use { input.copyTo(it) } }
                partial.renameTo(file)
            }
            when (backend) {
                Backend.EXECUTORCH -> ExecuTorchRunner(file.path)
                Backend.LITERT -> LiteRtRunner(file)
            }
        }

    private fun read(name: String): String = activity.assets.open("$FOLDER/$name").bufferedReader().use { it.readText() }

    private fun list(): List<String> = activity.assets.list(FOLDER).orEmpty().map { "$FOLDER/$it" }

    private companion object {
        const val FOLDER = "pamkit"
    }
}
