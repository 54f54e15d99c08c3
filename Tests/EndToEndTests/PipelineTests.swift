// The whole path through the real binary: fetch five people's photos by direct URLs from a local server,
// process, split with a fixed seed, train, list runs, predict on a group photo; and the errors on the way.
import Catalog
import Curate
import Foundation
import Testing
import TestSupport
import TestServer

@Suite(.enabled(if: Paths.hasShared, Paths.sharedMissing), .timeLimit(.minutes(10)))
struct PipelineTests {
    static let people = ["ben_afflek", "elton_john", "jerry_seinfeld", "madonna", "mindy_kaling"]
    let env = ["CURATE_MODELS": Paths.models.path]

    @Test func fetchProcessSplitTrainPredict() async throws {
        let server = try await TestServer.start(dataRoot: Paths.shared)
        let dir = TempDir()
        let ws = dir.sub("ws").path
        var files: [String: [String]] = [:]
        for p in Self.people {
            files[p] = server.imagePaths(under: "faces/opencv_course_5celeb/\(p)").map { server.baseURL + $0 }
        }
        let queries = dir.queries(files)

        // Training before there is a split is a clear error.
        var r = try await curate(["fetch", "--query", queries.path, "--n", "100", "--workspace", ws, "--no-process"], env: env)
        #expect(r.status == 0, "\(r.stderr)")
        r = try await curate(["train", "--workspace", ws], env: env)
        #expect(r.status == 2)
        #expect(r.stderr.contains("no split yet: run `curate split` first"))
        r = try await curate(["predict", "--workspace", ws, Paths.data("single_face/opencv_course_lady.jpg").path], env: env)
        #expect(r.status == 2)
        #expect(r.stderr.contains("no finished training run"))

        r = try await curate(["process", "--workspace", ws], env: env, timeout: 300)
        #expect(r.status == 0, "\(r.stderr)")
        r = try await curate(["split", "--seed", "1", "--val", "0.25", "--workspace", ws], env: env)
        #expect(r.status == 0, "\(r.stderr)")

        // Transfer learning on the dlib descriptors: every person at least 90% on validation.
        r = try await curate(["train", "--model", "embed", "--json", "--workspace", ws], env: env, timeout: 300)
        #expect(r.status == 0, "\(r.stderr)")
        let report = try #require(try json(r.stdout) as? [String: Any])
        for key in ["run", "model", "accuracy", "macro_accuracy", "per_class", "confusion"] { #expect(report[key] != nil, "\(key)") }
        #expect(report["model"] as? String == "embed")
        let perClass = try #require(report["per_class"] as? [[String: Any]])
        #expect(perClass.map { $0["label"] as? String } == Self.people)
        for c in perClass {
            for key in ["label", "accuracy", "precision", "recall", "f1", "support"] { #expect(c[key] != nil, "\(key)") }
            #expect((c["accuracy"] as? Double ?? 0) >= 0.9, "\(c["label"] ?? "?"): \(c["accuracy"] ?? "?")")
        }
        let confusion = try #require(report["confusion"] as? [String: Any])
        #expect(confusion["labels"] as? [String] == Self.people)
        #expect((confusion["matrix"] as? [[Int]])?.count == 5)
        let runId = try #require(report["run"] as? Int)
        let folder = dir.sub("ws/runs/\(runId)")
        for name in ["model.pt", "model.json", "metrics.json", "report.html", "descriptors.bin"] {
            #expect(FileManager.default.fileExists(atPath: folder.appendingPathComponent(name).path), "\(name)")
        }
        let html = try String(contentsOf: folder.appendingPathComponent("report.html"), encoding: .utf8)
        #expect(html.contains("<svg") && html.contains("Confusion matrix") && !html.contains("<script"))

        // The same seed and data give the same answers: the same predicted classes and metrics, and probabilities
        // equal up to float rounding (another process may sum in another order).
        r = try await curate(["train", "--model", "embed", "--json", "--workspace", ws], env: env, timeout: 300)
        let again = try #require(try json(r.stdout) as? [String: Any])
        #expect(again["accuracy"] as? Double == report["accuracy"] as? Double)
        #expect((again["confusion"] as? [String: Any])?["matrix"] as? [[Int]] == confusion["matrix"] as? [[Int]])
        func answers(_ report: [String: Any]) -> [[String: Any]] { report["validation"] as? [[String: Any]] ?? [] }
        #expect(answers(again).map { $0["predicted"] as? String } == answers(report).map { $0["predicted"] as? String })
        let probabilities = answers(report).compactMap { $0["probability"] as? Double }
        let probabilitiesAgain = answers(again).compactMap { $0["probability"] as? Double }
        #expect(probabilities.count == answers(report).count && !probabilities.isEmpty)
        #expect(closeEnough(probabilitiesAgain, probabilities), "\(probabilitiesAgain) against \(probabilities)")

        // Saved and reloaded in this process, the model gives the best epoch's validation answers: the same classes,
        // the same probabilities up to float rounding (this process may run another number of threads).
        let catalog = try Catalog.openExisting(Workspace(path: ws))
        let set = try TrainingSet.load(catalog, model: .embed)
        let saved = try JSONDecoder().decode(SavedModel.self, from: Data(contentsOf: folder.appendingPathComponent("model.json")))
        let net = try TorchNetwork(saved.network, seed: 12345)
        try net.load(from: folder.appendingPathComponent("model.pt"))
        let reloaded = try net.predict(Inputs.embed(set.val).flatMap { $0 })
        let recorded = try #require(report["validation"] as? [[String: Any]])
        #expect(recorded.count == set.val.count)
        for (row, p) in zip(recorded, reloaded) {
            let best = p.indices.max { p[$0] < p[$1] }!
            #expect(row["predicted"] as? String == saved.labels[best])
            let recordedProbability = try #require((row["probability"] as? Double).map(Float.init))
            #expect(closeEnough([recordedProbability], [p[best]]), "recorded \(recordedProbability), reloaded \(p[best])")
        }

        r = try await curate(["runs", "--json", "--workspace", ws], env: env)
        let runs = try #require(try json(r.stdout) as? [[String: Any]])
        #expect(runs.count == 2)
        #expect(runs.allSatisfy { $0["status"] as? String == "done" })

        // A group photo of two validation faces, side by side: both found and named.
        r = try await curate(["list", "--json", "--workspace", ws], env: env)
        let rows = try #require(try json(r.stdout) as? [[String: Any]])
        // Each person's validation photo the model named right most surely: which photos land in validation
        // depends on the order fetch stored them in, and a photo the model itself got wrong would test nothing.
        let sure = Dictionary(answers(report).compactMap { a -> (Int64, Double)? in
            guard let id = (a["image_id"] as? NSNumber)?.int64Value, a["predicted"] as? String == a["true"] as? String,
                  let p = a["probability"] as? Double else { return nil }
            return (id, p)
        }, uniquingKeysWith: max)
        func valPhoto(_ label: String) throws -> DecodedImage {
            let row = try #require(rows.filter { $0["label"] as? String == label && $0["split"] as? String == "val" }
                .compactMap { r in ((r["id"] as? NSNumber)?.int64Value).flatMap { sure[$0] }.map { (r, $0) } }
                .max { $0.1 < $1.1 }?.0, "no validation photo of \(label) the model named right")
            return try DecodedImage.decode([UInt8](try Data(contentsOf: URL(fileURLWithPath: row["path"] as! String))))
        }
        let group = try DecodedImage.sideBySide(try valPhoto("elton_john"), try valPhoto("mindy_kaling"))
        let groupURL = dir.sub("group.jpg")
        try group.jpeg().write(to: groupURL)
        r = try await curate(["predict", groupURL.path, "--json", "--annotate", dir.sub("annotated.jpg").path, "--workspace", ws], env: env)
        #expect(r.status == 0, "\(r.stderr)")
        let photos = try #require(try json(r.stdout) as? [[String: Any]])
        let faces = try #require(photos.first?["faces"] as? [[String: Any]])
        #expect(faces.count == 2)
        let named = faces.sorted { (($0["box"] as? [String: Int])?["left"] ?? 0) < (($1["box"] as? [String: Int])?["left"] ?? 0) }
            .map { $0["label"] as? String }
        #expect(named == ["elton_john", "mindy_kaling"])
        #expect(faces.allSatisfy { ($0["top"] as? [Any])?.count == 3 })
        let annotated = try DecodedImage.decode([UInt8](try Data(contentsOf: dir.sub("annotated.jpg"))))
        #expect(annotated.width == group.width && annotated.height == group.height)

        // Text output, a stranger, a photo without a face, a missing run, a damaged model file.
        r = try await curate(["predict", groupURL.path, "--workspace", ws], env: env)
        #expect(r.stdout.contains("2 faces") && r.stdout.contains("elton_john"))
        r = try await curate(["predict", Paths.data("nonface/dlib/dog.jpg").path, "--workspace", ws], env: env)
        #expect(r.status == 1)
        #expect(r.stdout.contains("no face found"))
        r = try await curate(["predict", "--run", "99", groupURL.path, "--workspace", ws], env: env)
        #expect(r.status == 2)
        #expect(r.stderr.contains("no run 99"))
        r = try await curate(["predict", Paths.root.appendingPathComponent("README.md").path, "--workspace", ws], env: env)
        #expect(r.status == 2)
        #expect(r.stderr.contains("not an image"))
        // Every input a fuzzer found crashing the decoder is refused with a message naming it, or looked at.
        let regressions = Paths.root.appendingPathComponent("fuzz/regressions")
        for file in try FileManager.default.contentsOfDirectory(atPath: regressions.path).sorted() where !file.hasPrefix(".") {
            let path = regressions.appendingPathComponent(file).path
            r = try await curate(["predict", path, "--workspace", ws], env: env)
            #expect([0, 1, 2].contains(r.status), "\(file): status \(r.status) \(r.stderr)")
            #expect(r.status != 2 || r.stderr.contains(path), "\(file): \(r.stderr)")
        }
        try Data("damaged".utf8).write(to: folder.appendingPathComponent("model.pt"))
        r = try await curate(["predict", "--run", "\(runId)", groupURL.path, "--workspace", ws], env: env)
        #expect(r.status == 2)
        #expect(r.stderr.contains("cannot load the model"))
        await server.stop()
    }
}

