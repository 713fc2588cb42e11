import Foundation

/// Why an image cannot be turned into the model's input.
public enum PreprocessingError: Error, LocalizedError, Equatable {
    case wrongSize(width: Int, height: Int, expectedWidth: Int, expectedHeight: Int)
    case unsupportedSource(String)

    public var errorDescription: String? {
        switch self {
        case let .wrongSize(width, height, expectedWidth, expectedHeight):
            return "the image is \(width)x\(height); the model's source images are \(expectedWidth)x\(expectedHeight): scale (or crop) it to that size first"
        case .unsupportedSource(let detail): return "source images of \(detail) are not supported"
        }
    }
}

/// From an image's RGBA bytes to the network's input tensor, following the manifest's steps in order.
///
/// The bytes are 8-bit RGBA, row-major, of an image of the source's size (`CGContext` with
/// `premultipliedLast` gives this layout); each colour channel holds the source's raw pixel value. Gray models
/// read the luma (ITU-R BT.601, rounded), which is the value itself for a gray image. Float32 arithmetic, as in
/// `pamkit.data.prepare_images` and the Android side, which are tested against the same cases.
public struct Preprocessor: Sendable {
    public let spec: InputSpec

    public init(spec: InputSpec) { self.spec = spec }

    /// The input tensor, NCHW with N = 1, as `spec.count` floats.
    public func tensor(rgba: [UInt8], width: Int, height: Int) throws -> [Float] {
        let source = spec.preprocessing.source
        guard width == source.size[1], height == source.size[0], rgba.count == 4 * width * height else {
            throw PreprocessingError.wrongSize(width: width, height: height, expectedWidth: source.size[1], expectedHeight: source.size[0])
        }
        var planes = try channels(rgba, source: source)
        var h = height
        var w = width
        for step in spec.preprocessing.steps {
            switch step {
            case .scale(let divideBy):
                planes = planes.map { $0.map { $0 / divideBy } }
            case let .resize(outHeight, outWidth, alignCorners, antialias):
                let rows = Self.weights(inSize: h, outSize: outHeight, alignCorners: alignCorners, antialias: antialias)
                let cols = Self.weights(inSize: w, outSize: outWidth, alignCorners: alignCorners, antialias: antialias)
                planes = planes.map { Self.resize($0, width: w, rows: rows, cols: cols) }
                h = outHeight
                w = outWidth
            case let .normalize(mean, std):
                planes = planes.map { $0.map { ($0 - mean) / std } }
            }
        }
        return planes.flatMap { $0 }
    }

    private func channels(_ rgba: [UInt8], source: InputSpec.Source) throws -> [[Float]] {
        let n = rgba.count / 4
        if source.channels == 1 {
            return [(0..<n).map { i in
                let r = Int(rgba[4 * i]), g = Int(rgba[4 * i + 1]), b = Int(rgba[4 * i + 2])
                return Float((299 * r + 587 * g + 114 * b + 500) / 1000)
            }]
        }
        guard source.channels == 3, source.channelOrder == "RGB" else {
            throw PreprocessingError.unsupportedSource("\(source.channels) channels in '\(source.channelOrder)' order")
        }
        return (0..<3).map { c in (0..<n).map { i in Float(rgba[4 * i + c]) } }
    }

    /// For each output position along one axis: the first input position it reads and the weights.
    struct AxisWeights {
        let first: [Int]
        let weights: [[Float]]
    }

    static func weights(inSize: Int, outSize: Int, alignCorners: Bool, antialias: Bool) -> AxisWeights {
        let scale: Float = alignCorners ? (outSize > 1 ? Float(inSize - 1) / Float(outSize - 1) : 0) : Float(inSize) / Float(outSize)
        var first = [Int](repeating: 0, count: outSize)
        var weights = [[Float]](repeating: [], count: outSize)
        for o in 0..<outSize {
            if antialias && !alignCorners && scale > 1 {
                // torch's antialiased bilinear (from Pillow): a triangle filter stretched over `scale` inputs, normalised
                let center = scale * (Float(o) + 0.5)
                let lo = max(Int(center - scale + 0.5), 0)
                let hi = min(Int(center + scale + 0.5), inSize)
                let raw = (lo..<hi).map { j in max(0, 1 - abs((Float(j) - center + 0.5) / scale)) }
                let total = raw.reduce(0, +)
                first[o] = lo
                weights[o] = raw.map { $0 / total }
            } else {
                let src = alignCorners ? scale * Float(o) : max(scale * (Float(o) + 0.5) - 0.5, 0)
                let i0 = min(Int(src.rounded(.down)), inSize - 1)
                let frac = src - Float(i0)
                first[o] = i0
                weights[o] = i0 < inSize - 1 ? [1 - frac, frac] : [1]
            }
        }
        return AxisWeights(first: first, weights: weights)
    }

    /// Columns first, then rows, as torch's separable kernel.
    static func resize(_ plane: [Float], width: Int, rows: AxisWeights, cols: AxisWeights) -> [Float] {
        let height = plane.count / width
        let outW = cols.first.count
        let outH = rows.first.count
        var horizontal = [Float](repeating: 0, count: height * outW)
        for y in 0..<height {
            for x in 0..<outW {
                var sum: Float = 0
                for (k, weight) in cols.weights[x].enumerated() { sum += weight * plane[y * width + cols.first[x] + k] }
                horizontal[y * outW + x] = sum
            }
        }
        var out = [Float](repeating: 0, count: outH * outW)
        for y in 0..<outH {
            for x in 0..<outW {
                var sum: Float = 0
                for (k, weight) in rows.weights[y].enumerated() { sum += weight * horizontal[(rows.first[y] + k) * outW + x] }
                out[y * outW + x] = sum
            }
        }
        return out
    }
}
