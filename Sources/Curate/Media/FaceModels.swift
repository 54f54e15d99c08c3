// Faces in Swift, in the spirit of face_recognition: find faces, cut aligned chips, describe them.
import CFaceBridge
import Catalog
import Foundation

public struct FaceError: BadInput {
    public let description: String
}

/// A face found by the detector, in image coordinates.
public struct DetectedFace: Sendable, Equatable {
    public var left: Double
    public var top: Double
    public var right: Double
    public var bottom: Double
    public var score: Double
    /// Five (x, y) landmarks from the 5-point predictor, when it is loaded.
    public var landmarks: [Double]?

    public var area: Double { max(0, right - left) * max(0, bottom - top) }

    public init(left: Double, top: Double, right: Double, bottom: Double, score: Double, landmarks: [Double]?) {
        (self.left, self.top, self.right, self.bottom, self.score, self.landmarks) = (left, top, right, bottom, score, landmarks)
    }

    /// A face as the catalog stored it.
    public init(_ face: Face) {
        self.init(left: face.left, top: face.top, right: face.right, bottom: face.bottom, score: face.score, landmarks: face.landmarks)
    }

    func scaled(by s: Double) -> DetectedFace {
        DetectedFace(left: left * s, top: top * s, right: right * s, bottom: bottom * s, score: score,
                     landmarks: landmarks?.map { $0 * s })
    }

    var bridged: curate_face {
        var f = curate_face()
        f.left = left; f.top = top; f.right = right; f.bottom = bottom; f.score = score
        if let landmarks, landmarks.count == 10 {
            withUnsafeMutableBytes(of: &f.landmarks) { raw in
                for (i, v) in landmarks.enumerated() { raw.storeBytes(of: v, toByteOffset: i * 8, as: Double.self) }
            }
            f.has_landmarks = 1
        }
        return f
    }
}

/// Where the pretrained dlib files are, and which are missing.
public struct ModelFiles: Sendable {
    public static let shapePredictorName = "shape_predictor_5_face_landmarks.dat"
    public static let resnetName = "dlib_face_recognition_resnet_model_v1.dat"

    public static let detectorCacheName = "frontal_face_detector.dat"
    public static let cnnDetectorName = "mmod_human_face_detector.dat"

    public var shapePredictor: URL?
    public var resnet: URL?
    /// dlib's CNN face detector, for `--detector cnn` (optional: HOG needs no file).
    public var cnnDetector: URL?

    /// Where the HOG detector is kept serialized between runs, beside the model files (curate makes it on first
    /// use: building the detector from dlib's compressed copy costs about a second of CPU per process).
    public var detectorCache: URL? {
        (shapePredictor ?? resnet)?.deletingLastPathComponent().appendingPathComponent(Self.detectorCacheName)
    }

    /// Looks only in `CURATE_MODELS` (a folder) when it is set and not empty; otherwise in each folder given, then in
    /// ./dataset/models (where scripts/setup.sh puts them), so a workspace elsewhere still finds them.
    public static func locate(in folders: [URL]) -> ModelFiles {
        var search = folders + [URL(fileURLWithPath: "dataset/models")]
        if let env = ProcessInfo.processInfo.environment["CURATE_MODELS"], !env.isEmpty { search = [URL(fileURLWithPath: env)] }
        func find(_ name: String) -> URL? {
            search.map { $0.appendingPathComponent(name) }.first { FileManager.default.fileExists(atPath: $0.path) }
        }
        return ModelFiles(shapePredictor: find(shapePredictorName), resnet: find(resnetName), cnnDetector: find(cnnDetectorName))
    }

    /// A message for the user when a file is missing, nil when both are there.
    public var missingMessage: String? {
        var missing: [String] = []
        if shapePredictor == nil { missing.append("\(Self.shapePredictorName) (alignment falls back to the face box)") }
        if resnet == nil { missing.append("\(Self.resnetName) (no face descriptors)") }
        guard !missing.isEmpty else { return nil }
        return "face model files missing: \(missing.joined(separator: ", ")); run scripts/setup.sh or set CURATE_MODELS to their folder"
    }
}

/// dlib's detector and networks for one thread (they must not be shared between threads).
public final class FaceModels {
    let handle: OpaquePointer

