// The face bridge reads the shape predictor file itself (dlib's deserialize takes tens of milliseconds a process):
// the same predictor as dlib's reading, and dlib's reading wherever the bridge's declines a file.
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
}
