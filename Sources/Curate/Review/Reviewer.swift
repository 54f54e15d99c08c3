// Review: the rejected images waiting for a person, and the decisions on them (accept, reject, face, relabel,
// undo), each written to the catalog at once. The terminal screens and the scripting form both go through here.
import Catalog
import Foundation

/// One image waiting for a decision, with what a person needs to decide.
public struct ReviewItem: Sendable {
    public var image: StoredImage
    public var label: String
    /// Every detected face, in idx order: face N on screen is idx N-1.
    public var faces: [Face]
    /// The other images of a `duplicate` or `label_conflict` verdict, with their people and faces; for a suspect,
    /// the person's most typical faces.
    public var related: [(image: StoredImage, label: String, faces: [Face])]
    /// How far the image's face is from its person's identity, when the identity is clear.
    public var distance: Float?
    /// The person the face looks like (a wrong_person verdict's, or the person a training run predicted): what
    /// relabel offers first.
    public var looksLike: String?
    /// For `review --run`: what the run answered for this validation face.
    public var answer: ValidationPrediction?
    /// For `review --quality`: the chosen face's measures.
    public var quality: FaceQuality?

    public var id: Int64 { image.id! }
    /// Files that never decoded (or were refused before decoding) are listed, not drawn.
    public var showable: Bool { image.normalizedPath != nil }
}

public enum ReviewInputError: BadInput, Equatable {
    case unknownReason(String)
    case badPair(option: String, value: String, expected: String)
    case cannotKeep(id: Int64, reason: String)
    case samePerson(id: Int64, label: String)
    case noRun(Int64)
    case unreadableRun(id: Int64, path: String, why: String)

    public var description: String {
        switch self {
        case let .unknownReason(r):
            return "unknown reason \"\(r)\"; reasons are: \(Reason.allCases.map(\.rawValue).joined(separator: ", "))."
        case let .badPair(option, value, expected):
            return "\(option) \(value): expected \(expected)."
        case let .cannotKeep(id, reason) where reason == Processor.crashDetail:
            return "image #\(id) was rejected because a run died while processing it, so it never decoded: "
                + "`curate process --retry-crashed` tries it again, after which it can be kept."
        case let .cannotKeep(id, reason):
            return "image #\(id) (\(reason)) never decoded, so it cannot be kept; reject it instead."
        case let .samePerson(id, label):
            return "image #\(id) is already filed under \(label)."
        case let .noRun(id):
            return "no training run #\(id) in this workspace (see `curate runs`)."
        case let .unreadableRun(id, path, why):
            return "run #\(id) has no readable answers in \(path) (\(why)); train again with `curate train`."
        }
    }
}

/// One decision of the scripting form (`--accept ID`, `--reject ID`, `--face ID:N`, `--relabel ID:person`).
public enum ReviewCommand: Equatable, Sendable {
    case accept(Int64)
    case reject(Int64)
    /// Face number N as drawn (1-based).
    case face(Int64, Int)
    case relabel(Int64, String)

    public var imageId: Int64 {
        switch self {
        case let .accept(id), let .reject(id), let .face(id, _), let .relabel(id, _): return id
        }
    }

    /// Parses `ID:N` for --face.
    public static func face(_ text: String) throws -> ReviewCommand {
        let parts = text.split(separator: ":", maxSplits: 1).map(String.init)
        guard parts.count == 2, let id = Int64(parts[0]), let n = Int(parts[1]), n >= 1 else {
            throw ReviewInputError.badPair(option: "--face", value: text, expected: "IMAGE_ID:FACE_NUMBER, e.g. 12:2 (faces are numbered from 1)")
        }
        return .face(id, n)
    }

    /// Parses `ID:person` for --relabel.
    public static func relabel(_ text: String) throws -> ReviewCommand {
        let parts = text.split(separator: ":", maxSplits: 1).map(String.init)
        guard parts.count == 2, let id = Int64(parts[0]), !parts[1].isEmpty else {
            throw ReviewInputError.badPair(option: "--relabel", value: text, expected: "IMAGE_ID:PERSON, e.g. 12:ben_afflek")
        }
        return .relabel(id, parts[1])
    }
}

/// What `curate review --list --json` prints per image. Every key is always present (null when unknown).
public struct ReviewRow: Codable, Sendable, Equatable {
    public var id: Int64
    public var label: String
    public var verdict: Verdict
    @ExplicitNull public var reason: Reason?
    @ExplicitNull public var detail: String?
    @ExplicitNull public var faces: Int?
    public var detected: Int
    @ExplicitNull public var width: Int?
    @ExplicitNull public var height: Int?
    public var shown: Bool
    public var related: [Int64]
    public var path: String
    public var sourceUrl: String
    @ExplicitNull public var pageUrl: String?
    /// Distance of the face to the person's identity, two decimals as the verdict details print it.
    @ExplicitNull public var distance: Double?
    @ExplicitNull public var looksLike: String?
    /// For `review --run`: the person the run predicted and its probability.
    @ExplicitNull public var predicted: String?
    @ExplicitNull public var probability: Double?
    /// For `review --quality`: the chosen face's measures and flags.
    @ExplicitNull public var quality: QualityRow?

