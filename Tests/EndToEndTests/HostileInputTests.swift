// Hostile input through the real binary (issue 22): text from outside printed, not obeyed; a huge terminal.
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
