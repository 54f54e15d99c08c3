// Per-person counts for `curate status`, computed by SQL aggregates.
import GRDB

public struct PersonCounts: Codable, Sendable, Equatable {
    public var label: String
    /// Image rows by verdict (pending, kept, rejected).
    public var images: [String: Int]
    /// Rejected images by reason code.
    public var reasons: [String: Int]
    /// URLs by attempt state (queued, stored, duplicate, failed).
    public var attempts: [String: Int]
    /// Failed URLs by failure code.
    public var failures: [String: Int]
    /// Terms by state.
    public var terms: [String: Int]
    /// Images by split (train, val, test), once split.
    public var splits: [String: Int]
    /// Images marked as the person's reference portrait (from Wikidata).
    public var references: Int

    public var stored: Int { images.values.reduce(0, +) }
}

extension Catalog {
    public func counts() throws -> [PersonCounts] {
        try db.read { db in
            let people = try Person.order(Person.Columns.label).fetchAll(db)
            func grouped(_ sql: String) throws -> [Int64: [String: Int]] {
                var out: [Int64: [String: Int]] = [:]
                for row in try Row.fetchAll(db, sql: sql) {
                    let key: String? = row[1]
                    out[row[0], default: [:]][key ?? "none"] = row[2]
                }
                return out
            }
            // One pass over each table's covering index (migration v11), however many people: a million images
            // are a million index entries read in order, not a table scan and a sort per count.
            var images: [Int64: [String: Int]] = [:], reasons: [Int64: [String: Int]] = [:], splits: [Int64: [String: Int]] = [:]
            var references: [Int64: Int] = [:]
            let imageRows = try Row.fetchCursor(db, sql: """
                SELECT personId, verdict, reason, split, reference, COUNT(*) FROM image GROUP BY 1, 2, 3, 4, 5
                """)
            while let row = try imageRows.next() {
                let personId: Int64 = row[0], verdict: String = row[1], count: Int = row[5]
                images[personId, default: [:]][verdict, default: 0] += count
                if verdict == Verdict.rejected.rawValue { reasons[personId, default: [:]][(row[2] as String?) ?? "none", default: 0] += count }
                // What training and export take: an image rejected after the split (wrong_person) keeps its column
                // until the next split but is on no side.
                if let split: String = row[3], verdict == Verdict.kept.rawValue { splits[personId, default: [:]][split, default: 0] += count }
                if row[4] as Bool { references[personId, default: 0] += count }
            }
            var attempts: [Int64: [String: Int]] = [:], failures: [Int64: [String: Int]] = [:]
            let attemptRows = try Row.fetchCursor(db, sql: """
                SELECT personId, state, failure, COUNT(*) FROM attempt GROUP BY 1, 2, 3
                """)
            while let row = try attemptRows.next() {
                let personId: Int64 = row[0], state: String = row[1], count: Int = row[3]
                attempts[personId, default: [:]][state, default: 0] += count
                if state == AttemptState.failed.rawValue { failures[personId, default: [:]][(row[2] as String?) ?? "none", default: 0] += count }
            }
            let terms = try grouped("SELECT personId, state, COUNT(*) FROM term GROUP BY 1, 2")
            return people.map { p in
                let id = p.id!
                return PersonCounts(label: p.label, images: images[id] ?? [:], reasons: reasons[id] ?? [:],
                                    attempts: attempts[id] ?? [:], failures: failures[id] ?? [:],
                                    terms: terms[id] ?? [:], splits: splits[id] ?? [:], references: references[id] ?? 0)
            }
        }
    }
}

/// What one term (source) gave a person: images stored through it, and how many of those processing kept.
public struct TermYield: Sendable, Equatable {
    public var stored = 0
    public var kept = 0
    public init(stored: Int = 0, kept: Int = 0) {
        self.stored = stored
        self.kept = kept
    }
}

extension Catalog {
    /// Stored and kept images of a person per term, through the attempt that stored each image (an image whose
    /// attempt has no term, e.g. a term removed since, is under nil).
    public func yields(of personId: Int64) throws -> [Int64?: TermYield] {
        try db.read { db in
            var out: [Int64?: TermYield] = [:]
            let rows = try Row.fetchAll(db, sql: """
                SELECT attempt.termId, image.verdict, COUNT(*) FROM image LEFT JOIN attempt ON attempt.id = image.attemptId
                WHERE image.personId = ? GROUP BY 1, 2
                """, arguments: [personId])
            for row in rows {
                let termId: Int64? = row[0]
                let verdict: String = row[1]
                let count: Int = row[2]
                out[termId, default: TermYield()].stored += count
                if verdict == Verdict.kept.rawValue { out[termId, default: TermYield()].kept += count }
            }
            return out
        }
    }
}
