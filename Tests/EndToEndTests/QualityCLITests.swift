// Quality verdicts through the real binary, on real photos: each kept face's measures and flags in list --json,
// counted per person by status, walked by review --quality, measured for faces processed before quality was, and
// left out of training on request, with the report saying whether it helped.
import Catalog
import Curate
import Foundation
import GRDB
import Testing
import TestSupport

@Suite(.enabled(if: Paths.hasShared, Paths.sharedMissing), .timeLimit(.minutes(10)))
struct QualityCLITests {
    let env = ["CURATE_MODELS": Paths.models.path]
    static let celebs = "faces/opencv_course_5celeb"

    /// A real photo with every pixel at a fifth of its level: an underexposed copy (no photo of ../shared/data is).
    static func darkened(_ file: String) throws -> [UInt8] {
        let image = try DecodedImage.decode(try Paths.bytes(file))
        var pixels: [UInt8] = []
        image.withPixels { p, stride in
            for y in 0..<image.height { for x in 0..<(image.width * 3) { pixels.append(UInt8(Double(p[y * stride + x]) * 0.2)) } }
        }
        return [UInt8](try DecodedImage.fromBGR(pixels, width: image.width, height: image.height).jpeg(quality: 92))
    }

    @Test func flagsAreListedCountedWalkedFilledInAndLeftOutOfTraining() async throws {
        let f = try Fixture()
        let ws = f.workspace.root.path
        for person in ["ben_afflek", "madonna", "mindy_kaling"] {
            let files = try FileManager.default.contentsOfDirectory(atPath: Paths.data("\(Self.celebs)/\(person)").path).sorted()
            for file in files where !(person == "ben_afflek" && file == "val_1.jpg") {
                try f.catalog.storeAsFetched(person, file: "\(Self.celebs)/\(person)/\(file)")
            }
        }
        try f.catalog.storeAsFetched("ben_afflek", try Self.darkened("\(Self.celebs)/ben_afflek/val_1.jpg"), name: "val_1_dark.jpg")
        var r = try await curate(["process", "--workspace", ws, "--quiet"], env: env, timeout: 600)
        #expect(r.status == 0, "\(r.stderr)")

        // Each kept face's measures and flags, as looked at on these photos when the thresholds were chosen.
        r = try await curate(["list", "--json", "--workspace", ws], env: env)
        let listed = try jsonRows(r.stdout)
        func row(_ name: String) throws -> [String: Any] {
            try #require(listed.first { ($0["source_url"] as? String)?.hasSuffix("/" + name) == true }, "\(name)")
        }
        func flags(_ row: [String: Any]) -> Set<String> { Set(((row["quality"] as? [String: Any])?["flags"] as? [String]) ?? []) }
        let expected: [(String, String)] = [("mindy_kaling/train_10.jpg", "blurry"), ("mindy_kaling/train_10.jpg", "small"),
                                            ("ben_afflek/train_3.jpg", "small"), ("ben_afflek/train_1.jpg", "turned"),
                                            ("madonna/val_2.jpg", "overexposed"), ("ben_afflek/val_1_dark.jpg", "dark")]
        for (name, flag) in expected {
            let r = try row(name)
            #expect(flags(r).contains(flag), "\(name): \(r["quality"] ?? "none")")
        }
        let kept = listed.filter { $0["verdict"] as? String == "kept" }
        #expect(kept.allSatisfy { $0["quality"] is [String: Any] }, "every kept face is measured")
        let flagged = kept.filter { !flags($0).isEmpty }
        #expect(flagged.count * 4 < kept.count, "most faces are fine: \(flagged.count) of \(kept.count) flagged")
        let sharp = try #require((try row("ben_afflek/train_5.jpg")["quality"] as? [String: Any])?["sharpness"] as? Double)
        #expect(sharp > 100)

        // Status counts each flag per person over the kept faces.
        r = try await curate(["status", "--json", "--workspace", ws], env: env)
        for s in try jsonRows(r.stdout) {
            let label = try #require(s["label"] as? String)
            let quality = try #require(s["quality"] as? [String: Any], "\(s)")
            let mine = kept.filter { $0["label"] as? String == label }
            #expect(quality["measured"] as? Int == mine.count)
            for flag in QualityFlag.allCases.map(\.rawValue) {
                #expect((quality["flags"] as? [String: Int])?[flag] == mine.filter { flags($0).contains(flag) }.count, "\(label) \(flag)")
            }
        }
        r = try await curate(["status", "--workspace", ws], env: env)
        #expect(r.stdout.contains("    quality: small "), "\(r.stdout)")

        // review --quality walks the flagged kept faces, with their figures; --flag picks one flag.
        r = try await curate(["review", "--quality", "--list", "--json", "--workspace", ws], env: env)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(Set(try jsonRows(r.stdout).compactMap { $0["id"] as? Int }) == Set(flagged.compactMap { $0["id"] as? Int }))
        r = try await curate(["review", "--quality", "--flag", "dark", "--list", "--workspace", ws], env: env)
        #expect(r.stdout.split(separator: "\n").count == kept.filter { flags($0).contains("dark") }.count, "\(r.stdout)")
        #expect(r.stdout.contains("dark (mean "), "\(r.stdout)")
        r = try await curate(["review", "--flag", "dark", "--list", "--workspace", ws], env: env)
        #expect(r.status == 64 && r.stderr.contains("--flag filters --quality"), "\(r.stderr)")

        // A catalog from before quality was measured (the columns the migration adds are empty): `process` measures
        // its faces from their chips, to the same figures.
        try await f.catalog.db.write { db in
            try db.execute(sql: "UPDATE face SET sharpness = NULL, brightness = NULL, darkFraction = NULL, brightFraction = NULL, yaw = NULL")
        }
        r = try await curate(["list", "--json", "--workspace", ws], env: env)
        let emptied = try jsonRows(r.stdout)
        #expect(emptied.allSatisfy { $0["quality"] is NSNull })
        r = try await curate(["process", "--workspace", ws, "--quiet"], env: env, timeout: 600)
        #expect(r.status == 0, "\(r.stderr)")
        r = try await curate(["list", "--json", "--workspace", ws], env: env)
        let again = try jsonRows(r.stdout).filter { $0["verdict"] as? String == "kept" }
        #expect(again.map(flags) == kept.map(flags))
        for (a, b) in zip(again, kept) {
            let (qa, qb) = (a["quality"] as? [String: Any], b["quality"] as? [String: Any])
            // The chip file is a JPEG (quality 95) of the chip measured the first time: near, not equal.
            #expect(abs((qa?["sharpness"] as? Double ?? 0) - (qb?["sharpness"] as? Double ?? 0)) <= 0.15 * (qb?["sharpness"] as? Double ?? 1) + 2)
            #expect(abs((qa?["brightness"] as? Double ?? 0) - (qb?["brightness"] as? Double ?? 0)) < 2)
            #expect(qa?["size"] as? Int == qb?["size"] as? Int && qa?["yaw"] as? Double == qb?["yaw"] as? Double)
        }

        // Training leaves flagged faces out of its training side, and says whether that helped against a run that
        // kept them on the same validation faces.
        r = try await curate(["split", "--seed", "1", "--val", "0.3", "--min", "2", "--workspace", ws, "--quiet"], env: env)
        #expect(r.status == 0, "\(r.stderr)")
        let train = ["train", "--model", "embed", "--epochs", "20", "--json", "--workspace", ws]
        r = try await curate(train + ["--leave-out", "foggy"], env: env)
        #expect(r.status == 64 && r.stderr.contains("unknown flag \"foggy\""), "\(r.stderr)")
        r = try await curate(train + ["--leave-out", "all"], env: env, timeout: 300)
        #expect(r.status == 0, "\(r.stderr)")
        var report = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        var quality = try #require(report["quality"] as? [String: Any])
        #expect(quality["helped"] is NSNull && (quality["summary"] as? String)?.contains("train once without --leave-out") == true, "\(quality)")
        let leftOut = try #require(quality["left_out"] as? Int)
        #expect(leftOut > 0 && leftOut < flagged.count, "only training faces are left out: \(leftOut) of \(flagged.count) flagged")
        r = try await curate(train, env: env, timeout: 300)
        #expect(r.status == 0, "\(r.stderr)")
        let all = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        #expect(all["quality"] is NSNull)
        #expect((all["train_images"] as? Int ?? 0) == (report["train_images"] as? Int ?? 0) + leftOut)
        r = try await curate(train + ["--leave-out", "small,blurry,dark,overexposed,turned"], env: env, timeout: 300)
        report = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        quality = try #require(report["quality"] as? [String: Any])
        #expect(quality["baseline_run"] as? Int == all["run"] as? Int, "\(quality)")
        #expect(quality["helped"] as? Bool == ((report["accuracy"] as? Double ?? 0) > (all["accuracy"] as? Double ?? 0)), "\(quality)")
        #expect((quality["summary"] as? String)?.contains("with them (run \(all["run"] as? Int ?? 0))") == true, "\(quality)")
    }
}
