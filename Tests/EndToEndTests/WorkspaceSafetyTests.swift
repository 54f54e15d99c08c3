// Workspace safety through the real binary (issue 12): curate deletes only what it made, bad input changes
// nothing, decisions made while processing runs are kept, the environment's faults are not the images', and
// hostile headers and absurd options are refused with bounded memory.
import Catalog
import Foundation
import GRDB
import Testing
import TestServer
import TestSupport

/// What a command did, with its peak resident memory: VmHWM of its own address space, sampled every 5 ms while
/// it runs (wait4's ru_maxrss would not do: a child spawned from this large test process inherits its peak).
struct MeasuredRun {
    var status: Int32
    var stdout: String
    var stderr: String
    var peakMiB: Double
}

/// Runs the real `curate` binary with posix_spawn, sampling its peak RSS until it exits.
func runMeasured(_ args: [String], env: [String: String] = [:], timeout: Double = 120) throws -> MeasuredRun {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("curate-measure-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    let outPath = dir.appendingPathComponent("out").path, errPath = dir.appendingPathComponent("err").path
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 1, outPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    posix_spawn_file_actions_addopen(&actions, 2, errPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    var environment = ProcessInfo.processInfo.environment
    for (k, v) in env { environment[k] = v }
    let argv = ([Paths.curate.path] + args).map { strdup($0) } + [nil]
    let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
    defer { (argv + envp).forEach { free($0) } }
    var pid: pid_t = 0
    let rc = posix_spawn(&pid, Paths.curate.path, &actions, nil, argv, envp)
    guard rc == 0 else { throw CocoaError(.executableLoad) }
    var status: Int32 = 0
    var peakKiB = 0
    let deadline = Date().addingTimeInterval(timeout)
    while waitpid(pid, &status, WNOHANG) == 0 {
        if Date() > deadline { kill(pid, SIGKILL) }
        // VmHWM is the high-water mark of the process's own memory since its exec: sampling it misses nothing
        // that lived longer than the interval.
        if let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
           let line = text.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
           let kib = Int(line.split(separator: " ").dropFirst().first ?? "") {
            peakKiB = max(peakKiB, kib)
        }
        usleep(5_000)
    }
    let exit = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    func text(_ path: String) -> String { (try? String(contentsOfFile: path, encoding: .utf8)) ?? "" }
    return MeasuredRun(status: exit, stdout: text(outPath), stderr: text(errPath), peakMiB: Double(peakKiB) / 1024)
}

/// `runMeasured` on a thread of its own: blocking a Swift concurrency thread for seconds would starve the test
/// servers of other tests running at the same time.
func measured(_ args: [String], env: [String: String] = [:], timeout: Double = 120) async throws -> MeasuredRun {
    try await withCheckedThrowingContinuation { continuation in
        Thread { continuation.resume(with: Result { try runMeasured(args, env: env, timeout: timeout) }) }.start()
    }
}

/// Starts the CLI with extra environment, without waiting for it.
func launchCurate(_ args: [String], env: [String: String]) throws -> Process {
    let p = Process()
    p.executableURL = Paths.curate
    p.arguments = args
    p.environment = ProcessInfo.processInfo.environment.merging(env) { $1 }
    p.standardOutput = FileHandle.nullDevice
    p.standardError = FileHandle.nullDevice
    p.standardInput = FileHandle.nullDevice
    try p.run()
    return p
}

/// Makes a folder unwritable, also for root (chmod does not stop root; the immutable attribute does).
enum ReadOnly {
    static let possible: Bool = {
        guard geteuid() == 0 else { return true }
        let probe = FileManager.default.temporaryDirectory.appendingPathComponent("curate-ro-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: probe, withIntermediateDirectories: true)
        defer { _ = shell("chattr", "-i", probe.path); try? FileManager.default.removeItem(at: probe) }
        guard shell("chattr", "+i", probe.path) == 0 else { return false }
        return !FileManager.default.createFile(atPath: probe.appendingPathComponent("x").path, contents: Data())
    }()
    static let why: Comment = "running as root where the immutable attribute cannot be set (chattr): no way to make a folder read-only"

    static func set(_ url: URL, _ on: Bool) {
        _ = chmod(url.path, on ? 0o555 : 0o755)
        if geteuid() == 0 { _ = shell("chattr", on ? "+i" : "-i", url.path) }
    }

    @discardableResult
    static func shell(_ args: String...) -> Int32 {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = args
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        guard (try? p.run()) != nil else { return -1 }
        p.waitUntilExit()
        return p.terminationStatus
    }
}

/// Every regular file under a folder with its bytes, to show a folder came through byte-identical.
func snapshot(_ folder: URL) -> [String: Data] {
    var files: [String: Data] = [:]
    guard let walk = FileManager.default.enumerator(atPath: folder.path) else { return files }
    while let name = walk.nextObject() as? String {
        let url = folder.appendingPathComponent(name)
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: url.path, isDirectory: &isDir), !isDir.boolValue {
            files[name] = try? Data(contentsOf: url)
        }
    }
    return files
}

// One test at a time: each runs the binary over real photos, and the suite shares two cores with timing-sensitive ones.
@Suite(.enabled(if: Paths.hasShared, Paths.sharedMissing), .serialized, .timeLimit(.minutes(10)))
struct WorkspaceSafetyTests {
    static let person = "faces/opencv_course_5celeb/madonna"
    let env = ["CURATE_MODELS": Paths.root.appendingPathComponent("dataset/models").path]

    /// Query files of direct URLs to one person's real photos on the test server.
    func photoQueries(_ server: TestServer, _ dir: TempDir, count: Int = 6, person: String = Self.person) -> URL {
        dir.queries(["madonna": Array(server.imagePaths(under: person).prefix(count)).map { server.baseURL + $0 }])
    }

    func fill(_ dir: TempDir, _ server: TestServer, count: Int = 6) async throws -> String {
        let ws = dir.sub("ws").path
        let r = try await curate(["fetch", "--query", photoQueries(server, dir, count: count).path, "--n", "\(count)",
                                  "--workspace", ws, "--no-process", "--quiet"], env: env)
        #expect(r.status == 0, "\(r.stderr)")
        return ws
    }

    func rows(_ ws: String, _ sql: String) throws -> [[String?]] {
        let queue = try DatabaseQueue(path: ws + "/catalog.sqlite", configuration: { var c = Configuration(); c.readonly = true; return c }())
        func text(_ value: DatabaseValue) -> String? {
            switch value.storage {
            case .null: nil
            case .int64(let i): "\(i)"
            case .double(let d): "\(d)"
            case .string(let s): s
            case .blob(let b): b.base64EncodedString()
            }
        }
        return try queue.read { db in try Row.fetchAll(db, sql: sql).map { row in row.databaseValues.map(text) } }
    }

    /// Someone's photos under `images/` of a folder without a catalog: the folder is refused, named, and nothing
    /// in it changes; beside a real workspace's own files, a fetch leaves them byte-identical.
    @Test func someonesPhotosUnderImagesSurviveAFetch() async throws {
        let server = try await TestServer.start(dataRoot: Paths.shared)
        let dir = TempDir()
        let theirs = dir.sub("d")
        let holiday = theirs.appendingPathComponent("images/holiday")
        try FileManager.default.createDirectory(at: holiday, withIntermediateDirectories: true)
        for name in try FileManager.default.contentsOfDirectory(atPath: Paths.data(Self.person).path) {
            try FileManager.default.copyItem(at: Paths.data(Self.person).appendingPathComponent(name), to: holiday.appendingPathComponent(name))
        }
        try Data("notes\n".utf8).write(to: holiday.appendingPathComponent("n.txt"))
        let before = snapshot(theirs)
        let queries = photoQueries(server, dir, count: 1)
        var r = try await curate(["fetch", "--query", queries.path, "--n", "1", "--workspace", theirs.path, "--no-process"], env: env)
        #expect(r.status == 2, "\(r.stderr)")
        #expect(r.stderr.contains(theirs.path) && r.stderr.contains("holds other things"), "\(r.stderr)")
        #expect(snapshot(theirs) == before, "a refused folder must come through byte-identical")
        #expect(!FileManager.default.fileExists(atPath: theirs.appendingPathComponent("catalog.sqlite").path))

        // A workspace of ours with someone's folder (and a file named like one of ours) put into images/ later.
        let ws = try await fill(dir, server)
        let foreign = URL(fileURLWithPath: ws).appendingPathComponent("images/holiday")
        try FileManager.default.copyItem(at: holiday, to: foreign)
        let lookalike = URL(fileURLWithPath: ws).appendingPathComponent("images/ab/ab" + String(repeating: "0", count: 62) + ".jpg")
        try FileManager.default.createDirectory(at: lookalike.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(contentsOf: Paths.data(Self.person).appendingPathComponent("train_1.jpg")).write(to: lookalike)
        let inside = snapshot(foreign)
        r = try await curate(["fetch", "--query", photoQueries(server, dir, count: 8).path, "--n", "8", "--workspace", ws,
                              "--no-process", "--json"], env: env)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(snapshot(foreign) == inside)
        #expect(FileManager.default.fileExists(atPath: lookalike.path), "a file curate did not record as its own stays")
        #expect(!r.stdout.contains("\"orphansRemoved\" : 1"))
    }

    /// An empty (or missing) catalog beside stored files is damage: refused with what to do, by fetch and by
    /// status, and no stored file is deleted nor the catalog made new.
    @Test func emptyCatalogBesideStoredFilesIsRefusedAndNothingDeleted() async throws {
        let server = try await TestServer.start(dataRoot: Paths.shared)
        let dir = TempDir()
        let ws = try await fill(dir, server)
        let root = URL(fileURLWithPath: ws)
        let stored = snapshot(root.appendingPathComponent("images"))
        #expect(stored.count == 6)
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: ws + "/catalog.sqlite" + suffix) }
        for emptied in [true, false] {
            if emptied { try Data().write(to: root.appendingPathComponent("catalog.sqlite")) }
            var r = try await curate(["fetch", "--query", photoQueries(server, dir, count: 1).path, "--n", "1", "--workspace", ws,
                                      "--no-process"], env: env)
            #expect(r.status == 2, "\(r.stderr)")
            #expect(r.stderr.contains("6 stored file(s)") && r.stderr.contains("Restore catalog.sqlite"), "\(r.stderr)")
            r = try await curate(["status", "--workspace", ws], env: env)
            #expect(r.status == 2, "\(r.stderr)")
            #expect(r.stderr.contains("6 stored file(s)"), "\(r.stderr)")
            #expect(snapshot(root.appendingPathComponent("images")) == stored)
            let size = (try? FileManager.default.attributesOfItem(atPath: ws + "/catalog.sqlite"))?[.size] as? Int
            #expect(size == (emptied ? 0 : nil), "the catalog must not be made new")
            if emptied { try FileManager.default.removeItem(atPath: ws + "/catalog.sqlite") }
        }
    }

    /// `split --reset` with a bad value refuses before it changes anything: the split stays byte-identical.
    @Test func badSplitInputLeavesTheSplitByteIdentical() async throws {
        let server = try await TestServer.start(dataRoot: Paths.shared)
        let dir = TempDir()
        let ws = try await fill(dir, server, count: 8)
        var r = try await curate(["process", "--workspace", ws, "--quiet"], env: env, timeout: 300)
        #expect(r.status == 0, "\(r.stderr)")
        r = try await curate(["split", "--val", "0.25", "--seed", "1", "--min", "1", "--workspace", ws, "--quiet"], env: env)
        #expect(r.status == 0, "\(r.stderr)")
        let query = "SELECT id, split FROM image ORDER BY id"
        let before = try rows(ws, query)
        let setting = try rows(ws, "SELECT value FROM setting WHERE key = 'split'")
        #expect(before.contains { $0[1] == "val" } && before.contains { $0[1] == "train" })
        for bad in [["--val", "1.5"], ["--val", "-0.2"], ["--val", "nan"], ["--val", "0.6", "--test", "0.5"], ["--min", "0"]] {
            r = try await curate(["split", "--reset", "--workspace", ws] + bad, env: env)
            #expect(r.status == 64, "\(bad): \(r.status) \(r.stderr)")
            #expect(r.stderr.contains(bad[0]), "\(bad): \(r.stderr)")
            #expect(try rows(ws, query) == before, "\(bad)")
            #expect(try rows(ws, "SELECT value FROM setting WHERE key = 'split'") == setting, "\(bad)")
        }
        #expect(try await curate(["split", "--reset", "--val", "-0.2", "--workspace", ws], env: env).stderr.contains("negative"))
        // A --min nobody reaches: said, exit 2, and the split is not emptied.
        r = try await curate(["split", "--reset", "--min", "100000", "--workspace", ws], env: env)
        #expect(r.status == 2, "\(r.status) \(r.stderr)")
        #expect(r.stderr.contains("no person has 100000 accepted images"), "\(r.stderr)")
        #expect(try rows(ws, query) == before)
        #expect(try rows(ws, "SELECT value FROM setting WHERE key = 'split'") == setting)
        // status counts on a side only images still accepted: one that became wrong_person after the split is on none.
        let valId = try #require(before.first { $0[1] == "val" }?[0])
        let (train, val) = (before.filter { $0[1] == "train" }.count, before.filter { $0[1] == "val" }.count)
        try await DatabaseQueue(path: ws + "/catalog.sqlite").write {
            try $0.execute(sql: "UPDATE image SET verdict = 'rejected', reason = 'wrong_person' WHERE id = ?", arguments: [valId])
        }
        r = try await curate(["status", "--workspace", ws], env: env)
        #expect(r.stdout.contains("split: train \(train), val \(val - 1)\n"), "\(r.stdout)")

        // A killed export's staging folder is swept by the next export; a live one's and the user's files stay.
        let root = URL(fileURLWithPath: ws)
        let gone = Process()
        gone.executableURL = URL(fileURLWithPath: "/bin/true")
        try gone.run()
        gone.waitUntilExit()
        let dead = root.appendingPathComponent(".export.tmp-\(gone.processIdentifier)")
        let live = root.appendingPathComponent(".export.tmp-\(getpid())")
        let theirs = root.appendingPathComponent(".export.tmp-notes")
        for folder in [dead, live, theirs] {
            try FileManager.default.createDirectory(at: folder.appendingPathComponent("train"), withIntermediateDirectories: true)
        }
        r = try await curate(["export", "--workspace", ws], env: env)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dead.path), "a killed export's staging folder is ours to sweep")
        #expect(FileManager.default.fileExists(atPath: live.path) && FileManager.default.fileExists(atPath: theirs.path))
    }

    /// A split made while `process --all` runs survives it: processing writes only the columns it owns. Review,
    /// split, export and status run beside it; a second process is told which command is busy.
    @Test func splitMadeDuringProcessAllSurvives() async throws {
        let server = try await TestServer.start(dataRoot: Paths.shared)
        let dir = TempDir()
        var files: [String: [String]] = [:]
        for p in ["madonna", "elton_john"] {
            files[p] = server.imagePaths(under: "faces/opencv_course_5celeb/\(p)").prefix(12).map { server.baseURL + $0 }
        }
        let ws = dir.sub("ws").path
        var r = try await curate(["fetch", "--query", dir.queries(files).path, "--n", "12", "--workspace", ws, "--quiet"],
                                 env: env, timeout: 300)
        #expect(r.status == 0, "\(r.stderr)")
        let p = try launchCurate(["process", "--all", "--threads", "1", "--workspace", ws], env: env)
        defer { if p.isRunning { kill(p.processIdentifier, SIGKILL) } }
        #expect(await waitUntil(timeout: 120) { (try? String(contentsOfFile: ws + "/.lock", encoding: .utf8))?.contains("process") == true })
        r = try await curate(["split", "--val", "0.25", "--seed", "3", "--min", "1", "--workspace", ws, "--quiet"], env: env)
        #expect(r.status == 0, "\(r.stderr)")
        let made = try rows(ws, "SELECT id, split FROM image ORDER BY id")
        #expect(made.contains { $0[1] != nil })
        r = try await curate(["status", "--workspace", ws], env: env)
        #expect(r.status == 0, "\(r.stderr)")
        r = try await curate(["process", "--workspace", ws], env: env)
        #expect(r.status == 2)
        #expect(r.stderr.contains("curate process (pid \(p.processIdentifier)) is running"), "\(r.stderr)")
        #expect(p.isRunning, "the split must be made while processing runs, or this test shows nothing")
        #expect(await waitUntil(timeout: 240) { !p.isRunning })
        #expect(p.terminationStatus == 0)
        #expect(try rows(ws, "SELECT id, split FROM image ORDER BY id") == made)
    }

    /// A normalized/ folder that cannot be written stops processing with a clear error; no image is recorded
    /// `corrupt` (nor anything else), and the next run, with the folder writable, processes them all.
    @Test(.enabled(if: ReadOnly.possible, ReadOnly.why))
    func readOnlyNormalizedFolderIsNoImagesFault() async throws {
        let server = try await TestServer.start(dataRoot: Paths.shared)
        let dir = TempDir()
        let ws = try await fill(dir, server, count: 4)
        let normalized = URL(fileURLWithPath: ws).appendingPathComponent("normalized")
        try FileManager.default.createDirectory(at: normalized, withIntermediateDirectories: true)
        ReadOnly.set(normalized, true)
        defer { ReadOnly.set(normalized, false) }
        var r = try await curate(["process", "--workspace", ws], env: env, timeout: 300)
        #expect(r.status == 74, "\(r.stderr)")
        #expect(r.stderr.contains("normalized") && r.stderr.contains("cannot ") && r.stderr.contains("run the same command again"), "\(r.stderr)")
        #expect(!r.stderr.contains("NSCocoaErrorDomain") && !r.stderr.contains("Error Domain"), "\(r.stderr)")
        #expect(try rows(ws, "SELECT count(*) FROM image WHERE processedAt IS NOT NULL OR reason IS NOT NULL") == [["0"]])
        ReadOnly.set(normalized, false)
        r = try await curate(["process", "--workspace", ws], env: env, timeout: 300)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(try rows(ws, "SELECT count(*) FROM image WHERE processedAt IS NOT NULL AND reason IS NOT 'corrupt'") == [["4"]])
    }

    /// A fetch that cannot write images/ stops with the reason (exit 74) and blames no URL: they stay queued,
    /// and the next run, with the folder writable, stores them.
    @Test(.enabled(if: ReadOnly.possible, ReadOnly.why))
    func aReadOnlyImagesFolderStopsFetchWithoutBlamingTheURLs() async throws {
        let server = try await TestServer.start(dataRoot: Paths.shared)
        let dir = TempDir()
        let ws = dir.sub("ws").path
        let queries = photoQueries(server, dir, count: 3)
        var r = try await curate(["fetch", "--query", queries.path, "--n", "1", "--workspace", ws, "--no-process", "--quiet"], env: env)
        #expect(r.status == 0, "\(r.stderr)")
        let images = URL(fileURLWithPath: ws).appendingPathComponent("images")
        ReadOnly.set(images, true)
        defer { ReadOnly.set(images, false) }
        r = try await curate(["fetch", "--query", queries.path, "--n", "3", "--workspace", ws, "--no-process"], env: env)
        #expect(r.status == 74, "\(r.stderr)")
        #expect(r.stderr.contains(images.path) && r.stderr.contains("run the same command again"), "\(r.stderr)")
        #expect(try rows(ws, "SELECT count(*) FROM attempt WHERE state = 'failed'") == [["0"]])
        ReadOnly.set(images, false)
        r = try await curate(["fetch", "--query", queries.path, "--n", "3", "--workspace", ws, "--no-process", "--quiet"], env: env)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(try rows(ws, "SELECT count(*) FROM image") == [["3"]])

        // status and list read a workspace nobody may write, and change nothing in it.
        let root = URL(fileURLWithPath: ws)
        _ = try await curate(["status", "--workspace", ws], env: env)   // a clean close folds the WAL back
        let catalog = try Data(contentsOf: root.appendingPathComponent("catalog.sqlite"))
        ReadOnly.set(root, true)
        defer { ReadOnly.set(root, false) }
        r = try await curate(["status", "--workspace", ws], env: env)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("madonna"), "\(r.stdout)")
        r = try await curate(["list", "--json", "--workspace", ws], env: env)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(try Data(contentsOf: root.appendingPathComponent("catalog.sqlite")) == catalog)
    }

    /// A password in a direct URL is used for the download but stored (and shown) redacted; a query file that
    /// links outside its folder is refused before anything is sent.
    @Test func passwordsAreRedactedAndQueryLinksStayInTheirFolder() async throws {
        let server = try await TestServer.start(dataRoot: Paths.shared)
        let dir = TempDir()
        let ws = dir.sub("ws").path
        let path = server.imagePaths(under: Self.person)[0]
        let url = server.baseURL.replacingOccurrences(of: "http://", with: "http://bob:s3cret@") + path
        var r = try await curate(["fetch", "--query", dir.queries(["madonna": [url]]).path, "--n", "1", "--workspace", ws,
                                  "--no-process", "--quiet"], env: env)
        #expect(r.status == 0, "\(r.stderr)")
        r = try await curate(["list", "--json", "--workspace", ws], env: env)
        #expect(!r.stdout.contains("s3cret") && r.stdout.contains("bob:***@"), "\(r.stdout)")

        let secret = dir.sub("private.txt")
        try Data("a private line\n".utf8).write(to: secret)
        let folder = dir.sub("links")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(at: folder.appendingPathComponent("arya.txt"), withDestinationURL: secret)
        let before = server.requests.count
        r = try await curate(["fetch", "--query", folder.path, "--n", "1", "--workspace", dir.sub("ws2").path,
                              "--endpoint", server.baseURL + "/commons/w/api.php"], env: env)
        #expect(r.status == 2, "\(r.stderr)")
        #expect(r.stderr.contains("arya.txt") && r.stderr.contains(secret.lastPathComponent), "\(r.stderr)")
        #expect(server.requests.count == before, "nothing may be sent")
        #expect(!FileManager.default.fileExists(atPath: dir.sub("ws2").path))
    }

    /// A provider's result that redirects to a link-local address (where cloud metadata lives) is refused
    /// before any connection is made, as a failure of its own; results on the endpoint's own (loopback) host,
    /// which the user pointed at, are fetched.
    @Test func providerResultsMayNotRedirectToLocalAddresses() async throws {
        let server = try await TestServer.start(dataRoot: Paths.shared)
        let dir = TempDir()
        let ws = dir.sub("ws").path
        // fe80::1 without a scope cannot be reached from here either: even a failure of this check sends nothing.
        server.setResults(term: "Madonna", paths: ["/bad/to/[fe80::1]:9/x.jpg"] + server.imagePaths(under: Self.person).prefix(2))
        let r = try await curate(["fetch", "--query", dir.queries(["madonna": ["Madonna"]]).path, "--n", "3", "--workspace", ws,
                                  "--no-process", "--quiet", "--endpoint", server.baseURL + "/commons/w/api.php"], env: env)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(try rows(ws, "SELECT failure, transient FROM attempt WHERE url LIKE '%/bad/to/%'") == [["local_address", "0"]])
        #expect(try rows(ws, "SELECT count(*) FROM image") == [["2"]])
    }

    /// Headers that promise huge pixels (a TIFF of 32000×32000 in 2 kB, a GIF frame far larger than its screen,
    /// a 43-byte GIF of 65535×65535) and a 1 GB file are refused before decoding, with bounded memory, in
    /// process and in predict.
    @Test func hostileHeadersAreRefusedWithBoundedMemory() async throws {
        let dir = TempDir()
        let data = dir.sub("data")
        try FileManager.default.createDirectory(at: data, withIntermediateDirectories: true)
        try Hostile.tiff(width: 32000, height: 32000).write(to: data.appendingPathComponent("big.tif"))
        try Hostile.gif(screen: (100, 100), frame: (60000, 60000)).write(to: data.appendingPathComponent("frame.gif"))
        try Hostile.gif(screen: (65535, 65535), frame: (1, 1)).write(to: data.appendingPathComponent("screen.gif"))
        try FileManager.default.copyItem(at: Paths.data(Self.person + "/train_1.jpg"), to: data.appendingPathComponent("real.jpg"))
        let server = try await TestServer.start(dataRoot: data)
        let names = ["big.tif", "frame.gif", "screen.gif", "real.jpg"]
        let queries = dir.queries(["madonna": names.map { server.baseURL + "/files/" + $0 }])
        let ws = dir.sub("ws").path
        var r = try await curate(["fetch", "--query", queries.path, "--n", "4", "--workspace", ws, "--no-process"], env: env)
        #expect(r.status == 0, "\(r.stderr)")
        let m = try await measured(["process", "--workspace", ws], env: env, timeout: 300)
        #expect(m.status == 0, "\(m.stderr)")
        #expect(m.peakMiB > 0 && m.peakMiB < 600, "process peaked at \(m.peakMiB) MiB")
        let verdicts = try rows(ws, "SELECT i.reason FROM image i JOIN attempt a ON a.id = i.attemptId ORDER BY a.url")
        #expect(verdicts == [["too_large"], ["too_large"], [nil], ["too_large"]], "\(verdicts)")   // big.tif, frame.gif, real.jpg, screen.gif

        // predict checks every photo before it loads a model: bad input, exit 2, named, whatever the run.
        let huge = dir.sub("huge.jpg")
        try Data([0xFF, 0xD8, 0xFF, 0xE0]).write(to: huge)
        let handle = try FileHandle(forWritingTo: huge)
        try handle.truncate(atOffset: 1 << 30)   // a sparse 1 GB file: no disk used, but read whole it costs 1 GB
        try handle.close()
        for name in ["screen.gif", "frame.gif", "big.tif"] {
            let m = try await measured(["predict", data.appendingPathComponent(name).path, "--workspace", ws], env: env)
            #expect(m.status == 2, "\(name): \(m.stderr)")
            #expect(m.stderr.contains(name) && m.stderr.contains("megapixels"), "\(name): \(m.stderr)")
            #expect(m.peakMiB > 0 && m.peakMiB < 300, "\(name): predict peaked at \(m.peakMiB) MiB")
        }
        let big = try await measured(["predict", huge.path, "--workspace", ws], env: env)
        #expect(big.status == 2, "\(big.stderr)")
        #expect(big.stderr.contains("huge.jpg") && big.stderr.contains("MiB"), "\(big.stderr)")
        #expect(big.peakMiB > 0 && big.peakMiB < 300, "predict peaked at \(big.peakMiB) MiB")
        _ = r
    }

    /// Absurd option values are usage errors (exit 64) that name the option, before any workspace is touched;
    /// a negative number says so.
    @Test func absurdOptionsExit64() async throws {
        let dir = TempDir()
        let ws = dir.sub("ws").path
        let queries = dir.queries(["madonna": ["http://127.0.0.1:9/a.jpg"]])
        let fetch = ["fetch", "--query", queries.path, "--workspace", ws, "--no-process"]
        let cases: [([String], String)] = [
            (fetch + ["--max-size", "99999999999999"], "--max-size"),
            (fetch + ["--timeout", "inf"], "--timeout"),
            (fetch + ["--timeout", "nan"], "--timeout"),
            (fetch + ["--timeout", "1e300"], "--timeout"),
            (fetch + ["--n", "-3"], "negative"),
            (fetch + ["--n", "99999999999999"], "--n"),
            (fetch + ["--per-host", "100000"], "--per-host"),
            (fetch + ["--retries", "1000000"], "--retries"),
            (fetch + ["--threads", "100000"], "--threads"),
            (fetch + ["--min-side", "-1"], "negative"),
            (["process", "--workspace", ws, "--threads", "100000"], "--threads"),
            (["process", "--workspace", ws, "--min-side", "99999999999"], "--min-side"),
            (["split", "--workspace", ws, "--val", "inf"], "--val"),
            (["split", "--workspace", ws, "--min", "-5"], "negative"),
            (["train", "--workspace", ws, "--epochs", "1000000000"], "--epochs"),
            (["train", "--workspace", ws, "--lr", "nan"], "--lr"),
            (["predict", "--workspace", ws, "--unknown-distance", "inf", "x.jpg"], "--unknown-distance"),
            (["review", "--workspace", ws, "--grid", "--grid-size", "1000x1000"], "--grid-size"),
        ]
        for (args, needle) in cases {
            let r = try await curate(args)
            #expect(r.status == 64, "\(args.suffix(2)): \(r.status) \(r.stderr)")
            #expect(r.stderr.contains(needle), "\(args.suffix(2)): \(r.stderr)")
        }
        #expect(!FileManager.default.fileExists(atPath: ws), "a usage error must not touch the workspace")
    }
}

