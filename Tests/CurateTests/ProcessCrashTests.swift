// A run that dies on an image does not stop later runs, and an image is blamed for a death only on evidence: a crash
// on its worker's thread, or runs dying with it alone in flight again and again. A kill, a double Ctrl-C or a hang-up
// is never an image's fault; `process --retry-crashed` gives a blamed image another try.
import Catalog
import Foundation
import GRDB
import Testing
import TestSupport
@testable import Curate

@Suite(.enabled(if: Paths.hasShared, Paths.sharedMissing), .timeLimit(.minutes(10)))
struct ProcessCrashTests {
    static let photos = ["single_face/opencv_course_lady.jpg", "group/opencv_course/group_1.jpg",
                         "nonface/dlib/dog.jpg", "single_face/dlib_Tom_Cruise_avp_2014_4.jpg"]

    /// Four real photos; the second, a large group photo, is the one the run is killed on.
    func workspace() throws -> (ProcessFixture, ids: [Int64]) {
        let fixture = try ProcessFixture()
        let ids = try Self.photos.map { try #require(try fixture.add("someone", file: $0)) }
        return (fixture, ids)
    }

    func marks(_ fixture: ProcessFixture) throws -> [Int64: ProcessingState] {
        try fixture.catalog.db.read { db in
            Dictionary(uniqueKeysWithValues: try ProcessingMark.fetchAll(db).map { ($0.imageId, $0.state) })
        }
    }

    /// How the test ends a run while `victim` is in flight.
    enum Death {
        /// kill -9: what the OOM killer, a power cut or an impatient user does; leaves no evidence.
        case kill
        /// SIGSEGV to the worker thread itself, as a decoder crashing on the image does.
        case crashWorker
        /// Two Ctrl-C (the second exits at once, as docs/process.md says).
        case doubleInterrupt
    }

    /// tgkill(2), which the Glibc module does not export.
    static let tgkill: @convention(c) (Int32, Int32, Int32) -> Int32 = unsafeBitCast(dlsym(UnsafeMutableRawPointer(bitPattern: 0), "tgkill")!,
                                                                                      to: (@convention(c) (Int32, Int32, Int32) -> Int32).self)

    /// The threads of a process named `curate-worker` (processing's workers name themselves).
    static func workers(_ pid: Int32) -> [Int32] {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []).compactMap { Int32($0) }.filter { tid in
            (try? String(contentsOfFile: "/proc/\(pid)/task/\(tid)/comm", encoding: .utf8))?.hasPrefix("curate-worker") == true
        }
    }

    /// Starts the real `curate process` and ends it the moment the catalog shows `victim` in flight: a real death
    /// of the real binary in the middle of a chosen image. (No hook inside curate fakes anything: the mark the test
    /// waits for is the one processing writes before it reads an image's bytes.) Returns how it ended.
    @discardableResult
    /// `state`: the mark to wait for (any, by default), set by this run (an earlier run's is there from the start).
    func endWhileProcessing(_ fixture: ProcessFixture, victim: Int64, threads: Int, by death: Death = .kill,
                            state: ProcessingState? = nil) throws -> (signalled: Bool, status: Int32) {
        let p = Process()
        p.executableURL = Paths.curate
        p.arguments = ["process", "--workspace", fixture.root.path, "--threads", "\(threads)", "--quiet"]
        var env = ProcessInfo.processInfo.environment
        env["CURATE_MODELS"] = Paths.root.appendingPathComponent("dataset/models").path
        p.environment = env
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        let launched = Date()
        try p.run()
        let deadline = Date().addingTimeInterval(120)
        var sent = false
        while p.isRunning && Date() < deadline && !sent {
            let mark = try fixture.catalog.db.read { try ProcessingMark.filter(ProcessingMark.Columns.imageId == victim).fetchOne($0) }
            if let mark, mark.since >= launched, state == nil || mark.state == state {
                switch death {
                case .kill: kill(p.processIdentifier, SIGKILL)
                case .crashWorker:
                    let workers = Self.workers(p.processIdentifier)
                    try #require(workers.count == 1, "expected one worker thread, found \(workers)")
                    _ = Self.tgkill(p.processIdentifier, workers[0], SIGSEGV)
                case .doubleInterrupt:
                    kill(p.processIdentifier, SIGINT)
                    kill(p.processIdentifier, SIGINT)
                }
                sent = true
            }
            usleep(1_000)
        }
        if p.isRunning && Date() >= deadline { kill(p.processIdentifier, SIGKILL) }
        p.waitUntilExit()
        try #require(sent, "curate process ended (status \(p.terminationStatus)) before the chosen image was in flight")
        return (p.terminationReason == .uncaughtSignal, p.terminationStatus)
    }

