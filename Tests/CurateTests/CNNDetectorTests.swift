// dlib's CNN face detector behind the face bridge: it finds the face in a real photo HOG misses, with the five
// landmarks the chip is aligned by, finds none in a photo of cats, and is refused (not crashed on) when not loaded.
import Foundation
import Testing
import TestSupport
@testable import Curate

@Suite(.enabled(if: Paths.hasShared && ProcessFixture.hasModels && ProcessFixture.models.cnnDetector != nil,
                "needs ../shared/data and the dlib model files with mmod_human_face_detector.dat (scripts/setup.sh)"),
       .timeLimit(.minutes(10)))
struct CNNDetectorTests {
    let options = ProcessOptions(models: ProcessFixture.models)

    func cnnFaces(_ models: FaceModels, _ image: DecodedImage) throws -> [DetectedFace] {
        try models.find(in: image, maxSide: options.cnnMaxSide, upsampleBelow: options.cnnUpsampleBelow, detector: .cnn)
    }

    @Test func theCNNDetectorFindsTheFaceHOGMissesAndItIsThePerson() async throws {
        try await offPool {
            let models = try FaceModels(ProcessFixture.models)
            try models.loadCNN(try #require(ProcessFixture.models.cnnDetector))
            let dir = "faces/opencv_course_5celeb/madonna"
            // Madonna singing, head tilted: HOG, with curate's size policy, finds no face.
            let missed = try DecodedImage.decode(try Paths.bytes("\(dir)/train_7.jpg"))
            #expect(try models.find(in: missed, maxSide: options.detectMaxSide, upsampleBelow: options.upsampleBelow).isEmpty)

            let faces = try cnnFaces(models, missed)
            #expect(faces.count == 1, "\(faces)")
            let face = try #require(faces.first)
            #expect(face.left >= -8 && face.top >= -8 && face.right <= Double(missed.width) + 8 && face.bottom <= Double(missed.height) + 8)
            #expect(face.area > 50 * 50, "a face of about 120 px: \(face)")
            let landmarks = try #require(face.landmarks, "the 5-point predictor runs on the CNN's box")
            for p in 0..<5 {
                #expect(landmarks[2 * p] >= face.left - 20 && landmarks[2 * p] <= face.right + 20)
                #expect(landmarks[2 * p + 1] >= face.top - 20 && landmarks[2 * p + 1] <= face.bottom + 20)
            }
            // The chip aligned by those landmarks describes Madonna: of the faces HOG finds in five photos each of
            // her, Mindy Kaling and Elton John, the nearest is hers, within dlib's same-person threshold.
            let found = try #require(try models.chip(missed, face: face).descriptor)
            var nearest: (distance: Float, person: String) = (.infinity, "")
            for person in ["madonna", "mindy_kaling", "elton_john"] {
                let folder = Paths.shared.appendingPathComponent("faces/opencv_course_5celeb/\(person)")
                let photos = try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted().filter { $0 != "train_7.jpg" }
                for name in photos.prefix(5) {
                    let photo = try DecodedImage.decode([UInt8](try Data(contentsOf: folder.appendingPathComponent(name))))
                    guard let hogFace = try models.find(in: photo).max(by: { $0.area < $1.area }),
                          let d = try models.chip(photo, face: hogFace).descriptor else { continue }
                    let distance = descriptorDistance(found, d)
                    if distance < nearest.distance { nearest = (distance, person) }
                }
            }
            #expect(nearest.person == "madonna" && nearest.distance < 0.6, "\(nearest)")
        }
    }

    @Test func theCNNDetectorFindsNoFaceInAPhotoOfCats() async throws {
        try await offPool {
            let models = try FaceModels(ProcessFixture.models)
            try models.loadCNN(try #require(ProcessFixture.models.cnnDetector))
            let cats = try DecodedImage.decode(try Paths.bytes("nonface/opencv_course/cat.jpg"))
            #expect(try cnnFaces(models, cats).isEmpty)
        }
    }

    @Test func theCNNDetectorNotLoadedIsAnErrorNotACrash() throws {
        let models = try FaceModels(ProcessFixture.models)
        #expect(!models.hasCNN)
        let image = try DecodedImage.decode(try Paths.bytes("single_face/opencv_course_lady.jpg"))
        #expect(throws: FaceError.self) { try models.detect(image, upsample: 0, detector: .cnn) }
        #expect(throws: FaceError.self) { try models.loadCNN(Paths.shared.appendingPathComponent("single_face/opencv_course_lady.jpg")) }
        #expect(!models.hasCNN, "a file that is not the detector leaves none loaded")
    }
}