    /// `workers`: how many threads open the same models together, each for itself (the files are read once; the
    /// last of them gets the network read, the others copies).
    public init(_ files: ModelFiles, workers: Int = 1) throws {
        // Each processing worker runs its own network: more BLAS threads than one per worker would only
        // oversubscribe the cores (OpenBLAS otherwise splits calls over one thread per core); the command line also
        // stops OpenBLAS's idle threads at start (`BLAS.useOneThread`).
        BLAS.setThreads(1)
        handle = try Bridge.value({ FaceError(description: "cannot load face models: \($0)") }) {
            curate_faces_open(files.shapePredictor?.path, files.resnet?.path, files.detectorCache?.path, Int32(max(1, workers)), $0)
        }
    }

    deinit { curate_faces_close(handle) }

    /// How many times this process loaded the descriptor network from the parsed copy the face bridge keeps beside
    /// the model file (`<model>.curate-cache`: its convolutions' filters are read in place, already arranged), how
    /// many times it wrote that copy, and how many convolution layers had their filters arranged in this process
    /// (those of a network read from the model file). For tests.
    public static var networkCopyCounts: (loaded: Int, written: Int, arranged: Int) {
        var loaded: Int32 = 0, written: Int32 = 0, arranged: Int32 = 0
        curate_faces_net_cache_counts(&loaded, &written, &arranged)
        return (Int(loaded), Int(written), Int(arranged))
    }

    /// Whether the face bridge's own reading of a shape predictor file, which `init` uses, gives the predictor
    /// dlib's deserialize gives (false also where it declines the file and dlib's reads it). For tests.
    public static func shapeReadingMatchesDlib(_ file: URL) throws -> Bool {
        var err = curate_error()
        let r = curate_faces_shape_reading_matches_dlib(file.path, &err)
        if r < 0 { throw FaceError(description: Bridge.message(err)) }
        return r == 1
    }

    /// Whether the bridge's run of the shape predictor (its trees packed) gives, for `face`'s box in `image`, the
    /// shape dlib's own loop over its trees gives, to the bit. For tests.
    public func shapeMatchesDlib(_ image: DecodedImage, face: DetectedFace) throws -> Bool {
        var bridged = face.bridged
        var same: Int32 = 0
        try Bridge.call({ FaceError(description: "comparing the shape predictor failed: \($0)") }) { err in
            same = image.withPixels { p, stride in
                curate_faces_shape_matches_dlib(handle, p, Int32(image.width), Int32(image.height), stride, &bridged, err)
            }
            return same < 0 ? -1 : 0
        }
        return same == 1
    }

    /// Seconds the shape predictor has taken in this instance's detections (part of their time; for the
    /// processing summary's stage times).
    public private(set) var landmarkSeconds = 0.0

    public var hasLandmarks: Bool { curate_faces_has_landmarks(handle) != 0 }
    public var hasDescriptors: Bool { curate_faces_has_descriptors(handle) != 0 }
    public var hasCNN: Bool { curate_faces_has_cnn(handle) != 0 }
    /// Whether the HOG detector scans with the face bridge's AVX-512 code (dlib's values, checked at start), not
    /// dlib's own.
    public var hasHOGScan: Bool { curate_faces_hog_scan(handle) != 0 }

    /// Loads dlib's CNN face detector, for `detect(_:upsample:detector: .cnn)`.
    public func loadCNN(_ file: URL) throws {
        try Bridge.call({ FaceError(description: "cannot load \(file.lastPathComponent): \($0)") }) {
            curate_faces_load_cnn(handle, file.path, $0)
        }
    }

