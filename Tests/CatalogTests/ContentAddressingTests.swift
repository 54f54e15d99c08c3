// Content addressing: SHA-256 (swift-crypto) against known vectors and coreutils, and format sniffing by content.
import Catalog
import Foundation
import Testing
import TestSupport

@Suite struct HashAndFormatTests {
    @Test func sha256MatchesKnownVectors() {
        #expect(SHA256.hex([UInt8]()) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(SHA256.hex(Array("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        let long = Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)
        #expect(SHA256.hex(long) == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        // Fed in uneven pieces, the digest is the same as in one go.
        let million = [UInt8](repeating: 0x61, count: 1_000_000)
        var h = SHA256()
        var i = 0
        var step = 1
        while i < million.count {
            let end = min(million.count, i + step)
            million[i..<end].withUnsafeBytes { h.update($0) }
            i = end
            step = step * 3 % 997 + 1
        }
        #expect(h.hexDigest() == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    @Test(.enabled(if: Paths.hasShared, Paths.sharedMissing))
    func sha256AgreesWithCoreutils() throws {
        let file = Paths.data("group/opencv_course/group_1.jpg")
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/sha256sum")
        p.arguments = [file.path]
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        p.waitUntilExit()
        let expected = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).prefix(64)
        #expect(SHA256.hex(try Data(contentsOf: file)) == String(expected))
    }

    @Test(.enabled(if: Paths.hasShared, Paths.sharedMissing))
    func formatIsDecidedByContentNotName() throws {
        func sniff(_ path: String) throws -> ImageFormat? {
            ImageFormat.sniff(try Data(contentsOf: Paths.data(path)))
        }
        #expect(try sniff("broken/png_content_named_as.jpg") == .png)
        #expect(try sniff("broken/valid_jpeg_trailing_garbage.jpg") == .jpeg)
        #expect(try sniff("gif/pillow_chi.gif") == .gif)
        #expect(try sniff("broken/html_403_named_as.jpg") == nil)
        #expect(try sniff("broken/text_named_as.jpg") == nil)
        #expect(try sniff("broken/zero_bytes.jpg") == nil)
        #expect(try sniff("broken/bad_magic.jpg") == nil)
        #expect(try sniff("broken/truncated_50pct.webp") == .webp)
    }
}
