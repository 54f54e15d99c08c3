// What the stages across people read to judge only what changed since they last ran (after a merge): the record of
// their last run, every decoded image's hashes, and the few rows of the images and people a change reaches.
import Foundation
import GRDB

/// A decoded image as the copy graph sees it: its pixel and perceptual hashes, and whether dedupe groups it (it
/// is a candidate: not rejected by a reviewer, and decoded without failing later), as `Dedupe.markCopies` filters.
public struct CopyNode: Sendable {
    public var id: Int64
    public var personId: Int64
    public var pixelSha256: String
    public var phash: Int64?
    public var candidate: Bool
}

extension Catalog {
    /// The options the stages across people last ran to the end with (nil: never, or a run that changes what they
    /// judge from began since and did not judge after it).
    public func judgedOptions() throws -> String? {
        try db.read { db in try String.fetchOne(db, sql: "SELECT options FROM judgement WHERE id = 1") }
    }

    /// Records that the stages across people ran to the end with `options` (nil: forgets it, before anything they
    /// judge from changes, so that a run killed meanwhile is followed by a judgement of everything). Either way the
    /// judgements merged shards brought are forgotten (`judgedIn`, `shardCentre`): what is judged from now on is
    /// this workspace's, one judgement.
    public func recordJudgement(_ options: String?) throws {
        try db.write { db in
            try db.execute(sql: "UPDATE identityState SET judgedIn = NULL WHERE judgedIn IS NOT NULL")
            try db.execute(sql: "DELETE FROM shardCentre")
            if let options {
                try db.execute(sql: "INSERT INTO judgement (id, options) VALUES (1, ?) ON CONFLICT(id) DO UPDATE SET options = excluded.options",
                               arguments: [options])
            } else {
                try db.execute(sql: "DELETE FROM judgement")
            }
        }
    }

    /// The distances the stages across people last judged by (`--identity-distance`, `--suspect-distance`,
    /// `--face-margin`); nil where they have not run since the catalog could keep them.
    public func judgedThresholds() throws -> (identityDistance: Float, suspectDistance: Float, faceMargin: Float)? {
        try db.read { db in
            guard try db.tableExists("identityThresholds"),
                  let row = try Row.fetchOne(db, sql: "SELECT identityDistance, suspectDistance, faceMargin FROM identityThresholds WHERE id = 1")
            else { return nil }
            return (Float(row[0] as Double), Float(row[1] as Double), Float(row[2] as Double))
        }
    }

    /// Records the distances the stages across people judge by, as they start.
    public func recordThresholds(identityDistance: Float, suspectDistance: Float, faceMargin: Float) throws {
        try db.write { db in
            try db.execute(sql: """
                INSERT INTO identityThresholds (id, identityDistance, suspectDistance, faceMargin) VALUES (1, ?, ?, ?)
                ON CONFLICT(id) DO UPDATE SET identityDistance = excluded.identityDistance, suspectDistance = excluded.suspectDistance,
                                              faceMargin = excluded.faceMargin
                """, arguments: [Double(identityDistance), Double(suspectDistance), Double(faceMargin)])
        }
    }

    /// Every decoded image's hashes (a narrow read: no descriptor, no path), in id order.
    public func copyNodes() throws -> [CopyNode] {
        try db.read { db in
            var out: [CopyNode] = []
            let rows = try Row.fetchCursor(db, sql: """
                SELECT id, personId, pixelSha256, phash, (reviewed = 0 OR verdict = 'kept') AND (reviewed OR ownReason IS NOT 'corrupt')
                FROM image WHERE processedAt IS NOT NULL AND pixelSha256 IS NOT NULL ORDER BY id
                """)
            while let row = try rows.next() {
                out.append(CopyNode(id: row[0], personId: row[1], pixelSha256: row[2], phash: row[3], candidate: row[4]))
            }
            return out
        }
    }

    /// `dedupeCandidates` among these images, in id order.
    public func dedupeCandidates(ids: [Int64]) throws -> [StoredImage] {
        try db.read { db in
            let keptByReviewer = StoredImage.Columns.reviewed == true && StoredImage.Columns.verdict == Verdict.kept
            var out: [StoredImage] = []
            for chunk in Self.chunks(of: ids) {
                out += try StoredImage
                    .filter(chunk.contains(StoredImage.Columns.id))
                    .filter(StoredImage.Columns.processedAt != nil && StoredImage.Columns.pixelSha256 != nil
                            && (StoredImage.Columns.reviewed == false || keptByReviewer))
                    .order(StoredImage.Columns.id)
                    .fetchAll(db)
            }
            return out
        }
    }

