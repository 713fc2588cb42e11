import Foundation

/// A pamkit export manifest (schema `pamkit-export-manifest`, version 1): everything an app needs to choose, feed
/// and read an entry point. `Manifest.load(from:)` checks what the app relies on and names the field when it is wrong.
public struct Manifest: Decodable, Sendable {
    public static let schemaName = "pamkit-export-manifest"
    public static let supportedVersion = 1

    public let tasks: [TaskSpec]
    public let input: InputSpec
    public let combinations: [Combination]
    public let defaultCombination: String
    public let files: [Artifact]

    enum CodingKeys: String, CodingKey {
        case tasks, input, combinations, files
        case defaultCombination = "default_combination"
    }

    public var taskNames: [String] { tasks.map(\.name) }

    public func task(_ name: String) -> TaskSpec? { tasks.first { $0.name == name } }

    /// The first artifact of any of `formats`, in that order of preference (nil: none was exported).
    public func artifact(_ formats: [String]) -> Artifact? {
        formats.lazy.compactMap { format in files.first { $0.format == format } }.first
    }

    public static func load(from url: URL) throws -> Manifest { try parse(Data(contentsOf: url)) }

    /// Parse and check a manifest.json; a newer schema version is named as such before any field is read.
    public static func parse(_ data: Data) throws -> Manifest {
        struct Header: Decodable {
            let schema: String?
            let schema_version: Int?
        }
        let header: Header
        do {
            header = try JSONDecoder().decode(Header.self, from: data)
        } catch {
            throw ManifestError.notJSON("\(error)")
        }
        guard header.schema == schemaName else { throw ManifestError.notAManifest(header.schema ?? "none") }
        guard let version = header.schema_version, version == supportedVersion else {
            throw ManifestError.unsupportedVersion(header.schema_version ?? 0)
        }
        let manifest: Manifest
        do {
            manifest = try JSONDecoder().decode(Manifest.self, from: data)
        } catch let error as DecodingError {
            throw ManifestError.invalid(ManifestError.describe(error))
        }
        try manifest.check()
        return manifest
    }

    /// Cross-field checks: every entry point's tasks and outputs exist, the default and each file's entries exist.
    func check() throws {
        let outputs = Dictionary(uniqueKeysWithValues: tasks.map { ($0.name, $0.output) })
        for (i, c) in combinations.enumerated() {
            let unknown = c.tasks.filter { outputs[$0] == nil }
            if !unknown.isEmpty {
                throw ManifestError.invalid("combinations[\(i)].tasks names unknown task(s) \(unknown.joined(separator: ", "))")
            }
            if Set(c.outputs) != Set(c.tasks.compactMap { outputs[$0] }) {
                throw ManifestError.invalid("combinations[\(i)].outputs \(c.outputs) are not the outputs of its tasks \(c.tasks)")
            }
        }
        let entries = Set(combinations.map(\.entry))
        if !entries.contains(defaultCombination) {
            throw ManifestError.invalid("default_combination '\(defaultCombination)' is not an entry point")
        }
        for (i, file) in files.enumerated() where !Set(file.entries).isSubset(of: entries) {
            throw ManifestError.invalid("files[\(i)].entries names entry points that do not exist")
        }
    }
}

/// What a task's outputs mean and how to read an answer from them (the manifest's `tasks[]`).
public struct TaskSpec: Decodable, Sendable {
    public enum Kind: String, Decodable, Sendable { case multiclass, binary, multilabel }

    public struct Decision: Decodable, Sendable {
        public enum Rule: String, Decodable, Sendable { case argmax, threshold }
        public let rule: Rule
        public let threshold: Float?
    }

    public let name: String
    /// The task's output name: a Core ML output feature, an ExecuTorch output by position in `Combination.outputs`.
    public let output: String
    public let kind: Kind
    public let labels: [String]
    /// Per label: the dataset classes (or attributes) that turn it on.
    public let covers: [[String]]
    public let decision: Decision

    enum CodingKeys: String, CodingKey { case name, output, kind, labels, covers, decision }
}

/// The network's input and how to make it from a source image (the manifest's `input`).
public struct InputSpec: Decodable, Sendable {
    public struct Source: Decodable, Sendable {
        public let size: [Int]
        public let channels: Int
        public let channelOrder: String
        public let pixelRange: [Double]

