// OpenBLAS's kernels: where its detection falls back to old ones, curate restarts on the best ones this CPU's
// instructions allow, checks them, says so, and never overrides the user's OPENBLAS_CORETYPE; the descriptors and
// verdicts are those of the fallback kernels.
import Catalog
import Curate
import Foundation
import Testing
import TestServer
import TestSupport

struct BLASCoreChoiceTests {
    @Test func theBetterCoreFollowsTheCPUsInstructionsAndOnlyAboveWhatWasLoaded() {
        let emeraldRapids = BLASCore.Features(avx: true, avx2: true, fma: true, avx512: true, avx512bf16: true)
        let skylakeServer = BLASCore.Features(avx: true, avx2: true, fma: true, avx512: true)
        let haswell = BLASCore.Features(avx: true, avx2: true, fma: true)
        // The case of the issue: a CPU model OpenBLAS 0.3.21 does not know, taken for a Prescott.
        #expect(BLASCore.better(than: "Prescott", for: emeraldRapids) == "Cooperlake")
        #expect(BLASCore.better(than: "Prescott", for: skylakeServer) == "SkylakeX")
        #expect(BLASCore.better(than: "Nehalem", for: haswell) == "Haswell")
        #expect(BLASCore.better(than: "Haswell", for: skylakeServer) == "SkylakeX")
        // Nothing better than what runs, or nothing curate can judge: left alone.
        #expect(BLASCore.better(than: "Cooperlake", for: emeraldRapids) == nil)
        #expect(BLASCore.better(than: "Zen", for: haswell) == nil)
        #expect(BLASCore.better(than: "Prescott", for: BLASCore.Features()) == nil)
        #expect(BLASCore.better(than: "NEOVERSEN1", for: emeraldRapids) == nil)
        #expect(BLASCore.better(than: "", for: emeraldRapids) == nil)
    }

    @Test func theLoadedBLASPassesTheSelfCheckAndAnImpossibleToleranceFailsIt() {
        let check = BLASCore.selfCheck(tolerance: 1e-4)
        #expect(check.passed, "largest relative error \(check.worst)")
        #expect(check.worst < 1e-5)
        #expect(!BLASCore.selfCheck(tolerance: -1).passed)
    }
}

@Suite(.enabled(if: Paths.hasShared, Paths.sharedMissing), .enabled(if: BLASTests.systemIsOpenBLAS, "OpenBLAS is not the system BLAS"),
       .timeLimit(.minutes(10)))
struct BLASCoreTests {
    /// The best core this CPU allows over OpenBLAS's oldest, nil where the CPU has no AVX (nothing to choose).
    static let better = BLASCore.better(than: "Prescott", for: .cpu)

