import Foundation

/// A task's answer for one image.
public enum Answer: Equatable, Sendable, CustomStringConvertible {
    /// Multiclass: the label of the largest output, and that output's raw score.
    case label(String, score: Float)
    /// Binary / multilabel: the labels whose outputs pass the threshold (empty: none present).
    case present([String])

    public var description: String {
        switch self {
        case .label(let label, _): return label
        case .present(let labels): return labels.isEmpty ? "none" : labels.joined(separator: ", ")
        }
    }
}

public extension TaskSpec {
    /// Decode one image's raw outputs (logits) as the manifest's decision rule says, the way pamkit scores the task:
    /// argmax (the first of equal maxima), or each output above the threshold.
    func decode(_ values: [Float]) -> Answer {
        precondition(values.count == labels.count, "task '\(name)' has \(labels.count) outputs, got \(values.count) values")
        switch decision.rule {
        case .argmax:
            var best = 0
            for i in values.indices where values[i] > values[best] { best = i }
            return .label(labels[best], score: values[best])
        case .threshold:
            let threshold = decision.threshold ?? 0
            return .present(labels.indices.filter { values[$0] > threshold }.map { labels[$0] })
        }
    }
}
