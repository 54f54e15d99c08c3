// Review: terminal pictures and protocol detection, decisions and undo in the catalog, and the real `curate review`
// driven inside tmux on a workspace of real photos.
import Catalog
import Foundation
import GRDB
import Testing
import TestSupport
@testable import Curate

// MARK: Pictures in the terminal

struct TerminalGraphicsTests {
    @Test func halfBlocksWriteTwoPixelsPerCellAndOnlyChangedColours() {
        let image = RGBImage(width: 2, height: 3, pixels: [
            255, 0, 0, 0, 255, 0,     // row 0: red, green
            0, 0, 255, 0, 0, 255,     // row 1: blue, blue
            1, 2, 3, 1, 2, 3,         // row 2 (odd, last): lower halves stay the terminal's background
        ])
        #expect(HalfBlocks.render(image) == [
            "\u{1B}[38;2;255;0;0;48;2;0;0;255m▀\u{1B}[38;2;0;255;0m▀\u{1B}[0m",
            "\u{1B}[38;2;1;2;3;49m▀▀\u{1B}[0m",
        ])
    }

    @Test func fittingKeepsTheAspectRatio() {
        #expect(fitting(width: 400, height: 200, into: 100, 100) == (100, 50))
        #expect(fitting(width: 200, height: 400, into: 100, 100) == (50, 100))
        #expect(fitting(width: 10, height: 10, into: 80, 40) == (40, 40))
    }

    @Test func kittyChunksCarryTheWholeImage() throws {
        let pixels = (0..<(64 * 48 * 3)).map { UInt8($0 % 251) }
        let out = Kitty.encode(RGBImage(width: 64, height: 48, pixels: pixels), columns: 8, rows: 3)
        let chunks = out.components(separatedBy: "\u{1B}\\").filter { !$0.isEmpty }
        #expect(chunks.count == Int((Double(pixels.count) * 4 / 3 / 4096).rounded(.up)))
        #expect(chunks[0].hasPrefix("\u{1B}_Ga=T,f=24,s=64,v=48,c=8,r=3,C=1,q=2,m=1;"))
        #expect(chunks.last!.hasPrefix("\u{1B}_Gm=0;"))
        let payload = chunks.map { String($0[$0.index(after: $0.firstIndex(of: ";")!)...]) }.joined()
        #expect(Data(base64Encoded: payload) == Data(pixels))
    }

    @Test func sixelHasRasterSizePaletteAndOneBandPerSixRows() {
        let w = 5, h = 13
        var pixels: [UInt8] = []
        for y in 0..<h { for _ in 0..<w { pixels += y < 6 ? [255, 255, 255] : [0, 0, 0] } }
        let out = Sixel.encode(RGBImage(width: w, height: h, pixels: pixels))
        #expect(out.hasPrefix("\u{1B}P0;1;0q\"1;1;5;13"))
        #expect(out.hasSuffix("-\u{1B}\\"))
        #expect(out.contains("#215;2;100;100;100"))   // white
        #expect(out.contains("#0;2;0;0;0"))           // black
        #expect(out.filter { $0 == "-" }.count == 3)  // 13 rows = 3 bands
        // Band 1: six white rows = "~" (63 + 0b111111) five times, run-length encoded.
        #expect(out.contains("#215!5~-"))
    }

    /// A minimal sixel decoder (colour registers, "#", "!", "$", "-"), for checking what the encoder wrote.
    func decodeSixel(_ text: String) -> RGBImage? {
        let chars = Array(text.unicodeScalars)
        guard let q = chars.firstIndex(of: "q") else { return nil }
        var i = q + 1
        func number() -> Int {
            var n = 0
            while i < chars.count, let d = Int(String(chars[i])) { n = n * 10 + d; i += 1 }
            return n
        }
        guard chars[i] == "\"" else { return nil }
        i += 1
        var params: [Int] = []
        while true { params.append(number()); if chars[i] == ";" { i += 1 } else { break } }
        let (w, h) = (params[2], params[3])
        var pixels = [UInt8](repeating: 0, count: w * h * 3)
        var palette: [Int: (Int, Int, Int)] = [:]
        var colour = 0, x = 0, band = 0
        while i < chars.count, chars[i] != "\u{1B}" {
            let c = chars[i]
            switch c {
            case "#":
                i += 1
                colour = number()
                if chars[i] == ";" {
                    i += 1; _ = number(); i += 1
                    let r = number(); i += 1
                    let g = number(); i += 1
                    let b = number()
                    palette[colour] = (r * 255 / 100, g * 255 / 100, b * 255 / 100)
                }
            case "$": x = 0; i += 1
            case "-": x = 0; band += 6; i += 1
            default:
                var run = 1
                if c == "!" { i += 1; run = number() }
                let bits = Int(chars[i].value) - 63
                for _ in 0..<run {
                    for b in 0..<6 where bits >> b & 1 == 1 && band + b < h && x < w {
                        let p = palette[colour]!, o = ((band + b) * w + x) * 3
                        pixels[o] = UInt8(p.0); pixels[o + 1] = UInt8(p.1); pixels[o + 2] = UInt8(p.2)
                    }
                    x += 1
                }
                i += 1
            }
        }
        return RGBImage(width: w, height: h, pixels: pixels)
    }

    @Test(.enabled(if: Paths.hasShared, Paths.sharedMissing))
    func sixelOfARealPhotoDecodesBackToItWithinOneColourStep() throws {
        let photo = try DecodedImage.decode(try Paths.bytes("single_face/opencv_course_lady.jpg"))
        let small = try photo.resized(width: 97, height: 61).rgb()
        let decoded = try #require(decodeSixel(Sixel.encode(small)))
        #expect(decoded.width == 97 && decoded.height == 61)
        // Each channel lands on a neighbouring level of the six (51 apart), and on average close to the source.
        var worst = 0, total = 0
        for (a, b) in zip(small.pixels, decoded.pixels) {
            let d = abs(Int(a) - Int(b))
            worst = max(worst, d)
            total += d
        }
        #expect(worst <= 51)
        #expect(Double(total) / Double(small.pixels.count) < 20)
    }

    @Test func theReplyToTheQueryDecidesTheMode() {
        func reply(_ s: String) -> [UInt8] { Array(s.utf8) }
        #expect(GraphicsDetection.mode(fromReply: reply("\u{1B}_Gi=31;OK\u{1B}\\\u{1B}[?62;22c")) == .kitty)
        #expect(GraphicsDetection.mode(fromReply: reply("\u{1B}[?62;4;6;22c")) == .sixel)
        #expect(GraphicsDetection.mode(fromReply: reply("\u{1B}[?1;2c")) == .blocks)
        #expect(GraphicsDetection.mode(fromReply: reply("\u{1B}_Gi=31;ENOTSUPPORTED\u{1B}\\\u{1B}[?64;1;2c")) == .blocks)
        #expect(GraphicsDetection.mode(fromReply: []) == .blocks)
        #expect(GraphicsDetection.insideMultiplexer(["TMUX": "/tmp/tmux-0/default,1,0"]))
        #expect(GraphicsDetection.insideMultiplexer(["TERM": "screen-256color"]))
        #expect(!GraphicsDetection.insideMultiplexer(["TERM": "xterm-kitty"]))
    }

    /// Plays the terminal on the master side of a real pseudo-terminal.
    func detect(answer: String?, environment: [String: String] = [:]) throws -> (mode: GraphicsMode, asked: String, seconds: Double) {
        // posix_openpt and friends are not in Swift's Glibc module: open the multiplexer and use its ioctls.
        let master = open("/dev/ptmx", O_RDWR | O_NOCTTY)
        #expect(master >= 0)
        defer { close(master) }
        var unlock: Int32 = 0
        var number: UInt32 = 0
        _ = ioctl(master, 0x4004_5431, &unlock)   // TIOCSPTLCK
        _ = ioctl(master, 0x8004_5430, &number)   // TIOCGPTN
        let slave = open("/dev/pts/\(number)", O_RDWR | O_NOCTTY)
        #expect(slave >= 0)
        defer { close(slave) }
        var raw = termios()
        tcgetattr(slave, &raw)
        cfmakeraw(&raw)
        tcsetattr(slave, TCSANOW, &raw)

        final class Box: @unchecked Sendable { var mode = GraphicsMode.blocks; var seconds = 0.0 }
        let box = Box()
        let done = DispatchSemaphore(value: 0)
        Thread {
            let start = Date()
            box.mode = GraphicsDetection.detect(input: slave, output: slave, environment: environment, timeout: 0.4)
            box.seconds = Date().timeIntervalSince(start)
            done.signal()
        }.start()
        // Read what the program asked, then answer like a terminal would.
        var asked: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 256)
        let deadline = Date().addingTimeInterval(environment.isEmpty ? 2 : 0.5)
        while !String(decoding: asked, as: UTF8.self).contains("\u{1B}[c"), Date() < deadline {
            var fds = pollfd(fd: master, events: Int16(POLLIN), revents: 0)
            guard poll(&fds, 1, 50) > 0 else { continue }
            let n = read(master, &buffer, buffer.count)
            if n > 0 { asked += buffer[0..<n] }
        }
        if let answer { _ = Array(answer.utf8).withUnsafeBufferPointer { write(master, $0.baseAddress, $0.count) } }
        #expect(done.wait(timeout: .now() + 5) == .success)
        return (box.mode, String(decoding: asked, as: UTF8.self), box.seconds)
    }

    @Test func detectionAsksTheTerminalOverARealPTY() throws {
        let kitty = try detect(answer: "\u{1B}_Gi=31;OK\u{1B}\\\u{1B}[?62;c")
        #expect(kitty.mode == .kitty)
        #expect(kitty.asked == GraphicsDetection.query)
        #expect(try detect(answer: "\u{1B}[?63;1;2;4;6;9;15;22c").mode == .sixel)
        let plain = try detect(answer: "\u{1B}[?1;2c")
        #expect(plain.mode == .blocks)
        #expect(plain.seconds < 0.35, "a DA1 answer ends the wait at once")
        // A terminal that never answers costs the timeout, then half blocks.
        let silent = try detect(answer: nil)
        #expect(silent.mode == .blocks)
        #expect(silent.seconds >= 0.35 && silent.seconds < 2)
        // Inside tmux nothing is asked: tmux would swallow the answer.
        let tmux = try detect(answer: nil, environment: ["TMUX": "/tmp/tmux-1000/default,42,0"])
        #expect(tmux.mode == .blocks)
        #expect(tmux.asked.isEmpty)
    }
}