    @Test(.enabled(if: better != nil, "this CPU has no AVX: OpenBLAS's fallback is already the best it can run"))
    func aFallbackCoreIsReplacedCheckedAndNamedButTheUsersChoiceWins() async throws {
        let better = try #require(Self.better)
        // OpenBLAS taking this CPU for a Prescott, as 0.3.21 does with CPU models it does not know.
        var r = try await curate(["--version"], env: ["OPENBLAS_CORETYPE": "Prescott", "CURATE_TEST_BLAS_FALLBACK": "1"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("NO_AFFINITY \(better) "), "\(r.stdout)")
        #expect(r.stdout.contains("kernels: \(better), chosen by curate for this CPU's instructions (OpenBLAS fell back to Prescott)"),
                "\(r.stdout)")
        // The same through status, which runs as any command does.
        let ws = TempDir().sub("ws").path
        try FileManager.default.createDirectory(atPath: ws, withIntermediateDirectories: true)
        _ = try Catalog.open(Workspace(path: ws))   // a new, empty workspace
        r = try await curate(["status", "--workspace", ws], env: ["OPENBLAS_CORETYPE": "Prescott", "CURATE_TEST_BLAS_FALLBACK": "1"])
        #expect(r.stdout.contains("kernels: \(better), chosen by curate"), "\(r.stdout)\(r.stderr)")

        // Kernels that fail the self-check are not used: back to the fallback, with the reason.
        r = try await curate(["--version"], env: ["OPENBLAS_CORETYPE": "Prescott", "CURATE_TEST_BLAS_FALLBACK": "1",
                                                  "CURATE_TEST_BLAS_TOLERANCE": "-1"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("NO_AFFINITY Prescott "), "\(r.stdout)")
        #expect(r.stdout.contains("kernels: Prescott, as OpenBLAS detected this CPU: \(better) failed curate's self-check"), "\(r.stdout)")

        // The user's own OPENBLAS_CORETYPE is never overridden.
        r = try await curate(["--version"], env: ["OPENBLAS_CORETYPE": "Prescott"])
        #expect(r.stdout.contains("NO_AFFINITY Prescott ") && r.stdout.contains("kernels: Prescott, set by OPENBLAS_CORETYPE"), "\(r.stdout)")
    }

    @Test func theFallbackAndTheLoadedKernelsGiveTheSameVerdictsAndDescriptorsWithin1e4() async throws {
        let server = try await TestServer.start(dataRoot: Paths.shared)
        let dir = TempDir()
        var files: [String: [String]] = [:]
        for person in ["madonna", "mindy_kaling"] {
            files[person] = server.imagePaths(under: "faces/opencv_course_5celeb/\(person)").map { server.baseURL + $0 }
        }
        files["mindy_kaling", default: []].append(server.baseURL + "/files/group/opencv_course/group_2.jpg")
        let queries = dir.queries(files)
        let env = ["CURATE_MODELS": Paths.models.path]
        let fallback = dir.sub("prescott").path, loaded = dir.sub("loaded").path
        var r = try await curate(["fetch", "--query", queries.path, "--n", "40", "--no-process", "--workspace", fallback], env: env)
        #expect(r.status == 0, "\(r.stderr)")
        await server.stop()
        try FileManager.default.copyItem(atPath: fallback, toPath: loaded)

        r = try await curate(["process", "--workspace", fallback, "--quiet"], env: env.merging(["OPENBLAS_CORETYPE": "Prescott"]) { $1 })
        #expect(r.status == 0, "\(r.stderr)")
        r = try await curate(["process", "--workspace", loaded, "--quiet"], env: env)
        #expect(r.status == 0, "\(r.stderr)")

        let a = try Catalog.openExisting(Workspace(path: fallback)), b = try Catalog.openExisting(Workspace(path: loaded))
        let imagesA = try a.imagesToProcess(all: true).sorted { $0.sha256 < $1.sha256 }
        let imagesB = try b.imagesToProcess(all: true).sorted { $0.sha256 < $1.sha256 }
        #expect(imagesA.count == imagesB.count && imagesA.count > 40)
        var compared = 0
        var worst: Float = 0
        for (x, y) in zip(imagesA, imagesB) {
            #expect(x.sha256 == y.sha256)
            #expect(x.verdict == y.verdict && x.reason == y.reason, "\(x.sha256): \(String(describing: x.reason)) against \(String(describing: y.reason))")
            let facesA = try a.faces(of: x.id!), facesB = try b.faces(of: y.id!)
            #expect(facesA.count == facesB.count)
            #expect(facesA.map(\.chosen) == facesB.map(\.chosen))
            for (f, g) in zip(facesA, facesB) {
                guard let d = f.descriptorValues, let e = g.descriptorValues else { continue }
                worst = max(worst, zip(d, e).map { abs($0 - $1) }.max() ?? 0)
                compared += 1
            }
        }
        #expect(compared > 40)
        #expect(worst <= 1e-4, "descriptors differ by up to \(worst) between Prescott's kernels and \(BLASCore.loaded)'s")
    }
}
