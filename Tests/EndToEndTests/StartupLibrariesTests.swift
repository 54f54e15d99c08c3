// What a curate process loads when it starts: not OpenCV's codecs library and the hundred libraries it brings (GDAL,
// Poppler, HDF5, ...), about 0.1 CPU second of dynamic linking for every command; the image bridge loads it when a
// WebP, BMP or TIFF is decoded or a PNG encoded (JPEG is written with libjpeg itself, as it is read).
import Foundation
import Testing
import TestSupport
@testable import Curate

struct StartupLibrariesTests {
    @Test func curateStartsWithoutOpenCVsCodecsLibrary() throws {
        // The dynamic loader lists what it loads at start, and stops there (what ldd does).
        let listed = try runCurate(["--version"], env: ["LD_TRACE_LOADED_OBJECTS": "1"], timeout: 120)
        #expect(listed.status == 0 && listed.stdout.contains("libopencv_core"), "\(listed.stdout) \(listed.stderr)")
        #expect(!listed.stdout.contains("libopencv_imgcodecs"), "\(listed.stdout)")
        #expect(!listed.stdout.contains("libgdal"), "\(listed.stdout)")
    }

    @Test func theCodecsLibraryLoadedOnFirstUseDecodesABMPAndEncodesAPNG() throws {
        // A 2 x 2 BMP made by hand (24 bits, rows bottom-up, each padded to 4 bytes): red, green over blue, white.
        func le32(_ v: Int) -> [UInt8] { (0..<4).map { UInt8((v >> (8 * $0)) & 0xff) } }
        let rows: [UInt8] = [0xff, 0x00, 0x00, 0xff, 0xff, 0xff, 0, 0,     // bottom row: blue, white (BGR)
                             0x00, 0x00, 0xff, 0x00, 0xff, 0x00, 0, 0]     // top row: red, green
        var bmp: [UInt8] = [0x42, 0x4d] + le32(54 + rows.count) + le32(0) + le32(54)
        bmp += le32(40) + le32(2) + le32(2) + [1, 0, 24, 0] + le32(0) + le32(rows.count) + le32(2835) + le32(2835) + le32(0) + le32(0)
        bmp += rows
        let image = try DecodedImage.decode(bmp)
        #expect(image.width == 2 && image.height == 2)
        let pixels = image.withPixels { p, stride in [p[0], p[1], p[2], p[3], p[4], p[5], p[stride], p[stride + 1], p[stride + 2]] }
        #expect(pixels == [0x00, 0x00, 0xff, 0x00, 0xff, 0x00, 0xff, 0x00, 0x00], "BGR of red, green, blue: \(pixels)")
        // A PNG is encoded through the same library, a JPEG with libjpeg: each decodes again to the same size.
        let png = try DecodedImage.decode([UInt8](try image.png()))
        #expect(png.width == 2 && png.height == 2)
        #expect(png.withPixels { p, stride in [p[0], p[1], p[2], p[stride], p[stride + 1], p[stride + 2]] } == [0x00, 0x00, 0xff, 0xff, 0x00, 0x00])
        let jpeg = try DecodedImage.decode([UInt8](try image.jpeg(quality: 92)))
        #expect(jpeg.width == 2 && jpeg.height == 2)
    }
}
