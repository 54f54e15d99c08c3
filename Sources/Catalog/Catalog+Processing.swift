// The catalog's side of processing: which images need it, and recording verdicts and faces.
import Foundation
import GRDB

/// A verdict with its reason code and a detail a person can read.
public struct VerdictChange: Sendable, Equatable {
    public var imageId: Int64
    public var verdict: Verdict
    public var reason: Reason?
    public var detail: String?
    /// The other images the verdict is about (see `StoredImage.related`).
    public var related: [Int64]?

    public init(imageId: Int64, verdict: Verdict, reason: Reason?, detail: String?, related: [Int64]? = nil) {
        self.imageId = imageId
        self.verdict = verdict
        self.reason = reason
        self.detail = detail
        self.related = related
    }
}

/// An image processing has started on (see ProcessingState).
public struct ProcessingMark: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "processing"
    public var imageId: Int64
    public var state: ProcessingState
    public var since: Date
    /// Runs that died with this image in flight and left no evidence of why.
    public var deaths: Int

    public init(imageId: Int64, state: ProcessingState, since: Date, deaths: Int = 0) {
        self.imageId = imageId
        self.state = state
        self.since = since
        self.deaths = deaths
    }

    public enum Columns {
        public static let imageId = Column(CodingKeys.imageId)
        public static let state = Column(CodingKeys.state)
    }
}

extension Catalog {
    /// The image columns processing writes; every other column belongs to fetch, review or split (identity and
    /// dedupe, the later steps of processing, write only verdicts, `related` and chosen faces).
    static let processingColumns: [Column] = {
        typealias C = StoredImage.Columns
        return [C.pixelSha256, C.phash, C.width, C.height, C.orientation, C.cameraMake, C.cameraModel, C.takenAt,
                C.normalizedPath, C.faces, C.jpegQuality, C.verdict, C.reason, C.detail, C.ownVerdict, C.ownReason,
                C.ownDetail, C.processedAt, C.detector]
    }()

    /// Images processing has not looked at yet (or was looking at when a run died); with `all`, every image not
    /// decided by a reviewer; with `noFaceByHOG`, also those in which the HOG detector found no face (for the CNN
    /// detector's second look). Never an image a run died on while it was alone in flight.
    public func imagesToProcess(all: Bool, noFaceByHOG: Bool = false) throws -> [StoredImage] {
        try db.read { db in
            typealias C = StoredImage.Columns
            let crashed = ProcessingMark.filter(ProcessingMark.Columns.state == ProcessingState.crashed).select(ProcessingMark.Columns.imageId)
            let inFlight = ProcessingMark.filter(ProcessingMark.Columns.state != ProcessingState.crashed).select(ProcessingMark.Columns.imageId)
            var request = StoredImage.filter(C.reviewed == false && !crashed.contains(C.id))
            if !all {
                var open = C.processedAt == nil || inFlight.contains(C.id)
                if noFaceByHOG { open = open || (C.detector == FaceDetector.hog && !Face.select(Face.Columns.imageId).contains(C.id)) }
                request = request.filter(open)
            }
            return try request.order(StoredImage.Columns.id).fetchAll(db)
        }
    }

    /// Marks an image as in flight, committed before its bytes are decoded, so that the mark outlives a process
    /// that dies on it.
    public func markProcessing(_ imageId: Int64, _ state: ProcessingState) throws {
        // The deaths counted against it stay: a mark is set again on every try.
        try db.write { db in
            try db.execute(sql: """
                INSERT INTO processing (imageId, state, since, deaths) VALUES (?, ?, ?, 0)
                ON CONFLICT(imageId) DO UPDATE SET state = excluded.state, since = excluded.since
                """, arguments: [imageId, state, Date()])
        }
    }

    /// Drops the marks of images a run had in flight when it died of something that was not their fault (the
    /// user ended it; another image crashed it). They are processed as if that run had not reached them.
    public func dropMarks(_ imageIds: [Int64]) throws {
        try db.write { db in _ = try ProcessingMark.filter(imageIds.contains(ProcessingMark.Columns.imageId)).deleteAll(db) }
    }

    /// Counts a death without evidence against each of these marks; returns the marks as they are now.
    public func countDeaths(_ imageIds: [Int64]) throws -> [ProcessingMark] {
        try db.write { db in
            let marks = ProcessingMark.filter(imageIds.contains(ProcessingMark.Columns.imageId))
            try marks.updateAll(db, Column("deaths") += 1)
            return try marks.order(ProcessingMark.Columns.imageId).fetchAll(db)
        }
    }

