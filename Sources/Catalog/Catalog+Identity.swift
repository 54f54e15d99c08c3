// The catalog's side of identity checks: the faces each person's identity is found from, and writing its verdicts.
import Foundation
import GRDB

/// What identity needs of an image it looks at: not the whole row, since every processed image with a face is read.
public struct IdentityImage: Sendable, Equatable {
    public var id: Int64
    public var personId: Int64
    public var sha256: String
    public var reviewed: Bool
    public var verdict: Verdict
    public var reason: Reason?
    /// Faces processing counted.
    public var faces: Int?
    public var reference: Bool
}

/// An image identity looks at, with its detected faces (for a reviewer-kept image, its chosen face only), read
/// without their landmarks and chip paths.
public struct IdentityCandidate: Sendable {
    public var image: IdentityImage
    public var faces: [Face]
}

/// A verdict from identity, and which face the image is kept for (nil: none).
public struct IdentityChange: Sendable, Equatable {
    public var verdict: VerdictChange
    public var chosenFace: Int?

    public init(verdict: VerdictChange, chosenFace: Int?) {
        self.verdict = verdict
        self.chosenFace = chosenFace
    }
}

/// A person's identity as identity found it (`summary`, JSON that Curate writes and reads; `centres` and `distances`,
/// what review measures faces against, in Curate's encoding), with the options it was found with and the count of
/// changes to the person's rows it was found from.
public struct StoredIdentity: Sendable {
    public var personId: Int64
    public var changes: Int64
    public var options: String
    public var summary: String
    public var centres: Data
    public var distances: Data

    public init(personId: Int64, changes: Int64, options: String, summary: String, centres: Data, distances: Data) {
        self.personId = personId
        self.changes = changes
        self.options = options
        self.summary = summary
        self.centres = centres
        self.distances = distances
    }
}

extension Catalog {
    /// Processed images with faces that identity decides on (not reviewed, with a counted face: kept or
    /// `multi_face` by processing, whatever identity or dedupe made of them since), and the images a reviewer kept,
    /// which anchor their person's identity; in id order.
    public func identityCandidates() throws -> [IdentityCandidate] {
        var out: [IdentityCandidate] = []
        try forEachPersonsIdentityCandidates { _, candidates in out += candidates }
        return out.sorted { $0.image.id < $1.image.id }
    }

    /// `identityCandidates`, one person at a time (in id order within the person), read in one ordered pass:
    /// a catalog of a million images never holds more than one person's descriptors in memory.
    /// With `people`, only theirs. Returns, read in the same transaction, how many times each person's rows have
    /// changed (`identityState.changes`), which `storeIdentities` stores the identities found from them against.
    @discardableResult
    public func forEachPersonsIdentityCandidates(of people: [Int64]? = nil,
                                                 _ body: (_ personId: Int64, [IdentityCandidate]) throws -> Void) throws -> [Int64: Int64] {
        try db.read { db in
            var changes: [Int64: Int64] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT personId, changes FROM identityState") { changes[row[0]] = row[1] }
            let only = people.map { "AND i.personId IN (\($0.map(String.init).joined(separator: ",")))" } ?? ""
            let rows = try Row.fetchCursor(db, sql: """
                SELECT i.id, i.personId, i.sha256, i.reviewed, i.verdict, i.reason, i.faces, i.reference,
                       f.id, f.idx, f.left, f.top, f.right, f.bottom, f.score, f.counted, f.chosen, f.descriptor,
                       f.eyesCovered, f.maskedDescriptor
                FROM image i LEFT JOIN face f ON f.imageId = i.id
                WHERE i.processedAt IS NOT NULL AND i.faces >= 1 AND (i.reviewed = 0 OR i.verdict = 'kept') \(only)
                ORDER BY i.personId, i.id, f.idx
                """)
            var person: Int64?
            var candidates: [IdentityCandidate] = []
            func finish() throws {
                guard let person else { return }
                for i in candidates.indices where candidates[i].image.reviewed { candidates[i].faces = candidates[i].faces.filter(\.chosen) }
                try body(person, candidates)
                candidates.removeAll(keepingCapacity: true)
            }
            while let row = try rows.next() {
                let id: Int64 = row[0], personId: Int64 = row[1]
                if personId != person {
                    try finish()
                    person = personId
                }
                if candidates.last?.image.id != id {
                    candidates.append(IdentityCandidate(
                        image: IdentityImage(id: id, personId: personId, sha256: row[2], reviewed: row[3], verdict: row[4], reason: row[5],
                                             faces: row[6], reference: row[7]),
                        faces: []))
                }
                if let faceId: Int64 = row[8] {
                    var face = Face(imageId: id, idx: row[9], left: row[10], top: row[11], right: row[12], bottom: row[13], score: row[14],
                                    landmarks: nil, counted: row[15], chosen: row[16], descriptor: row[17])
                    face.id = faceId
                    (face.eyesCovered, face.maskedDescriptor) = (row[18], row[19])
                    candidates[candidates.count - 1].faces.append(face)
                }
            }
            try finish()
            return changes
        }
    }