// MARK: Decisions in the catalog

/// A workspace of real photos with every kind of item review walks: a same-image conflict between two people,
/// a group photo, photos without faces, a corrupt file.
final class ReviewFixture {
    let fixture: ProcessFixture
    var ids: [String: Int64] = [:]

    init() throws {
        fixture = try ProcessFixture()
        let ben = "faces/opencv_course_5celeb/ben_afflek"
        let madonna = "faces/opencv_course_5celeb/madonna"
        let benFiles = try FileManager.default.contentsOfDirectory(atPath: Paths.shared.appendingPathComponent(ben).path).sorted()
        let madonnaFiles = try FileManager.default.contentsOfDirectory(atPath: Paths.shared.appendingPathComponent(madonna).path).sorted()
        for f in benFiles.prefix(3) { ids["ben/\(f)"] = try fixture.add("ben_afflek", file: "\(ben)/\(f)") }
        ids["group"] = try fixture.add("ben_afflek", file: "group/dlib_voc/2008_001009.jpg")     // 2 faces
        ids["dog"] = try fixture.add("ben_afflek", file: "nonface/dlib/dog.jpg")
        ids["eagle"] = try fixture.add("ben_afflek", file: "nonface/dlib/eagle.jpg")
        for f in madonnaFiles.prefix(3) { ids["madonna/\(f)"] = try fixture.add("madonna", file: "\(madonna)/\(f)") }
        ids["copy"] = try fixture.add("madonna", try Paths.bytes("\(ben)/\(benFiles[0])"), name: "copy_of_ben.jpg")  // ben's photo under madonna
        ids["broken"] = try fixture.add("madonna", file: "broken/garbage_2KB_in_middle.jpg")
        ids["group2"] = try fixture.add("madonna", file: "group/opencv_course/group_2.jpg")     // 5 faces
        ids["benConflict"] = ids["ben/\(benFiles[0])"]
        _ = try fixture.process()
    }

