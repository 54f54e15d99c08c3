// The cluster path for real: scripts/slurm/submit.sh puts a 3-shard fetch-and-process array and the dependent merge
// on a Slurm cluster (scripts/slurm/local-cluster.sh starts a one-node one; setup.sh --tests runs it as root); the
// jobs fetch from this test's server on 127.0.0.1; the merged workspace must judge every image as one machine does.
import Catalog
import Foundation
import Testing
import TestSupport
import TestServer

enum Slurm {
    static let ci = ProcessInfo.processInfo.environment["CI"] == "true"

    /// Runs a command, returning its exit status and what it printed (stdout and stderr together).
    @discardableResult
    static func run(_ args: [String], env: [String: String] = [:], timeout: Double = 60) -> (status: Int32, output: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = args
        p.environment = ProcessInfo.processInfo.environment.merging(env) { $1 }
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = pipe
        p.standardInput = FileHandle.nullDevice
        do { try p.run() } catch { return (127, "\(error)") }
        final class Box: @unchecked Sendable { var data = Data() }
        let box = Box()
        let reader = Thread { box.data = pipe.fileHandleForReading.readDataToEndOfFile() }
        reader.start()
        let deadline = Date().addingTimeInterval(timeout)
        while p.isRunning && Date() < deadline { usleep(50_000) }
        if p.isRunning { kill(p.processIdentifier, SIGKILL) }
        p.waitUntilExit()
        while !reader.isFinished { usleep(10_000) }
        return (p.terminationStatus, String(decoding: box.data, as: UTF8.self))
    }

    /// Why there is no cluster to submit to (nil when one answers).
    static var absent: String? {
        let sbatch = ["/usr/bin/sbatch", "/usr/local/bin/sbatch"].contains { FileManager.default.isExecutableFile(atPath: $0) }
        guard sbatch else { return "sbatch is not installed (scripts/setup.sh --tests installs Slurm and starts a one-node cluster as root)" }
        let r = run(["sinfo", "-h", "-o", "%T"], timeout: 30)
        guard r.status == 0, !r.output.isEmpty else {
            return "no Slurm cluster answers (sinfo: \(r.output.trimmingCharacters(in: .whitespacesAndNewlines))); start one with scripts/slurm/local-cluster.sh as root"
        }
        return nil
    }

    /// Outside CI a missing cluster skips the test; under CI it is a failure.
    static var runs: Bool { absent == nil || ci }
    static var skipped: Comment { Comment(rawValue: "Slurm cluster tests skipped: \(absent ?? "")") }
}

