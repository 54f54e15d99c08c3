// The catalog's side of review: the images waiting for a person, and decisions that are written at once and
// can be undone, any number of them, across sessions.
import Foundation
import GRDB

public enum ReviewAction: String, Codable, Sendable, CaseIterable {
    case accept    // keep the image (overriding the verdict)
    case reject    // confirm a rejection, or reject a kept image
    case face      // one face of a multi-face photo is the person: keep it with that face
    case relabel   // the image is another person's: move it there and keep it
}

/// What a decision changes on an image, and what undo puts back.
public struct ImageState: Codable, Sendable, Equatable {
    public var verdict: Verdict
    public var reason: Reason?
    public var detail: String?
    public var reviewed: Bool
    public var reviewedAt: Date?
    public var personId: Int64
    public var split: SplitSide?
    /// The idx of the chosen face, if any.
    public var chosenFace: Int?
}

/// One review decision, as stored in the `decision` table.
public struct Decision: Codable, Sendable, Equatable, FetchableRecord, MutablePersistableRecord {
    public var id: Int64?
    public var imageId: Int64
    public var batch: Int64
    public var action: ReviewAction
    public var face: Int?
    public var personId: Int64?
    public var before: ImageState
    public var createdAt: Date
    public var undoneAt: Date?

    /// The table's columns, for requests: `Decision.Columns.id`.
    public enum Columns {
        public static let id = Column(CodingKeys.id)
        public static let imageId = Column(CodingKeys.imageId)
        public static let batch = Column(CodingKeys.batch)
        public static let action = Column(CodingKeys.action)
        public static let face = Column(CodingKeys.face)
        public static let personId = Column(CodingKeys.personId)
        public static let before = Column(CodingKeys.before)
        public static let createdAt = Column(CodingKeys.createdAt)
        public static let undoneAt = Column(CodingKeys.undoneAt)
    }

    public mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
}

/// A decision to apply to one image.
public struct ReviewChange: Sendable {
    public var imageId: Int64
    public var action: ReviewAction
    /// For `face`: the face's idx, its aligned chip (workspace-relative) and descriptor, computed by the caller.
    public var face: (idx: Int, chipPath: String, descriptor: Data?)?
    /// For `relabel`: the person the image moves to.
    public var personId: Int64?

    public init(imageId: Int64, action: ReviewAction, face: (idx: Int, chipPath: String, descriptor: Data?)? = nil, personId: Int64? = nil) {
        self.imageId = imageId
        self.action = action
        self.face = face
        self.personId = personId
    }
}

public enum ReviewError: BadInput {
    case noImage(Int64)
    case noPerson(Int64)
    case noFace(imageId: Int64, idx: Int, count: Int)
    case alreadyFiled(imageId: Int64, person: String, other: Int64)

    public var description: String {
        switch self {
        case let .noImage(id): return "no image #\(id) in this workspace (see `curate review --list`)."
        case let .noPerson(id): return "no person with id \(id) in this workspace."
        case let .noFace(id, idx, count):
            return count == 0 ? "image #\(id) has no detected faces to choose from."
                : "image #\(id) has \(count) detected face\(count == 1 ? "" : "s"); face \(idx + 1) is not one of them."
        case let .alreadyFiled(id, person, other):
            return "\(person) already has the same file as image #\(other); image #\(id) was not moved (reject it instead)."
        }
    }
}

extension Catalog {
    /// Up to `limit` of one person's rejected images not yet reviewed (of these reasons, all when nil; with
    /// `drawable`, only files that decoded), by reason and id, after `after` in that order: a page of the review
    /// queue, read from its own index (`image_review`) however large the catalog.
    public func reviewQueue(of personId: Int64, reasons: [String]? = nil, drawable: Bool = false,
                            after: (reason: Reason?, id: Int64)? = nil, limit: Int) throws -> [StoredImage] {
        var sql = "SELECT * FROM image WHERE " + Self.awaitingReview(personIds: [personId], reasons: reasons, drawable: drawable)
        var arguments: StatementArguments = [personId]
        if let reasons { arguments += StatementArguments(reasons) }
        // A rejection without a reason (none is written so) sorts first, as NULL does in SQLite and "" in Swift.
        switch after {
        case nil: break
        case let (nil, id)?:
            sql += " AND (reason IS NOT NULL OR id > ?)"
            arguments += [id]
        case let (reason?, id)?:
            sql += " AND (reason > ? OR (reason = ? AND id > ?))"
            arguments += [reason, reason, id]
        }
        sql += " ORDER BY reason, id LIMIT ?"
        arguments += [limit]
        return try db.read { db in try StoredImage.fetchAll(db, sql: sql, arguments: arguments) }
    }

