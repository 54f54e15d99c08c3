// The image bridge and checks on the real photos and broken files of ../shared/data.
import Foundation
import Testing
import TestSupport
@testable import Curate
import Catalog

@Suite(.enabled(if: Paths.hasShared, Paths.sharedMissing))
struct ImagingTests {
    @Test func jpegIntegrityFindsTruncationAndGarbage() throws {
        #expect(ImageHeader.jpegIntegrity(try Paths.bytes("single_face/opencv_course_lady.jpg")) == .whole)
        #expect(ImageHeader.jpegIntegrity(try Paths.bytes("broken/valid_jpeg_trailing_garbage.jpg")) == .whole)
        #expect(ImageHeader.jpegIntegrity(try Paths.bytes("broken/truncated_50pct.jpg")) == .truncated)
        #expect(ImageHeader.jpegIntegrity(try Paths.bytes("broken/truncated_1KB_header_only.jpg")) == .truncated)
        if case .corrupt = ImageHeader.jpegIntegrity(try Paths.bytes("broken/garbage_2KB_in_middle.jpg")) {} else {
            Issue.record("2 KB of garbage in the scan data was not noticed")
        }
        // Every real JPEG in the data set is whole.
        let fm = FileManager.default
        var checked = 0
        for folder in ["faces", "group", "nonface", "single_face", "edge"] {
            for case let path as String in fm.enumerator(atPath: Paths.shared.appendingPathComponent(folder).path)! {
                guard [".jpg", ".jpeg"].contains(where: path.lowercased().hasSuffix) else { continue }
                let bytes = try Paths.bytes("\(folder)/\(path)")
                guard ImageFormat.sniff(bytes) == .jpeg else { continue }
                #expect(ImageHeader.jpegIntegrity(bytes) == .whole, "\(folder)/\(path)")
                checked += 1
            }
        }
        #expect(checked > 150)
    }

    @Test func aJPEGWithoutItsMetadataHasTheSamePixelsAndNoExif() throws {
        // A camera JPEG (EXIF from a PENTAX: the eagle), with a comment and an XMP segment put in, and bytes after its end.
        let camera = try Paths.bytes("nonface/dlib/eagle.jpg")
        #expect(ExifInfo.read(camera)?.make?.contains("PENTAX") == true)
        let comment: [UInt8] = [0xFF, 0xFE, 0x00, 0x07] + Array("hello".utf8)
        let xmp: [UInt8] = [0xFF, 0xE1, 0x00, 0x0A] + Array("http:/".utf8) + [0, 0]
        let bytes = Array(camera[0..<2]) + comment + xmp + Array(camera[2...]) + [0x12, 0x34, 0x56]
        let (layout, integrity) = JPEGLayout.read(bytes)
        #expect(integrity == .whole)
        let whole = try #require(layout)
        let copy = try #require(whole.withoutMetadata(bytes))
        let markers = try #require(JPEGLayout.read(copy).layout).segments.map(\.marker)
        #expect(!markers.contains { (0xE1...0xED).contains($0) || $0 == 0xEF || $0 == 0xFE }, "\(markers.map { String($0, radix: 16) })")
        #expect(markers.last == 0xD9 && copy.count < camera.count)
        #expect(ExifInfo.read(copy)?.make == nil && ExifInfo.read(copy)?.model == nil)
        #expect(try DecodedImage.decode(copy).pixelSHA256() == DecodedImage.decode(camera).pixelSHA256(), "the same pixels")
        let copied = try #require(JPEGLayout.read(copy).layout)
        #expect(ImageHeader.jpegQuality(copy, layout: copied) == ImageHeader.jpegQuality(bytes, layout: whole))
        // A 12-bit or CMYK JPEG is not copied this way (it is re-encoded): a frame with 4 components.
        var cmyk = copy
        let frame = try #require(JPEGLayout.read(copy).layout?.segments.first { $0.marker == 0xC0 || $0.marker == 0xC2 })
        cmyk[frame.range.lowerBound + 9] = 4
        #expect(JPEGLayout.read(cmyk).layout?.withoutMetadata(cmyk) == nil)
    }

    @Test func headerSizesMatchDecodedSizes() throws {
        for path in ["single_face/opencv_course_lady.jpg", "broken/png_content_named_as.jpg", "gif/pillow_chi.gif",
                     "group/opencv_course/group_1.jpg"] {
            let bytes = try Paths.bytes(path)
            let format = try #require(ImageFormat.sniff(bytes))
            let size = try #require(ImageHeader.size(bytes, format: format), "\(path)")
            let image = try DecodedImage.decode(bytes)
            #expect(size.width == image.width && size.height == image.height, "\(path)")
        }
    }

    @Test func gifFirstFrameDecodesAndATruncatedAnimationKeepsItsFirstFrame() throws {
        let gif = try DecodedImage.decode(try Paths.bytes("gif/dlib_elon-musk-smoke.gif"))
        #expect(gif.width == 480 && gif.height == 272)
        let cut = try DecodedImage.decode(try Paths.bytes("broken/truncated_40pct_animated.gif"))
        #expect(cut.pixelSHA256() == gif.pixelSHA256())
    }

    @Test func brokenFilesDoNotDecode() throws {
        for path in ["broken/truncated_60pct.png", "broken/truncated_50pct.webp", "broken/zero_bytes.jpg", "broken/text_named_as.jpg"] {
            #expect(throws: ImageError.self, "\(path)") { try DecodedImage.decode(try Paths.bytes(path)) }
        }
    }

    @Test func phashIsStableUnderResizeAndRecompression() throws {
        let image = try DecodedImage.decode(try Paths.bytes("single_face/dlib_Tom_Cruise_avp_2014_4.jpg"))
        let half = try image.resized(width: image.width / 2, height: image.height / 2)
        let recompressed = try DecodedImage.decode([UInt8](try image.jpeg(quality: 50)))
        let other = try DecodedImage.decode(try Paths.bytes("single_face/opencv_course_lady.jpg"))
        let h = try image.phash()
        #expect((h ^ (try half.phash())).nonzeroBitCount <= 6)
        #expect((h ^ (try recompressed.phash())).nonzeroBitCount <= 6)
        #expect((h ^ (try other.phash())).nonzeroBitCount > 12)
    }
}