    /// Gives the images rejected because a run died on them (and no reviewer decided) another try: their marks
    /// become those of images in flight beside a death, tried again one at a time. Returns their ids.
    public func retryCrashed() throws -> [Int64] {
        try db.write { db in
            let ids = try Int64.fetchAll(db, sql: """
                SELECT imageId FROM processing WHERE state = ? AND imageId IN (SELECT id FROM image WHERE reviewed = 0)
                """, arguments: [ProcessingState.crashed])
            try db.execute(sql: "UPDATE processing SET state = ?, deaths = 0 WHERE imageId IN (\(ids.map(String.init).joined(separator: ",")))",
                           arguments: [ProcessingState.shared])
            return ids
        }
    }

    /// Drops an image's in-flight mark without a verdict (its run failed for another reason).
    public func unmarkProcessing(_ imageId: Int64) throws {
        try db.write { db in _ = try ProcessingMark.deleteOne(db, key: imageId) }
    }

    /// The marks a run that died left on images no reviewer has decided (marks on decided images are dropped: a
    /// reviewer's decision stands). Only meaningful under the workspace lock, when no other run can be working.
    public func leftoverMarks() throws -> [ProcessingMark] {
        try db.write { db in
            try db.execute(sql: """
                DELETE FROM processing WHERE state != ? AND imageId IN (SELECT id FROM image WHERE reviewed = 1)
                """, arguments: [ProcessingState.crashed])
            return try ProcessingMark.filter(ProcessingMark.Columns.state != ProcessingState.crashed)
                .order(ProcessingMark.Columns.imageId).fetchAll(db)
        }
    }

    /// Saves processed images with their faces, in one transaction (faces found earlier are replaced).
    public func recordProcessing(_ items: [(image: StoredImage, faces: [Face])]) throws {
        try db.write { db in
            for (image, faces) in items {
                try ProcessingMark.deleteOne(db, key: image.id)
                // A reviewer's decision stands, also when it was made while this run was working.
                guard try Bool.fetchOne(db, sql: "SELECT reviewed FROM image WHERE id = ?", arguments: [image.id]) == false else { continue }
                var image = image
                image.processedAt = Date()
                // Only the columns processing owns: a split, a review or a relabel made while this run worked
                // on a copy of the row read at its start must not be set back.
                try image.update(db, columns: Self.processingColumns)
                try Face.filter(Face.Columns.imageId == image.id!).deleteAll(db)
                for var face in faces {
                    face.imageId = image.id!
                    try face.insert(db)
                }
            }
        }
    }

    /// Rejects images a run died on (see Processor for the evidence), as corrupt, and marks them so that no later
    /// run (not even --all) tries them again, short of `process --retry-crashed`. Images a reviewer decided keep
    /// their decision.
    public func recordCrashes(_ imageIds: [Int64], detail: String) throws {
        try db.write { db in
            for id in imageIds {
                try db.execute(sql: """
                    INSERT INTO processing (imageId, state, since, deaths) VALUES (?, ?, ?, 0)
                    ON CONFLICT(imageId) DO UPDATE SET state = excluded.state, since = excluded.since
                    """, arguments: [id, ProcessingState.crashed, Date()])
                guard try Bool.fetchOne(db, sql: "SELECT reviewed FROM image WHERE id = ?", arguments: [id]) == false else { continue }
                // Nothing an earlier run found about it stands: without a pixel hash it is nobody's copy.
                try db.execute(sql: """
                    UPDATE image SET verdict = ?, reason = ?, detail = ?, ownVerdict = ?, ownReason = ?, ownDetail = ?, related = NULL,
                    faces = NULL, pixelSha256 = NULL, phash = NULL, processedAt = ? WHERE id = ?
                    """, arguments: [Verdict.rejected, Reason.corrupt, detail, Verdict.rejected, Reason.corrupt, detail, Date(), id])
                try Face.filter(Face.Columns.imageId == id).deleteAll(db)
            }
        }
    }

    /// Processed images that dedupe decides between: every image that decoded (it has a pixel hash), whatever
    /// its own verdict, not yet decided by a reviewer, and the images a reviewer kept (whose verdicts stand, but
    /// whose copies must still be found).
    public func dedupeCandidates() throws -> [StoredImage] {
        try db.read { db in
            let keptByReviewer = StoredImage.Columns.reviewed == true && StoredImage.Columns.verdict == Verdict.kept
            return try StoredImage
                .filter(StoredImage.Columns.processedAt != nil && StoredImage.Columns.pixelSha256 != nil
                        && (StoredImage.Columns.reviewed == false || keptByReviewer))
                .order(StoredImage.Columns.id)
                .fetchAll(db)
        }
    }

