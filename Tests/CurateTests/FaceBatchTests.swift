// The face bridge's batch: chips and descriptors of several faces in one pass equal those made one at a time, bit for
// bit (processing describes a photo's faces in one pass).
import Foundation
import Testing
import TestSupport
@testable import Curate

@Suite(.enabled(if: Paths.hasShared && ProcessFixture.hasModels, "needs ../shared/data and the dlib model files"),
       .timeLimit(.minutes(10)))
struct FaceBatchTests {
    @Test func chipsOfSeveralFacesInOnePassMatchOneAtATime() async throws {
        try await offPool {
            let models = try FaceModels(ProcessFixture.models)
            let image = try DecodedImage.decode(try Paths.bytes("group/dlib_voc/2008_001322.jpg"))
            let faces = try models.find(in: image)
            #expect(faces.count >= 3, "a group photo")
            let batch = try models.chips(image, faces: faces)
            #expect(batch.count == faces.count)
            for (face, together) in zip(faces, batch) {
                let alone = try models.chip(image, face: face)
                let a = try #require(alone.descriptor), b = try #require(together.descriptor)
                #expect(a == b, "the descriptor made in a batch is the one made alone (\(descriptorDistance(a, b)) apart)")
                let same = alone.chip.withPixels { p, _ in together.chip.withPixels { q, _ in memcmp(p, q, 150 * 150 * 3) == 0 } }
                #expect(same, "the chip cut in a batch is the chip cut alone")
            }
            #expect(try models.chips(image, faces: []).isEmpty)
        }
    }
}
