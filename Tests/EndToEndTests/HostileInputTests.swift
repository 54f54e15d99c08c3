// Hostile input through the real binary (issue 22): text from outside printed, not obeyed; sizes as the decoder
// reads them; links in the workspace not followed; a huge terminal.
import Catalog
import Curate
import Foundation
import GRDB
import Testing
import TestSupport

@Suite(.timeLimit(.minutes(5)))
struct OutsideTextTests {
    /// An OSC 52 sequence (the terminal's "set the clipboard") and a window-title change.
    static let hostile = "\u{1B}]52;c;ZWNobyBwd25lZA==\u{07}\u{1B}]2;pwned\u{07}"

    @Test func aQueryFileNameInAnErrorIsEscaped() async throws {
        let dir = TempDir()
        let queries = dir.queries(["x" + Self.hostile: ["# nothing but a comment"]])
        let r = try await curate(["fetch", "--query", queries.path, "--workspace", dir.sub("ws").path])
        #expect(r.status == 2)
        #expect(r.stderr.contains("has no search terms"), "\(r.stderr)")
        #expect(!r.stderr.contains("\u{1B}") && !r.stderr.contains("\u{07}"), "raw control characters reach stderr: \(r.stderr.debugDescription)")
        #expect(r.stderr.contains("x\\u{1B}]52;c;ZWNobyBwd25lZA==\\u{7}"), "\(r.stderr.debugDescription)")
    }

    @Test(.enabled(if: Paths.hasShared, Paths.sharedMissing), .enabled(if: Tmux.available, Tmux.missing))
    func aLicenceHoldingOSC52IsShownAsTextInReview() async throws {
        try await offPool {
            let f = try ReviewWorkspace()
            let id = f.ids["benConflict"]!
            try f.catalog.db.write {
                try $0.execute(sql: "UPDATE \(StoredImage.databaseTableName) SET license = ? WHERE id = ?",
                               arguments: ["CC0" + Self.hostile, id])
            }
            let tmux = try Tmux(Binary.command(f.catalog.workspace, "review"))
            let screen = try tmux.waitFor("[1/7] #\(id) ben_afflek — label_conflict", ReviewTmuxTests.keys)
            // tmux obeys a raw OSC (it would set its clipboard and the pane's title) and shows nothing of it.
            #expect(screen.contains("CC0\\u{1B}]52;c;ZWNobyBwd25lZA==\\u{7}\\u{1B}]2;pwned\\u{7}"), "the licence is not shown as text:\n\(screen)")
            let title = try tmux.run(["display-message", "-p", "-t", "0", "#{pane_title}"], capture: true)
            #expect(!title.contains("pwned"))
            try tmux.send("q")
            try tmux.waitFor("EXIT=0")
        }
    }
}

/// Files whose size curate once read one way and the decoder another (issue 22).
enum SizeDisagreement {
    static func le16(_ v: Int) -> [UInt8] { [UInt8(v & 0xFF), UInt8(v >> 8 & 0xFF)] }
    static func le32(_ v: Int) -> [UInt8] { le16(v & 0xFFFF) + le16(v >> 16 & 0xFFFF) }

    /// A TIFF whose first directory gives ImageWidth and ImageLength twice: 30000×30000, then 100×100.
    static func tiffWithTwoSizes() -> [UInt8] {
        let entries: [(tag: Int, type: Int, value: Int)] = [
            (256, 4, 30000), (257, 4, 30000), (256, 4, 100), (257, 4, 100), (258, 3, 8), (259, 3, 1), (262, 3, 1),
            (273, 4, 0), (277, 3, 1), (278, 4, 100), (279, 4, 10000),
        ]
        let stripOffset = 8 + 2 + 12 * entries.count + 4
        var b: [UInt8] = Array("II".utf8) + le16(42) + le32(8) + le16(entries.count)
        for e in entries {
            let value = e.tag == 273 ? stripOffset : e.value
            b += le16(e.tag) + le16(e.type) + le32(1) + (e.type == 3 ? le16(value) + [0, 0] : le32(value))
        }
        return b + le32(0) + [UInt8](repeating: 0x80, count: 10000)
    }

    /// 45 bytes: RIFF/WEBP and then a lossless bitstream with no "VP8L" chunk header, 16383×16383 pixels every
    /// one of which costs no bits (five Huffman codes of one symbol each).
    static func webpWithoutChunkHeader() -> [UInt8] {
        let size = (16383 - 1) | (16383 - 1) << 14
        let bitstream: [UInt8] = [0x2F] + le32(size) + [0x88, 0x88, 0x08]
        var b: [UInt8] = Array("RIFF".utf8) + le32(37) + Array("WEBP".utf8) + bitstream
        b += [UInt8](repeating: 0, count: 45 - b.count)
        return b
    }

