// Compiled only where ExecuTorch is importable: the package depends on nothing, the app adds ExecuTorch
// (Swift Package Manager, https://github.com/pytorch/executorch, branch swiftpm-<version>; see README.md).
#if canImport(ExecuTorch)
import ExecuTorch
import Foundation
import PamkitSelector

/// Why the .pte cannot serve an entry point.
public enum ExecuTorchRunnerError: Error, LocalizedError {
    case missingMethod(String, available: [String])
    case outputCount(String, got: Int, expected: Int)

    public var errorDescription: String? {
        switch self {
        case let .missingMethod(name, available):
            return "the .pte has no method '\(name)' (it has \(available.joined(separator: ", "))): the .pte and manifest.json are from different exports"
        case let .outputCount(name, got, expected):
            return "method '\(name)' returned \(got) outputs, the manifest lists \(expected): the .pte and manifest.json are from different exports"
        }
    }
}

/// Runs entry points of a pamkit `.pte` with ExecuTorch's Swift API: one method per task combination, named by
/// the manifest; a method returns its tasks' outputs in the manifest's `outputs` order.
public final class ExecuTorchRunner: EntryRunner {
    private let module: Module
    private let methods: Set<String>

    public init(path: String) throws {
        module = Module(filePath: path)
        methods = try module.methodNames()
    }

    public func run(_ entry: Combination, input: [Float], shape: [Int]) throws -> [String: [Float]] {
        guard methods.contains(entry.entry) else { throw ExecuTorchRunnerError.missingMethod(entry.entry, available: methods.sorted()) }
        let outputs: [Tensor<Float>] = try module.execute(entry.entry, [Tensor<Float>(input, shape: shape)])
        guard outputs.count == entry.outputs.count else {
            throw ExecuTorchRunnerError.outputCount(entry.entry, got: outputs.count, expected: entry.outputs.count)
        }
        return Dictionary(uniqueKeysWithValues: zip(entry.outputs, outputs.map { $0.scalars() }))
    }
}
#endif
