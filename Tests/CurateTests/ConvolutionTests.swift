// The descriptor network's convolutions in the face bridge (fast_con.h: read in place, 32 or 64 filters at once
// with AVX-512) against dlib's own (img2col and the BLAS), on the faces of real photos: descriptors within 1e-4 of
// each other, every layer shape checked against dlib's on first use and none found to disagree.
import Foundation
import Testing
import TestSupport
@testable import Curate

@Suite(.enabled(if: Paths.hasShared && ProcessFixture.hasModels, "needs ../shared/data and the dlib model files (scripts/setup.sh)"),
       .timeLimit(.minutes(10)))
struct ConvolutionTests {
    @Test func descriptorsAreDlibsOnRealFaces() async throws {
        try await offPool {
            let models = try FaceModels(ProcessFixture.models)
            // One-face photos, group photos (several faces in one batch of the network) and small LFW faces.
            var photos = ["group/dlib_voc/2007_007763.jpg", "group/dlib_voc/2008_002079.jpg"]
            for folder in ["single_face", "faces/opencv_course_5celeb/madonna", "faces/dlib_johns"] {
                photos += Paths.photos(in: folder).prefix(8)
            }
            var faces = 0, batches = 0
            var largest: Float = 0
            for photo in photos {
                let image = try DecodedImage.decode(try Paths.bytes(photo))
                let found = try models.find(in: image)
                guard !found.isEmpty else { continue }
                let ours = try models.chips(image, faces: found)
                let dlibs = try models.chips(image, faces: found, dlibConvolutions: true)
                for (a, b) in zip(ours, dlibs) {
                    let x = try #require(a.descriptor), y = try #require(b.descriptor)
                    let difference = zip(x, y).map { abs($0 - $1) }.max() ?? 0
                    largest = max(largest, difference)
                    #expect(difference <= 1e-4, "\(photo): descriptors differ by \(difference)")
                    #expect(a.chip.pixelSHA256() == b.chip.pixelSHA256(), "\(photo): the chips differ")
                }
                faces += found.count
                batches += found.count > 1 ? 1 : 0
            }
            #expect(faces >= 20 && batches >= 2, "\(faces) faces, \(batches) batches of several: too few to compare")
            let stats = ConvolutionStats.current
            if BLASCore.Features.cpu.avx512 {
                // The network's eight convolution shapes (7 x 7 of 32 filters at stride 2; 3 x 3 of 32 at stride 1,
                // and of 64, 128 and 256 at strides 1 and 2) were each checked once and agreed.
                #expect(stats.checked == 8, "\(stats)")
                #expect(stats.disagreed == 0, "\(stats)")
                #expect(stats.worst <= 1e-4, "\(stats)")
                #expect(stats.fastPasses > 0 && stats.dlibPasses > 0, "\(stats)")
                // The relu, affine, max pooling and the two residual sums' layers (fast_layers.h) were each
                // checked once against dlib's on these faces and gave its floats.
                #expect(stats.layersChecked == 5, "\(stats)")
                #expect(stats.layersDisagreed == 0, "\(stats)")
            } else {
                #expect(stats.fastPasses == 0 && stats.layersChecked == 0, "without AVX-512 dlib's layers run: \(stats)")
            }
            print("ConvolutionTests: \(faces) faces, largest descriptor difference \(largest), \(stats)")
        }
    }
}