    var catalog: Catalog { fixture.catalog }
    func image(_ key: String) throws -> StoredImage { try fixture.image(ids[key]!) }
    func label(_ image: StoredImage) throws -> String { try catalog.labels()[image.personId]! }
}

@Suite(.enabled(if: Paths.hasShared, Paths.sharedMissing), .timeLimit(.minutes(5)))
struct ReviewDecisionTests {
    @Test func theQueueHoldsEveryUnreviewedRejectGroupedByPersonAndReason() async throws {
        try await offPool {
            let f = try ReviewFixture()
            let reviewer = Reviewer(catalog: f.catalog, models: ProcessFixture.models)
            let queue = try reviewer.queue()
            #expect(queue.map { "\($0.label)/\($0.image.reason!)" } == [
                "ben_afflek/label_conflict", "ben_afflek/multi_face", "ben_afflek/no_face", "ben_afflek/no_face",
                "madonna/corrupt", "madonna/label_conflict", "madonna/multi_face",
            ])
            #expect(queue[0].related.map { $0.image.id! } == [f.ids["copy"]!])
            #expect(queue[5].related.map { $0.label } == ["ben_afflek"])
            #expect(queue.first { $0.id == f.ids["broken"] }!.showable == false)
            #expect(try reviewer.queue(people: ["MADONNA"], reasons: ["multi_face"]).map(\.id) == [f.ids["group2"]!])
            #expect(throws: ReviewInputError.unknownReason("blurry")) { try reviewer.queue(reasons: ["blurry"]) }
            #expect(throws: ListingError.self) { try reviewer.queue(people: ["nobody"]) }
        }
    }

    @Test func decisionsAreWrittenAtOnceAndUndoRestoresEachEarlierState() async throws {
        try await offPool {
            let f = try ReviewFixture()
            let reviewer = Reviewer(catalog: f.catalog, models: ProcessFixture.models)
            let group = try f.image("group"), dog = try f.image("dog"), group2 = try f.image("group2")

            try reviewer.apply([.face(group.id!, 2)])
            let chosen = try f.catalog.faces(of: group.id!)
            #expect(chosen.map(\.chosen) == [false, true])
            let chip = try #require(chosen[1].chipPath)
            let chipImage = try DecodedImage.decode([UInt8](try Data(contentsOf: f.catalog.workspace.url(forRelativePath: chip))))
            #expect(chipImage.width == 150 && chipImage.height == 150)
            if ProcessFixture.hasModels { #expect(chosen[1].descriptorValues?.count == 128) }
            #expect(try f.image("group").verdict == .kept)
            #expect(try f.image("group").reviewed)

            try reviewer.apply([.reject(dog.id!)])
            #expect(try f.image("dog").verdict == .rejected && f.image("dog").reason == .noFace && f.image("dog").reviewed)

            try reviewer.apply([.relabel(group2.id!, "ben_afflek")])
            #expect(try f.label(f.image("group2")) == "ben_afflek")
            #expect(try f.image("group2").verdict == .kept)

            // Undo, three times: each image exactly as processing left it.
            #expect(try reviewer.undo().map(\.imageId) == [group2.id!])
            #expect(try f.image("group2") == group2)
            #expect(try reviewer.undo().map(\.imageId) == [dog.id!])
            #expect(try f.image("dog") == dog)
            #expect(try reviewer.undo().map(\.imageId) == [group.id!])
            #expect(try f.image("group") == group)
            #expect(try f.catalog.faces(of: group.id!).map(\.chosen) == [false, false])
            #expect(try reviewer.undo().isEmpty)
            #expect(try f.catalog.decisions().count == 3)
            #expect(try f.catalog.decisions().allSatisfy { $0.undoneAt != nil })
        }
    }

    @Test func aBadDecisionInABatchWritesNothing() async throws {
        try await offPool {
            let f = try ReviewFixture()
            let reviewer = Reviewer(catalog: f.catalog, models: ProcessFixture.models)
            let before = try f.catalog.images()
            let dog = f.ids["dog"]!, group = f.ids["group"]!
            #expect(throws: ReviewError.self) { try reviewer.apply([.accept(dog), .face(group, 3)]) }              // 2 faces only
            #expect(throws: ListingError.self) { try reviewer.apply([.accept(dog), .relabel(group, "nobody")]) }
            #expect(throws: ReviewError.self) { try reviewer.apply([.reject(dog), .accept(999_999)]) }
            #expect(throws: ReviewInputError.cannotKeep(id: f.ids["broken"]!, reason: "corrupt")) { try reviewer.apply([.accept(f.ids["broken"]!)]) }
            // ben_afflek already has these bytes: moving madonna's copy there would file one file twice.
            #expect(throws: ReviewError.self) { try reviewer.apply([.relabel(f.ids["copy"]!, "ben_afflek")]) }
            #expect(try f.catalog.images() == before)
            #expect(try f.catalog.decisions().isEmpty)
            #expect(throws: ReviewInputError.self) { try ReviewCommand.face("12") }
            #expect(throws: ReviewInputError.self) { try ReviewCommand.face("12:0") }
            #expect(try ReviewCommand.relabel("12:ben:x") == .relabel(12, "ben:x"))
        }
    }

    @Test func aReviewedImageKeepsItsDecisionWhenProcessingRunsAgain() async throws {
        try await offPool {
            let f = try ReviewFixture()
            let reviewer = Reviewer(catalog: f.catalog, models: ProcessFixture.models)
            try reviewer.apply([.accept(f.ids["copy"]!), .face(f.ids["group"]!, 1)])
            _ = try f.fixture.process(all: true)
            #expect(try f.image("copy").verdict == .kept)
            #expect(try f.image("group").verdict == .kept)
            #expect(try f.catalog.faces(of: f.ids["group"]!).map(\.chosen) == [true, false])
            // Dedupe still flags ben's side of the conflict, which nobody reviewed.
            #expect(try f.image("benConflict").reason == .labelConflict)
        }
    }
}

