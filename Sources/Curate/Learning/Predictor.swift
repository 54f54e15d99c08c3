// `curate predict`: who is in a photo, by a trained run: every face found, its top 3 people, or unknown.
import Catalog
import Foundation

public struct Guess: Codable, Sendable, Equatable {
    public var label: String
    public var probability: Double
}

public struct FacePrediction: Codable, Sendable {
    public struct Box: Codable, Sendable, Equatable { public var left, top, right, bottom: Int }
    public var box: Box
    /// The best guess, or nil when the face is unknown.
    @ExplicitNull public var label: String?
    public var unknown: Bool
    /// Descriptor distance to the nearest training face (nil without descriptors).
    @ExplicitNull public var distance: Double?
    public var top: [Guess]

    enum CodingKeys: String, CodingKey { case box, label, unknown, distance, top }
}

public struct PhotoPrediction: Codable, Sendable {
    public var photo: String
    public var faces: [FacePrediction]
}

public enum PredictError: BadInput {
    case unreadable(String, String)
    case modelMissing(String)

    public var description: String {
        switch self {
        case let .unreadable(path, why): return "\(path): \(why)"
        case let .modelMissing(why): return why
        }
    }
}

public final class Predictor {
    public let run: TrainingRun
    public let saved: SavedModel
    /// Faces farther than this (descriptor distance) from every training face are unknown; dlib's own
    /// threshold for "the same person" is 0.6.
    public var unknownDistance: Double
    private let net: TorchNetwork
    private let models: FaceModels
    private let known: [(label: Int, descriptor: [Float])]?

    /// Loads a run (the newest finished one when `runId` is nil) and the face models.
    public init(catalog: Catalog, runId: Int64?, modelFiles: ModelFiles, unknownDistance: Double = 0.6) throws {
        let run: TrainingRun
        if let runId {
            guard let r = try catalog.run(id: runId) else { throw TrainError.runNotFound(runId) }
            guard r.status == .done || r.status == .interrupted else { throw TrainError.runNotFinished(runId, r.status.rawValue) }
            run = r
        } else {
            guard let r = try catalog.latestFinishedRun() else { throw TrainError.noRun }
            run = r
        }
        let folder = catalog.workspace.url(forRelativePath: run.folder)
        let savedURL = folder.appendingPathComponent("model.json")
        guard let data = FileManager.default.contents(atPath: savedURL.path),
              let saved = try? JSONDecoder().decode(SavedModel.self, from: data) else {
            throw PredictError.modelMissing("run \(run.id!): \(savedURL.path) is missing or unreadable; train again with `curate train`.")
        }
        if saved.model == .embed && modelFiles.resnet == nil {
            throw PredictError.modelMissing("run \(run.id!) classifies face descriptors, but the ResNet model file is missing: "
                                            + (modelFiles.missingMessage ?? ""))
        }
        self.run = run
        self.saved = saved
        self.unknownDistance = unknownDistance
        net = try TorchNetwork(saved.network, seed: 0)
        try net.load(from: folder.appendingPathComponent("model.pt"))
        models = try FaceModels(modelFiles)
        known = Training.readDescriptors(folder.appendingPathComponent("descriptors.bin"))
    }

    /// Reads a photo file: decoded by content and turned upright by its EXIF orientation.
    /// The file's size and the header's pixels are checked before anything is read whole or decoded.
    public static func load(_ path: String) throws -> DecodedImage {
        let bytes: [UInt8]
        do { bytes = try ImageLimits.read(path) } catch let error as ImageError {
            throw PredictError.unreadable(path, error.kind == .tooLarge ? "the file is over \(ImageLimits.maxFileBytes >> 20) MiB" : "cannot read the file")
        }
        guard ImageFormat.sniff(bytes) != nil else { throw PredictError.unreadable(path, "not an image (JPEG, PNG, GIF, WebP, BMP or TIFF)") }
        let image: DecodedImage
        do { image = try DecodedImage.decode(bytes) } catch let error as ImageError where error.kind == .tooLarge {
            throw PredictError.unreadable(path, "\(error)")
        } catch { throw PredictError.unreadable(path, "does not decode: \(error)") }
        if let exif = ExifInfo.read(bytes), exif.orientation > 1 { try image.orient(exif.orientation) }
        return image
    }

    /// Every face in the image, strongest first, with its top 3 people.
    public func predict(_ image: DecodedImage, photo: String) throws -> PhotoPrediction {
        let faces = try models.find(in: image)
        var out: [FacePrediction] = []
        for (face, (chip, descriptor)) in zip(faces, try models.chips(image, faces: faces)) {
            let input: [Float]
            switch saved.model {
            case .embed:
                guard let descriptor else { throw PredictError.modelMissing("no descriptor: the ResNet model did not load") }
                input = descriptor
            case .cnn:
                input = try Inputs.planar(chip, side: saved.network.side)
            }
            let p = try net.predict(input)[0]
            let ranked = p.indices.sorted { p[$0] > p[$1] }.prefix(3).map { Guess(label: saved.labels[$0], probability: Double(p[$0])) }
            var distance: Double?
            if let descriptor, let known, !known.isEmpty {
                distance = known.map { Double(descriptorDistance($0.descriptor, descriptor)) }.min()
            }
            let unknown = (distance ?? 0) > unknownDistance
            out.append(FacePrediction(box: .init(left: Int(face.left), top: Int(face.top), right: Int(face.right), bottom: Int(face.bottom)),
                                      label: unknown ? nil : ranked.first?.label, unknown: unknown, distance: distance, top: Array(ranked)))
        }
        return PhotoPrediction(photo: photo, faces: out)
    }

    /// A copy of the image with each face boxed and named (green), or marked unknown (grey), as JPEG.
    public static func annotate(_ image: DecodedImage, _ prediction: PhotoPrediction) throws -> Data {
        let thickness = max(2, max(image.width, image.height) / 400)
        for f in prediction.faces {
            let label = f.label.map { "\($0) \(String(format: "%.2f", f.top.first?.probability ?? 0))" } ?? "unknown"
            try image.drawBox(left: f.box.left, top: f.box.top, right: f.box.right, bottom: f.box.bottom, thickness: thickness,
                              bgr: f.unknown ? (150, 150, 150) : (0, 180, 0), label: label)
        }
        return try image.jpeg(quality: 92)
    }
}