    enum CodingKeys: String, CodingKey {
        case id, label, verdict, reason, detail, faces, detected, width, height, shown, related, path, distance, predicted, probability, quality
        case sourceUrl = "source_url"
        case pageUrl = "page_url"
        case looksLike = "looks_like"
    }
}

public final class Reviewer {
    public let catalog: Catalog
    private let modelFiles: ModelFiles
    private var models: FaceModels?   // loaded on the first face choice

    public init(catalog: Catalog, models: ModelFiles) {
        self.catalog = catalog
        self.modelFiles = models
    }

    /// What choosing a face will lack because model files are missing (no landmarks, no descriptor), if anything.
    public var modelWarning: String? { modelFiles.missingMessage }

    // MARK: What waits for review

    /// Rejected images not reviewed yet, of these people and reasons (all when empty), grouped by person and reason,
    /// read a page at a time (`ReviewQueue`); with `drawable`, only files that decoded (the grid's).
    public func queue(people: [String] = [], reasons: [String] = [], drawable: Bool = false) throws -> ReviewQueue {
        let known = Set(Reason.allCases.map(\.rawValue))
        for r in reasons where !known.contains(r) { throw ReviewInputError.unknownReason(r) }
        let ids = try people.map { try person(named: $0).id! }
        return try ReviewQueue(self, personIds: ids.isEmpty ? nil : ids, reasons: reasons.isEmpty ? nil : reasons, drawable: drawable)
    }

    /// How many images `queue` would give, without building them.
    public func queueCount(people: [String] = [], reasons: [String] = [], drawable: Bool = false) throws -> Int {
        let ids = try people.map { try person(named: $0).id! }
        return try catalog.reviewQueueCount(personIds: ids.isEmpty ? nil : ids, reasons: reasons.isEmpty ? nil : reasons, drawable: drawable)
    }

    /// The suspects (`IdentityIndex.isSuspect`: kept, no reviewer has looked, the face farther than
    /// `--suspect-distance` from a clear identity, a group photo's chosen face too), the farthest first, each beside
    /// the person's most typical faces: where a wrong person hides among the kept.
    public func suspects(people: [String] = []) throws -> [ReviewItem] {
        let ids = Set(try people.map { try person(named: $0).id! })
        let labels = try catalog.labels()
        let identities = try IdentityIndex(asJudged: catalog)
        var typical: [Int64: [(image: StoredImage, label: String, faces: [Face])]] = [:]
        var out: [ReviewItem] = []
        for image in try catalog.keptUnreviewed() where ids.isEmpty || ids.contains(image.personId) {
            let faces = try catalog.faces(of: image.id!)
            guard identities.isSuspect(image, faces: faces), let d = identities.suspectDistance(of: image, faces: faces) else { continue }
            if typical[image.personId] == nil {
                typical[image.personId] = try identities.typical(image.personId).compactMap { try catalog.image(id: $0) }
                    .map { ($0, labels[$0.personId] ?? "?", try catalog.faces(of: $0.id!)) }
            }
            var item = try item(image, labels: labels)
            item.related = typical[image.personId]!.filter { $0.image.id != image.id }
            item.distance = d
            item.looksLike = try identities.looksLike(image, in: catalog)?.label
            out.append(item)
        }
        return out.sorted { ($0.distance!, $1.id) > ($1.distance!, $0.id) }
    }

    /// Kept images no reviewer has looked at whose chosen face has a quality flag (any, or one of `flags`), the most
    /// flags first, then the softest: the faces that make poor training data.
    public func quality(people: [String] = [], flags: [QualityFlag] = [], options: QualityOptions = QualityOptions()) throws -> [ReviewItem] {
        let ids = Set(try people.map { try person(named: $0).id! })
        var found: [(imageId: Int64, quality: FaceQuality, flags: Int)] = []
        try catalog.forEachKeptFace { personId, imageId, face in
            guard ids.isEmpty || ids.contains(personId), let q = face.quality else { return }
            let hit = options.flags(q).filter { flags.isEmpty || flags.contains($0) }
            if !hit.isEmpty { found.append((imageId, q, hit.count)) }
        }
        let labels = try catalog.labels()
        return try found.sorted { ($0.flags, -$0.quality.sharpness, -$0.imageId) > ($1.flags, -$1.quality.sharpness, -$1.imageId) }
            .compactMap { f in
                guard let image = try catalog.image(id: f.imageId), !image.reviewed else { return nil }
                var item = try item(image, labels: labels)
                item.quality = f.quality
                return item
            }
    }

