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
