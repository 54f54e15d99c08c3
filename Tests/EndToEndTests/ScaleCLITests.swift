// What the commands print stays the same when they read a large catalog differently: `list --json` streamed row by
// row prints the bytes the whole array printed, and `status` counts from the covering indices what it counted before.
import Catalog
import Curate
import Foundation
import GRDB
import Testing
import TestSupport

@Suite(.timeLimit(.minutes(2)))
struct ScaleCLITests {
    /// What `curate` printed for a JSON value before streaming: the whole value encoded at once, and a newline.
    func whole<T: Encodable>(_ value: T) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        return String(decoding: try encoder.encode(value), as: UTF8.self) + "\n"
    }

    @Test func listJSONStreamedIsTheWholeArrayByteForByte() async throws {
        let f = try Fixture()
        let ws = f.workspace.root.path
        var r = try await curate(["list", "--json", "--workspace", ws])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout == (try whole([ImageRow]())), "an empty catalog")
        // Two people, rows with nulls and without, strings that need escaping.
        for (label, n) in [("Zoë \"Z\" Ünal", 3), ("ada/lovelace", 117)] {
            for i in 0..<n { _ = try f.catalog.storeAsFetched(label, Array("bytes of \(label) \(i)\n".utf8), name: "p\(i).jpg") }
        }
        try await f.catalog.db.write { db in
            try db.execute(sql: "UPDATE image SET verdict = 'rejected', reason = 'no_face', faces = 0, detector = 'hog' WHERE id % 3 = 0")
            try db.execute(sql: """
                UPDATE image SET verdict = 'kept', faces = 1, split = 'val', reference = 1, license = 'CC BY 4.0',
                    creator = 'a "quoted" \\ creator' || char(10) || 'on two lines, é/ü' WHERE id % 5 = 1
                """)
            // Twenty copies of each row under other hashes: 2,520 rows, printed a thousand at a time.
            try db.execute(sql: """
                WITH RECURSIVE k(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM k WHERE n < 20)
                INSERT INTO image (personId, sha256, path, bytes, format, sourceUrl, provider, term, license, creator, createdAt,
                                   faces, verdict, reason, reviewed, split, reference, detector)
                SELECT personId, sha256 || '-' || n, path, bytes, format, sourceUrl || '?' || n, provider, term, license, creator,
                       createdAt, faces, verdict, reason, reviewed, split, reference, detector FROM image, k
                """)
        }
        let rows = try Listing.rows(f.catalog)
        #expect(rows.count == 2_520)
        r = try await curate(["list", "--json", "--workspace", ws])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout == (try whole(rows)))
        r = try await curate(["list", "--json", "--person", "ADA/lovelace", "--reason", "no_face", "--workspace", ws])
        #expect(r.status == 0, "\(r.stderr)")
        let some = try Listing.rows(f.catalog, person: "ada/lovelace", reason: "no_face")
        #expect(some.count == 39 * 21)
        #expect(r.stdout == (try whole(some)))
        r = try await curate(["list", "--json", "--person", "nobody", "--workspace", ws])
        #expect(r.status == 2 && r.stdout.isEmpty, "an unknown person prints no half array")
    }
}