    /// The validation faces a training run named wrong (most confident first: likely labelling mistakes), then
    /// those it was unsure of (probability under `unsureBelow`, least sure first).
    public func runAnswers(run id: Int64, unsureBelow: Double = 0.6) throws -> [ReviewItem] {
        guard let run = try catalog.run(id: id) else { throw ReviewInputError.noRun(id) }
        let url = catalog.workspace.url(forRelativePath: run.folder).appendingPathComponent("metrics.json")
        struct Answers: Decodable { var validation: [ValidationPrediction] }
        let answers: [ValidationPrediction]
        do { answers = try JSONDecoder().decode(Answers.self, from: Data(contentsOf: url)).validation } catch {
            throw ReviewInputError.unreadableRun(id: id, path: url.path, why: "\(error)")
        }
        let wrong = answers.filter { $0.predicted != $0.actual }.sorted { ($0.probability, $1.imageId) > ($1.probability, $0.imageId) }
        let unsure = answers.filter { $0.predicted == $0.actual && $0.probability < unsureBelow }
            .sorted { ($0.probability, $0.imageId) < ($1.probability, $1.imageId) }
        let labels = try catalog.labels()
        return try (wrong + unsure).compactMap { answer in
            guard let image = try catalog.image(id: answer.imageId) else { return nil }   // gone since the run
            var item = try item(image, labels: labels)
            item.answer = answer
            if answer.predicted != answer.actual { item.looksLike = answer.predicted }
            return item
        }
    }

    public func item(id: Int64) throws -> ReviewItem {
        guard let image = try catalog.image(id: id) else { throw ReviewError.noImage(id) }
        return try item(image, labels: try catalog.labels())
    }

    func item(_ image: StoredImage, labels: [Int64: String]) throws -> ReviewItem {
        let related = try (image.related ?? []).compactMap { try catalog.image(id: $0) }
            .map { ($0, labels[$0.personId] ?? "?", try catalog.faces(of: $0.id!)) }
        return ReviewItem(image: image, label: labels[image.personId] ?? "?", faces: try catalog.faces(of: image.id!), related: related)
    }

    public func row(_ item: ReviewItem) -> ReviewRow {
        let i = item.image
        return ReviewRow(id: item.id, label: item.label, verdict: i.verdict, reason: i.reason, detail: i.detail,
                         faces: i.faces, detected: item.faces.count, width: i.width, height: i.height, shown: item.showable,
                         related: item.related.map { $0.image.id! }, path: catalog.workspace.url(forRelativePath: i.path).path,
                         sourceUrl: i.sourceUrl, pageUrl: i.pageUrl, distance: item.distance.map { (Double($0) * 100).rounded() / 100 }, looksLike: item.looksLike,
                         predicted: item.answer?.predicted, probability: item.answer?.probability, quality: item.quality.map { QualityRow($0) })
    }

    // MARK: People

    public func people() throws -> [Person] { try catalog.people() }

    /// The person with this label, ignoring case.
    public func person(named label: String) throws -> Person {
        let people = try catalog.people()
        guard let match = people.first(where: { $0.label.lowercased() == label.lowercased() }) else {
            throw ListingError.unknownPerson(label, known: people.map(\.label))
        }
        return match
    }

    /// Known labels starting with `prefix` (ignoring case), for completion.
    public func labels(startingWith prefix: String) throws -> [String] {
        try catalog.people().map(\.label).filter { $0.lowercased().hasPrefix(prefix.lowercased()) }
    }

    // MARK: Decisions

    /// Applies decisions as one batch (undone together): all are checked first, so a bad one writes nothing.
    @discardableResult
    public func apply(_ commands: [ReviewCommand]) throws -> [Decision] {
        var changes: [ReviewChange] = []
        for command in commands {
            guard let image = try catalog.image(id: command.imageId) else { throw ReviewError.noImage(command.imageId) }
            switch command {
            case .accept(let id):
                guard image.normalizedPath != nil else {
                    throw ReviewInputError.cannotKeep(id: id, reason: image.detail == Processor.crashDetail ? Processor.crashDetail
                                                      : image.reason?.rawValue ?? "not processed")
                }
                changes.append(ReviewChange(imageId: id, action: .accept))
            case .reject(let id):
                changes.append(ReviewChange(imageId: id, action: .reject))
            case let .face(id, number):
                let faces = try catalog.faces(of: id)
                guard let face = faces.first(where: { $0.idx == number - 1 }) else {
                    throw ReviewError.noFace(imageId: id, idx: number - 1, count: faces.count)
                }
                let chip = try makeChip(image, face: face)
                changes.append(ReviewChange(imageId: id, action: .face, face: (face.idx, chip.path, chip.descriptor)))
            case let .relabel(id, label):
                let target = try person(named: label)
                guard target.id != image.personId else { throw ReviewInputError.samePerson(id: id, label: target.label) }
                guard image.normalizedPath != nil else { throw ReviewInputError.cannotKeep(id: id, reason: image.reason?.rawValue ?? "not processed") }
                changes.append(ReviewChange(imageId: id, action: .relabel, personId: target.id))
            }
        }
        return try catalog.decide(changes)
    }

