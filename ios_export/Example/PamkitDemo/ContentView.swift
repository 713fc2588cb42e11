import PamkitSelector
import SwiftUI

/// One screen: a toggle per task, the runtime, the sample image with its true answers, and every task's answer.
struct ContentView: View {
    @StateObject private var demo = DemoModel()

    var body: some View {
        NavigationStack {
            Form {
                Section("Tasks") {
                    ForEach(PamkitModel.Task.allCases, id: \.self) { task in
                        Toggle(task.rawValue, isOn: Binding(
                            get: { demo.selected.contains(task) },
                            set: { on in
                                if on { demo.selected.insert(task) } else { demo.selected.remove(task) }
                            }
                        ))
                    }
                    Text("entry point: \(demo.entryPoint ?? "none")").font(.footnote.monospaced())
                }
                Section("Runtime") {
                    Picker("Runtime", selection: $demo.runtime) {
                        ForEach(DemoModel.Runtime.allCases) { Text($0.rawValue).tag($0) }
                    }
                    .pickerStyle(.segmented)
                }
                Section("Sample") {
                    if demo.samples.indices.contains(demo.sample) {
                        AsyncImage(url: demo.samples[demo.sample].url) { image in
                            image.interpolation(.none).resizable().scaledToFit()
                        } placeholder: {
                            ProgressView()
                        }
                        .frame(height: 112)
                        Text("truth: \(demo.samples[demo.sample].truth)").font(.footnote)
                    }
                    Button("Next sample") { demo.nextSample() }
                }
                Section("Answers") {
                    Button("Run selected tasks") { demo.run() }
                    ForEach(PamkitModel.Task.allCases.filter { demo.answers[$0] != nil }, id: \.self) { task in
                        LabeledContent(task.rawValue, value: demo.answers[task]!.description)
                    }
                    Text(demo.status).font(.footnote.monospaced())
                }
            }
            .navigationTitle("pamkit")
        }
    }
}