    /// Every face of these images, in index order.
    public func faces(of imageIds: [Int64]) throws -> [Int64: [Face]] {
        try db.read { db in
            var out: [Int64: [Face]] = [:]
            for chunk in Self.chunks(of: imageIds) {
                for face in try Face.filter(chunk.contains(Face.Columns.imageId)).order(Face.Columns.imageId, Face.Columns.idx).fetchAll(db) {
                    out[face.imageId, default: []].append(face)
                }
            }
            return out
        }
    }

    /// The chosen faces (with descriptors) of these images.
    public func chosenFaces(imageIds: [Int64]) throws -> [Int64: Face] {
        try db.read { db in
            var out: [Int64: Face] = [:]
            for chunk in Self.chunks(of: imageIds) {
                for face in try Face.filter(chunk.contains(Face.Columns.imageId) && Face.Columns.chosen == true).fetchAll(db) where out[face.imageId] == nil {
                    out[face.imageId] = face
                }
            }
            return out
        }
    }

    /// Ids asked for in statements of 10,000 at most, each once and in order: SQLite refuses a statement with more
    /// variables than its limit (250,000 here), and the stages across people ask for every decoded image's faces.
    static func chunks(of ids: [Int64]) -> [[Int64]] {
        let unique = Array(Set(ids)).sorted()
        return stride(from: 0, to: unique.count, by: 10_000).map { Array(unique[$0..<min($0 + 10_000, unique.count)]) }
    }

    public func faces(of imageId: Int64) throws -> [Face] {
        try db.read { db in try Face.of(imageId).fetchAll(db) }
    }

    /// Faces with a chip whose quality was never measured (processed before it was, or chosen by a reviewer), in id
    /// order after `after`: processing measures them from their chips.
    public func facesWithoutQuality(after: Int64, limit: Int) throws -> [Face] {
        try db.read { db in
            try Face.filter(Face.Columns.id > after && Face.Columns.chipPath != nil && Face.Columns.sharpness == nil)
                .order(Face.Columns.id).limit(limit).fetchAll(db)
        }
    }

    /// The chosen face of every kept image, with its person, without landmarks, chip and descriptor: what status
    /// counts quality flags over, read from one cursor.
    public func forEachKeptFace(_ body: (_ personId: Int64, _ imageId: Int64, Face) throws -> Void) throws {
        try db.read { db in
            let rows = try Row.fetchCursor(db, sql: """
                SELECT i.personId, f.imageId, f.idx, f.left, f.top, f.right, f.bottom, f.score, f.counted, f.chosen,
                       f.sharpness, f.brightness, f.darkFraction, f.brightFraction, f.yaw
                FROM image i JOIN face f ON f.imageId = i.id AND f.chosen = 1
                WHERE i.verdict = 'kept' ORDER BY i.personId, i.id
                """)
            while let row = try rows.next() {
                var face = Face(imageId: row[1], idx: row[2], left: row[3], top: row[4], right: row[5], bottom: row[6], score: row[7],
                                landmarks: nil, counted: row[8], chosen: row[9])
                (face.sharpness, face.brightness, face.darkFraction, face.brightFraction, face.yaw) = (row[10], row[11], row[12], row[13], row[14])
                try body(row[0], face.imageId, face)
            }
        }
    }

    /// Writes faces' quality measures (see `Face.sharpness`) in one transaction.
    public func setQuality(_ measures: [(faceId: Int64, sharpness: Double, brightness: Double, dark: Double, bright: Double, yaw: Double?)]) throws {
        guard !measures.isEmpty else { return }
        try db.write { db in
            let statement = try db.cachedStatement(sql: """
                UPDATE face SET sharpness = ?, brightness = ?, darkFraction = ?, brightFraction = ?, yaw = ? WHERE id = ?
                """)
            for m in measures { try statement.execute(arguments: [m.sharpness, m.brightness, m.dark, m.bright, m.yaw, m.faceId]) }
        }
    }

    /// Applies verdicts in one transaction.
    public func apply(_ changes: [VerdictChange]) throws {
        try db.write { db in
            // A reviewer's decision stands, also when it was made while this run was working.
            let statement = try db.cachedStatement(sql: "UPDATE image SET verdict = ?, reason = ?, detail = ?, related = ? WHERE id = ? AND reviewed = 0")
            for c in changes {
                let related = c.related.map { "[" + $0.map(String.init).joined(separator: ",") + "]" }
                try statement.execute(arguments: [c.verdict.rawValue, c.reason, c.detail, related, c.imageId])
            }
        }
    }

    public func labels() throws -> [Int64: String] {
        try db.read { db in
            Dictionary(uniqueKeysWithValues: try Person.fetchAll(db).map { ($0.id!, $0.label) })
        }
    }
}