// MARK: The real binary in tmux

/// A tmux server of our own (its own socket), running one command in a 120 x 40 window.
final class Tmux {
    static var available: Bool { FileManager.default.isExecutableFile(atPath: "/usr/bin/tmux") }
    static let missing: Comment = "tmux is not installed (scripts/setup.sh installs it): the interactive review tests are skipped"
    let socket = "curate-test-\(UUID().uuidString.prefix(8))"

    init(_ command: String) throws {
        try run(["new-session", "-d", "-x", "120", "-y", "40", command])
    }

    deinit { _ = try? run(["kill-server"]) }

    /// Runs tmux and returns what it printed. posix_spawn, not Foundation's Process: Process learns that its
    /// child ended through a descriptor the child inherits, and the server that new-session forks keeps that
    /// descriptor open, so waiting on it would never end.
    @discardableResult
    func run(_ args: [String], capture: Bool = false) throws -> String {
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { throw CancellationError() }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, fds[1], 1)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addclose(&actions, fds[0])
        posix_spawn_file_actions_addclose(&actions, fds[1])
        let argv = (["tmux", "-L", socket, "-f", "/dev/null"] + args).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        // The test runner's threads block most signals and the mask is inherited: tmux's server would then never
        // see its children end, and kill-server would leave it running. Start tmux with none blocked, defaults set.
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var none = sigset_t(), all = sigset_t()
        sigemptyset(&none)
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, "/usr/bin/tmux", &actions, &attributes, argv, environ)
        close(fds[1])
        defer { close(fds[0]) }
        guard rc == 0 else { throw CancellationError() }
        // new-session's server gets our pipe as its stdout only until it daemonizes (it then closes it).
        var output: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        if capture || args.first == "capture-pane" {
            while true {
                let n = read(fds[0], &buffer, buffer.count)
                if n <= 0 { break }
                output += buffer[0..<n]
            }
        }
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        return String(decoding: output, as: UTF8.self)
    }

    /// Sends keys as tmux names them ("a", "Enter", "Tab", "C-c").
    func send(_ keys: String...) throws { try run(["send-keys", "-t", "0"] + keys) }

    func screen() throws -> String { try run(["capture-pane", "-p", "-t", "0"]) }

    /// Waits until the screen shows `text`, and returns the screen.
    @discardableResult
    func waitFor(_ text: String, timeout: Double = 20) throws -> String {
        let deadline = Date().addingTimeInterval(timeout)
        var last = ""
        while Date() < deadline {
            last = try screen()
            if last.contains(text) { return last }
            Thread.sleep(forTimeInterval: 0.1)
        }
        Issue.record("the screen never showed \"\(text)\"; it shows:\n\(last)")
        throw CancellationError()
    }
}

