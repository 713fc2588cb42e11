import Foundation

/// Runs entry points of one loaded artifact. An adapter wraps one runtime (Core ML, ExecuTorch); which entry,
/// preprocessing and decoding are shared.
public protocol EntryRunner {
    /// Run `entry` on one NCHW `input` of `shape`; each output's values by output name (batch of one).
    func run(_ entry: Combination, input: [Float], shape: [Int]) throws -> [String: [Float]]
}

/// The answers of one run: the entry point that ran, each requested task's answer, and the time it took.
public struct Prediction: Sendable {
    public let entry: Combination
    public let answers: [String: Answer]
    public let latency: Duration
}

/// A pamkit multitask model on one runtime: give it the tasks the app needs now and an image, and it runs the
/// entry point that computes only those tasks' groups.
public final class MultitaskModel {
    public let manifest: Manifest
    private let runner: any EntryRunner
    private let preprocessor: Preprocessor

    public init(manifest: Manifest, runner: any EntryRunner) {
        self.manifest = manifest
        self.runner = runner
        self.preprocessor = Preprocessor(spec: manifest.input)
    }

    /// The input tensor for an RGBA image of the source's size (see `Preprocessor`).
    public func preprocess(rgba: [UInt8], width: Int, height: Int) throws -> [Float] {
        try preprocessor.tensor(rgba: rgba, width: width, height: height)
    }

    /// Answer `tasks` on a preprocessed `input`; only the requested tasks are decoded even if the entry runs more.
    public func run(_ tasks: [String], input: [Float]) throws -> Prediction {
        let entry = try manifest.select(tasks)
        let clock = ContinuousClock()
        let start = clock.now
        let outputs = try runner.run(entry, input: input, shape: manifest.input.shape)
        let latency = clock.now - start
        var answers: [String: Answer] = [:]
        for name in tasks {
            guard let task = manifest.task(name), let values = outputs[task.output] else {
                throw ManifestError.invalid("entry point '\(entry.entry)' returned no output for task '\(name)'")
            }
            answers[name] = task.decode(values)
        }
        return Prediction(entry: entry, answers: answers, latency: latency)
    }
}