    /// How many images the review queue holds (of these people and reasons, all when nil; with `drawable`, only
    /// files that decoded), counted from its index without reading them.
    public func reviewQueueCount(personIds: [Int64]? = nil, reasons: [String]? = nil, drawable: Bool = false) throws -> Int {
        var arguments = StatementArguments(personIds ?? [])
        if let reasons { arguments += StatementArguments(reasons) }
        let sql = "SELECT COUNT(*) FROM image WHERE " + Self.awaitingReview(personIds: personIds, reasons: reasons, drawable: drawable)
        return try db.read { db in try Int.fetchOne(db, sql: sql, arguments: arguments) ?? 0 }
    }

    /// The review queue's condition, with `?` for each person and reason. Its first terms are written out as the
    /// partial index `image_review` states them, so SQLite reads the queue from it.
    private static func awaitingReview(personIds: [Int64]?, reasons: [String]?, drawable: Bool) -> String {
        var sql = "verdict = 'rejected' AND reviewed = 0"
        if let personIds { sql += " AND personId IN (\(personIds.map { _ in "?" }.joined(separator: ",")))" }
        if let reasons { sql += " AND reason IN (\(reasons.map { _ in "?" }.joined(separator: ",")))" }
        if drawable { sql += " AND normalizedPath IS NOT NULL" }
        return sql
    }

    /// Images with their faces (in idx order) and the images their verdicts point at (`related`) with theirs: what
    /// review shows of each, read in one transaction (a queue of a hundred thousand is not as many reads).
    public func withFaces(_ images: [StoredImage]) throws -> [(image: StoredImage, faces: [Face], related: [(image: StoredImage, faces: [Face])])] {
        try db.read { db in
            let byImage = try db.cachedStatement(sql: "SELECT * FROM face WHERE imageId = ? ORDER BY idx")
            func faces(_ id: Int64) throws -> [Face] { try Face.fetchAll(byImage, arguments: [id]) }
            return try images.map { image in
                let related = try (image.related ?? []).compactMap { try StoredImage.fetchOne(db, key: $0) }.map { ($0, try faces($0.id!)) }
                return (image, try faces(image.id!), related)
            }
        }
    }

    public func image(id: Int64) throws -> StoredImage? {
        try db.read { db in try StoredImage.fetchOne(db, key: id) }
    }

    /// The image columns a decision sets (and its undo restores); processing's and fetch's columns are not touched.
    static let reviewColumns: [Column] = {
        typealias C = StoredImage.Columns
        return [C.verdict, C.reason, C.detail, C.reviewed, C.reviewedAt, C.personId, C.split]
    }()