    /// The chip of each of these faces that has one, by face id: what a second look reads.
    public func chipPaths(ofFaces ids: [Int64]) throws -> [Int64: String] {
        guard !ids.isEmpty else { return [:] }
        return try db.read { db in
            var out: [Int64: String] = [:]
            for chunk in stride(from: 0, to: ids.count, by: 500).map({ Array(ids[$0..<min($0 + 500, ids.count)]) }) {
                let rows = try Row.fetchAll(db, sql: """
                    SELECT id, chipPath FROM face WHERE chipPath IS NOT NULL AND id IN (\(chunk.map(String.init).joined(separator: ",")))
                    """)
                for row in rows { out[row[0]] = row[1] }
            }
            return out
        }
    }

    /// Descriptors with a bar over the eyes of kept faces whose eyes were not found covered (the sure faces a second
    /// look described), up to `perPerson` of each person in content order, of the first `people` people that have
    /// any (in id order): the crowd a covered face is measured against (Curate's `SecondLook`).
    public func maskedCohort(perPerson: Int, people: Int) throws -> [(personId: Int64, masked: [[Float]])] {
        try db.read { db in
            // Driven by the partial index `face_barred` (CROSS JOIN keeps face the outer loop): the few faces so
            // described, not every kept image of the catalog.
            let rows = try Row.fetchAll(db, sql: """
                SELECT personId, maskedDescriptor FROM (
                    SELECT i.personId, f.maskedDescriptor,
                           ROW_NUMBER() OVER (PARTITION BY i.personId ORDER BY i.sha256, f.idx) AS n,
                           DENSE_RANK() OVER (ORDER BY i.personId) AS p
                    FROM face f CROSS JOIN image i ON i.id = f.imageId
                    WHERE f.maskedDescriptor IS NOT NULL AND f.eyesCovered IS NOT 1 AND i.verdict = 'kept')
                WHERE n <= ? AND p <= ? ORDER BY personId, n
                """, arguments: [perPerson, people])
            var out: [(personId: Int64, masked: [[Float]])] = []
            for row in rows {
                let person: Int64 = row[0]
                guard let masked = Face.unpack(row[1]) else { continue }
                if out.last?.personId == person { out[out.count - 1].masked.append(masked) } else { out.append((person, [masked])) }
            }
            return out
        }
    }

    /// The people with a face whose eyes were found covered and that was described with the bar: those whose band
    /// evidence reads the crowd (Curate's `BandRule.cohortAgainst`).
    public func peopleWithCoveredFaces() throws -> Set<Int64> {
        try db.read { db in
            Set(try Int64.fetchAll(db, sql: """
                SELECT DISTINCT i.personId FROM face f CROSS JOIN image i ON i.id = f.imageId
                WHERE f.maskedDescriptor IS NOT NULL AND f.eyesCovered = 1
                """))
        }
    }

    /// Writes what a second look found of faces (whether their eyes are covered; the descriptor with the bar over
    /// them, where given), in one transaction.
    public func setSecondLook(_ looks: [(faceId: Int64, eyesCovered: Bool?, masked: Data?)]) throws {
        guard !looks.isEmpty else { return }
        try db.write { db in
            let covered = try db.cachedStatement(sql: "UPDATE face SET eyesCovered = ? WHERE id = ?")
            let masked = try db.cachedStatement(sql: "UPDATE face SET maskedDescriptor = ? WHERE id = ?")
            for l in looks {
                if let c = l.eyesCovered { try covered.execute(arguments: [c, l.faceId]) }
                if let m = l.masked { try masked.execute(arguments: [m, l.faceId]) }
            }
        }
    }

