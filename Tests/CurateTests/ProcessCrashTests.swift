// A run that dies on an image does not stop later runs: the image it died on alone is rejected as corrupt and never
// tried again, images that were merely in flight beside it are tried again, and every other image gets its verdict.
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

    /// Starts the real `curate process` and SIGKILLs it the moment the catalog shows `victim` in flight: a real
    /// death of the real binary in the middle of a chosen image, which is what a decoder crash or the OOM killer
    /// does to it. (No hook inside curate fakes anything: the mark the test waits for is the one processing
    /// writes before it reads an image's bytes.)
    func killWhileProcessing(_ fixture: ProcessFixture, victim: Int64, threads: Int) throws {
        let p = Process()
        p.executableURL = Paths.curate
        p.arguments = ["process", "--workspace", fixture.root.path, "--threads", "\(threads)", "--quiet"]
        var env = ProcessInfo.processInfo.environment
        env["CURATE_MODELS"] = Paths.root.appendingPathComponent("dataset/models").path
        p.environment = env
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        let deadline = Date().addingTimeInterval(120)
        while p.isRunning && Date() < deadline {
            if try marks(fixture)[victim] != nil {
                kill(p.processIdentifier, SIGKILL)
                break
            }
            usleep(1_000)
        }
        if p.isRunning && Date() >= deadline { kill(p.processIdentifier, SIGKILL) }
        p.waitUntilExit()
        try #require(p.terminationReason == .uncaughtSignal && p.terminationStatus == SIGKILL,
                     "curate process ended (status \(p.terminationStatus)) before the chosen image was in flight")
    }

    @Test func aRunKilledOnAnImageLeavesItRejectedAsCorruptAndTheRestFinishes() throws {
        let (fixture, ids) = try workspace()
        let victim = ids[1]
        try killWhileProcessing(fixture, victim: victim, threads: 1)

        // Each image's result is committed as it is done: the one before is recorded, the victim is marked alone.
        #expect(try marks(fixture) == [victim: .alone])
        #expect(try fixture.image(ids[0]).verdict != .pending)
        #expect(try fixture.image(victim).verdict == .pending)
        #expect(try fixture.image(ids[3]).verdict == .pending)

        let rerun = try runBinary(["process", "--workspace", fixture.root.path, "--threads", "1"])
        #expect(!rerun.signalled && rerun.status == 0, "\(rerun.stderr)")
        #expect(rerun.stdout.contains("an earlier run died") || rerun.stderr.contains("an earlier run died"),
                "the rerun did not say why an image was rejected without being tried")
        let dead = try fixture.image(victim)
        #expect(dead.verdict == .rejected && dead.reason == .corrupt && dead.detail == Processor.crashDetail)
        #expect(try marks(fixture) == [victim: .crashed])
        for id in ids where id != victim { #expect(try fixture.image(id).verdict != .pending, "image \(id) was left unprocessed") }

        // Not tried again, not even by --all; the other images are processed again as usual.
        let processedAt = dead.processedAt
        let again = try runBinary(["process", "--workspace", fixture.root.path, "--all", "--threads", "1"])
        #expect(!again.signalled && again.status == 0, "\(again.stderr)")
        #expect(try fixture.image(victim).processedAt == processedAt)
        #expect(try fixture.image(victim).detail == Processor.crashDetail)
        #expect(try marks(fixture) == [victim: .crashed])
    }

    @Test func imagesInFlightBesideTheDeathAreTriedAgainAloneAndNotBlamed() throws {
        let (fixture, ids) = try workspace()
        let victim = ids[1]
        try killWhileProcessing(fixture, victim: victim, threads: 2)
        let left = try marks(fixture)
        #expect(left[victim] == .shared, "with two workers, the image in flight cannot be blamed alone")
        #expect(left.values.allSatisfy { $0 == .shared })

        let rerun = try runBinary(["process", "--workspace", fixture.root.path, "--threads", "2"])
        #expect(!rerun.signalled && rerun.status == 0, "\(rerun.stderr)")
        #expect(try marks(fixture).isEmpty)
        // Tried again alone, the group photo decodes and gets the verdict of what it shows.
        let image = try fixture.image(victim)
        #expect(image.verdict != .pending && image.detail != Processor.crashDetail && image.width != nil,
                "\(image.verdict) \(image.reason.map { "\($0)" } ?? "-"): \(image.detail ?? "")")
        for id in ids { #expect(try fixture.image(id).verdict != .pending) }
    }
}
