// The catalog's side of identity checks: the faces each person's identity is found from, and writing its verdicts.
import Foundation
import GRDB

/// An image identity looks at, with its detected faces (for a reviewer-kept image, its chosen face only).
public struct IdentityCandidate: Sendable {
    public var image: StoredImage
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

extension Catalog {
    /// Processed images with faces that identity decides on (not reviewed, with a counted face: kept or
    /// `multi_face` by processing, whatever identity or dedupe made of them since), and the images a reviewer kept,
    /// which anchor their person's identity.
    public func identityCandidates() throws -> [IdentityCandidate] {
        try db.read { db in
            let open = StoredImage.Columns.reviewed == false
            let keptByReviewer = StoredImage.Columns.reviewed == true && StoredImage.Columns.verdict == Verdict.kept
            let images = try StoredImage
                .filter(StoredImage.Columns.processedAt != nil && StoredImage.Columns.faces >= 1 && (open || keptByReviewer))
                .order(StoredImage.Columns.id)
                .fetchAll(db)
            var faces: [Int64: [Face]] = [:]
            let rows = try Face.filter(images.map(\.id!).contains(Face.Columns.imageId)).order(Face.Columns.imageId, Face.Columns.idx).fetchAll(db)
            for f in rows { faces[f.imageId, default: []].append(f) }
            return images.map { image in
                let mine = faces[image.id!] ?? []
                return IdentityCandidate(image: image, faces: image.reviewed ? mine.filter(\.chosen) : mine)
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

    /// Kept images no reviewer has looked at yet, in id order: what `review --suspects` ranks.
    public func keptUnreviewed() throws -> [StoredImage] {
        try db.read { db in
            try StoredImage.filter(StoredImage.Columns.verdict == Verdict.kept && StoredImage.Columns.reviewed == false)
                .order(StoredImage.Columns.id).fetchAll(db)
        }
    }
}