    /// A small real JPEG whose frame header says 30000×30000, with 3 stray bytes before it.
    static func jpegWithStrayBytesBeforeAHugeFrame() throws -> [UInt8] {
        let pixels: [UInt8] = (0..<(16 * 16 * 3)).map { (i: Int) -> UInt8 in UInt8(i % 251) }
        var b = [UInt8](try DecodedImage.fromBGR(pixels, width: 16, height: 16).jpeg(quality: 80))
        let sof = try #require((2..<b.count - 1).first { b[$0] == 0xFF && b[$0 + 1] == 0xC0 })
        b.replaceSubrange((sof + 5)..<(sof + 9), with: [0x75, 0x30, 0x75, 0x30])
        b.insert(contentsOf: [0x00, 0x13, 0x37], at: sof)
        return b
    }
}

// One test at a time: each measures the binary's peak memory.
@Suite(.enabled(if: Paths.hasShared, Paths.sharedMissing), .serialized, .timeLimit(.minutes(5)))
struct DecoderSizeTests {
    let env = ["CURATE_MODELS": Paths.models.path]

    @Test func processAndPredictRefuseWhatTheDecoderWouldMakeHuge() async throws {
        let f = try Fixture()
        let files: [(String, [UInt8])] = [("twice.tif", SizeDisagreement.tiffWithTwoSizes()),
                                          ("headerless.webp", SizeDisagreement.webpWithoutChunkHeader()),
                                          ("stray.jpg", try SizeDisagreement.jpegWithStrayBytesBeforeAHugeFrame())]
        #expect(files[1].1.count == 45)
        var ids: [String: Int64] = [:]
        for (name, bytes) in files { ids[name] = try f.catalog.storeAsFetched("madonna", bytes, name: name) }
        ids["real.jpg"] = try f.catalog.storeAsFetched("madonna", file: "faces/opencv_course_5celeb/madonna/train_1.jpg")
        let m = try await measured(["process", "--workspace", f.workspace.root.path], env: env, timeout: 300)
        #expect(m.status == 0, "\(m.stderr)")
        #expect(m.peakMiB > 0 && m.peakMiB < 600, "process peaked at \(m.peakMiB) MiB")
        let expected = ["twice.tif": "30000×30000", "headerless.webp": "16383×16383", "stray.jpg": "30000×30000"]
        for (name, size) in expected {
            let image: StoredImage = try f.catalog.image(id: ids[name]!)
            #expect(image.reason == .tooLarge && image.detail == "\(size) is over 50 megapixels", "\(name): \(image.reason as Any) \(image.detail ?? "")")
        }
        let real: StoredImage = try f.catalog.image(id: ids["real.jpg"]!)
        #expect(real.verdict == .kept)

        // predict has no integrity walk: the decoder's own size is what stops it.
        let dir = TempDir()
        for (name, bytes) in files {
            let path = dir.sub(name)
            try Data(bytes).write(to: path)
            let p = try await measured(["predict", path.path, "--workspace", f.workspace.root.path], env: env)
            #expect(p.status == 2, "\(name): \(p.stderr)")
            #expect(p.stderr.contains(name) && p.stderr.contains("\(expected[name]!) is over 50 megapixels"), "\(name): \(p.stderr)")
            #expect(p.peakMiB > 0 && p.peakMiB < 300, "\(name): predict peaked at \(p.peakMiB) MiB")
        }
    }

    /// A Huffman-coded JPEG whose frame header is relabelled arithmetic-coded (SOF0 to SOF9) decodes as noise:
    /// damage, not a photo without a face. And libjpeg's warnings (a truncated file) never reach stderr.
    @Test func aRelabelledArithmeticJPEGIsCorruptAndLibjpegIsQuiet() async throws {
        let f = try Fixture()
        var bytes = try Paths.bytes("faces/opencv_course_5celeb/madonna/train_1.jpg")
        let sof = try #require((2..<bytes.count - 1).first { bytes[$0] == 0xFF && bytes[$0 + 1] == 0xC0 })
        bytes[sof + 1] = 0xC9
        let id = try #require(try f.catalog.storeAsFetched("madonna", bytes, name: "arithmetic.jpg"))
        let r = try await curate(["process", "--workspace", f.workspace.root.path], env: env, timeout: 300)
        #expect(r.status == 0, "\(r.stderr)")
        let image: StoredImage = try f.catalog.image(id: id)
        #expect(image.reason == .corrupt, "\(image.reason as Any) \(image.detail ?? "")")
        #expect(!r.stderr.contains("JPEG"), "libjpeg wrote to stderr: \(r.stderr)")

        let truncated = Paths.data("broken/truncated_50pct.jpg").path
        let p = try await curate(["predict", truncated, "--workspace", f.workspace.root.path], env: env)
        #expect(!p.stderr.contains("Premature end") && !p.stderr.contains("Corrupt JPEG"), "libjpeg wrote to stderr: \(p.stderr)")
    }
}

