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
            let images = try grouped("SELECT personId, verdict, COUNT(*) FROM image GROUP BY 1, 2")
            let reasons = try grouped("SELECT personId, reason, COUNT(*) FROM image WHERE verdict = 'rejected' GROUP BY 1, 2")
            let attempts = try grouped("SELECT personId, state, COUNT(*) FROM attempt GROUP BY 1, 2")
            let failures = try grouped("SELECT personId, failure, COUNT(*) FROM attempt WHERE state = 'failed' GROUP BY 1, 2")
            let terms = try grouped("SELECT personId, state, COUNT(*) FROM term GROUP BY 1, 2")
            let splits = try grouped("SELECT personId, split, COUNT(*) FROM image WHERE split IS NOT NULL GROUP BY 1, 2")
            return people.map { p in
                let id = p.id!
                return PersonCounts(label: p.label, images: images[id] ?? [:], reasons: reasons[id] ?? [:],
                                    attempts: attempts[id] ?? [:], failures: failures[id] ?? [:],
                                    terms: terms[id] ?? [:], splits: splits[id] ?? [:])
            }
        }
    }
}
