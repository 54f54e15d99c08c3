// The real binary on either BLAS: it says which one it loaded, works on Debian's reference BLAS (slower, with a
// note) with the same descriptors, keeps the HOG detector serialized beside the models, and rebuilds a damaged copy.
import Catalog
import Curate
import Foundation
import Testing
import TestServer
import TestSupport

@Suite(.enabled(if: Paths.hasShared, Paths.sharedMissing), .timeLimit(.minutes(10)))
struct BLASTests {
    /// Debian's reference BLAS and LAPACK, which these library paths put before the libblas.so.3 alternative.
    static let referenceBLAS = "/usr/lib/x86_64-linux-gnu/blas:/usr/lib/x86_64-linux-gnu/lapack"
    static var hasReferenceBLAS: Bool { FileManager.default.fileExists(atPath: "/usr/lib/x86_64-linux-gnu/blas/libblas.so.3") }
    /// Whether the system's libblas.so.3 is OpenBLAS (libopenblas0-pthread installed, as scripts/setup.sh does).
    static var systemIsOpenBLAS: Bool {
        URL(fileURLWithPath: "/usr/lib/x86_64-linux-gnu/libblas.so.3").resolvingSymlinksInPath().path.contains("openblas")
    }

    func json(_ text: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
    }

    @Test func eitherBLASGivesTheSameDescriptorsAndTheDetectorIsKeptBesideTheModels() async throws {
        let server = try await TestServer.start(dataRoot: Paths.shared)
        let dir = TempDir()
        let ws = dir.sub("ws").path
        // The model files linked into a folder of the test's own, so the detector's copy is made there.
        let models = dir.sub("models")
        try FileManager.default.createDirectory(at: models, withIntermediateDirectories: true)
        let shipped = Paths.root.appendingPathComponent("dataset/models")
        for name in ["shape_predictor_5_face_landmarks.dat", "dlib_face_recognition_resnet_model_v1.dat"] {
            let source = shipped.appendingPathComponent(name)
            try #require(FileManager.default.fileExists(atPath: source.path), "run scripts/setup.sh for \(name)")
            try FileManager.default.createSymbolicLink(at: models.appendingPathComponent(name), withDestinationURL: source)
        }
        let env = ["CURATE_MODELS": models.path]
        let queries = dir.queries(["lady": [server.baseURL + "/files/single_face/opencv_course_lady.jpg"]])
        var r = try await curate(["fetch", "--query", queries.path, "--n", "1", "--no-process", "--workspace", ws], env: env)
        #expect(r.status == 0, "\(r.stderr)")

        func processed(_ extra: [String: String]) async throws -> (summary: [String: Any], descriptor: [Float]) {
            let r = try await curate(["process", "--all", "--json", "--workspace", ws], env: env.merging(extra) { $1 }, timeout: 300)
            #expect(r.status == 0, "\(r.stderr)")
            let catalog = try Catalog.openExisting(Workspace(path: ws))
            let image = try #require(try catalog.imagesToProcess(all: true).first)
            let face = try #require(try catalog.faces(of: image.id!).first { $0.chosen })
            return (try json(r.stdout), try #require(face.descriptorValues))
        }

        let cache = models.appendingPathComponent("frontal_face_detector.dat")
        #expect(!FileManager.default.fileExists(atPath: cache.path))
        let (summary, descriptor) = try await processed([:])
        #expect(FileManager.default.fileExists(atPath: cache.path), "the first run keeps the detector beside the models")
        let stages = try #require(summary["stages"] as? [String: Double])
        for stage in ["decode", "hash", "detect", "landmarks", "descriptor", "files", "catalog"] {
            #expect((stages[stage] ?? 0) > 0, "\(stage) took no time")
        }
        // Derived files are renamed into place: no temporary file is left behind.
        let left = FileManager.default.enumerator(atPath: ws)?.compactMap { $0 as? String }.filter { $0.hasSuffix(".tmp") } ?? []
        #expect(left.isEmpty, "\(left)")

        r = try await curate(["--version"])
        if Self.systemIsOpenBLAS {
            #expect(r.stdout.contains("face descriptors on OpenBLAS"), "\(r.stdout)")
            #expect(!((summary["warnings"] as? [String]) ?? []).contains { $0.contains("reference BLAS") })
        }

        // A damaged copy of the detector is rebuilt, and nothing changes in the results.
        try Data("not a detector".utf8).write(to: cache)
        let again = try await processed([:])
        #expect(closeEnough(again.descriptor, descriptor), "the descriptor changed with a rebuilt detector")
        #expect(((try FileManager.default.attributesOfItem(atPath: cache.path)[.size] as? Int) ?? 0) > 10_000)

        // Without OpenBLAS: named, with what to do about it, and the same descriptor (up to float rounding).
        if Self.hasReferenceBLAS {
            r = try await curate(["--version"], env: ["LD_LIBRARY_PATH": Self.referenceBLAS])
            #expect(r.stdout.contains("face descriptors on reference BLAS"), "\(r.stdout)")
            #expect(r.stdout.contains("install libopenblas0-pthread"))
            // Slow only where dlib's convolutions run on it: with the bridge's own (AVX-512), only the last layer does.
            #expect(r.stdout.contains(BLAS.ownConvolutions ? "its convolutions: curate's own" : "its convolutions: dlib's"), "\(r.stdout)")
            let slow = try await processed(["LD_LIBRARY_PATH": Self.referenceBLAS])
            #expect(((slow.summary["warnings"] as? [String]) ?? []).contains { $0.contains("reference BLAS") } == !BLAS.ownConvolutions,
                    "\(slow.summary["warnings"] ?? [])")
            let distance = zip(slow.descriptor, descriptor).map { ($0 - $1) * ($0 - $1) }.reduce(0, +).squareRoot()
            #expect(distance < 1e-3, "descriptors differ by \(distance) between the two BLAS libraries")
        }
        await server.stop()
    }
}