@Suite(.enabled(if: Paths.hasShared, Paths.sharedMissing), .enabled(if: Slurm.runs, Slurm.skipped), .timeLimit(.minutes(25)))
struct SlurmTests {
    @Test func aShardArrayAndItsMergeOnSlurmJudgeAsOneMachine() async throws {
        if let absent = Slurm.absent {
            Issue.record("CI=true, so the Slurm cluster must be running: \(absent)")
            return
        }
        let server = try await TestServer.start(dataRoot: Paths.shared)
        let dir = TempDir()
        func photos(_ person: String, _ count: Int) throws -> [String] {
            let sub = "faces/opencv_course_5celeb/\(person)"
            return try FileManager.default.contentsOfDirectory(atPath: Paths.data(sub).path).sorted().prefix(count)
                .map { server.baseURL + "/files/\(sub)/\($0)" }
        }
        // Labels chosen so that each of the 3 shards has people: madonna_1 and jerry_seinfeld_3 are shard 0,
        // elton_john and mindy_kaling shard 1, ben_afflek shard 2; ben's first photo is under madonna_1 too.
        let labels = ["madonna_1": 0, "jerry_seinfeld_3": 0, "elton_john": 1, "mindy_kaling": 1, "ben_afflek": 2]
        for (label, k) in labels { #expect(Shard.of(label, count: 3) == k, "\(label)") }
        let ben = try photos("ben_afflek", 5)
        let queries = dir.queries([
            "madonna_1": try photos("madonna", 5) + [ben[0]], "jerry_seinfeld_3": try photos("jerry_seinfeld", 5),
            "elton_john": try photos("elton_john", 5), "mindy_kaling": try photos("mindy_kaling", 5), "ben_afflek": ben,
        ])
        let out = dir.sub("out").path
        let env = ["CURATE_BIN": Paths.curate.path, "CURATE_MODELS": Paths.models.path, "TMPDIR": dir.sub("scratch").path]
        try FileManager.default.createDirectory(at: dir.sub("scratch"), withIntermediateDirectories: true)
        let submit = Paths.root.appendingPathComponent("scripts/slurm/submit.sh").path
        let r = Slurm.run([submit, queries.path, "50", "3", out, "--time=20:00"], env: env, timeout: 60)
        #expect(r.status == 0, "\(r.output)")
        func id(_ name: String) -> String? {
            r.output.split(separator: "\n").first { $0.hasPrefix("\(name): ") }.map { String($0.dropFirst(name.count + 2)) }
        }
        let array = try #require(id("shards"), "\(r.output)"), merge = try #require(id("merge"), "\(r.output)")

        // While the jobs fetch from this process's server, the same query files on one machine.
        let single = dir.sub("single").path
        let one = try await curate(["fetch", "--query", queries.path, "--n", "50", "--workspace", single, "--quiet"],
                                   env: ["CURATE_MODELS": Paths.models.path], timeout: 600)
        #expect(one.status == 0, "\(one.stderr)")

        // Wait (bounded) until neither job is pending or running.
        func logs() -> String {
            let files = (try? FileManager.default.contentsOfDirectory(atPath: out + "/logs").sorted()) ?? []
            return files.map { "--- \($0):\n" + ((try? String(contentsOfFile: out + "/logs/" + $0, encoding: .utf8)) ?? "") }.joined(separator: "\n")
        }
        let deadline = Date().addingTimeInterval(15 * 60)
        var states = ""
        while Date() < deadline {
            states = Slurm.run(["squeue", "-h", "-j", "\(array),\(merge)", "-o", "%i %T"]).output.trimmingCharacters(in: .whitespacesAndNewlines)
            if states.isEmpty { break }
            try await Task.sleep(nanoseconds: 2_000_000_000)
        }
        await server.stop()
        try #require(states.isEmpty, "the jobs did not finish within 15 minutes (\(states)); their logs:\n\(logs())")
        for job in [array, merge] {
            let shown = Slurm.run(["scontrol", "show", "job", job]).output
            let finished = shown.components(separatedBy: "JobState=").dropFirst().map { $0.prefix { $0 != " " } }
            #expect(!finished.isEmpty && finished.allSatisfy { $0 == "COMPLETED" },
                    "job \(job): \(finished); the jobs' logs:\n\(logs())")
        }

        // Every shard published with its marker; the merged workspace judges every image as the one machine did.
        for k in 0..<3 {
            #expect(FileManager.default.fileExists(atPath: out + "/shards/shard-0000\(k)/shard.json"), "shard \(k): \(logs())")
        }
        let merged = out + "/merged"
        let many = try MergeCheck.verdicts(merged), single1 = try MergeCheck.verdicts(single)
        #expect(single1.count == 26 && Set(many.keys) == Set(single1.keys), "\(single1.count) on one machine, \(many.count) merged; logs:\n\(logs())")
        for (key, v) in single1.sorted(by: { $0.key < $1.key }) { #expect(many[key] == v, "\(key): one machine \(v), merged \(many[key] ?? "none")") }
        let sha = SHA256.hex(try Paths.bytes("faces/opencv_course_5celeb/ben_afflek/" + (ben[0] as NSString).lastPathComponent))
        // Ben's photo under madonna_1 is judged against every person's identity, also those of other shards.
        #expect(many["madonna_1/\(sha)"]?.hasPrefix("rejected wrong_person") == true, "\(many["madonna_1/\(sha)"] ?? "")")
        let catalog = try Catalog.openForReading(Workspace(path: merged))
        let names = try catalog.labels()
        let copy = try #require(try catalog.images().first { $0.sha256 == sha && names[$0.personId] == "madonna_1" })
        #expect(copy.detail?.contains("looks like ben_afflek") == true, "\(copy.detail ?? "")")
    }
}
