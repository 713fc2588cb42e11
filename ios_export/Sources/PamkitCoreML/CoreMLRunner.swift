#if canImport(CoreML)
import CoreML
import Foundation
import PamkitSelector

/// Why a Core ML artifact cannot serve an entry point.
public enum CoreMLRunnerError: Error, LocalizedError {
    case missingFunctions([String], available: [String])
    case noArtifact(String)
    case missingOutput(String)

    public var errorDescription: String? {
        switch self {
        case let .missingFunctions(names, available):
            return "the Core ML model has no function(s) \(names.joined(separator: ", ")) (it has \(available.joined(separator: ", "))): the model and manifest.json are from different exports"
        case .noArtifact(let entry):
            return "no Core ML package runs '\(entry)' on this OS: before iOS 18 / macOS 15 export with `pamkit export --coreml-legacy`"
        case .missingOutput(let name): return "the Core ML model returned no output '\(name)'"
        }
    }
}

/// Runs entry points of a pamkit Core ML export. On iOS 18 / macOS 15 and newer: one function of the
/// multifunction package per task combination (`MLModelConfiguration.functionName`), weights stored once.
/// On older systems: the per-combination packages of `pamkit export --coreml-legacy`.
///
/// `directory` holds the compiled models (`.mlmodelc`): Xcode compiles each `.mlpackage` added to the app target
/// into the bundle's root (`Bundle.main.resourceURL`), or compile a downloaded one with `MLModel.compileModel(at:)`.
public final class CoreMLRunner: EntryRunner {
    private let manifest: Manifest
    private let directory: URL
    private let configuration: MLModelConfiguration
    private var loaded: [String: MLModel] = [:]

    public init(manifest: Manifest, directory: URL, computeUnits: MLComputeUnits = .all) {
        self.manifest = manifest
        self.directory = directory
        self.configuration = MLModelConfiguration()
        self.configuration.computeUnits = computeUnits
    }

    /// The functions of the multifunction package, checked to hold every entry point of the manifest.
    @available(iOS 18, macOS 15, *)
    public func checkFunctions() async throws -> [String] {
        let asset = try MLModelAsset(url: try compiledURL(multifunction()))
        let available = try await asset.functionNames
        let missing = manifest.combinations.map(\.entry).filter { !available.contains($0) }
        if !missing.isEmpty { throw CoreMLRunnerError.missingFunctions(missing, available: available) }
        return available
    }

    public func run(_ entry: Combination, input: [Float], shape: [Int]) throws -> [String: [Float]] {
        let model = try self.model(for: entry.entry)
        let array = try MLMultiArray(shape: shape.map { NSNumber(value: $0) }, dataType: .float32)
        array.withUnsafeMutableBufferPointer(ofType: Float.self) { buffer, _ in
            for i in input.indices { buffer[i] = input[i] }
        }
        let features = try MLDictionaryFeatureProvider(dictionary: [manifest.input.name: MLFeatureValue(multiArray: array)])
        let result = try model.prediction(from: features)
        var outputs: [String: [Float]] = [:]
        for name in entry.outputs {
            guard let values = result.featureValue(for: name)?.multiArrayValue else { throw CoreMLRunnerError.missingOutput(name) }
            outputs[name] = (0..<values.count).map { values[$0].floatValue }
        }
        return outputs
    }

    /// The model of one function, loaded once: from the multifunction package where the OS has functions,
    /// else from that combination's own legacy package.
    func model(for function: String) throws -> MLModel {
        if let model = loaded[function] { return model }
        let model: MLModel
        if #available(iOS 18, macOS 15, *) {
            let configuration = self.configuration.copy() as! MLModelConfiguration
            configuration.functionName = function
            model = try MLModel(contentsOf: try compiledURL(multifunction()), configuration: configuration)
        } else {
            guard let legacy = manifest.files.first(where: { $0.format == "coreml" && $0.entries == [function] }) else {
                throw CoreMLRunnerError.noArtifact(function)
            }
            model = try MLModel(contentsOf: try compiledURL(legacy), configuration: configuration)
        }
        loaded[function] = model
        return model
    }

    private func multifunction() throws -> Artifact {
        guard let artifact = manifest.files.first(where: { $0.format == "coreml" && $0.entries.count == manifest.combinations.count }) else {
            throw CoreMLRunnerError.noArtifact(manifest.defaultCombination)
        }
        return artifact
    }

    /// Where Xcode put the compiled model of a package: its file name, as `.mlmodelc`, in `directory`.
    private func compiledURL(_ artifact: Artifact) throws -> URL {
        let name = URL(fileURLWithPath: artifact.path).deletingPathExtension().lastPathComponent
        return directory.appendingPathComponent(name + ".mlmodelc")
    }
}
#endif
