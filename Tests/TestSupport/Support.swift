// Helpers every test target shares: where the real test data is, temporary workspaces, running the built `curate`.
import Foundation
import Testing
import TestServer

public enum Paths {
    /// The package root, found from this file's path.
    public static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    /// ../shared/data beside the project (real photos and recorded API responses).
    public static let shared = root.deletingLastPathComponent().appendingPathComponent("shared/data")
    public static var hasShared: Bool { FileManager.default.fileExists(atPath: shared.appendingPathComponent("README.md").path) }
    public static let sharedMissing: Comment = "../shared/data is absent: tests on real photos and recorded API responses are skipped"

    /// The repository's dlib model files (scripts/setup.sh --tests puts them there).
    public static let models = root.appendingPathComponent("dataset/models")

    public static func data(_ relative: String) -> URL { shared.appendingPathComponent(relative) }
    public static func bytes(_ relative: String) throws -> [UInt8] { [UInt8](try Data(contentsOf: data(relative))) }
    /// The .jpg photos anywhere below `folder` of ../shared/data, as paths relative to it ("folder/…"), sorted.
    public static func photos(in folder: String) -> [String] {
        var names: [String] = []
        let enumerator = FileManager.default.enumerator(atPath: data(folder).path)
        while let name = enumerator?.nextObject() as? String { if name.hasSuffix(".jpg") { names.append("\(folder)/\(name)") } }
        return names.sorted()
    }

    /// The built `curate` binary beside the test bundle.
    public static var curate: URL {
        var dir = Bundle.main.bundleURL
        for _ in 0..<4 {
            let candidate = dir.appendingPathComponent("curate")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
            dir = dir.deletingLastPathComponent()
        }
        return root.appendingPathComponent(".build/debug/curate")
    }
}

/// A fresh folder that is removed when the test ends.
public final class TempDir {
    public let url: URL
    public init() {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("curate-test-\(UUID().uuidString)")
        try! FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(at: url) }

    public var path: String { url.path }
    public func sub(_ name: String) -> URL { url.appendingPathComponent(name) }

    /// Writes a query file `<dir>/queries/<label>.txt` and returns the folder.
    @discardableResult
    public func queries(_ files: [String: [String]]) -> URL {
        let dir = sub("queries")
        try! FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        for (label, lines) in files {
            try! (lines.joined(separator: "\n") + "\n").write(to: dir.appendingPathComponent("\(label).txt"), atomically: true, encoding: .utf8)
        }
        return dir
    }
}

/// Runs blocking work (decoding, detection, processing, a child process) on a thread of its own: Swift Testing runs
/// tests on the cooperative pool, which other tests' in-process HTTP servers need; blocking it for seconds starves them.
public func offPool<T>(_ body: @escaping () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        let thread = Thread { continuation.resume(with: Result { try body() }) }
        thread.stackSize = 8 << 20
        thread.start()
    }
}

public struct ProcessResult {
    public var status: Int32
    /// Whether a signal ended the child (a crash, or the SIGKILL after `timeout`); `status` is then its number.
    public var signalled: Bool
    public var stdout: String
    public var stderr: String
}

/// Runs the real `curate` binary, killing it (SIGKILL) if it outlives `timeout`: a guard against a hang, not a
/// speed check, so it is generous (the suite must pass on a 2-core machine that something else is loading).
public func runCurate(_ args: [String], env: [String: String] = [:], timeout: Double = 300) throws -> ProcessResult {
    let p = Process()
    p.executableURL = Paths.curate
    p.arguments = args
    var environment = ProcessInfo.processInfo.environment
    for (k, v) in env { environment[k] = v }
    p.environment = environment
    let out = Pipe(), err = Pipe()
    p.standardOutput = out
    p.standardError = err
    p.standardInput = FileHandle.nullDevice
    try p.run()
    let deadline = Date().addingTimeInterval(timeout)
    // Read both pipes on other threads so a chatty child never blocks on a full pipe.
    final class Box: @unchecked Sendable { var data = Data() }
    let outData = Box(), errData = Box()
    let group = DispatchGroup()
    DispatchQueue.global().async(group: group) { outData.data = out.fileHandleForReading.readDataToEndOfFile() }
    DispatchQueue.global().async(group: group) { errData.data = err.fileHandleForReading.readDataToEndOfFile() }
    while p.isRunning && Date() < deadline { usleep(20_000) }
    if p.isRunning { kill(p.processIdentifier, SIGKILL) }
    p.waitUntilExit()
    group.wait()
    return ProcessResult(status: p.terminationStatus, signalled: p.terminationReason == .uncaughtSignal, stdout: String(decoding: outData.data, as: UTF8.self),
                         stderr: String(decoding: errData.data, as: UTF8.self))
}

/// The real photos of one person of ../shared/data/faces/dlib_johns, as paths the test server serves.
public func johns(_ server: TestServer, _ name: String) -> [String] {
    server.imagePaths(under: "faces/dlib_johns/\(name)")
}

/// Whether two model outputs agree up to float rounding: the last bits of a sum depend on the thread count, the BLAS
/// kernel chosen at start-up and the summation order, which differ between processes and machines. `tolerance` is
/// absolute; 1e-5 is far below anything a verdict or a prediction turns on.
public func closeEnough(_ a: [Float], _ b: [Float], tolerance: Float = 1e-5) -> Bool {
    a.count == b.count && zip(a, b).allSatisfy { abs($0 - $1) <= tolerance }
}

public func closeEnough(_ a: [Double], _ b: [Double], tolerance: Double = 1e-5) -> Bool {
    a.count == b.count && zip(a, b).allSatisfy { abs($0 - $1) <= tolerance }
}

/// Runs a program to its end and returns what it printed on standard output (its errors are dropped).
public func runProcess(_ path: String, _ args: [String]) throws -> String {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: path)
    p.arguments = args
    let out = Pipe()
    p.standardOutput = out
    p.standardError = FileHandle.nullDevice
    p.standardInput = FileHandle.nullDevice
    try p.run()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return String(decoding: data, as: UTF8.self)
}
