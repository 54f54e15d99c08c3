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

    /// Saves a split in one transaction: the setting, the assignments, and no split for images that are not
    /// accepted (any more) or whose person was left out.
    /// With `reset`, every earlier assignment goes in the same transaction (`curate split --reset`), so a
    /// failure leaves the old split whole.
    public func saveSplit(setting: String, assignments: [Int64: String], cleared: [Int64], reset: Bool = false) throws {
        try db.write { db in
            if reset { try db.execute(sql: "UPDATE image SET split = NULL") }
            try db.execute(sql: "INSERT INTO setting (key, value) VALUES ('split', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                           arguments: [setting])
            try db.execute(sql: "UPDATE image SET split = NULL WHERE verdict != 'kept'")
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