enum Binary {
    /// A shell command line running `curate` on a workspace, then printing its exit code and staying open.
    static func command(_ workspace: Workspace, _ args: String) -> String {
        let models = ProcessFixture.models.resnet?.deletingLastPathComponent().path ?? "/nonexistent"
        return "CURATE_MODELS='\(models)' '\(Paths.curate.path)' --workspace '\(workspace.root.path)' \(args); echo EXIT=$?; sleep 600"
    }
}

@Suite(.enabled(if: Paths.hasShared, Paths.sharedMissing), .enabled(if: Tmux.available, Tmux.missing), .timeLimit(.minutes(5)))
struct ReviewTmuxTests {
    @Test func acceptRejectFaceRelabelUndoQuitAndResume() async throws {
        try await offPool {
            let f = try ReviewFixture()
            let ids = f.ids
            let tmux = try Tmux(Binary.command(f.catalog.workspace, "review"))

            // 1: ben's photo is also filed under madonna; both are shown side by side. Accept it.
            var screen = try tmux.waitFor("[1/7] #\(ids["benConflict"]!) ben_afflek — label_conflict")
            #expect(screen.contains("same image under #\(ids["copy"]!) madonna"))
            #expect(screen.contains("▀"), "inside tmux pictures are half blocks")
            #expect(screen.contains("a accept  x reject  1-9 face  l relabel  s skip  u undo  ? help  q quit"))
            // The window shrinks: the two pictures are drawn again, narrower (the second one's caption moves left).
            func secondCaptionColumn(_ screen: String) -> Int? {
                screen.split(separator: "\n", omittingEmptySubsequences: false).lazy.compactMap { line in
                    line.range(of: "same image under").map { line.distance(from: line.startIndex, to: $0.lowerBound) }
                }.first
            }
            #expect(secondCaptionColumn(screen) == 61)
            try tmux.run(["resize-window", "-t", "0", "-x", "80", "-y", "30"])
            let deadline = Date().addingTimeInterval(10)
            while secondCaptionColumn(try tmux.screen()) != 41, Date() < deadline { Thread.sleep(forTimeInterval: 0.1) }
            let narrow = try tmux.screen()
            #expect(secondCaptionColumn(narrow) == 41, "after the resize the screen shows:\n\(narrow)")
            try tmux.send("a")
            try tmux.waitFor("[2/7] #\(ids["group"]!) ben_afflek — multi_face: 2 faces")
            #expect(try f.image("benConflict").verdict == .kept)
            #expect(try f.image("benConflict").reviewed)

            // 2: the group photo; face 2 is the person.
            try tmux.send("2")
            try tmux.waitFor("[3/7] #\(ids["dog"]!) ben_afflek — no_face")
            #expect(try f.catalog.faces(of: ids["group"]!).map(\.chosen) == [false, true])
            #expect(try f.catalog.faces(of: ids["group"]!)[1].chipPath != nil)
            #expect(try f.image("group").verdict == .kept)

            // 3: a dog: reject. 4: the eagle: skip.
            try tmux.send("x")
            try tmux.waitFor("[4/7] #\(ids["eagle"]!) ben_afflek — no_face")
            #expect(try f.image("dog").reviewed && f.image("dog").verdict == .rejected)
            try tmux.send("s")

            // 5: the corrupt file is listed, not shown; `a` cannot keep it.
            screen = try tmux.waitFor("[5/7] #\(ids["broken"]!) madonna — corrupt")
            #expect(screen.contains("This file is listed, not shown"))
            try tmux.send("a")
            try tmux.waitFor("never decoded, so it cannot be kept")
            try tmux.send("x")

            // 6: madonna's copy of ben's photo: reject.
            try tmux.waitFor("[6/7] #\(ids["copy"]!) madonna — label_conflict")
            try tmux.send("x")

            // 7: a group photo under madonna that belongs to ben: relabel, with completion.
            try tmux.waitFor("[7/7] #\(ids["group2"]!) madonna — multi_face")
            try tmux.send("l")
            try tmux.waitFor("move #\(ids["group2"]!) from madonna to:")
            try tmux.send("b", "e", "Tab")
            try tmux.waitFor("to: ben_afflek▏")
            try tmux.send("Enter")
            try tmux.waitFor("Nothing left to review.")
            #expect(try f.label(f.image("group2")) == "ben_afflek")

            // Undo twice: the relabel, then the rejection of the copy; the copy is on screen again.
            try tmux.send("u")
            try tmux.waitFor("undid relabel of #\(ids["group2"]!)")
            #expect(try f.label(f.image("group2")) == "madonna")
            #expect(try !f.image("group2").reviewed)
            try tmux.send("u")
            try tmux.waitFor("[6/7] #\(ids["copy"]!) madonna — label_conflict")
            #expect(try !f.image("copy").reviewed)
            #expect(try f.image("copy").reason == .labelConflict)

            // Quit: the terminal is back, with a summary.
            try tmux.send("q")
            screen = try tmux.waitFor("EXIT=0")
            #expect(screen.contains("reviewed 4: 1 accepted, 2 rejected, 1 face(s) chosen, 0 relabelled; 2 undone."))
            #expect(screen.contains("3 left: run `curate review` to go on."))

            // Resume: what was skipped or undone is still waiting, nothing else.
            let again = try Tmux(Binary.command(f.catalog.workspace, "review"))
            try again.waitFor("[1/3] #\(ids["eagle"]!) ben_afflek — no_face")
            try again.send("Right")
            try again.waitFor("[2/3] #\(ids["copy"]!) madonna — label_conflict")
            try again.send("Right")
            try again.waitFor("[3/3] #\(ids["group2"]!) madonna — multi_face")
            // Ctrl-C: leaves at once with the terminal restored and exit code 130; nothing is lost.
            try again.send("C-c")
            screen = try again.waitFor("EXIT=130")
            #expect(screen.contains("reviewed 0"))
            #expect(try f.catalog.decisions().filter { $0.undoneAt == nil }.count == 4)
        }
    }

