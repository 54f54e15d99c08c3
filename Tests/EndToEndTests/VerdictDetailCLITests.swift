// What identity says through the real binary, on real photos: a wrong_person detail names someone only when the face
// is within that person's identity and says which face it judged; `review --suspects` lists the suspects alone, and
// `status` and `list --json` say the same.
import Catalog
import Foundation
import Testing
import TestSupport

@Suite(.enabled(if: Paths.hasShared, Paths.sharedMissing), .timeLimit(.minutes(10)))
struct VerdictDetailCLITests {
    let env = ["CURATE_MODELS": Paths.models.path]
    static let celebs = "faces/opencv_course_5celeb"

    /// Jerry Seinfeld's, Ben Affleck's and Madonna's photos, with one of Elton John's planted under ben: Elton is not
    /// in the workspace, and his face (elton_john/train_5.jpg) is 0.58 from the centre of Jerry's 27 photos, under
    /// `--identity-distance` but not within Jerry's identity (Jerry's own photos are 0.32 from it at the median).
    /// Madonna's train_11.jpg is 0.56 from hers: a suspect.
    func workspace() throws -> (Fixture, intruder: Int64) {
        let f = try Fixture()
        for person in ["jerry_seinfeld", "ben_afflek", "madonna"] {
            let files = try FileManager.default.contentsOfDirectory(atPath: Paths.data("\(Self.celebs)/\(person)").path).sorted()
            for file in files { try f.catalog.storeAsFetched(person, file: "\(Self.celebs)/\(person)/\(file)") }
        }
        let intruder = try #require(try f.catalog.storeAsFetched("madonna", try Paths.bytes("\(Self.celebs)/elton_john/train_14.jpg"),
                                                                       name: "elton_train_14.jpg"))
        return (f, intruder)
    }

    /// One workspace processed once (70 photos), two checks.
    @Test func identitySaysWhatWasDecidedAndOnlyWhatIsKnown() async throws {
        let (f, intruder) = try workspace()
        let ws = f.workspace.root.path
        let r = try await curate(["process", "--workspace", ws, "--quiet"], env: env, timeout: 600)
        #expect(r.status == 0, "\(r.stderr)")
        try await aStrangerIsNamedNoOneAndTheDetailSaysWhichFaceWasJudged(ws, intruder: intruder)
        try await suspectsAreListedAloneAndCountedByStatus(ws)
        try await exportLeavesOutTheSuspectsOnlyWhenAsked(ws)
    }

    func aStrangerIsNamedNoOneAndTheDetailSaysWhichFaceWasJudged(_ ws: String, intruder: Int64) async throws {
        var r: ProcessResult

        r = try await curate(["list", "--json", "--person", "madonna", "--workspace", ws], env: env)
        #expect(r.status == 0, "\(r.stderr)")
        let row = try #require(try jsonRows(r.stdout).first { $0["id"] as? Int == Int(intruder) })
        #expect(row["reason"] as? String == "wrong_person", "\(row)")
        let detail = try #require(row["detail"] as? String, "\(row)")
        #expect(!detail.contains("looks like"), "\(detail)")
        #expect(detail.contains("matches no one in the workspace"), "\(detail)")
        // Which face it judged: its size, as list's box gives it, and that it was the only face found.
        let box = try #require(row["face"] as? [String: Any], "\(row)")
        let (width, height) = (try #require(box["right"] as? Int) - (box["left"] as? Int ?? 0),
                               try #require(box["bottom"] as? Int) - (box["top"] as? Int ?? 0))
        #expect(detail.contains("for its only face found (\(width)×\(height) px)"), "\(detail) vs \(box)")
        #expect(row["detected"] as? Int == 1 && row["chosen_among_several"] as? Bool == false, "\(row)")
        #expect((row["distance"] as? Double ?? 0) > 0.6, "\(row)")

        // Review offers no one as the relabel.
        r = try await curate(["review", "--list", "--json", "--reason", "wrong_person", "--workspace", ws], env: env)
        let waiting = try #require(try jsonRows(r.stdout).first { $0["id"] as? Int == Int(intruder) })
        #expect(waiting["looks_like"] is NSNull, "\(waiting)")
    }

    func suspectsAreListedAloneAndCountedByStatus(_ ws: String) async throws {
        var r: ProcessResult

        r = try await curate(["list", "--json", "--workspace", ws], env: env)
        let listed = try jsonRows(r.stdout)
        let kept = listed.filter { $0["verdict"] as? String == "kept" }
        // The band: kept faces farther than 0.50 from their person (the detail says so; two decimals cannot).
        let band = kept.filter { ($0["detail"] as? String)?.contains(": a suspect") == true }
        #expect(band.allSatisfy { ($0["distance"] as? Double ?? 0) >= 0.5 && $0["reviewed"] as? Bool == false }, "\(band)")
        // (A face in the band that more evidence settled is no suspect: "the person by more evidence".)
        #expect(kept.filter { ($0["distance"] as? Double ?? 0) > 0.505
            && ($0["detail"] as? String)?.contains("the person by more evidence") != true }.count <= band.count)
        try #require(!band.isEmpty && band.count < kept.count, "\(band.count) of \(kept.count) kept in the band")
        #expect(band.contains { ($0["source_url"] as? String)?.hasSuffix("/madonna/train_11.jpg") == true })

        r = try await curate(["review", "--suspects", "--list", "--json", "--workspace", ws], env: env)
        #expect(r.status == 0, "\(r.stderr)")
        let suspects = try jsonRows(r.stdout)
        #expect(Set(suspects.compactMap { $0["id"] as? Int }) == Set(band.compactMap { $0["id"] as? Int }), "\(suspects) vs \(band)")
        let distances = suspects.compactMap { $0["distance"] as? Double }
        #expect(distances == distances.sorted(by: >), "\(distances)")
        r = try await curate(["review", "--suspects", "--list", "--workspace", ws], env: env)
        let lines = r.stdout.split(separator: "\n")
        #expect(lines.count == band.count, "\(r.stdout)")
        #expect(lines.allSatisfy { $0.contains("a suspect") }, "each with its detail: \(r.stdout)")

        r = try await curate(["status", "--json", "--workspace", ws], env: env)
        let status = try jsonRows(r.stdout)
        for s in status {
            let label = try #require(s["label"] as? String)
            let expected = band.filter { $0["label"] as? String == label }.count
            #expect((s["identity"] as? [String: Any])?["suspects"] as? Int == expected, "\(label): \(s)")
        }
        r = try await curate(["status", "--workspace", ws], env: env)
        let madonna = band.filter { $0["label"] as? String == "madonna" }.count
        #expect(r.stdout.contains("suspects: \(madonna) (curate review --suspects)"), "\(r.stdout)")
    }

    /// A plain export includes the suspects and says how many the workspace has; `--leave-out-suspects` exports
    /// every other kept face and none of them; a suspect a reviewer keeps is exported by the next such export.
    func exportLeavesOutTheSuspectsOnlyWhenAsked(_ ws: String) async throws {
        var r = try await curate(["list", "--json", "--workspace", ws], env: env)
        let kept = try jsonRows(r.stdout).filter { $0["verdict"] as? String == "kept" }
        r = try await curate(["review", "--suspects", "--list", "--json", "--workspace", ws], env: env)
        let suspectIds = Set(try jsonRows(r.stdout).compactMap { $0["id"] as? Int })
        try #require(!suspectIds.isEmpty)
        func sha(_ id: Int) -> String { kept.first { $0["id"] as? Int == id }?["sha256"] as? String ?? "?" }
        r = try await curate(["split", "--val", "0.2", "--seed", "1", "--workspace", ws, "--quiet"], env: env)
        #expect(r.status == 0, "\(r.stderr)")
        func exported(_ dir: String) throws -> Set<String> {
            let csv = try String(contentsOfFile: "\(ws)/\(dir)/manifest.csv", encoding: .utf8)
            return Set(csv.split(separator: "\n").dropFirst().map { String($0.split(separator: ",")[3]) })
        }
        let every = Set(kept.compactMap { $0["sha256"] as? String })

        r = try await curate(["export", "--workspace", ws], env: env)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("note: \(suspectIds.count) suspect(s) in the workspace"), "\(r.stderr)")
        #expect(try exported("export") == every)
        let card = try String(contentsOfFile: "\(ws)/export/README.md", encoding: .utf8)
        #expect(card.contains("The workspace has \(suspectIds.count) suspect"), "\(card)")

        r = try await curate(["export", "--leave-out-suspects", "--out", "\(ws)/sure", "--json", "--workspace", ws], env: env)
        #expect(r.status == 0, "\(r.stderr)")
        let summary = try #require(try json(r.stdout) as? [String: Any])
        #expect(summary["suspects"] as? Int == suspectIds.count && summary["suspectsLeftOut"] as? Bool == true, "\(summary)")
        #expect(try exported("sure") == every.subtracting(suspectIds.map(sha)))
        #expect(try String(contentsOfFile: "\(ws)/sure/README.md", encoding: .utf8).contains("left out (`--leave-out-suspects`)"))

        // A reviewer keeps one suspect: it is no suspect any more, and the next export has it.
        let settled = try #require(suspectIds.min())
        r = try await curate(["review", "--accept", "\(settled)", "--workspace", ws], env: env)
        #expect(r.status == 0, "\(r.stderr)")
        r = try await curate(["export", "--leave-out-suspects", "--out", "\(ws)/sure", "--workspace", ws], env: env)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(try exported("sure") == every.subtracting(suspectIds.subtracting([settled]).map(sha)))
    }
}
