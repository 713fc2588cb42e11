import CoreGraphics
import Foundation
import ImageIO
import PamkitCoreML
import PamkitSelector

/// The app's state: the export's manifest (from `pamkit app-assets --app ios`), the chosen tasks and runtime,
/// the current sample, and the last answers. `PamkitModel` is the typed file that export generated.
@MainActor
final class DemoModel: ObservableObject {
    enum Runtime: String, CaseIterable, Identifiable {
        case coreML = "Core ML"
        case execuTorch = "ExecuTorch"
        var id: String { rawValue }
    }

    @Published var selected = Set(PamkitModel.Task.allCases)
    @Published var runtime: Runtime = .coreML { didSet { model = nil } }
    @Published var sample = 0
    @Published private(set) var answers: [PamkitModel.Task: Answer] = [:]
    @Published private(set) var status = ""

    let manifest: Manifest
    let samples: [Sample]
    private var model: PamkitModel?

    struct Sample {
        let url: URL
        let truth: String
    }

    init() {
        let folder = Bundle.main.resourceURL!.appendingPathComponent("pamkit")
        do {
            manifest = try Manifest.load(from: folder.appendingPathComponent("manifest.json"))
        } catch {
            fatalError("add the `pamkit app-assets --app ios` folder to the app as a folder named pamkit: \(error.localizedDescription)")
        }
        let listing = (try? Data(contentsOf: folder.appendingPathComponent("samples.json")))
            .flatMap { try? JSONSerialization.jsonObject(with: $0) as? [String: Any] }
        samples = (listing?["samples"] as? [[String: Any]] ?? []).map { item in
            Sample(url: folder.appendingPathComponent(item["file"] as! String), truth: "\(item["truth"] ?? "")")
        }
    }

    var entryPoint: String? { PamkitModel.entryPoints[selected] ?? (try? manifest.select(selected.map(\.rawValue)).entry) }

    func nextSample() {
        guard !samples.isEmpty else { return }
        sample = (sample + 1) % samples.count
        answers = [:]
    }

    func run() {
        guard !samples.isEmpty, !selected.isEmpty else { return }
        do {
            let model = try loadedModel()
            let (rgba, width, height) = try Self.rgba(of: samples[sample].url)
            let input = try model.model.preprocess(rgba: rgba, width: width, height: height)
            let clock = ContinuousClock()
            let start = clock.now
            answers = try model.run(selected, input: input)
            status = "\(runtime.rawValue), entry point \(entryPoint ?? "?"): \(clock.now - start)"
        } catch {
            status = "error: \(error.localizedDescription)"
        }
    }

    private func loadedModel() throws -> PamkitModel {
        if let model { return model }
        let runner: any EntryRunner
        switch runtime {
        case .coreML:
            runner = CoreMLRunner(manifest: manifest, directory: Bundle.main.resourceURL!)
        case .execuTorch:
            #if canImport(ExecuTorch)
            let path = Bundle.main.resourceURL!.appendingPathComponent("pamkit/model.pte").path
            runner = try ExecuTorchRunner(path: path)
            #else
            throw ManifestError.invalid("this build has no ExecuTorch: add the ExecuTorch package and Adapters/ExecuTorchRunner.swift")
            #endif
        }
        let model = try PamkitModel(manifest: manifest, runner: runner)
        self.model = model
        return model
    }

    /// An image file's pixels as 8-bit RGBA, row-major, at its own size (the samples are at the source size).
    static func rgba(of url: URL) throws -> ([UInt8], Int, Int) {
        guard let source = CGImageSourceCreateWithURL(url as CFURL, nil),
              let image = CGImageSourceCreateImageAtIndex(source, 0, nil) else {
            throw ManifestError.invalid("cannot read the image \(url.lastPathComponent)")
        }
        let width = image.width, height = image.height
        var bytes = [UInt8](repeating: 0, count: 4 * width * height)
        let drawn: Bool = bytes.withUnsafeMutableBytes { buffer in
            guard let context = CGContext(data: buffer.baseAddress, width: width, height: height, bitsPerComponent: 8,
                                          bytesPerRow: 4 * width, space: CGColorSpaceCreateDeviceRGB(),
                                          bitmapInfo: CGImageAlphaInfo.premultipliedLast.rawValue) else { return false }
            context.draw(image, in: CGRect(x: 0, y: 0, width: width, height: height))
            return true
        }
        if !drawn { throw ManifestError.invalid("cannot draw the image \(url.lastPathComponent)") }
        return (bytes, width, height)
    }
}