    @Test func gridPagesKeepTheMarkedPicturesAndRejectTheRest() async throws {
        try await offPool {
            let f = try ReviewFixture()
            let ids = f.ids
            let tmux = try Tmux(Binary.command(f.catalog.workspace, "review --grid --reason no_face"))
            let screen = try tmux.waitFor("ben_afflek — no_face: items 1–2 of 2")
            #expect(screen.contains("[1]  reject  #\(ids["dog"]!)"))
            #expect(screen.contains("[2]  reject  #\(ids["eagle"]!)"))
            try tmux.send("2")
            try tmux.waitFor("[2]  KEEP  #\(ids["eagle"]!)")
            try tmux.send("Enter")
            try tmux.waitFor("Nothing left to review.")
            #expect(try f.image("dog").verdict == .rejected && f.image("dog").reviewed)
            #expect(try f.image("eagle").verdict == .kept && f.image("eagle").reviewed)
            // One undo takes back the whole page.
            try tmux.send("u")
            try tmux.waitFor("undid")
            #expect(try !f.image("dog").reviewed && !f.image("eagle").reviewed)
            try tmux.send("q")
            try tmux.waitFor("EXIT=0")
        }
    }

    /// Processes whose command line mentions `text`.
    func processes(mentioning text: String) -> [Int32] {
        let me = getpid()
        return ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap { Int32($0) }.filter { pid in
            guard pid != me, let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return false }
            return String(decoding: data, as: UTF8.self).replacingOccurrences(of: "\0", with: " ").contains(text)
        }
    }

    @Test func reviewEndsWhenItsTerminalDisappears() async throws {
        try await offPool {
            let f = try ReviewFixture()
            let tmux = try Tmux(Binary.command(f.catalog.workspace, "review"))
            try tmux.waitFor("[1/7]")
            let marker = "--workspace \(f.catalog.workspace.root.path) review"
            #expect(processes(mentioning: marker).count == 1)
            // The terminal goes away without a word (the tmux server is killed): no hang-up signal is relied on,
            // the closed terminal itself must end the program rather than leave it spinning.
            let server = try #require(Int32(try tmux.run(["display-message", "-p", "#{pid}"], capture: true)
                .trimmingCharacters(in: .whitespacesAndNewlines)))
            kill(server, SIGKILL)
            let deadline = Date().addingTimeInterval(10)
            while !processes(mentioning: marker).isEmpty, Date() < deadline { Thread.sleep(forTimeInterval: 0.1) }
            #expect(processes(mentioning: marker).isEmpty, "curate review outlived its terminal")
            #expect(try f.catalog.decisions().isEmpty)
        }
    }

    /// Runs the binary without a terminal; returns exit status, standard output and standard error.
    func script(_ f: ReviewFixture, _ args: [String], environment: [String: String] = [:]) throws -> (Int32, String, String) {
        let p = Process()
        p.executableURL = Paths.curate
        p.currentDirectoryURL = Paths.root   // where ./dataset/models is
        p.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        p.arguments = ["--workspace", f.catalog.workspace.root.path, "review"] + args
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        p.standardInput = FileHandle.nullDevice
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
    }

    @Test func theScriptingFormListsDecidesAndUndoesWithoutATerminal() async throws {
        try await offPool {
            let f = try ReviewFixture()
            let ids = f.ids
            var (status, out, _) = try script(f, ["--list", "--json"])
            #expect(status == 0)
            let rows = try #require(try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [[String: Any]])
            #expect(rows.count == 7)
            let keys: Set<String> = ["id", "label", "verdict", "reason", "detail", "faces", "detected", "width", "height", "shown",
                                     "related", "path", "source_url", "page_url"]
            #expect(rows.allSatisfy { Set($0.keys) == keys })
            #expect(rows.first { $0["id"] as? Int == Int(ids["broken"]!) }?["shown"] as? Bool == false)

            // One bad decision in the call: nothing is written.
            var err: String
            (status, _, err) = try script(f, ["--accept", "\(ids["dog"]!)", "--face", "\(ids["group"]!):5"])
            #expect(status == 2)
            #expect(err.contains("has 2 detected faces; face 5 is not one of them"))
            #expect(try f.catalog.decisions().isEmpty)

            (status, out, _) = try script(f, ["--reject", "\(ids["dog"]!)", "--face", "\(ids["group"]!):2", "--relabel", "\(ids["group2"]!):BEN_AFFLEK", "--json"],
                                   environment: ["CURATE_MODELS": ""])   // empty means unset: ./dataset/models is used
            #expect(status == 0)
            let decided = try #require(try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [[String: Any]])
            #expect(decided.map { $0["action"] as? String } == ["reject", "face", "relabel"])
            #expect(try f.catalog.faces(of: ids["group"]!).map(\.chosen) == [false, true])
            if ProcessFixture.hasModels { #expect(try f.catalog.faces(of: ids["group"]!)[1].descriptorValues?.count == 128) }
            #expect(try f.label(f.image("group2")) == "ben_afflek")
            (status, out, _) = try script(f, ["--list"])
            #expect(out.split(separator: "\n").count == 4)

            // One undo takes back the whole call.
            (status, out, _) = try script(f, ["--undo"])
            #expect(status == 0)
            #expect(try !f.image("dog").reviewed && !f.image("group").reviewed && f.label(f.image("group2")) == "madonna")
        }
    }

    @Test func withoutATerminalItPointsToTheScriptingForm() async throws {
        try await offPool {
            let f = try ReviewFixture()
            let p = Process()
            p.executableURL = Paths.curate
            p.arguments = ["--workspace", f.catalog.workspace.root.path, "review"]
            let err = Pipe()
            p.standardError = err
            p.standardOutput = FileHandle.nullDevice
            p.standardInput = FileHandle.nullDevice
            try p.run()
            let message = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            p.waitUntilExit()
            #expect(p.terminationStatus == 2)
            #expect(message.contains("needs a terminal"))
            #expect(message.contains("curate review --face ID:N"))
        }
    }
}