    /// Faces in the image, strongest first, after `upsample` doublings, by the HOG detector or (loaded first
    /// with `loadCNN`) the CNN detector. `dlibScan` runs the HOG detector as dlib's own object_detector scans,
    /// and `dlibLandmarks` the shape predictor as dlib's own operator() runs it, which curate's must equal (for
    /// tests).
    public func detect(_ image: DecodedImage, upsample: Int, detector: FaceDetector = .hog, dlibScan: Bool = false,
                       dlibLandmarks: Bool = false) throws -> [DetectedFace] {
        if dlibLandmarks { curate_faces_dlib_landmarks(1) }
        defer { if dlibLandmarks { curate_faces_dlib_landmarks(0) } }
        var faces = [curate_face](repeating: curate_face(), count: 256)
        var count: Int32 = 0
        var landmarks = 0.0
        try Bridge.call({ FaceError(description: "face detection failed: \($0)") }) { err in
            image.withPixels { p, stride in
                curate_faces_detect(handle, p, Int32(image.width), Int32(image.height), stride, Int32(upsample),
                                    detector == .cnn ? 1 : dlibScan ? 2 : 0, &faces, Int32(faces.count), &count, &landmarks, err)
            }
        }
        landmarkSeconds += landmarks
        return faces.prefix(Int(count)).map { f in
            var landmarks: [Double]?
            if f.has_landmarks != 0 {
                landmarks = withUnsafeBytes(of: f.landmarks) { raw in (0..<10).map { raw.load(fromByteOffset: $0 * 8, as: Double.self) } }
            }
            return DetectedFace(left: f.left, top: f.top, right: f.right, bottom: f.bottom, score: f.score, landmarks: landmarks)
        }
    }

    /// Faces at a bounded cost: images longer than `maxSide` are shrunk first, those under `upsampleBelow`
    /// upsampled once (small faces in small photos). Boxes are in the image's own coordinates.
    public func find(in image: DecodedImage, maxSide: Int = 2000, upsampleBelow: Int = 1000,
                     detector: FaceDetector = .hog, dlibScan: Bool = false, dlibLandmarks: Bool = false) throws -> [DetectedFace] {
        let longer = max(image.width, image.height)
        var work = image
        var scale = 1.0
        if longer > maxSide {
            scale = Double(maxSide) / Double(longer)
            work = try image.resized(width: max(1, Int(Double(image.width) * scale)), height: max(1, Int(Double(image.height) * scale)))
        }
        let upsample = Double(longer) * scale < Double(upsampleBelow) ? 1 : 0
        return try detect(work, upsample: upsample, detector: detector, dlibScan: dlibScan, dlibLandmarks: dlibLandmarks).map { scale == 1 ? $0 : $0.scaled(by: 1 / scale) }
    }

    /// The aligned chip of a face (size x size) and, for 150 x 150 chips with the ResNet model loaded, its
    /// 128-d descriptor.
    public func chip(_ image: DecodedImage, face: DetectedFace, size: Int = 150, padding: Double = 0.25) throws -> (chip: DecodedImage, descriptor: [Float]?) {
        try chips(image, faces: [face], size: size, padding: padding)[0]
    }

    /// The aligned chips of several faces of one image, their descriptors computed in one pass of the network.
    /// `image` may be a part of the image the faces were found in, its top-left pixel at `origin` (faces stay in
    /// the whole image's coordinates): a part holding `chipRegion` gives the same chips as the whole.
    /// `dlibConvolutions` computes the descriptors with dlib's own convolutions, relu, affine, max pooling and
    /// residual sums instead of the bridge's (the same sums in another order; `ConvolutionStats`), to compare.
    public func chips(_ image: DecodedImage, faces: [DetectedFace], origin: (x: Int, y: Int) = (0, 0), size: Int = 150,
                      padding: Double = 0.25, dlibConvolutions: Bool = false) throws -> [(chip: DecodedImage, descriptor: [Float]?)] {
        guard !faces.isEmpty else { return [] }
        let chipBytes = size * size * 3
        var pixels = [UInt8](repeating: 0, count: faces.count * chipBytes)
        var descriptors = [Float](repeating: 0, count: faces.count * 128)
        var has: Int32 = 0
        let bridged = faces.map(\.bridged)
        if dlibConvolutions { curate_faces_dlib_convolutions(1) }
        defer { if dlibConvolutions { curate_faces_dlib_convolutions(0) } }
        try Bridge.call({ FaceError(description: "face chip failed: \($0)") }) { err in
            image.withPixels { p, stride in
                curate_faces_chips(handle, p, Int32(image.width), Int32(image.height), stride, Int32(origin.x), Int32(origin.y),
                                   bridged, Int32(faces.count),
                                   Int32(size), padding, &pixels, &descriptors, &has, err)
            }
        }
        return try faces.indices.map { i in
            let chip = try pixels.withUnsafeBufferPointer {
                try DecodedImage.fromBGR(UnsafeBufferPointer(rebasing: $0[i * chipBytes..<(i + 1) * chipBytes]), width: size, height: size)
            }
            return (chip, has != 0 ? Array(descriptors[i * 128..<(i + 1) * 128]) : nil)
        }
    }
}

