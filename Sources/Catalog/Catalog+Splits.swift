// The catalog's side of splits and export: settings, accepted images, split assignments.
import Foundation
import GRDB

extension Catalog {
    public func setting(_ key: String) throws -> String? {
        try db.read { db in try String.fetchOne(db, sql: "SELECT value FROM setting WHERE key = ?", arguments: [key]) }
    }

    /// Accepted images (kept by processing or accepted in review), in id order.
    public func acceptedImages() throws -> [StoredImage] {
        try db.read { db in
            try StoredImage.filter(StoredImage.Columns.verdict == Verdict.kept).order(StoredImage.Columns.id).fetchAll(db)
        }
    }

    /// What split needs of an accepted image: not the whole row, since every kept image is read.
    public struct SplitCandidate: Sendable, Equatable {
        public var id: Int64
        public var personId: Int64
        public var sha256: String
        public var pixelSha256: String?
        public var pageUrl: String?
        public var phash: Int64?
        public var split: SplitSide?
    }

    /// `acceptedImages`, with only what split needs of each.
    public func splitCandidates() throws -> [SplitCandidate] {
        try db.read { db in
            let rows = try Row.fetchCursor(db, sql: "SELECT id, personId, sha256, pixelSha256, pageUrl, phash, split FROM image WHERE verdict = 'kept' ORDER BY id")
            var out: [SplitCandidate] = []
            while let r = try rows.next() {
                out.append(SplitCandidate(id: r[0], personId: r[1], sha256: r[2], pixelSha256: r[3], pageUrl: r[4], phash: r[5], split: r[6]))
            }
            return out
        }
    }

    /// Saves a split in one transaction: the setting, the assignments, and no split for images that are not
    /// accepted (any more) or whose person was left out.
    /// With `reset`, every earlier assignment goes in the same transaction (`curate split --reset`), so a
    /// failure leaves the old split whole.
    public func saveSplit(setting: String, assignments: [Int64: String], cleared: [Int64], reset: Bool = false) throws {
        try db.write { db in
            if reset { try db.execute(sql: "UPDATE image SET split = NULL WHERE split IS NOT NULL") }
            try db.execute(sql: "INSERT INTO setting (key, value) VALUES ('split', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                           arguments: [setting])
            // Only rows whose split changes are written: SQLite rewrites every row an UPDATE matches.
            try db.execute(sql: "UPDATE image SET split = NULL WHERE verdict != 'kept' AND split IS NOT NULL")
            let clear = try db.cachedStatement(sql: "UPDATE image SET split = NULL WHERE id = ?")
            for id in cleared { try clear.execute(arguments: [id]) }
            let assign = try db.cachedStatement(sql: "UPDATE image SET split = ? WHERE id = ?")
            for (id, split) in assignments.sorted(by: { $0.key < $1.key }) { try assign.execute(arguments: [split, id]) }
        }
    }

    /// Accepted images that have a split, in a stable order (split, person, id).
    public func splitImages() throws -> [StoredImage] {
        try db.read { db in
            try StoredImage.filter(StoredImage.Columns.split != nil && StoredImage.Columns.verdict == Verdict.kept)
                .order(StoredImage.Columns.split, StoredImage.Columns.personId, StoredImage.Columns.id).fetchAll(db)
        }
    }
}
