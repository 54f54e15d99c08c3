// Every input a fuzzer found crashing curate (fuzz/regressions) goes through the real binary: `curate process`
// gives each a verdict and finishes; nothing crashes. (`curate predict` on them is in the pipeline test, which
// has a trained run.)
import Catalog
import Foundation
import GRDB
import Testing
import TestSupport
@testable import Curate

enum FuzzRegressions {
    static let folder = Paths.root.appendingPathComponent("fuzz/regressions")

    static func files() throws -> [URL] {
        try FileManager.default.contentsOfDirectory(at: folder, includingPropertiesForKeys: nil)
            .filter { !$0.lastPathComponent.hasPrefix(".") }
            .sorted { $0.lastPathComponent < $1.lastPathComponent }
    }
}

/// Runs the built `curate` with the repository's model files, killing it after `timeout`.
func runBinary(_ args: [String], timeout: Double = 120) throws -> (status: Int32, signalled: Bool, stdout: String, stderr: String) {
    let p = Process()
    p.executableURL = Paths.curate
    p.arguments = args
    var env = ProcessInfo.processInfo.environment
    env["CURATE_MODELS"] = Paths.root.appendingPathComponent("dataset/models").path
    p.environment = env
    let out = Pipe(), err = Pipe()
    p.standardOutput = out
    p.standardError = err
    p.standardInput = FileHandle.nullDevice
    try p.run()
    final class Box: @unchecked Sendable { var data = Data() }
    let o = Box(), e = Box()
    let group = DispatchGroup()
    DispatchQueue.global().async(group: group) { o.data = out.fileHandleForReading.readDataToEndOfFile() }
    DispatchQueue.global().async(group: group) { e.data = err.fileHandleForReading.readDataToEndOfFile() }
    let deadline = Date().addingTimeInterval(timeout)
    while p.isRunning && Date() < deadline { usleep(20_000) }
    if p.isRunning { kill(p.processIdentifier, SIGKILL) }
    p.waitUntilExit()
    group.wait()
    return (p.terminationStatus, p.terminationReason == .uncaughtSignal,
            String(decoding: o.data, as: UTF8.self), String(decoding: e.data, as: UTF8.self))
}

@Suite(.timeLimit(.minutes(5)))
struct FuzzRegressionTests {
    @Test func everyFuzzFindingGetsAVerdictFromTheBinaryWithoutACrash() throws {
        let files = try FuzzRegressions.files()
        #expect(files.count >= 1, "fuzz/regressions is empty")
        let fixture = try ProcessFixture()
        var ids: [String: Int64] = [:]
        for file in files {
            ids[file.lastPathComponent] = try #require(try fixture.add("fuzzed", [UInt8](Data(contentsOf: file)), name: file.lastPathComponent))
        }
        let r = try runBinary(["process", "--workspace", fixture.root.path, "--json"])
        #expect(!r.signalled && r.status == 0, "curate process ended with \(r.signalled ? "signal" : "status") \(r.status): \(r.stderr)")
        for (name, id) in ids.sorted(by: { $0.key < $1.key }) {
            let image = try fixture.image(id)
            #expect(image.verdict != .pending, "\(name) got no verdict")
            if image.verdict == .rejected {
                #expect(!(image.detail ?? "").isEmpty, "\(name) was rejected (\(image.reason.map { "\($0)" } ?? "?")) without saying why")
            }
        }
    }

    @Test func theGIFWhoseErrorHasNoTextIsRejectedAsDamaged() throws {
        let bytes = [UInt8](try Data(contentsOf: FuzzRegressions.folder.appendingPathComponent("decode-gif-error-string-null.gif")))
        #expect(throws: DecodeError.undecodable("GIF: damaged file")) { try DecodedImage.checkedDecode(bytes) }
    }
}
