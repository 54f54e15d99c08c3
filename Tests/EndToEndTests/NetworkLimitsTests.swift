// The network side of red team round 2 (issue 22) through the real binary: answers far larger than a page are
// refused with bounded memory, provider results may not reach private or carrier-grade NAT addresses, and a full
// disk leaves none of curate's partial downloads behind.
import Catalog
import Foundation
import GRDB
import Testing
import TestServer
import TestSupport

/// A small file system of the test's own (tmpfs), to fill: only root may mount one.
final class FullDisk {
    static let possible: Bool = {
        guard geteuid() == 0 else { return false }
        let probe = FullDisk(kib: 64)
        defer { probe?.unmount() }
        return probe != nil
    }()
    static let why: Comment = "mounting a small tmpfs needs root: no way to fill a disk here"

    let url: URL
    private var mounted = true

    init?(kib: Int) {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("curate-full-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        guard ReadOnly.shell("mount", "-t", "tmpfs", "-o", "size=\(kib)k", "tmpfs", url.path) == 0 else {
            try? FileManager.default.removeItem(at: url)
            return nil
        }
    }

    func unmount() {
        guard mounted else { return }
        mounted = false
        ReadOnly.shell("umount", url.path)
        try? FileManager.default.removeItem(at: url)
    }

    deinit { unmount() }
}

@Suite(.enabled(if: Paths.hasShared, Paths.sharedMissing), .serialized, .timeLimit(.minutes(3)))
struct NetworkLimitsTests {
    let env = ["CURATE_MODELS": Paths.root.appendingPathComponent("dataset/models").path]

    func rows(_ ws: String, _ sql: String) throws -> [[String?]] { try WorkspaceSafetyTests().rows(ws, sql) }

    /// 10 MB of empty objects, or 15 MB of file entries, for one search page of 50: refused by Commons' name
    /// before parsing, fetch staying far under the 900+ MB such answers took.
    @Test(arguments: [(HugeAnswer.emptyObjects, 10_000_000), (.fileEntries, 15_000_000)])
    func anAnswerFarLargerThanThePageIsRefusedWithBoundedMemory(kind: HugeAnswer, bytes: Int) async throws {
        let server = try await TestServer.start(dataRoot: Paths.shared)
        server.answerHugely(kind, bytes: bytes)
        let dir = TempDir()
        let ws = dir.sub("ws").path
        let m = try await measured(["fetch", "--query", dir.queries(["madonna": ["Madonna"]]).path, "--n", "3", "--workspace", ws,
                                    "--no-process", "--json", "--endpoint", server.baseURL + "/commons/w/api.php"], env: env)
        #expect(m.status == 1, "\(m.stderr)")
        #expect(m.stdout.contains("Commons answered more than 864 KiB, far more than the page asked for: refused"), "\(m.stdout)")
        #expect(m.peakMiB > 0 && m.peakMiB < 150, "fetch peaked at \(m.peakMiB) MiB")
    }

    /// An answer within the bytes of a page but made of nothing but objects is refused before it is parsed.
    @Test func anAnswerTooDenseToParseIsRefused() async throws {
        let server = try await TestServer.start(dataRoot: Paths.shared)
        server.answerHugely(.emptyObjects, bytes: 800_000)
        let dir = TempDir()
        let r = try await curate(["fetch", "--query", dir.queries(["madonna": ["Madonna"]]).path, "--n", "3", "--workspace", dir.sub("ws").path,
                                  "--no-process", "--json", "--endpoint", server.baseURL + "/commons/w/api.php"], env: env)
        #expect(r.status == 1, "\(r.stderr)")
        #expect(r.stdout.contains("Commons answered 266") && r.stdout.contains("JSON objects and arrays in 8000"), "\(r.stdout)")
    }

    /// Results that redirect to private networks and carrier-grade NAT (where cloud metadata also answers:
    /// 100.100.100.200, fd00:ec2::254) are refused as loopback and link-local are, before any connection (the
    /// check runs on the resolved address, before a socket exists); results on the endpoint's own loopback host
    /// are fetched.
    @Test func providerResultsMayNotRedirectToPrivateNetworks() async throws {
        let server = try await TestServer.start(dataRoot: Paths.shared)
        let dir = TempDir()
        let ws = dir.sub("ws").path
        let refused = ["10.1.2.3:9", "172.16.0.1:9", "192.168.1.1:9", "100.64.0.1:9", "100.100.100.200:9", "[fd00:ec2::254]:9", "[fc00::1]:9"]
        server.setResults(term: "Madonna", paths: refused.map { "/bad/to/\($0)/x.jpg" } + server.imagePaths(under: WorkspaceSafetyTests.person).prefix(2))
        let r = try await curate(["fetch", "--query", dir.queries(["madonna": ["Madonna"]]).path, "--n", "3", "--workspace", ws,
                                  "--no-process", "--quiet", "--endpoint", server.baseURL + "/commons/w/api.php"], env: env)
        #expect(r.status == 0, "\(r.stderr)")
        let failures = try rows(ws, "SELECT failure, transient, error FROM attempt WHERE url LIKE '%/bad/to/%'")
        #expect(failures.count == refused.count)
        #expect(failures.allSatisfy { $0[0] == "local_address" && $0[1] == "0" }, "\(failures)")
        #expect(try rows(ws, "SELECT count(*) FROM image") == [["2"]])
    }

    /// A disk that fills under a fetch stops it with exit 74, and no partial download of curate's stays in tmp/.
    @Test(.enabled(if: FullDisk.possible, FullDisk.why))
    func aFullDiskLeavesNoPartialDownloads() async throws {
        let server = try await TestServer.start(dataRoot: Paths.shared)
        let disk = try #require(FullDisk(kib: 6 * 1024))
        defer { disk.unmount() }
        let dir = TempDir()
        let ws = disk.url.appendingPathComponent("ws").path
        let urls = (1...12).map { server.baseURL + "/bad/huge/2/k\($0).jpg" }
        let r = try await curate(["fetch", "--query", dir.queries(["madonna": urls]).path, "--n", "12", "--workspace", ws,
                                  "--no-process", "--quiet", "--max-size", "5"], env: env)
        #expect(r.status == 74, "\(r.stderr)")
        #expect(r.stderr.contains("disk is full"), "\(r.stderr)")
        let tmp = (try? FileManager.default.contentsOfDirectory(atPath: ws + "/tmp")) ?? []
        #expect(tmp.filter { $0.hasSuffix(".part") } == [], "\(tmp)")
    }
}
