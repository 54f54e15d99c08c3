// Decoding only what is needed, on real photos made web-sized: libjpeg's DCT-scaled decode at the reduction the
// detector's working size allows, a region of a JPEG decoded alone with the whole decode's pixels, and chips cut
// from that region the same as from the whole image.
import Foundation
import Testing
import TestSupport
@testable import Curate

@Suite(.enabled(if: Paths.hasShared && ProcessFixture.hasModels, "needs ../shared/data and the dlib model files (scripts/setup.sh)"),
       .timeLimit(.minutes(10)))
struct ReducedDecodeTests {
    /// A real photo scaled up to `side` px on its longer side and saved as JPEG quality 90, as bench/process.sh
    /// makes its large set.
    static func webSized(_ relative: String, side: Int) throws -> [UInt8] {
        let photo = try DecodedImage.decode(try Paths.bytes(relative))
        let s = Double(side) / Double(max(photo.width, photo.height))
        let big = try photo.resized(width: Int((Double(photo.width) * s).rounded()), height: Int((Double(photo.height) * s).rounded()))
        return [UInt8](try big.jpeg(quality: 90))
    }

    func pixels(_ image: DecodedImage, _ rect: (x: Int, y: Int, width: Int, height: Int)) -> [UInt8] {
        image.withPixels { p, stride in
            (rect.y..<(rect.y + rect.height)).flatMap { y in (0..<(rect.width * 3)).map { p[y * stride + rect.x * 3 + $0] } }
        }
    }

    @Test func theReductionIsTheLargestThatKeepsTheDetectorsWorkingSize() {
        let cases: [(Int, Int, Int)] = [(150, 150, 1), (1280, 960, 1), (1999, 3000, 1), (3998, 2000, 1), (3999, 2000, 2),
                                        (3000, 4800, 2), (7996, 100, 2), (7997, 6000, 4), (15_992, 10, 4), (15_993, 9000, 8)]
        for (w, h, r) in cases {
            #expect(Processor.jpegReduction(width: w, height: h, workingSide: 2000) == r, "\(w)x\(h)")
        }
    }

    @Test func aReducedDecodeIsTheDCTScaledSizeAndLooksLikeTheWhole() async throws {
        try await offPool {
            let bytes = try Self.webSized("single_face/opencv_course_lady.jpg", side: 4801)
            let whole = try DecodedImage.decode(bytes)
            let half = try DecodedImage.decodeJPEG(bytes, reduction: 2)
            #expect(half.width == (whole.width + 1) / 2 && half.height == (whole.height + 1) / 2)
            // The same picture: against the whole shrunk by area, a small mean difference per channel (every
            // eighth row).
            let shrunk = try whole.resized(width: half.width, height: half.height)
            var sum = 0, count = 0
            half.withPixels { a, sa in
                shrunk.withPixels { b, sb in
                    for y in stride(from: 0, to: half.height, by: 8) {
                        for x in 0..<(half.width * 3) { sum += abs(Int(a[y * sa + x]) - Int(b[y * sb + x])) }
                        count += half.width * 3
                    }
                }
            }
            let mean = Double(sum) / Double(count)
            #expect(mean < 3, "mean difference \(mean) of 255")
            // A reduction libjpeg cannot make is refused, and so is a region of something that is not a JPEG.
            #expect(throws: ImageError.self) { try DecodedImage.decodeJPEG(bytes, reduction: 3) }
            #expect(throws: ImageError.self) { try DecodedImage.decodeJPEG([UInt8](try whole.png()), reduction: 2) }
        }
    }

    @Test func aRegionDecodedAloneHasTheWholeDecodesPixels() async throws {
        try await offPool {
            let bytes = try Self.webSized("group/dlib_voc/2008_001009.jpg", side: 4000)
            let whole = try DecodedImage.decode(bytes)
            for rect in [(x: 1203, y: 777, width: 901, height: 640), (x: 0, y: 0, width: 64, height: 64),
                         (x: whole.width - 300, y: whole.height - 200, width: 300, height: 200)] {
                let (part, origin) = try DecodedImage.decodeJPEG(bytes, region: rect)
                #expect(origin.y == rect.y && origin.x <= rect.x && origin.x > rect.x - 16, "\(origin)")
                #expect(part.height == rect.height && origin.x + part.width >= rect.x + rect.width)
                // Inside the margin Processor.chipSource leaves (libjpeg's colour smoothing stops at a cut), the
                // pixels are the whole decode's exactly.
                let m = 16
                let inner = (x: max(rect.x, origin.x + m), y: rect.y + (rect.y > 0 ? m : 0))
                let w = min(rect.x + rect.width, origin.x + part.width - m) - inner.x
                let h = rect.height - (rect.y > 0 ? m : 0) - (rect.y + rect.height < whole.height ? m : 0)
                #expect(pixels(part, (inner.x - origin.x, inner.y - origin.y, w, h)) == pixels(whole, (inner.x, inner.y, w, h)),
                        "\(rect)")
            }
            #expect(throws: ImageError.self) { try DecodedImage.decodeJPEG(bytes, region: (whole.width - 10, 0, 20, 20)) }
        }
    }

    @Test func chipsFromTheFacesRegionAreTheChipsOfTheWholeImage() async throws {
        try await offPool {
            let models = try FaceModels(ProcessFixture.models)
            for (photo, side) in [("group/dlib_voc/2008_001009.jpg", 4400), ("single_face/dlib_Tom_Cruise_avp_2014_4.jpg", 4000)] {
                let bytes = try Self.webSized(photo, side: side)
                let whole = try DecodedImage.decode(bytes)
                let reduction = Processor.jpegReduction(width: whole.width, height: whole.height, workingSide: 2000)
                #expect(reduction == 2)
                let faces = try models.find(in: try DecodedImage.decodeJPEG(bytes, reduction: reduction))
                    .map { $0.scaled(by: Double(reduction)) }
                try #require(!faces.isEmpty, "no face found in \(photo)")
                let source = try Processor.chipSource(bytes, faces: faces, size: (whole.width, whole.height), maxPixels: ImageLimits.maxPixels)
                if faces.count > 1 {
                    #expect(source.image.width * source.image.height < whole.width * whole.height / 2, "the region is most of \(photo)")
                }
                let fromWhole = try models.chips(whole, faces: faces)
                let fromPart = try models.chips(source.image, faces: faces, origin: source.origin)
                for (a, b) in zip(fromWhole, fromPart) {
                    #expect(pixels(a.chip, (0, 0, 150, 150)) == pixels(b.chip, (0, 0, 150, 150)), "\(photo)")
                    #expect(closeEnough(try #require(a.descriptor), try #require(b.descriptor)), "\(photo)")
                }
            }
        }
    }
}
