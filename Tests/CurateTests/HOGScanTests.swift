// The HOG detector's scan in the face bridge (its fHOG features and separable filters 16 values at a time with
// AVX-512) against dlib's own object_detector on the same grey image: the same faces, boxes and scores, on the real
// photos of ../shared/data at curate's working sizes and at every width modulo 16 (the columns dlib leaves to its
// scalar loops), and the check the bridge makes before it uses its scan.
import Foundation
import Testing
import TestSupport
@testable import Curate

@Suite(.enabled(if: Paths.hasShared && ProcessFixture.hasModels, "needs ../shared/data and the dlib model files (scripts/setup.sh)"),
       .timeLimit(.minutes(10)))
struct HOGScanTests {
    /// Compares the two scans of one image; returns the number of faces found.
    @discardableResult
    func expectSameScan(_ models: FaceModels, _ image: DecodedImage, _ what: String) throws -> Int {
        let ours = try models.find(in: image)
        let dlibs = try models.find(in: image, dlibScan: true)
        #expect(ours.count == dlibs.count, "\(what): \(ours.count) faces, dlib's scan \(dlibs.count)")
        for (a, b) in zip(ours, dlibs) {
            #expect(a.left == b.left && a.top == b.top && a.right == b.right && a.bottom == b.bottom, "\(what): \(a) against \(b)")
            #expect(abs(a.score - b.score) <= 1e-6, "\(what): score \(a.score) against \(b.score)")
        }
        return ours.count
    }

    @Test func theScanIsDlibsOnEveryPhoto() async throws {
        try await offPool {
            let models = try FaceModels(ProcessFixture.models)
            // On a CPU with AVX-512 the bridge's scan runs (its check against dlib at start passed); elsewhere dlib's.
            #expect(models.hasHOGScan == BLASCore.Features.cpu.avx512)
            var photos = ["group", "single_face", "nonface", "edge", "faces/opencv_course_5celeb/madonna", "faces/dlib_johns"]
                .flatMap(Paths.photos(in:)).sorted()
            // The small photos are many: every other one of the two folders of faces (upsampled once, as curate does).
            photos = photos.enumerated().filter { !$0.element.hasPrefix("faces/") || $0.offset % 2 == 0 }.map(\.element)
            var faces = 0
            for photo in photos {
                let image = try DecodedImage.decode(try Paths.bytes(photo))
                faces += try expectSameScan(models, image, photo)
            }
            // Two group photos as the medium and large sets have them (1,280 and 3,000 px; shrunk to 2,000 to detect).
            for (photo, side) in [("group/dlib_voc/2007_007763.jpg", 1280), ("group/dlib_voc/2008_002079.jpg", 3000)] {
                let bytes = try ReducedDecodeTests.webSized(photo, side: side)
                faces += try expectSameScan(models, try DecodedImage.decode(bytes), "\(photo) at \(side) px")
            }
            #expect(photos.count >= 50 && faces >= 60, "\(photos.count) photos, \(faces) faces: too few to compare")
        }
    }

    @Test func theScanIsDlibsAtEveryWidthModulo16() async throws {
        try await offPool {
            let models = try FaceModels(ProcessFixture.models)
            let photo = try DecodedImage.decode(try Paths.bytes("group/dlib_voc/2008_002079.jpg"))
            var faces = 0
            for width in 1200..<1216 {
                let height = Int((Double(photo.height) * Double(width) / Double(photo.width)).rounded())
                faces += try expectSameScan(models, try photo.resized(width: width, height: height), "\(width) px wide")
            }
            #expect(faces >= 16, "the photo's faces are found at each width (\(faces) in all)")
        }
    }
}