    /// Writes identity's verdicts in one transaction, with the face each image is kept for. They are the images'
    /// own verdicts: dedupe, which runs next, gives each to the best copy of its picture and makes the other
    /// copies its duplicates (`apply`). Images a reviewer decided are left alone, also when decided while this run
    /// was working.
    public func applyIdentity(_ changes: [IdentityChange]) throws {
        try db.write { db in
            let verdict = try db.cachedStatement(sql: "UPDATE image SET ownVerdict = ?, ownReason = ?, ownDetail = ? WHERE id = ? AND reviewed = 0")
            let choose = try db.cachedStatement(sql: """
                UPDATE face SET chosen = (idx IS ?) WHERE imageId = ? AND (SELECT reviewed FROM image WHERE id = ?) = 0
                """)
            for c in changes {
                let v = c.verdict
                try verdict.execute(arguments: [v.verdict, v.reason, v.detail, v.imageId])
                try choose.execute(arguments: [c.chosenFace, v.imageId, v.imageId])
            }
        }
    }

    /// The identities stored for these options (by person), and the people with none: their rows changed since
    /// the identity stage found it, or it ran with other options, or never ran.
    public func storedIdentities(options: String) throws -> (stored: [Int64: String], missing: [Int64]) {
        try db.read { db in
            var stored: [Int64: String] = [:]
            let rows = try Row.fetchCursor(db, sql: "SELECT personId, summary FROM identityState WHERE options = ? AND summary IS NOT NULL",
                                           arguments: [options])
            while let row = try rows.next() { stored[row[0]] = row[1] }
            let missing = try Int64.fetchAll(db, sql: "SELECT id FROM person ORDER BY id").filter { stored[$0] == nil }
            return (stored, missing)
        }
    }

    /// Stores identities found from the rows read when `changes` was (see `forEachPersonsIdentityCandidates`),
    /// each only where no row of its person changed since: `changes` is still what was read then (0: no row yet).
    public func storeIdentities(_ identities: [StoredIdentity]) throws {
        try db.write { db in
            let insert = try db.cachedStatement(sql: "INSERT OR IGNORE INTO identityState(personId, changes) VALUES (?, ?)")
            let update = try db.cachedStatement(sql: """
                UPDATE identityState SET options = ?, summary = ?, centres = ?, distances = ? WHERE personId = ? AND changes = ?
                """)
            for i in identities {
                try insert.execute(arguments: [i.personId, i.changes])
                try update.execute(arguments: [i.options, i.summary, i.centres, i.distances, i.personId, i.changes])
            }
        }
    }

    /// Every person's stored identity centres for these options (by person), and the people with none: as
    /// `storedIdentities`, and also those stored before the centres were (they are found again).
    public func storedCentres(options: String) throws -> (stored: [Int64: Data], missing: [Int64]) {
        try db.read { db in
            var stored: [Int64: Data] = [:]
            let rows = try Row.fetchCursor(db, sql: """
                SELECT personId, centres FROM identityState WHERE options = ? AND summary IS NOT NULL AND centres IS NOT NULL
                """, arguments: [options])
            while let row = try rows.next() { stored[row[0]] = row[1] }
            let missing = try Int64.fetchAll(db, sql: "SELECT id FROM person ORDER BY id").filter { stored[$0] == nil }
            return (stored, missing)
        }
    }

    /// One person's stored identity centres and face distances for these options; nil where none is stored (their
    /// rows changed since the identity stage found it, or it ran with other options, or never ran).
    public func storedIdentityShape(of personId: Int64, options: String) throws -> (centres: Data, distances: Data)? {
        try db.read { db in
            guard let row = try Row.fetchOne(db, sql: """
                SELECT centres, distances FROM identityState
                WHERE personId = ? AND options = ? AND summary IS NOT NULL AND centres IS NOT NULL AND distances IS NOT NULL
                """, arguments: [personId, options]) else { return nil }
            return (row[0], row[1])
        }
    }

    /// Kept images no reviewer has looked at yet, in id order: what `review --suspects` ranks.
    public func keptUnreviewed() throws -> [StoredImage] {
        try db.read { db in
            try StoredImage.filter(StoredImage.Columns.verdict == Verdict.kept && StoredImage.Columns.reviewed == false)
                .order(StoredImage.Columns.id).fetchAll(db)
        }
    }
}