/// Image files with hostile headers, made here so the test says what they are.
enum Hostile {
    /// A little-endian TIFF whose one IFD promises width × height 8-bit grey pixels, with 2 kB of strip data.
    static func tiff(width: UInt32, height: UInt32) -> Data {
        var d = Data("II".utf8) + le16(42) + le32(8)
        let entries: [(UInt16, UInt16, UInt32)] = [
            (256, 4, width), (257, 4, height), (258, 3, 8), (259, 3, 1), (262, 3, 1),
            (273, 4, 8 + 2 + 9 * 12 + 4), (277, 3, 1), (278, 4, height), (279, 4, width * height),
        ]
        d += le16(UInt16(entries.count))
        for (tag, type, value) in entries {
            d += le16(tag) + le16(type) + le32(1) + (type == 3 ? le16(UInt16(value)) + le16(0) : le32(value))
        }
        d += le32(0)
        d += Data(repeating: 0x80, count: 2048)
        return d
    }

    /// A GIF89a with a logical screen and one frame of the given sizes, whose image data is one pixel's worth.
    static func gif(screen: (UInt16, UInt16), frame: (UInt16, UInt16)) -> Data {
        var d = Data("GIF89a".utf8) + le16(screen.0) + le16(screen.1) + Data([0x80, 0, 0])
        d += Data([0, 0, 0, 255, 255, 255])   // a global palette of two colours
        d += Data([0x2C]) + le16(0) + le16(0) + le16(frame.0) + le16(frame.1) + Data([0])
        d += Data([2, 2, 0x4C, 0x01, 0])      // LZW minimum code size 2, one block of 2 bytes, end of blocks
        d += Data([0x3B])
        return d
    }

    static func le16(_ v: UInt16) -> Data { Data([UInt8(v & 0xFF), UInt8(v >> 8)]) }
    static func le32(_ v: UInt32) -> Data { Data((0..<4).map { UInt8((v >> (8 * $0)) & 0xFF) }) }
}
