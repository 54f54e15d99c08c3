// `status` reads each person's identity where the identity stage stored it, and finds it again only for the people
// whose rows changed since: what it prints must be what every row gives, after processing, each kind of review
// decision, an undo, processing again and a merge.
import Catalog
import Curate
import Foundation
import Testing
import TestSupport

@Suite(.enabled(if: Paths.hasShared, Paths.sharedMissing), .timeLimit(.minutes(15)))
struct StoredIdentityTests {
    let env = MergeCheck.env

    struct StatusPerson: Decodable {
        var label: String
        var identity: IdentitySummary?
    }

    /// Checks that `status --json` prints the identities found afresh from every row, and returns the people
    /// whose stored identity was missing (found again by status).
    @discardableResult
    func statusIsWhatTheRowsGive(_ ws: String, _ when: String) async throws -> [String] {
        let r = try await curate(["status", "--json", "--workspace", ws], env: env)
        #expect(r.status == 0, "\(when): \(r.stderr)")
        let printed = try JSONDecoder().decode([StatusPerson].self, from: Data(r.stdout.utf8))
        let catalog = try Catalog.openForReading(Workspace(path: ws))
        let fresh = try IdentityIndex(catalog: catalog).summaries()
        #expect(printed.map(\.label) == fresh.map(\.label), "\(when)")
        #expect(printed.compactMap(\.identity) == fresh, "\(when)")
        let labels = try catalog.labels()
        return try catalog.storedIdentities(options: IdentityOptions().storeKey).missing.compactMap { labels[$0] }.sorted()
    }

    /// A processed, finished shard of photos of ../shared/data, each stored under a name unique across folders.
    func shard(_ ws: String, _ people: [String: [String]]) async throws {
        do {
            let workspace = Workspace(path: ws)
            try workspace.prepare()
            let catalog = try Catalog.open(workspace)
            for (label, files) in people.sorted(by: { $0.key < $1.key }) {
                for f in files { try catalog.storeAsFetched(label, try Paths.bytes(f), name: f.replacingOccurrences(of: "/", with: "_")) }
            }
        }
        var r = try await curate(["process", "--workspace", ws, "--quiet"], env: env, timeout: 300)
        #expect(r.status == 0, "\(r.stderr)")
        r = try await curate(["shard-done", "--workspace", ws, "--quiet"], env: env)
        #expect(r.status == 0, "\(r.stderr)")
    }

    func photos(_ person: String, _ range: Range<Int>) throws -> [String] {
        let dir = "faces/opencv_course_5celeb/\(person)"
        return Array(try FileManager.default.contentsOfDirectory(atPath: Paths.data(dir).path).sorted()[range]).map { "\(dir)/\($0)" }
    }

    @Test func statusIdentitiesAreWhatTheRowsGiveAfterEveryChange() async throws {
        let dir = TempDir()
        let a = dir.sub("a").path, b = dir.sub("b").path
        // jerry with two of elton's photos planted (wrong_person) and a group photo (multi_face); mindy alone.
        try await shard(a, [
            "jerry": try photos("jerry_seinfeld", 0..<8) + photos("elton_john", 0..<2) + ["group/dlib_voc/2008_001009.jpg"],
            "mindy": try photos("mindy_kaling", 0..<6),
        ])
        var missing = try await statusIsWhatTheRowsGive(a, "after process")
        #expect(missing.isEmpty, "the stage stored every person's identity: \(missing)")

        let catalog = try Catalog.openForReading(Workspace(path: a))
        let labels = try catalog.labels()
        let images = try catalog.images()
        func ids(_ label: String, _ test: (StoredImage) -> Bool) -> [Int64] {
            images.filter { labels[$0.personId] == label && test($0) }.map { $0.id! }
        }
        let planted = ids("jerry") { $0.reason == .wrongPerson }
        let kept = ids("jerry") { $0.verdict == .kept }
        let group = ids("jerry") { $0.reason == .multiFace }
        try #require(planted.count == 2 && kept.count >= 6 && group.count == 1, "\(images.map { ($0.id!, $0.reason?.rawValue ?? "kept") })")

        // Each kind of decision changes the rows identity is found from; status finds that person's again.
        for (args, who) in [(["--reject", "\(kept[0])"], ["jerry"]), (["--accept", "\(planted[0])"], ["jerry"]),
                            (["--face", "\(group[0]):1"], ["jerry"]), (["--relabel", "\(planted[1]):mindy"], ["jerry", "mindy"])] {
            let r = try await curate(["review"] + args + ["--workspace", a], env: env)
            #expect(r.status == 0, "\(args): \(r.stderr)")
            missing = try await statusIsWhatTheRowsGive(a, "after review \(args)")
            #expect(missing == who, "\(args)")
        }
        var r = try await curate(["review", "--undo", "--workspace", a], env: env)
        #expect(r.status == 0, "\(r.stderr)")
        try await statusIsWhatTheRowsGive(a, "after an undo")

        // Processing again stores them all anew.
        r = try await curate(["process", "--workspace", a, "--quiet"], env: env, timeout: 300)
        #expect(r.status == 0, "\(r.stderr)")
        missing = try await statusIsWhatTheRowsGive(a, "after processing again")
        #expect(missing.isEmpty, "\(missing)")
        // Identities stored by older rules (another IdentityOptions.rules) are found again, never read.
        try await offPool {
            let writable = try Catalog.open(Workspace(path: a))
            try writable.db.write { db in
                try db.execute(sql: """
                    UPDATE identityState SET options = replace(options, 'rules \(IdentityOptions.rules) ', 'rules \(IdentityOptions.rules + 1) ')
                    WHERE personId IN (SELECT id FROM person WHERE label = 'mindy')
                    """)
            }
        }
        missing = try await statusIsWhatTheRowsGive(a, "after older rules")
        #expect(missing == ["mindy"], "\(missing)")
        r = try await curate(["process", "--workspace", a, "--quiet"], env: env, timeout: 300)
        #expect(r.status == 0, "\(r.stderr)")
        r = try await curate(["shard-done", "--workspace", a, "--quiet"], env: env)
        #expect(r.status == 0, "\(r.stderr)")

        // Merged with a shard holding more of jerry (and the same photo under mindy): identity runs across both.
        try await shard(b, ["jerry": try photos("jerry_seinfeld", 8..<12), "mindy": try photos("jerry_seinfeld", 0..<1)])
        let merged = dir.sub("merged").path
        r = try await curate(["merge", "--workspace", merged, a, b], env: env, timeout: 300)
        #expect(r.status == 0, "\(r.stderr)")
        missing = try await statusIsWhatTheRowsGive(merged, "after merge")
        #expect(missing.isEmpty, "\(missing)")
    }
}
