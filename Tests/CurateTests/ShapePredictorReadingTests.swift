// The face bridge reads the shape predictor file itself (dlib's deserialize takes tens of milliseconds a process):
// the same predictor as dlib's reading, and dlib's reading wherever the bridge's declines a file. It runs the
// predictor with its trees laid out flat (shape_model): the same landmarks as dlib's operator() on real faces.
import Foundation
import Testing
import TestSupport
@testable import Curate

@Suite(.enabled(if: ProcessFixture.hasModels, "needs the dlib model files (scripts/setup.sh)"))
struct ShapePredictorReadingTests {
    let file = ProcessFixture.models.shapePredictor!

    @Test func theBridgesReadingIsDlibs() throws {
        #expect(try FaceModels.shapeReadingMatchesDlib(file))
    }

    /// Landmarks of a real face with a predictor read from `shape` (the descriptor network left out).
    func landmarks(_ shape: URL) throws -> [Double]? {
        let models = try FaceModels(ModelFiles(shapePredictor: shape, resnet: nil, cnnDetector: nil))
        let photo = try DecodedImage.decode(Array(Data(contentsOf: Paths.shared.appendingPathComponent("single_face/opencv_course_lady.jpg"))))
        return try models.find(in: photo).first?.landmarks
    }

    @Test(.enabled(if: Paths.hasShared, "needs ../shared/data"))
    func aFileItDeclinesIsReadByDlib() throws {
        let dir = TempDir()
        let bytes = try Data(contentsOf: file)
        // One byte more than the predictor: dlib's deserialize reads the predictor and stops, the bridge's declines.
        let longer = dir.sub("longer.dat")
        try (bytes + Data([0])).write(to: longer)
        #expect(try !FaceModels.shapeReadingMatchesDlib(longer))
        let expected = try landmarks(file)
        #expect(expected != nil)
        #expect(try landmarks(longer) == expected)
        // Half of it: the bridge declines, and dlib's error is what the user sees.
        let half = dir.sub("half.dat")
        try bytes.prefix(bytes.count / 2).write(to: half)
        #expect(try !FaceModels.shapeReadingMatchesDlib(half))
        #expect(throws: FaceError.self) { try landmarks(half) }
    }

    /// Every face of the real photos (one-face, group, non-face and edge photos, and the small LFW faces, upsampled
    /// once as curate does), the landmarks found by the bridge's run of the predictor and by dlib's operator(), and
    /// the shapes they are made from.
    @Test(.enabled(if: Paths.hasShared, "needs ../shared/data"))
    func theLandmarksAreDlibsOnEveryFace() async throws {
        try await offPool {
            let models = try FaceModels(ModelFiles(shapePredictor: file, resnet: nil, cnnDetector: nil))
            let photos = ["group", "single_face", "nonface", "edge", "faces"].flatMap(Paths.photos(in:))
            var faces = 0
            for photo in photos {
                let image = try DecodedImage.decode(try Paths.bytes(photo))
                let ours = try models.find(in: image)
                let dlibs = try models.find(in: image, dlibLandmarks: true)
                #expect(ours.count == dlibs.count, "\(photo): \(ours.count) faces, \(dlibs.count) with dlib's landmarks")
                for (a, b) in zip(ours, dlibs) {
                    #expect(a.landmarks != nil && a.landmarks == b.landmarks, "\(photo): \(a.landmarks ?? []) against dlib's \(b.landmarks ?? [])")
                    // The landmarks are whole pixels; the shape before them, in floats, is dlib's to the bit.
                    #expect(try models.shapeMatchesDlib(image, face: a), "\(photo): the shape for \(a) differs from dlib's")
                }
                faces += ours.count
            }
            #expect(photos.count >= 100 && faces >= 150, "\(photos.count) photos, \(faces) faces: too few to compare")
            print("ShapePredictorReadingTests: \(faces) faces of \(photos.count) photos, the same landmarks as dlib's")
        }
    }
}
