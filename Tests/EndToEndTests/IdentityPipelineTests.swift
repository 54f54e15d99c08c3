// Identity checks through the real binary: a search shaped like a real one (the person's photos, planted
// intruders, the person beside a stranger) fetched from a local server, processed, listed, exported, reviewed.
import Curate
import Foundation
import Testing
import TestSupport
import TestServer

@Suite(.enabled(if: Paths.hasShared, Paths.sharedMissing), .timeLimit(.minutes(10)))
struct IdentityPipelineTests {
    let env = ["CURATE_MODELS": Paths.root.appendingPathComponent("dataset/models").path]

    static func photos(_ person: String) throws -> [URL] {
        let dir = Paths.data("faces/opencv_course_5celeb/\(person)")
        return try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted().map { dir.appendingPathComponent($0) }
    }

    @Test func intrudersAreCaughtPairsKeptAndSuspectsAndRunAnswersListed() async throws {
        // The photos the server serves: copies of real ones, and pairs composed here from real ones.
        let dir = TempDir()
        let served = try ServedFolder(dir, people: ["jerry", "mindy"])
        let jerry = try Self.photos("jerry_seinfeld"), mindy = try Self.photos("mindy_kaling")
        let elton = try Self.photos("elton_john"), madonna = try Self.photos("madonna")
        for (i, p) in jerry.prefix(16).enumerated() { try served.serve(p, as: "jerry/own_\(i).jpg") }
        for (i, p) in mindy.prefix(12).enumerated() { try served.serve(p, as: "mindy/own_\(i).\(p.pathExtension)") }
        try served.serve(mindy[13], as: "jerry/intruder_mindy.jpg")
        try served.serve(elton[0], as: "jerry/intruder_elton.jpg")
        func decode(_ url: URL) throws -> DecodedImage { try DecodedImage.decode([UInt8](try Data(contentsOf: url))) }
        try served.write(Data(try DecodedImage.sideBySide(try decode(jerry[20]), try decode(madonna[0])).jpeg(quality: 92)), as: "jerry/pair_left.jpg")
        try served.write(Data(try DecodedImage.sideBySide(try decode(elton[5]), try decode(jerry[21])).jpeg(quality: 92)), as: "jerry/pair_right.jpg")

        let fetched = try await ServedFetch.run(served.root, people: ["jerry", "mindy"], in: dir, env: env, timeout: 400)
        let (ws, rows) = (fetched.ws, fetched.rows)
        var r: ProcessResult
        func row(_ name: String) throws -> [String: Any] { try fetched.row(name) }
        let intruders = try ["jerry/intruder_mindy.jpg", "jerry/intruder_elton.jpg"].map(row)
        for i in intruders {
            #expect(i["verdict"] as? String == "rejected" && i["reason"] as? String == "wrong_person", "\(i)")
        }
        for name in ["jerry/pair_left.jpg", "jerry/pair_right.jpg"] {
            #expect(try row(name)["verdict"] as? String == "kept", "\(name)")
        }
        #expect(!rows.contains { ($0["label"] as? String) == "mindy" && ($0["reason"] as? String) == "wrong_person" })

        // Review lists the intruder that looks like mindy with mindy as the relabel it offers.
        r = try await curate(["review", "--list", "--json", "--reason", "wrong_person", "--workspace", ws], env: env)
        let waiting = try #require(try json(r.stdout) as? [[String: Any]])
        let likeMindy = try #require(waiting.first { $0["id"] as? Int == intruders[0]["id"] as? Int })
        #expect(likeMindy["looks_like"] as? String == "mindy")
        #expect((likeMindy["detail"] as? String)?.contains("looks like mindy (") == true)

        // Status: both identities are clear.
        r = try await curate(["status", "--json", "--workspace", ws], env: env)
        let status = try #require(try json(r.stdout) as? [[String: Any]])
        for s in status { #expect((s["identity"] as? [String: Any])?["clear"] as? Bool == true, "\(s)") }
        r = try await curate(["status", "--workspace", ws], env: env)
        #expect(r.stdout.contains("identity: clear ("))

        // Export holds no intruder.
        r = try await curate(["split", "--seed", "1", "--val", "0.3", "--min", "2", "--workspace", ws], env: env)
        #expect(r.status == 0, "\(r.stderr)")
        r = try await curate(["export", "--workspace", ws, "--quiet"], env: env)
        #expect(r.status == 0, "\(r.stderr)")
        let manifest = try String(contentsOf: dir.sub("ws/export/manifest.csv"), encoding: .utf8)
        for i in intruders { #expect(!manifest.contains(try #require(i["sha256"] as? String))) }
        #expect(manifest.contains(try #require(try row("jerry/pair_right.jpg")["sha256"] as? String)))

        // Suspects: the kept images farther than the suspect distance, farthest from their person first.
        r = try await curate(["review", "--suspects", "--list", "--json", "--workspace", ws], env: env)
        #expect(r.status == 0, "\(r.stderr)")
        let suspects = try #require(try json(r.stdout) as? [[String: Any]])
        let band = rows.filter { $0["verdict"] as? String == "kept" && ($0["detail"] as? String)?.contains(": a suspect") == true }
        #expect(Set(suspects.compactMap { $0["id"] as? Int }) == Set(band.compactMap { $0["id"] as? Int }))
        let distances = suspects.compactMap { $0["distance"] as? Double }
        #expect(distances.count == suspects.count && distances == distances.sorted(by: >), "\(distances)")
        #expect(suspects.allSatisfy { $0["verdict"] as? String == "kept" })
        #expect(suspects.allSatisfy { ($0["related"] as? [Int])?.isEmpty == false }, "suspects are shown beside typical faces")

        // A short training run is unsure of some validation faces: review --run lists exactly those it got wrong
        // (surest first) and then those it was unsure of (least sure first).
        r = try await curate(["train", "--model", "embed", "--epochs", "1", "--json", "--workspace", ws], env: env, timeout: 300)
        #expect(r.status == 0, "\(r.stderr)")
        let report = try #require(try json(r.stdout) as? [String: Any])
        let runId = try #require(report["run"] as? Int)
        let answers = try #require(report["validation"] as? [[String: Any]])
        func answer(_ a: [String: Any]) -> (Int, String, String, Double) {
            (a["image_id"] as? Int ?? 0, a["true"] as? String ?? "", a["predicted"] as? String ?? "", a["probability"] as? Double ?? 0)
        }
        let wrong = answers.map(answer).filter { $0.1 != $0.2 }.sorted { ($0.3, $1.0) > ($1.3, $0.0) }
        let unsure = answers.map(answer).filter { $0.1 == $0.2 && $0.3 < 0.6 }.sorted { ($0.3, $0.0) < ($1.3, $1.0) }
        try #require(!(wrong + unsure).isEmpty, "one epoch should leave the run unsure of something")
        r = try await curate(["review", "--run", "\(runId)", "--list", "--json", "--workspace", ws], env: env)
        #expect(r.status == 0, "\(r.stderr)")
        let listed = try #require(try json(r.stdout) as? [[String: Any]])
        #expect(listed.map { $0["id"] as? Int ?? 0 } == (wrong + unsure).map(\.0))
        #expect(listed.map { $0["predicted"] as? String ?? "" } == (wrong + unsure).map(\.2))
        r = try await curate(["review", "--run", "999", "--list", "--workspace", ws], env: env)
        #expect(r.status == 2 && r.stderr.contains("no training run #999"), "\(r.stderr)")
    }
}