    /// Applies decisions in one transaction, as one batch (undone together). Returns the stored decisions.
    @discardableResult
    public func decide(_ changes: [ReviewChange]) throws -> [Decision] {
        try db.write { db in
            let batch = (try Int64.fetchOne(db, sql: "SELECT MAX(batch) FROM decision") ?? 0) + 1
            let now = Date()
            var out: [Decision] = []
            for change in changes {
                guard var image = try StoredImage.fetchOne(db, key: change.imageId) else { throw ReviewError.noImage(change.imageId) }
                let faces = try Face.of(change.imageId).fetchAll(db)
                let before = ImageState(verdict: image.verdict, reason: image.reason, detail: image.detail, reviewed: image.reviewed,
                                        reviewedAt: image.reviewedAt, personId: image.personId, split: image.split,
                                        chosenFace: faces.first(where: \.chosen)?.idx)
                switch change.action {
                case .accept:
                    image.verdict = .kept
                    image.detail = image.reason.map { "accepted in review (was \($0))" } ?? "accepted in review"
                    image.reason = nil
                case .reject:
                    // A confirmed rejection keeps its reason; a kept image rejected by a person says so.
                    if image.verdict != .rejected || image.reason == nil {
                        image.reason = .reviewer
                        image.detail = "rejected in review"
                    }
                    image.verdict = .rejected
                    image.split = nil
                case .face:
                    guard let choice = change.face, faces.contains(where: { $0.idx == choice.idx }) else {
                        throw ReviewError.noFace(imageId: change.imageId, idx: change.face?.idx ?? -1, count: faces.count)
                    }
                    try db.execute(sql: "UPDATE face SET chosen = (idx = ?) WHERE imageId = ?", arguments: [choice.idx, change.imageId])
                    // A new chip is looked at again by the second look (what it found was of the old one).
                    try db.execute(sql: """
                        UPDATE face SET chipPath = ?, descriptor = ?, eyesCovered = NULL, maskedDescriptor = NULL WHERE imageId = ? AND idx = ?
                        """,
                                   arguments: [choice.chipPath, choice.descriptor, change.imageId, choice.idx])
                    image.verdict = .kept
                    image.detail = "face \(choice.idx + 1) of \(faces.count) chosen in review" + (image.reason.map { " (was \($0))" } ?? "")
                    image.reason = nil
                case .relabel:
                    guard let target = change.personId, let person = try Person.fetchOne(db, key: target) else {
                        throw ReviewError.noPerson(change.personId ?? -1)
                    }
                    if target != image.personId,
                       let other = try StoredImage.filter(StoredImage.Columns.personId == target && StoredImage.Columns.sha256 == image.sha256).fetchOne(db) {
                        throw ReviewError.alreadyFiled(imageId: change.imageId, person: person.label, other: other.id!)
                    }
                    let from = try Person.fetchOne(db, key: image.personId)?.label ?? "?"
                    image.personId = target
                    image.verdict = .kept
                    image.detail = "moved from \(from) in review" + (image.reason.map { " (was \($0))" } ?? "")
                    image.reason = nil
                    image.split = nil   // the split is per person: the next `curate split` places it
                }
                image.reviewed = true
                image.reviewedAt = now
                try image.update(db, columns: Self.reviewColumns)
                var decision = Decision(imageId: change.imageId, batch: batch, action: change.action, face: change.face?.idx,
                                        personId: change.action == .relabel ? change.personId : nil, before: before,
                                        createdAt: now, undoneAt: nil)
                try decision.insert(db)
                out.append(decision)
            }
            return out
        }
    }

    /// Undoes the latest batch of decisions not undone yet: each image gets its earlier state back. Returns the
    /// undone decisions (empty when there is nothing to undo).
    @discardableResult
    public func undoLastDecision() throws -> [Decision] {
        try db.write { db in
            guard let batch = try Int64.fetchOne(db, sql: "SELECT MAX(batch) FROM decision WHERE undoneAt IS NULL") else { return [] }
            let decisions = try Decision.filter(Decision.Columns.batch == batch).order(Decision.Columns.id.desc).fetchAll(db)
            let now = Date()
            for var d in decisions {
                guard var image = try StoredImage.fetchOne(db, key: d.imageId) else { continue }
                let b = d.before
                image.verdict = b.verdict
                image.reason = b.reason
                image.detail = b.detail
                image.reviewed = b.reviewed
                image.reviewedAt = b.reviewedAt
                image.personId = b.personId
                image.split = b.split
                try image.update(db, columns: Self.reviewColumns)
                try db.execute(sql: "UPDATE face SET chosen = (idx IS ?) WHERE imageId = ?", arguments: [b.chosenFace, d.imageId])
                d.undoneAt = now
                try d.update(db)
            }
            return decisions
        }
    }

    /// Decisions made, newest first (undone ones included, marked).
    public func decisions(limit: Int = 100) throws -> [Decision] {
        try db.read { db in try Decision.order(Decision.Columns.id.desc).limit(limit).fetchAll(db) }
    }
}
