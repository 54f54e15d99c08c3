// Query files: labels, comments, URLs and the errors a user gets for bad input.
import Foundation
import Catalog
import Testing
@testable import Crawler

@Suite struct QueryFileTests {
    @Test func parsesTermsURLsAndComments() throws {
        let dir = TempDir()
        dir.queries(["Arya Stark": [
            "# Arya, in and out of costume",
            "Maisie Williams",
            "",
            "  Arya   Stark  # the character",
            "https://example.org/a.jpg#frag",
            "Maisie Williams",
        ]])
        let people = try QueryFile.load(path: dir.sub("queries").path)
        #expect(people.count == 1)
        #expect(people[0].label == "Arya Stark")
        #expect(people[0].lines == [.search("Maisie Williams"), .search("Arya Stark"), .url("https://example.org/a.jpg#frag")])
    }

    @Test func labelsAreSafeForTheFileSystem() {
        #expect(QueryFile.safeLabel("Jon Snow") == "Jon Snow")
        #expect(QueryFile.safeLabel("..") == nil)
        #expect(QueryFile.safeLabel("...hidden") == "hidden")
        #expect(QueryFile.safeLabel("a/b\\c:d") == "a_b_c_d")
        #expect(QueryFile.safeLabel("tab\tname\u{7}") == "tabname")
        #expect(QueryFile.safeLabel("   ") == nil)
    }

    @Test func twoFilesWithOneLabelAreAnError() throws {
        let dir = TempDir()
        dir.queries(["jon:snow": ["a"], "jon_snow": ["b"]])
        #expect {
            try QueryFile.load(path: dir.sub("queries").path)
        } throws: { error in
            guard case let QueryError.sameLabel(label, first, second)? = error as? QueryError else { return false }
            return label == "jon_snow" && first.hasSuffix("jon:snow.txt") && second.hasSuffix("jon_snow.txt")
        }
    }

    @Test func badInputNamesWhatIsWrong() throws {
        let dir = TempDir()
        #expect(throws: QueryError.missing(dir.sub("nope").path)) { try QueryFile.load(path: dir.sub("nope").path) }
        let empty = dir.sub("empty")
        try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
        try "not a query".write(to: empty.appendingPathComponent("README.md"), atomically: true, encoding: .utf8)
        #expect(throws: QueryError.emptyFolder(empty.path)) { try QueryFile.load(path: empty.path) }

        let comments = dir.sub("c.txt")
        try "# only a comment\n\n".write(to: comments, atomically: true, encoding: .utf8)
        #expect(throws: QueryError.noTerms(comments.path)) { try QueryFile.load(path: comments.path) }

        let latin1 = dir.sub("Zoë.txt")
        try Data([0x5A, 0x6F, 0xEB, 0x0A]).write(to: latin1)
        #expect(throws: QueryError.notUTF8(latin1.path)) { try QueryFile.load(path: latin1.path) }

        let ftp = dir.sub("ftp.txt")
        try "ftp://example.org/x.jpg\n".write(to: ftp, atomically: true, encoding: .utf8)
        #expect(throws: QueryError.badURL(file: ftp.path, line: 1, text: "ftp://example.org/x.jpg")) {
            try QueryFile.load(path: ftp.path)
        }
    }

    @Test func shippedQueriesParse() throws {
        let people = try QueryFile.load(path: Paths.root.appendingPathComponent("queries").path)
        #expect(people.count == 7)
        for p in people {
            #expect(p.lines.count >= 4, "\(p.label) needs character and actor terms")
        }
    }
}

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