    /// Undoes the latest batch of decisions (of this session or an earlier one); empty when there is none.
    @discardableResult
    public func undo() throws -> [Decision] { try catalog.undoLastDecision() }

    /// The aligned chip and descriptor of the face a person picked, cut from the upright original.
    private func makeChip(_ image: StoredImage, face: Face) throws -> (path: String, descriptor: Data?) {
        if models == nil { models = try FaceModels(modelFiles) }
        let pixels = try DecodedImage.upright(image, in: catalog.workspace)
        var stages = StageTimes()   // timed only for processing's summary
        let chip = try FaceChip.make(pixels, face: DetectedFace(face), idx: face.idx, of: image, in: catalog.workspace, models: models!,
                                     stages: &stages)
        return (chip.path, chip.descriptor)   // its quality is measured by the next `curate process`
    }
}


/// The review queue, read a page at a time in its order (person's label, reason, id): the screen asks for the next
/// page as the reviewer walks and `review --list` prints each page as it is read, so opening it reads one page
/// whatever the size of the catalog, and memory does not grow with it. Each person's identity (a face's distance to
/// it, whom a wrong_person face looks like) is read where the stages across people stored it
/// (`StoredIdentityLookup`). The walk moves on from the last item it gave: an image decided meanwhile does not come
/// back, and one that comes back into the queue behind it (an undo) is not read again.
public final class ReviewQueue {
    /// Items a page holds: a few reads each, so a page is a few milliseconds.
    public static let pageSize = ProcessInfo.processInfo.environment["CURATE_TEST_REVIEW_PAGE"].flatMap(Int.init).map { max(1, $0) } ?? 100

    /// How many images waited when the queue was opened.
    public let count: Int
    private let reviewer: Reviewer
    private let labels: [Int64: String]
    /// The people walked, in the order of their labels.
    private let people: [Int64]
    private let reasons: [String]?
    private let drawable: Bool
    private let identities: StoredIdentityLookup
    private var person = 0
    private var after: (reason: Reason?, id: Int64)?

    init(_ reviewer: Reviewer, personIds: [Int64]?, reasons: [String]?, drawable: Bool) throws {
        self.reviewer = reviewer
        let catalog = reviewer.catalog
        labels = try catalog.labels()
        let wanted = personIds.map(Set.init)
        people = labels.filter { wanted?.contains($0.key) ?? true }.sorted { ($0.value, $0.key) < ($1.value, $1.key) }.map(\.key)
        self.reasons = reasons
        self.drawable = drawable
        identities = StoredIdentityLookup(catalog: catalog, options: try .judged(in: catalog))
        count = try catalog.reviewQueueCount(personIds: personIds, reasons: reasons, drawable: drawable)
    }

    /// The next page of items; empty at the end of the queue.
    public func next(_ limit: Int = ReviewQueue.pageSize) throws -> [ReviewItem] {
        let catalog = reviewer.catalog
        var images: [StoredImage] = []
        while images.count < limit, person < people.count {
            let wanted = limit - images.count
            let page = try catalog.reviewQueue(of: people[person], reasons: reasons, drawable: drawable, after: after, limit: wanted)
            images += page
            if page.count < wanted {
                person += 1
                after = nil
            } else if let last = page.last {
                after = (last.reason, last.id!)
            }
        }
        return try catalog.withFaces(images).map { image, faces, related in
            var item = ReviewItem(image: image, label: labels[image.personId] ?? "?", faces: faces,
                                  related: related.map { ($0.image, labels[$0.image.personId] ?? "?", $0.faces) })
            item.distance = try identities.distance(of: image, faces: faces)
            if image.reason == .wrongPerson { item.looksLike = try identities.looksLike(image, faces: faces)?.label }
            return item
        }
    }

    /// Every item left, read page by page (for a queue known to be small).
    public func rest() throws -> [ReviewItem] {
        var out: [ReviewItem] = []
        while case let page = try next(), !page.isEmpty { out += page }
        return out
    }
}
