// The real `curate` binary: bad input, JSON output, and surviving Ctrl-C and kill -9.
import Catalog
import Foundation
import GRDB
import Testing
import TestSupport
import TestServer
import Crawler

/// Runs the CLI on a thread of its own so the in-process test server keeps its threads.
func curate(_ args: [String], env: [String: String] = [:], timeout: Double = 300) async throws -> ProcessResult {
    try await withCheckedThrowingContinuation { continuation in
        Thread { continuation.resume(with: Result { try runCurate(args, env: env, timeout: timeout) }) }.start()
    }
}

/// Starts the CLI without waiting for it.
func launchCurate(_ args: [String]) throws -> Process {
    let p = Process()
    p.executableURL = Paths.curate
    p.arguments = args
    p.standardOutput = FileHandle.nullDevice
    p.standardError = FileHandle.nullDevice
    p.standardInput = FileHandle.nullDevice
    try p.run()
    return p
}

func waitUntil(timeout: Double, _ condition: () -> Bool) async -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if condition() { return true }
        try? await Task.sleep(nanoseconds: 20_000_000)
    }
    return condition()
}

@Suite(.timeLimit(.minutes(10)))
struct CLIBadInputTests {
    @Test func missingQueriesUnknownProviderAndUnwritableWorkspaceAreClearErrors() async throws {
        let dir = TempDir()
        let ws = dir.sub("ws").path
        var r = try await curate(["fetch", "--query", dir.sub("nope").path, "--workspace", ws])
        #expect(r.status == 2)
        #expect(r.stderr.contains("does not exist"))

        let queries = dir.queries(["Arya": ["http://127.0.0.1:9/a.jpg"]])
        r = try await curate(["fetch", "--query", queries.path, "--provider", "bing", "--workspace", ws])
        #expect(r.status == 64)
        #expect(r.stderr.contains("'bing' is invalid for '--provider") && r.stderr.contains("'commons' and 'openverse'"))

        r = try await curate(["fetch", "--query", queries.path, "--n", "0", "--workspace", ws])
        #expect(r.status == 64)

        let file = dir.sub("a-file")
        try Data("x".utf8).write(to: file)
        r = try await curate(["fetch", "--query", queries.path, "--workspace", file.appendingPathComponent("ws").path])
        #expect(r.status == 2)
        #expect(r.stderr.contains("not writable"))
        #expect(r.stderr.contains("\(file.path) is a file, not a folder") && !r.stderr.contains("NSCocoaErrorDomain"), "\(r.stderr)")
        for command in [["process"], ["split"], ["review", "--list"]] {
            let r = try await curate(command + ["--workspace", file.appendingPathComponent("ws").path])
            #expect(!r.stderr.contains("NSCocoaErrorDomain") && r.status == 2, "\(command): \(r.status) \(r.stderr)")
        }

        #expect(!FileManager.default.fileExists(atPath: dir.sub("ws").path), "bad input must not create a workspace")

        r = try await curate(["status", "--workspace", ws])
        #expect(r.status == 2)
        #expect(r.stderr.contains("no catalog"))
    }

    @Test func unreachableEndpointIsNamedAndTheCatalogUnchanged() async throws {
        let dir = TempDir()
        let ws = dir.sub("ws").path
        // A catalog made by an earlier run...
        try Workspace(path: ws).prepare()
        let catalog = try Catalog.open(Workspace(path: ws))
        _ = try catalog.person(label: "Arya", queryFile: nil)
        _ = try await catalog.db.writeWithoutTransaction { try $0.checkpoint(.truncate) }
        let before = try Data(contentsOf: URL(fileURLWithPath: ws + "/catalog.sqlite"))

        let queries = dir.queries(["Arya": ["Maisie Williams"], "Sansa": ["Sophie Turner"]])
        let r = try await curate(["fetch", "--query", queries.path, "--workspace", ws, "--endpoint", "http://127.0.0.1:1/w/api.php"])
        #expect(r.status == 2)
        #expect(r.stderr.contains("cannot reach http://127.0.0.1:1/w/api.php"))
        let after = try Data(contentsOf: URL(fileURLWithPath: ws + "/catalog.sqlite"))
        #expect(before == after)
        #expect(try catalog.people().map(\.label) == ["Arya"])
    }
}

