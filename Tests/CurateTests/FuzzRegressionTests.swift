// Every input a fuzzer found crashing curate (fuzz/regressions) goes through the real binary: `curate process`
// gives each a verdict and finishes; nothing crashes. (`curate predict` on them is in the pipeline test, which
// has a trained run.)
import Catalog
import Foundation
import GRDB
import Testing
import TestSupport
@testable import Curate

enum FuzzRegressions {
    static let folder = Paths.root.appendingPathComponent("fuzz/regressions")

    static func files() throws -> [URL] {
        try FileManager.default.contentsOfDirectory(at: folder, includingPropertiesForKeys: nil)
            .filter { !$0.lastPathComponent.hasPrefix(".") }
            .sorted { $0.lastPathComponent < $1.lastPathComponent }
    }
}

/// Runs the built `curate` with the repository's model files.
func runBinary(_ args: [String]) throws -> ProcessResult {
    try runCurate(args, env: ["CURATE_MODELS": Paths.models.path], timeout: 300)
}

@Suite(.timeLimit(.minutes(10)))
struct FuzzRegressionTests {
    @Test func everyFuzzFindingGetsAVerdictFromTheBinaryWithoutACrash() throws {
        let files = try FuzzRegressions.files()
        #expect(files.count >= 1, "fuzz/regressions is empty")
        let fixture = try ProcessFixture()
        var ids: [String: Int64] = [:]
        for file in files {
            ids[file.lastPathComponent] = try #require(try fixture.add("fuzzed", [UInt8](Data(contentsOf: file)), name: file.lastPathComponent))
        }
        let r = try runBinary(["process", "--workspace", fixture.root.path, "--json"])
        #expect(!r.signalled && r.status == 0, "curate process ended with \(r.signalled ? "signal" : "status") \(r.status): \(r.stderr)")
        for (name, id) in ids.sorted(by: { $0.key < $1.key }) {
            let image = try fixture.image(id)
            #expect(image.verdict != .pending, "\(name) got no verdict")
            if image.verdict == .rejected {
                #expect(!(image.detail ?? "").isEmpty, "\(name) was rejected (\(image.reason.map { "\($0)" } ?? "?")) without saying why")
            }
        }
    }

    /// A JPEG whose segments walk whole to its end marker but hold a marker libjpeg does not know (FFBA, found by
    /// the `header` harness): libjpeg cannot size it, so it is never decoded, and the reason names the marker.
    @Test func aWholeJPEGThatLibjpegCannotSizeIsNeverDecoded() throws {
        let bytes = [UInt8](try Data(contentsOf: FuzzRegressions.folder.appendingPathComponent("header-jpeg-unknown-marker-ffba.jpg")))
        #expect(ImageHeader.jpegIntegrity(bytes) == .whole)
        #expect(ImageHeader.size(bytes, format: .jpeg) == nil)
        let error = #expect(throws: ImageError.self) { try DecodedImage.decode(bytes, maxPixels: .max) }
        #expect(error?.description.contains("0xba") == true, "\(error.map { "\($0)" } ?? "no error")")
    }

    @Test func theGIFWhoseErrorHasNoTextIsRejectedAsDamaged() throws {
        let bytes = [UInt8](try Data(contentsOf: FuzzRegressions.folder.appendingPathComponent("decode-gif-error-string-null.gif")))
        // The header check now refuses it first (its frame reaches far beyond its screen); past that check, the
        // bridge itself must still say what is wrong instead of reading address 0.
        #expect(throws: ImageError.self) { try DecodedImage.decode(bytes) }
        let error = #expect(throws: ImageError.self) { try DecodedImage.decode(bytes, maxPixels: .max) }
        #expect(error?.description == "GIF: damaged file")
    }
}

/// A classic little-endian TIFF, 8-bit grey, uncompressed, one strip of `pixels` (which may be shorter than the
/// directory's size says).
func greyTIFF(width: Int, height: Int, pixels: [UInt8]) -> [UInt8] {
    func le16(_ v: Int) -> [UInt8] { [UInt8(v & 0xFF), UInt8(v >> 8 & 0xFF)] }
    func le32(_ v: Int) -> [UInt8] { le16(v & 0xFFFF) + le16(v >> 16 & 0xFFFF) }
    let entries: [(tag: Int, type: Int, value: Int)] = [(256, 4, width), (257, 4, height), (258, 3, 8), (259, 3, 1), (262, 3, 1),
                                                        (273, 4, 0), (277, 3, 1), (278, 4, height), (279, 4, pixels.count)]
    let stripOffset = 8 + 2 + 12 * entries.count + 4
    var b: [UInt8] = Array("II".utf8) + le16(42) + le32(8) + le16(entries.count)
    for e in entries {
        let value = e.tag == 273 ? stripOffset : e.value
        b += le16(e.tag) + le16(e.type) + le32(1) + (e.type == 3 ? le16(value) + [0, 0] : le32(value))
    }
    return b + le32(0) + pixels
}

struct TIFFSizeTests {
    @Test func aTIFFIsDecodedOnlyWhenItsDirectoryGivesASizeWithinTheLimit() throws {
        let small = greyTIFF(width: 8, height: 6, pixels: Array(repeating: 200, count: 48))
        #expect(ImageHeader.size(small, format: .tiff)! == (8, 6))
        let image = try DecodedImage.decode(small)
        #expect(image.width == 8 && image.height == 6)

        // Found with the decode harness: 138 bytes that made OpenCV allocate 2.7 GB before reading a strip.
        let big = [UInt8](try Data(contentsOf: FuzzRegressions.folder.appendingPathComponent("decode-tiff-30000x30000-header.tif")))
        #expect(ImageHeader.size(big, format: .tiff)! == (30000, 30000))
        let tooLarge = #expect(throws: ImageError.self) { try DecodedImage.decode(big) }
        #expect(tooLarge?.kind == .tooLarge && tooLarge?.description == "30000×30000 is over 50 megapixels")
        // No directory, no decode.
        let noSize = #expect(throws: ImageError.self) { try DecodedImage.decode(Array(small.prefix(12))) }
        #expect(noSize?.description == "TIFF: libtiff cannot read its first directory")
        // Header fields that would overflow width × height are refused, not trapped on (libpng itself refuses
        // a width over 2^31).
        var png = [UInt8](repeating: 0, count: 33)
        png.replaceSubrange(0..<8, with: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        png.replaceSubrange(16..<24, with: [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF])
        #expect(throws: ImageError.self) { try DecodedImage.decode(png) }
    }
}