/// Links planted in a workspace are not followed: curate writes only inside it.
@Suite(.enabled(if: Paths.hasShared, Paths.sharedMissing), .serialized, .timeLimit(.minutes(5)))
struct OutsideTheWorkspaceTests {
    let env = ["CURATE_MODELS": Paths.models.path]

    @Test func linksInTheWorkspaceAreNotFollowed() async throws {
        let f = try Fixture()
        try f.catalog.storeAsFetched("madonna", file: "faces/opencv_course_5celeb/madonna/train_1.jpg")
        let ws = f.workspace.root.path
        let outside = f.dir.sub("precious.txt")
        try Data("keep me\n".utf8).write(to: outside)
        func untouched() -> Bool { (try? String(contentsOf: outside, encoding: .utf8)) == "keep me\n" }

        // .lock: fetch and process stop at once (nothing truncated, nothing written), naming the link.
        try? FileManager.default.removeItem(at: f.workspace.lockURL)
        try FileManager.default.createSymbolicLink(at: f.workspace.lockURL, withDestinationURL: outside)
        let queries = f.dir.queries(["madonna": ["http://127.0.0.1:9/a.jpg"]])
        for args in [["process"], ["fetch", "--query", queries.path, "--no-process"]] {
            let r = try await curate(args + ["--workspace", ws], env: env)
            #expect(r.status == 2, "\(args[0]): \(r.stderr)")
            #expect(r.stderr.contains(".lock is a symbolic link"), "\(args[0]): \(r.stderr)")
            #expect(untouched(), "\(args[0]) wrote through the link")
        }
        try FileManager.default.removeItem(at: f.workspace.lockURL)

        // A folder of curate's own made a link to another place: processing stops (a workspace I/O error) and writes
        // nothing there.
        let elsewhere = f.dir.sub("elsewhere")
        try FileManager.default.createDirectory(at: elsewhere, withIntermediateDirectories: true)
        let normalized = f.workspace.root.appendingPathComponent("normalized")
        try? FileManager.default.removeItem(at: normalized)
        try FileManager.default.createSymbolicLink(at: normalized, withDestinationURL: elsewhere)
        let r = try await curate(["process", "--workspace", ws], env: env, timeout: 300)
        #expect(r.status == 74, "\(r.stderr)")
        #expect(r.stderr.contains("normalized"), "\(r.stderr)")
        #expect(try FileManager.default.subpathsOfDirectory(atPath: elsewhere.path).isEmpty, "process wrote outside the workspace")
        #expect(untouched())
    }
}

@Suite(.enabled(if: Paths.hasShared, Paths.sharedMissing), .enabled(if: Tmux.available, Tmux.missing), .timeLimit(.minutes(5)))
struct HugeTerminalTests {
    /// The peak resident memory (VmHWM, MiB) of the running `curate review` of this workspace.
    static func reviewPeakMiB(_ workspace: Workspace) -> Double? {
        for name in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
            guard let pid = Int32(name), let cmd = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { continue }
            let words = String(decoding: cmd, as: UTF8.self).split(separator: "\0").map(String.init)
            guard words.first == Paths.curate.path, words.contains(workspace.root.path), words.contains("review") else { continue }
            guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
                  let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
                  let kib = Double(line.split(separator: " ").dropFirst().first ?? "") else { continue }
            return kib / 1024
        }
        return nil
    }

    @Test func aHugeTerminalDrawsABoundedPictureAndQuits() async throws {
        try await offPool {
            let f = try ReviewWorkspace()
            // The window is made 2000×1000 cells before review starts (it once took 858 MB there).
            let tmux = try Tmux("sleep 1; " + Binary.command(f.catalog.workspace, "review"))
            try tmux.run(["resize-window", "-t", "0", "-x", "2000", "-y", "1000"])
            try tmux.waitFor("[1/7] #\(f.ids["benConflict"]!) ben_afflek — label_conflict", ReviewTmuxTests.keys, timeout: 60)
            let peak = try #require(Self.reviewPeakMiB(f.catalog.workspace))
            #expect(peak < 400, "review peaked at \(peak) MiB in a 2000×1000 terminal")
            try tmux.send("q")
            try tmux.waitFor("EXIT=0", timeout: 30)
        }
    }
}