    /// The face of each decoded image of these people that dedupe compares descriptors by (`Dedupe.markCopies`): the
    /// one a reviewer chose, else the only counted face; by image id.
    public func copyDescriptors(of people: [Int64]) throws -> [Int64: (personId: Int64, descriptor: Data)] {
        try db.read { db in
            var out: [Int64: (personId: Int64, descriptor: Data)] = [:]
            for chunk in Self.chunks(of: people) {
                let rows = try Row.fetchCursor(db, sql: """
                    SELECT i.id, i.personId, f.descriptor FROM image i JOIN face f ON f.imageId = i.id
                    WHERE i.personId IN (\(chunk.map(String.init).joined(separator: ",")))
                      AND i.processedAt IS NOT NULL AND i.pixelSha256 IS NOT NULL
                      AND (i.reviewed = 0 OR i.verdict = 'kept') AND (i.reviewed OR i.ownReason IS NOT 'corrupt')
                      AND ((i.reviewed AND f.chosen) OR (NOT i.reviewed AND i.faces = 1 AND f.counted))
                    ORDER BY i.id, f.idx
                    """)
                while let row = try rows.next() {
                    let id: Int64 = row[0]
                    guard out[id] == nil, let d: Data = row[2] else { continue }
                    out[id] = (row[1], d)
                }
            }
            return out
        }
    }

    /// The first counted face's descriptor of each of these images (what identity measures a one-face photo by).
    public func countedDescriptors(imageIds: [Int64]) throws -> [Int64: Data] {
        try db.read { db in
            var out: [Int64: Data] = [:]
            for chunk in Self.chunks(of: imageIds) {
                let rows = try Row.fetchCursor(db, sql: """
                    SELECT imageId, descriptor FROM face WHERE imageId IN (\(chunk.map(String.init).joined(separator: ","))) AND counted
                    ORDER BY imageId, idx
                    """)
                while let row = try rows.next() {
                    let id: Int64 = row[0]
                    if out[id] == nil, let d: Data = row[1] { out[id] = d }
                }
            }
            return out
        }
    }

    /// Every described face of the photos of several counted faces that identity judges (processed, not decided by a
    /// reviewer), with its image's person: a face identity may choose, and measure against other people's identities.
    public func groupPhotoFaces() throws -> [(personId: Int64, imageId: Int64, descriptor: Data)] {
        try db.read { db in
            var out: [(personId: Int64, imageId: Int64, descriptor: Data)] = []
            let rows = try Row.fetchCursor(db, sql: """
                SELECT i.personId, i.id, f.descriptor FROM image i JOIN face f ON f.imageId = i.id
                WHERE i.processedAt IS NOT NULL AND i.faces >= 2 AND i.reviewed = 0 AND f.descriptor IS NOT NULL
                """)
            while let row = try rows.next() { out.append((row[0], row[1], row[2])) }
            return out
        }
    }

    /// Every person's identity stored with these options, whether still valid (`summary` kept: no row of theirs
    /// changed since) or not (its centres are those the last judgement measured every other person's faces against),
    /// and the merged shard whose judgement it was brought from (nil: this workspace's own).
    public func identityShapes(options: String) throws -> [Int64: (valid: Bool, centres: Data?, distances: Data?, judgedIn: Int64?)] {
        try db.read { db in
            var out: [Int64: (valid: Bool, centres: Data?, distances: Data?, judgedIn: Int64?)] = [:]
            let rows = try Row.fetchCursor(db, sql: """
                SELECT personId, summary IS NOT NULL, centres, distances, judgedIn FROM identityState WHERE options = ?
                """, arguments: [options])
            while let row = try rows.next() { out[row[0]] = (row[1], row[2], row[3], row[4]) }
            return out
        }
    }

    /// The centres each merged shard's own judgement measured its faces against, by shard, then person (see
    /// `merge(_:carrying:)`); empty once the workspace has judged since.
    public func shardCentres() throws -> [Int64: [Int64: Data]] {
        try db.read { db in
            var out: [Int64: [Int64: Data]] = [:]
            let rows = try Row.fetchCursor(db, sql: "SELECT shardId, personId, centres FROM shardCentre WHERE centres IS NOT NULL")
            while let row = try rows.next() { out[row[0], default: [:]][row[1]] = row[2] }
            return out
        }
    }
}