    /// The normalised copies on disk that no image row records.
    func unrecordedCopies(_ fixture: ProcessFixture) throws -> [String] {
        let recorded = Set(try fixture.catalog.db.read { try String.fetchAll($0, sql: "SELECT normalizedPath FROM image WHERE normalizedPath IS NOT NULL") })
        let folder = fixture.root.appendingPathComponent("normalized")
        let files = (FileManager.default.enumerator(atPath: folder.path)?.allObjects as? [String] ?? []).filter { $0.hasSuffix(".jpg") }
        return files.map { "normalized/" + $0 }.filter { !recorded.contains($0) }
    }

    @Test func oneKillDuringAnImageIsNotItsFault() throws {
        let (fixture, ids) = try workspace()
        let victim = ids[1]
        let end = try endWhileProcessing(fixture, victim: victim, threads: 1)
        #expect(end.signalled && end.status == SIGKILL)
        // Each image's result is committed as it is done: the one before is recorded, the victim is marked alone.
        #expect(try marks(fixture) == [victim: .alone])
        #expect(try fixture.image(ids[0]).verdict != .pending)
        #expect(try fixture.image(victim).verdict == .pending)

        let rerun = try runBinary(["process", "--workspace", fixture.root.path, "--threads", "1"])
        #expect(!rerun.signalled && rerun.status == 0, "\(rerun.stderr)")
        #expect(try marks(fixture).isEmpty)
        let image = try fixture.image(victim)
        #expect(image.verdict != .pending && image.detail != Processor.crashDetail && image.width != nil,
                "\(image.verdict) \(image.reason.map { "\($0)" } ?? "-"): \(image.detail ?? "")")
        for id in ids { #expect(try fixture.image(id).verdict != .pending, "image \(id) was left unprocessed") }
        #expect(try unrecordedCopies(fixture).isEmpty)
    }