extension FaceModels {
    /// The descriptors of chips already cut (150 x 150, as `chips` cuts them), in one pass of the network: for chips
    /// read back from their files and changed (`SecondLook` paints the same bar over the eyes of each).
    public func describe(chips: [DecodedImage]) throws -> [[Float]] {
        guard !chips.isEmpty else { return [] }
        let chipBytes = 150 * 150 * 3
        var pixels = [UInt8](repeating: 0, count: chips.count * chipBytes)
        for (i, chip) in chips.enumerated() {
            guard chip.width == 150, chip.height == 150 else {
                throw FaceError(description: "a chip to describe is \(chip.width)×\(chip.height), not 150×150")
            }
            chip.copyRows(into: &pixels, at: i * chipBytes, rowStride: 150 * 3)
        }
        var descriptors = [Float](repeating: 0, count: chips.count * 128)
        try Bridge.call({ FaceError(description: "describing face chips failed: \($0)") }) { err in
            curate_faces_describe_chips(handle, pixels, Int32(chips.count), &descriptors, err)
        }
        return chips.indices.map { Array(descriptors[$0 * 128..<($0 + 1) * 128]) }
    }
}

/// What the face bridge's convolutions (the descriptor network's, computed without dlib's img2col and BLAS) did in
/// this process: each layer shape's first pass is checked against dlib's own convolution, and a shape that
/// disagreed runs dlib's from then on.
public struct ConvolutionStats: Sendable, Equatable {
    /// Layer shapes checked against dlib's, and of those, how many disagreed.
    public var checked: Int, disagreed: Int
    /// Forward passes of a convolution layer on the bridge's code, and on dlib's.
    public var fastPasses: Int, dlibPasses: Int
    /// The largest difference a check saw, relative to the layer's largest output.
    public var worst: Float
    /// The same first-use check for the bridge's relu, affine, max pooling and residual sums, which must give dlib's
    /// floats exactly: kinds checked, and of those, how many did not (they run dlib's from then on).
    public var layersChecked: Int, layersDisagreed: Int

    public static var current: ConvolutionStats {
        var s = curate_convolution_stats()
        curate_faces_convolution_stats(&s)
        return ConvolutionStats(checked: Int(s.checked), disagreed: Int(s.disagreed), fastPasses: s.fast_passes,
                                dlibPasses: s.dlib_passes, worst: s.worst, layersChecked: Int(s.layers_checked),
                                layersDisagreed: Int(s.layers_disagreed))
    }
}

extension FaceModels {
    /// The pixels of a `width` x `height` image that cutting these faces' chips reads (dlib's own reckoning:
    /// the rotated chip and the border of its image pyramid), nil when none: what a partial decode must hold.
    public static func chipRegion(_ faces: [DetectedFace], width: Int, height: Int, size: Int = 150,
                                  padding: Double = 0.25) throws -> (x: Int, y: Int, width: Int, height: Int)? {
        var l: Int32 = 0, t: Int32 = 0, r: Int32 = 0, b: Int32 = 0
        let bridged = faces.map(\.bridged)
        try Bridge.call({ FaceError(description: "face chip region failed: \($0)") }) {
            curate_faces_chip_region(bridged, Int32(faces.count), Int32(size), padding, Int32(width), Int32(height), &l, &t, &r, &b, $0)
        }
        return r > l && b > t ? (Int(l), Int(t), Int(r - l), Int(b - t)) : nil
    }
}

/// Euclidean distance between two descriptors (dlib's threshold for "same person" is 0.6).
public func descriptorDistance(_ a: [Float], _ b: [Float]) -> Float {
    var sum: Float = 0
    for i in 0..<min(a.count, b.count) {
        let d = a[i] - b[i]
        sum += d * d
    }
    return sum.squareRoot()
}
