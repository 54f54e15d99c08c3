// The real `curate review` end to end: the screen driven inside tmux (accept, reject, face, relabel, undo, grid,
// resize, quit and resume, Ctrl-C, a vanished terminal) and the scripting form without a terminal, on the review
// photos processed by the binary.
import Catalog
import Curate
import Foundation
import Testing
import TestSupport

/// The review photos (TestSupport's `ReviewPhotos`), processed by the real binary.
final class ReviewWorkspace {
    static let models = ModelFiles.locate(in: [Paths.models])
    static var hasModels: Bool { models.shapePredictor != nil && models.resnet != nil }
    let fixture: Fixture
    let ids: [String: Int64]

    init() throws {
        fixture = try Fixture()
        ids = try ReviewPhotos.store(in: fixture.catalog)
        let r = try runCurate(["--workspace", fixture.workspace.root.path, "process"], env: ["CURATE_MODELS": Paths.models.path], timeout: 300)
        guard r.status == 0 else {
            Issue.record("curate process exited \(r.status): \(r.stderr)")
            throw CancellationError()
        }
    }

    var catalog: Catalog { fixture.catalog }
    func image(_ key: String) throws -> StoredImage { try catalog.image(id: ids[key]!) }
    func label(_ image: StoredImage) throws -> String { try catalog.labels()[image.personId]! }
}

enum Binary {
    /// A shell command line running `curate` on a workspace, then printing its exit code and staying open.
    /// `environment`: more VAR=value words for curate's environment.
    static func command(_ workspace: Workspace, _ args: String, environment: String = "") -> String {
        let models = ReviewWorkspace.models.resnet?.deletingLastPathComponent().path ?? "/nonexistent"
        return "CURATE_MODELS='\(models)' \(environment) '\(Paths.curate.path)' --workspace '\(workspace.root.path)' \(args); echo EXIT=$?; sleep 600"
    }
}

@Suite(.enabled(if: Paths.hasShared, Paths.sharedMissing), .enabled(if: Tmux.available, Tmux.missing), .timeLimit(.minutes(10)))
struct ReviewTmuxTests {
    /// The single-image screen's key line, the last line of each frame.
    static let keys = "a accept  x reject  1-9 face  l relabel  s skip  u undo  ? help  q quit"

    /// The block and box-drawing symbols (U+2500-U+259F) on a screen: chafa's mosaic uses many, half blocks only "▀".
    static func symbols(_ screen: String) -> Set<Unicode.Scalar> { Set(screen.unicodeScalars.filter { (0x2500...0x259F).contains($0.value) }) }

    @Test func acceptRejectFaceRelabelUndoQuitAndResume() async throws {
        try await offPool {
            let f = try ReviewWorkspace()
            let ids = f.ids
            let tmux = try Tmux(Binary.command(f.catalog.workspace, "review"))

            // 1: ben's photo is also filed under madonna; both are shown side by side. Accept it.
            var screen = try tmux.waitFor("[1/7] #\(ids["benConflict"]!) ben_afflek — label_conflict", Self.keys)
            #expect(screen.contains("same image under #\(ids["copy"]!) madonna"))
            // Inside tmux pictures are chafa's symbol mosaic (libchafa is installed by scripts/setup.sh).
            #expect(Self.symbols(screen).count > 10, "the pictures are not a symbol mosaic:\n\(screen)")
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
            screen = try tmux.waitFor("[5/7] #\(ids["broken"]!) madonna — corrupt", Self.keys)
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

    @Test func withoutLibchafaOrWithGraphicsBlocksPicturesAreHalfBlocks() async throws {
        try await offPool {
            let f = try ReviewWorkspace()
            let first = "[1/7] #\(f.ids["benConflict"]!) ben_afflek — label_conflict"
            // libchafa cannot be loaded: half blocks, and the status line says why and what installs it.
            let missing = try Tmux(Binary.command(f.catalog.workspace, "review", environment: "CURATE_CHAFA_LIBRARY=/nonexistent/libchafa.so.0"))
            var screen = try missing.waitFor(first, Self.keys)
            #expect(screen.contains("libchafa cannot be loaded (/nonexistent/libchafa.so.0"))
            #expect(Self.symbols(screen) == ["▀"], "half blocks only:\n\(screen)")
            try missing.send("q")
            try missing.waitFor("EXIT=0")
            // Asked for by name: half blocks, nothing to explain.
            let blocks = try Tmux(Binary.command(f.catalog.workspace, "review --graphics blocks"))
            screen = try blocks.waitFor(first, Self.keys)
            #expect(Self.symbols(screen) == ["▀"], "half blocks only:\n\(screen)")
            #expect(!screen.contains("libchafa"))
            try blocks.send("q")
            try blocks.waitFor("EXIT=0")
            // And symbols by name draw the mosaic, the same frame around it.
            let symbols = try Tmux(Binary.command(f.catalog.workspace, "review --graphics symbols"))
            screen = try symbols.waitFor(first, Self.keys)
            #expect(Self.symbols(screen).count > 10, "the pictures are not a symbol mosaic:\n\(screen)")
            try symbols.send("q")
            try symbols.waitFor("EXIT=0")
        }
    }

    @Test func gridPagesKeepTheMarkedPicturesAndRejectTheRest() async throws {
        try await offPool {
            let f = try ReviewWorkspace()
            let ids = f.ids
            let tmux = try Tmux(Binary.command(f.catalog.workspace, "review --grid --reason no_face"))
            let screen = try tmux.waitFor("ben_afflek — no_face: items 1–2 of 2", "1-9 toggle keep  Enter apply page")
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
            let f = try ReviewWorkspace()
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
    func script(_ f: ReviewWorkspace, _ args: [String], environment: [String: String] = [:]) throws -> (Int32, String, String) {
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
            let f = try ReviewWorkspace()
            let ids = f.ids
            var (status, out, _) = try script(f, ["--list", "--json"])
            #expect(status == 0)
            let rows = try #require(try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [[String: Any]])
            #expect(rows.count == 7)
            let keys: Set<String> = ["id", "label", "verdict", "reason", "detail", "faces", "detected", "width", "height", "shown",
                                     "related", "path", "source_url", "page_url", "distance", "looks_like", "predicted", "probability", "quality"]
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
            if ReviewWorkspace.hasModels { #expect(try f.catalog.faces(of: ids["group"]!)[1].descriptorValues?.count == 128) }
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
            let f = try ReviewWorkspace()
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