        enum CodingKeys: String, CodingKey {
            case size, channels
            case channelOrder = "channel_order"
            case pixelRange = "pixel_range"
        }
    }

    public struct Preprocessing: Decodable, Sendable {
        public let source: Source
        public let steps: [PreprocessingStep]
    }

    public let name: String
    /// NCHW, N = 1.
    public let shape: [Int]
    public let preprocessing: Preprocessing

    public var count: Int { shape.reduce(1, *) }
}

/// One step from source pixels to the input tensor, applied in order.
public enum PreprocessingStep: Decodable, Sendable, Equatable {
    case scale(divideBy: Float)
    case resize(height: Int, width: Int, alignCorners: Bool, antialias: Bool)
    case normalize(mean: Float, std: Float)

    enum CodingKeys: String, CodingKey {
        case op, size, mean, std, antialias
        case divideBy = "divide_by"
        case alignCorners = "align_corners"
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        switch try c.decode(String.self, forKey: .op) {
        case "scale":
            self = .scale(divideBy: try c.decode(Float.self, forKey: .divideBy))
        case "resize":
            let size = try c.decode([Int].self, forKey: .size)
            self = .resize(height: size[0], width: size[1], alignCorners: try c.decode(Bool.self, forKey: .alignCorners),
                           antialias: try c.decode(Bool.self, forKey: .antialias))
        case "normalize":
            self = .normalize(mean: try c.decode(Float.self, forKey: .mean), std: try c.decode(Float.self, forKey: .std))
        case let op:
            throw DecodingError.dataCorruptedError(forKey: .op, in: c, debugDescription: "unknown preprocessing op '\(op)'")
        }
    }
}

/// One task combination's entry point: the Core ML function, ExecuTorch method and LiteRT signature of that name.
public struct Combination: Decodable, Sendable, Equatable {
    public let tasks: [String]
    public let entry: String
    /// Output names in output order (ExecuTorch returns its outputs in this order).
    public let outputs: [String]
    public let macs: Int
    public let params: Int
}

/// One artifact file and the entry points it holds (the manifest's `files[]`).
public struct Artifact: Decodable, Sendable {
    public let format: String
    public let precision: String
    public let path: String
    public let size: Int
    public let sha256: String
    public let entries: [String]
    public let minOS: String?

    enum CodingKeys: String, CodingKey {
        case format, precision, path, size, sha256, entries
        case minOS = "min_os"
    }
}

/// Why a manifest cannot be used, with what to do.
public enum ManifestError: Error, LocalizedError, Equatable {
    case notJSON(String)
    case notAManifest(String)
    case unsupportedVersion(Int)
    case invalid(String)

    public var errorDescription: String? {
        switch self {
        case .notJSON(let detail): return "manifest.json is not JSON (\(detail)); pass the file `pamkit export` wrote"
        case .notAManifest(let schema): return "the file's schema is '\(schema)', not '\(Manifest.schemaName)': this is not a pamkit export manifest"
        case .unsupportedVersion(let version):
            return "manifest.json has schema version \(version); this app reads version \(Manifest.supportedVersion): "
                + (version > Manifest.supportedVersion ? "update the app's Pamkit package" : "re-export with this pamkit")
        case .invalid(let detail): return "manifest.json: \(detail); re-run `pamkit export` to write a valid manifest"
        }
    }

    /// A decoding error as the path of the field and what is wrong with it ("tasks[1].labels is missing").
    static func describe(_ error: DecodingError) -> String {
        func path(_ keys: [CodingKey]) -> String {
            keys.reduce("") { text, key in
                if let index = key.intValue { return "\(text)[\(index)]" }
                return text.isEmpty ? key.stringValue : "\(text).\(key.stringValue)"
            }
        }
        switch error {
        case .keyNotFound(let key, let context): return "\(path(context.codingPath + [key])) is missing"
        case .typeMismatch(_, let context), .valueNotFound(_, let context): return "\(path(context.codingPath)) has the wrong type"
        case .dataCorrupted(let context): return "\(path(context.codingPath)): \(context.debugDescription)"
        @unknown default: return "\(error)"
        }
    }
}