    /// The retry pass (one at a time) is where a kill lands alone again and again: only the third death in a row
    /// with the image alone in flight blames it; `--retry-crashed` gives it back.
    @Test func onlyRepeatedDeathsWithAnImageAloneBlameItAndRetryCrashedGivesItBack() throws {
        let (fixture, ids) = try workspace()
        let victim = ids[1]
        try endWhileProcessing(fixture, victim: victim, threads: 2)
        #expect(try marks(fixture)[victim] == .shared, "with two workers, the image in flight cannot be blamed alone")
        // Tried again first and alone, and killed there twice more.
        for _ in 0..<(Processor.deathsToBlame - 1) {
            try endWhileProcessing(fixture, victim: victim, threads: 2, state: .alone)
            #expect(try marks(fixture)[victim] == .alone)
            #expect(try fixture.image(victim).verdict == .pending)
        }
        let rerun = try runBinary(["process", "--workspace", fixture.root.path, "--threads", "2"])
        #expect(!rerun.signalled && rerun.status == 0, "\(rerun.stderr)")
        #expect(rerun.stderr.contains("an earlier run died") && rerun.stderr.contains("--retry-crashed"), "\(rerun.stderr)")
        let dead = try fixture.image(victim)
        #expect(dead.verdict == .rejected && dead.reason == .corrupt && dead.detail == Processor.crashDetail)
        #expect(try marks(fixture) == [victim: .crashed])
        for id in ids where id != victim { #expect(try fixture.image(id).verdict != .pending, "image \(id) was left unprocessed") }
        #expect(try unrecordedCopies(fixture).isEmpty)

        // Not tried again, not even by --all; --retry-crashed tries it, and it is the photo it is.
        let again = try runBinary(["process", "--workspace", fixture.root.path, "--all", "--threads", "1"])
        #expect(!again.signalled && again.status == 0, "\(again.stderr)")
        #expect(try fixture.image(victim).detail == Processor.crashDetail)
        let retry = try runBinary(["process", "--workspace", fixture.root.path, "--retry-crashed"])
        #expect(!retry.signalled && retry.status == 0, "\(retry.stderr)")
        let back = try fixture.image(victim)
        #expect(back.verdict != .pending && back.detail != Processor.crashDetail && back.width != nil, "\(back.detail ?? "")")
        #expect(try marks(fixture).isEmpty)
    }

    /// A crash on the worker's own thread is evidence: that image alone is blamed, at once.
    @Test func aCrashOnTheWorkersThreadBlamesItsImage() throws {
        let (fixture, ids) = try workspace()
        let victim = ids[1]
        let end = try endWhileProcessing(fixture, victim: victim, threads: 1, by: .crashWorker)
        #expect(end.signalled && end.status == SIGSEGV)
        let rerun = try runBinary(["process", "--workspace", fixture.root.path, "--threads", "1"])
        #expect(!rerun.signalled && rerun.status == 0, "\(rerun.stderr)")
        let dead = try fixture.image(victim)
        #expect(dead.verdict == .rejected && dead.reason == .corrupt && dead.detail == Processor.crashDetail)
        #expect(try marks(fixture) == [victim: .crashed])
        for id in ids where id != victim { #expect(try fixture.image(id).verdict != .pending) }
    }

    /// Two Ctrl-C (the way docs/fetch.md gives to stop at once) and a hang-up are the user's doing, never the image's.
    @Test func aDoubleCtrlCOrAHangUpBlamesNothing() throws {
        let (fixture, ids) = try workspace()
        let victim = ids[1]
        let end = try endWhileProcessing(fixture, victim: victim, threads: 1, by: .doubleInterrupt)
        #expect(!end.signalled && end.status == 130)
        let rerun = try runBinary(["process", "--workspace", fixture.root.path, "--threads", "1"])
        #expect(!rerun.signalled && rerun.status == 0, "\(rerun.stderr)")
        #expect(!rerun.stderr.contains("an earlier run died"), "\(rerun.stderr)")
        let image = try fixture.image(victim)
        #expect(image.verdict != .pending && image.detail != Processor.crashDetail && image.width != nil, "\(image.detail ?? "")")
        #expect(try marks(fixture).isEmpty)
        #expect(try unrecordedCopies(fixture).isEmpty)

        // A hang-up asks the run to stop as the first Ctrl-C does: the image in flight is finished or left unmarked.
        let (fixture2, ids2) = try workspace()
        let p = Process()
        p.executableURL = Paths.curate
        p.arguments = ["process", "--workspace", fixture2.root.path, "--threads", "1", "--quiet"]
        p.environment = ProcessInfo.processInfo.environment.merging(["CURATE_MODELS": Paths.models.path]) { $1 }
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        while p.isRunning, try marks(fixture2)[ids2[1]] == nil { usleep(1_000) }
        kill(p.processIdentifier, SIGHUP)
        p.waitUntilExit()
        #expect(p.terminationReason == .exit, "SIGHUP killed curate process outright")
        #expect(try marks(fixture2).isEmpty)
        _ = ids
    }
}
