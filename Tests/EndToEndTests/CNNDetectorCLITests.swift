// `--detector cnn` through the binary: a second look at exactly the images HOG found no face in, once, recorded
// in the catalog and in `list --json`; refused with a clear message when its model file is missing.
import Catalog
import Foundation
import Testing
import TestServer
import TestSupport

@Suite(.enabled(if: Paths.hasShared, Paths.sharedMissing), .timeLimit(.minutes(10)))
struct CNNDetectorCLITests {
    @Test func theCNNLooksAgainAtTheImagesHOGFoundNoFaceInOnce() async throws {
        let shipped = Paths.root.appendingPathComponent("dataset/models")
        let needed = ["shape_predictor_5_face_landmarks.dat", "dlib_face_recognition_resnet_model_v1.dat", "mmod_human_face_detector.dat"]
        for name in needed {
            try #require(FileManager.default.fileExists(atPath: shipped.appendingPathComponent(name).path), "run scripts/setup.sh for \(name)")
        }
        let server = try await TestServer.start(dataRoot: Paths.shared)
        let dir = TempDir()
        let ws = dir.sub("ws").path
        let files = server.baseURL + "/files/"
        let queries = dir.queries([
            "madonna": [files + "faces/opencv_course_5celeb/madonna/train_7.jpg",       // HOG misses her face
                        files + "faces/opencv_course_5celeb/madonna/train_1.jpg"],      // HOG finds it
            "cats": [files + "nonface/opencv_course/cat.jpg"],
        ])
        let env = ["CURATE_MODELS": shipped.path]
        var r = try await curate(["fetch", "--query", queries.path, "--n", "5", "--workspace", ws], env: env, timeout: 120)
        #expect(r.status == 0, "\(r.stderr)")
        func rows() async throws -> [String: [String: Any]] {
            let r = try await curate(["list", "--json", "--workspace", ws])
            let list = try #require(try json(r.stdout) as? [[String: Any]])
            return Dictionary(uniqueKeysWithValues: list.map { (($0["source_url"] as! String).components(separatedBy: "/").suffix(2).joined(separator: "/"), $0) })
        }
        var before = try await rows()
        #expect(before["madonna/train_7.jpg"]?["reason"] as? String == "no_face")
        #expect(before["madonna/train_7.jpg"]?["detector"] as? String == "hog")
        #expect(before["madonna/train_1.jpg"]?["verdict"] as? String == "kept")
        #expect(before["opencv_course/cat.jpg"]?["reason"] as? String == "no_face")

        // Without the CNN's model file: refused before any work, naming the file and what to do.
        let partial = dir.sub("models")
        try FileManager.default.createDirectory(at: partial, withIntermediateDirectories: true)
        for name in needed.prefix(2) {
            try FileManager.default.createSymbolicLink(at: partial.appendingPathComponent(name), withDestinationURL: shipped.appendingPathComponent(name))
        }
        r = try await curate(["process", "--detector", "cnn", "--workspace", ws], env: ["CURATE_MODELS": partial.path])
        #expect(r.status == 2, "\(r.stderr)")
        #expect(r.stderr.contains("mmod_human_face_detector.dat") && r.stderr.contains("scripts/setup.sh"), "\(r.stderr)")
        #expect(try await rows()["madonna/train_7.jpg"]?["reason"] as? String == "no_face")

        // The second look: only the two no-face images, and the CNN finds her face.
        r = try await curate(["process", "--detector", "cnn", "--json", "--workspace", ws], env: env, timeout: 300)
        #expect(r.status == 0, "\(r.stderr)")
        let summary = try #require(try json(r.stdout) as? [String: Any])
        #expect(summary["processed"] as? Int == 2, "\(summary)")
        #expect(((summary["stages"] as? [String: Double])?["cnn"] ?? 0) > 0)
        let after = try await rows()
        #expect(after["madonna/train_7.jpg"]?["verdict"] as? String == "kept", "\(after)")
        #expect(after["madonna/train_7.jpg"]?["faces"] as? Int == 1)
        #expect(after["madonna/train_7.jpg"]?["detector"] as? String == "cnn")
        #expect(after["madonna/train_1.jpg"]?["detector"] as? String == "hog", "an image HOG found a face in is not looked at again")
        #expect(after["opencv_course/cat.jpg"]?["reason"] as? String == "no_face")
        #expect(after["opencv_course/cat.jpg"]?["detector"] as? String == "cnn")
        let catalog = try Catalog.openExisting(Workspace(path: ws))
        let cat = try #require(try catalog.images().first { $0.sourceUrl.hasSuffix("cat.jpg") })
        #expect(cat.detail?.contains("CNN") == true, "\(cat.detail ?? "nil")")

        // Looked at once: a later run with the CNN has nothing to do.
        r = try await curate(["process", "--detector", "cnn", "--json", "--workspace", ws], env: env, timeout: 300)
        #expect(r.status == 0, "\(r.stderr)")
        #expect((try json(r.stdout) as? [String: Any])?["processed"] as? Int == 0)
        before = try await rows()
        #expect(before["madonna/train_7.jpg"]?["verdict"] as? String == "kept")
    }
}