@Suite(.enabled(if: Paths.hasShared, Paths.sharedMissing), .timeLimit(.minutes(10)))
struct CLIFetchTests {
    @Test func theTextSummarysColumnsLineUpAndSayWhatTheyCount() async throws {
        let server = try await TestServer.start(dataRoot: Paths.shared)
        defer { Task { await server.stop() } }
        let simm = johns(server, "John_Simm")
        let dir = TempDir()
        let ws = dir.sub("ws").path
        // The same photo at two URLs: stored once, the second download is "the same file".
        let queries = dir.queries(["John Simm": simm.map { server.baseURL + $0 } + [server.baseURL + simm[0] + "?again=1"],
                                   "Jo": [server.baseURL + "/bad/404/x"]])
        let r = try await curate(["fetch", "--query", queries.path, "--n", "1000", "--no-process", "--workspace", ws])
        let lines = r.stderr.split(separator: "\n").map(String.init)
        let header = try #require(lines.first { $0.contains("person") && $0.contains("outcome") }, "\(r.stderr)")
        #expect(header.contains("same file") && !header.contains("dup"))
        let outcome = try #require(header.range(of: "outcome")).lowerBound.utf16Offset(in: header)
        let failed = try #require(header.range(of: "failed")).upperBound.utf16Offset(in: header)
        let rows = lines.filter { $0.hasPrefix("John Simm ") || $0.hasPrefix("Jo ") }
        #expect(rows.count == 2, "\(r.stderr)")
        for row in rows {
            // Numbers end under their header's last letter; the outcome starts under "outcome".
            let chars = Array(row)
            #expect(chars.count > outcome && chars[outcome] != " " && chars[outcome - 1] == " ", "\(header)\n\(row)")
            #expect(chars.count > failed && chars[failed - 1] != " " && chars[failed] == " ", "\(header)\n\(row)")
        }
    }

    @Test func jsonSummaryListAndStatus() async throws {
        let server = try await TestServer.start(dataRoot: Paths.shared)
        defer { Task { await server.stop() } }
        server.setResults(term: "John Simm", paths: johns(server, "John_Simm"))
        let dir = TempDir()
        let ws = dir.sub("ws").path
        let queries = dir.queries(["John Simm": ["John Simm", "\(server.baseURL)/bad/404/x"]])
        let env = ["CURATE_COMMONS_ENDPOINT": server.baseURL + "/commons/w/api.php"]
        var r = try await curate(["fetch", "--query", queries.path, "--n", "4", "--json", "--no-process", "--workspace", ws], env: env)
        #expect(r.status == 0, "\(r.stderr)")
        struct Report: Decodable { var fetch: FetchSummary }
        let summary = try JSONDecoder().decode(Report.self, from: Data(r.stdout.utf8)).fetch
        #expect(summary.people.map(\.label) == ["John Simm"])
        #expect(summary.people[0].stored == 4)
        #expect(summary.stored == 4)
        #expect(!summary.interrupted)

        r = try await curate(["list", "--json", "--workspace", ws, "--person", "john simm"])
        #expect(r.status == 0, "\(r.stderr)")
        let rows = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [[String: Any]])
        #expect(rows.count == 4)
        for row in rows {
            for key in ["id", "label", "source_url", "sha256", "path", "verdict", "reason", "faces", "reviewed", "split"] {
                #expect(row.keys.contains(key), "missing \(key)")
            }
            #expect(row["label"] as? String == "John Simm")
            #expect(row["verdict"] as? String == "pending")
            #expect(row["reason"] is NSNull && row["faces"] is NSNull && row["split"] is NSNull)
            #expect(row["reviewed"] as? Bool == false)
            let path = try #require(row["path"] as? String)
            #expect(SHA256.hex(try Data(contentsOf: URL(fileURLWithPath: path))) == row["sha256"] as? String)
        }

        r = try await curate(["list", "--person", "Nobody", "--workspace", ws])
        #expect(r.status == 2)
        #expect(r.stderr.contains("no person \"Nobody\""))

        r = try await curate(["status", "--json", "--workspace", ws])
        let counts = try JSONDecoder().decode([PersonCounts].self, from: Data(r.stdout.utf8))
        #expect(counts.map(\.label) == ["John Simm"])
        #expect(counts[0].images == ["pending": 4])
        // The shared options may also come before the subcommand.
        r = try await curate(["--workspace", ws, "status"])
        #expect(r.status == 0)
        #expect(r.stdout.contains("John Simm"))
    }

    @Test func aRunThatStoresNothingExitsNonZeroAndSaysWhy() async throws {
        let server = try await TestServer.start(dataRoot: Paths.shared)
        defer { Task { await server.stop() } }
        let dir = TempDir()
        let queries = dir.queries(["Nobody": ["no such person anywhere"]])
        // The fetch goes on to `process` (of nothing), which took over a minute on a loaded machine (60 s killed it).
        let r = try await curate(["fetch", "--query", queries.path, "--n", "5", "--workspace", dir.sub("ws").path,
                                  "--endpoint", server.baseURL + "/commons/w/api.php"], timeout: 300)
        #expect(r.status == 1)
        #expect(r.stderr.contains("\"no such person anywhere\" no_results: no results"))
        #expect(r.stderr.contains("stored no image"))
    }

    /// 24 distinct real photos behind a slow server, fetched two at a time.
    func slowFetch(_ server: TestServer, _ dir: TempDir) -> [String] {
        let photos = johns(server, "John_Salley") + johns(server, "John_Savage") + johns(server, "John_Simm")
        let urls = photos.prefix(24).enumerated().map { i, path in
            "\(server.baseURL)/unique/\(i)/\(path.dropFirst("/files/".count))"
        }
        let queries = dir.queries(["Salley": urls])
        return ["fetch", "--query", queries.path, "--n", "100", "--concurrency", "2", "--no-process", "--workspace", dir.sub("ws").path]
    }

    func expectComplete(_ dir: TempDir, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let f = try Fixture(at: dir.sub("ws").path)
        let attempts = try f.attempts()
        let images = try f.images()
        #expect(attempts.count == 24, sourceLocation: sourceLocation)
        #expect(attempts.allSatisfy { $0.state == .stored }, sourceLocation: sourceLocation)
        #expect(images.count == 24, sourceLocation: sourceLocation)
        #expect(Set(images.map(\.sha256)).count == 24, "no duplicate rows", sourceLocation: sourceLocation)
        try f.expectFilesMatchRows(sourceLocation: sourceLocation)
    }

    func storedFiles(_ dir: TempDir) -> Int {
        let images = dir.sub("ws/images")
        return ((try? FileManager.default.subpathsOfDirectory(atPath: images.path)) ?? []).filter { $0.hasSuffix(".jpg") }.count
    }

    /// Starts a slow fetch, lets it store a few images, then sends it `signal`. Returns the stopped process.
    func interruptMidway(_ server: TestServer, _ dir: TempDir, _ args: [String], with signal: Int32) async throws -> Process {
        let p = try launchCurate(args)
        let midway = await waitUntil(timeout: 120) { storedFiles(dir) >= 4 }
        kill(p.processIdentifier, signal)
        let exited = await waitUntil(timeout: 60) { !p.isRunning }
        if !exited { kill(p.processIdentifier, SIGKILL) }
        p.waitUntilExit()
        #expect(midway, "the fetch never got going")
        #expect(exited, "the fetch did not stop on signal \(signal)")
        #expect(storedFiles(dir) < 24, "the signal came too late to test anything")
        return p
    }

    @Test func killedMidwayRerunCompletesWithNoDuplicatesAndNoOrphans() async throws {
        let server = try await TestServer.start(dataRoot: Paths.shared, latencyMs: 150)
        defer { Task { await server.stop() } }
        let dir = TempDir()
        let args = slowFetch(server, dir)
        let p = try await interruptMidway(server, dir, args, with: SIGKILL)
        #expect(p.terminationReason == .uncaughtSignal)

        let r = try await curate(args)
        #expect(r.status == 0, "\(r.stderr)")
        try expectComplete(dir)
    }

    @Test func ctrlCStopsCleanlyAndTheSameCommandContinues() async throws {
        let server = try await TestServer.start(dataRoot: Paths.shared, latencyMs: 150)
        defer { Task { await server.stop() } }
        let dir = TempDir()
        let args = slowFetch(server, dir)
        let p = try await interruptMidway(server, dir, args, with: SIGINT)
        #expect(p.terminationStatus == 130)
        // A clean stop leaves no partial download and no file without its row.
        let f = try Fixture(at: dir.sub("ws").path)
        #expect(try f.images().count < 24)
        try f.expectFilesMatchRows()

        let r = try await curate(args)
        #expect(r.status == 0, "\(r.stderr)")
        try expectComplete(dir)
    }
}
