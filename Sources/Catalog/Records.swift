// The catalog's records: plain Codable structs, one per table, with their named requests.
import Foundation
import GRDB

public struct Person: Codable, Sendable, Hashable, FetchableRecord, MutablePersistableRecord {
    public var id: Int64?
    public var label: String
    public var queryFile: String?
    public var createdAt: Date

    public init(label: String, queryFile: String?) {
        self.label = label
        self.queryFile = queryFile
        self.createdAt = Date()
    }

    /// The table's columns, for requests: `Person.Columns.id`.
    public enum Columns {
        public static let id = Column(CodingKeys.id)
        public static let label = Column(CodingKeys.label)
        public static let queryFile = Column(CodingKeys.queryFile)
        public static let createdAt = Column(CodingKeys.createdAt)
    }

    public mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }

    public static func named(_ label: String) -> QueryInterfaceRequest<Person> {
        filter(Columns.label == label)
    }
}

public struct SearchTerm: Codable, Sendable, Hashable, FetchableRecord, MutablePersistableRecord {
    public static let databaseTableName = "term"
    public var id: Int64?
    public var personId: Int64
    public var text: String
    public var kind: TermKind
    public var provider: Provider
    public var position: Int
    public var cursor: String?
    public var pages: Int
    public var results: Int
    public var state: TermState
    public var lastError: String?
    public var updatedAt: Date
    /// The term that found this one (a subcategory's category, a Wikidata entity's lookup); nil for query lines.
    public var parentId: Int64?

    public init(personId: Int64, text: String, kind: TermKind, provider: Provider, position: Int, parentId: Int64? = nil) {
        self.personId = personId
        self.parentId = parentId
        self.text = text
        self.kind = kind
        self.provider = provider
        self.position = position
        self.pages = 0
        self.results = 0
        self.state = .open
        self.updatedAt = Date()
    }

    /// The table's columns, for requests: `SearchTerm.Columns.id`.
    public enum Columns {
        public static let id = Column(CodingKeys.id)
        public static let personId = Column(CodingKeys.personId)
        public static let text = Column(CodingKeys.text)
        public static let kind = Column(CodingKeys.kind)
        public static let provider = Column(CodingKeys.provider)
        public static let position = Column(CodingKeys.position)
        public static let cursor = Column(CodingKeys.cursor)
        public static let pages = Column(CodingKeys.pages)
        public static let results = Column(CodingKeys.results)
        public static let state = Column(CodingKeys.state)
        public static let lastError = Column(CodingKeys.lastError)
        public static let updatedAt = Column(CodingKeys.updatedAt)
        public static let parentId = Column(CodingKeys.parentId)
    }

    public mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }

    /// Still to be asked for (direct URLs are queued, never asked for).
    public var isOpen: Bool { kind != .url && !state.isDone && state != .failed }

    public static func of(_ personId: Int64) -> QueryInterfaceRequest<SearchTerm> {
        filter(Columns.personId == personId).order(Columns.position, Columns.id)
    }
}

public struct Attempt: Codable, Sendable, Hashable, FetchableRecord, MutablePersistableRecord {
    public var id: Int64?
    public var personId: Int64
    public var termId: Int64?
    public var url: String
    public var pageUrl: String?
    public var title: String?
    public var provider: Provider
    public var license: String?
    public var licenseUrl: String?
    public var creator: String?
    public var attribution: String?
    public var rank: Int?
    public var state: AttemptState
    public var failure: FailureCode?
    public var transient: Bool
    public var httpStatus: Int?
    public var error: String?
    public var bytes: Int?
    public var ms: Int?
    public var tries: Int
    public var imageId: Int64?
    public var createdAt: Date
    public var updatedAt: Date

    public init(personId: Int64, termId: Int64?, url: String, provider: Provider, pageUrl: String? = nil,
                title: String? = nil, license: String? = nil, licenseUrl: String? = nil,
                creator: String? = nil, attribution: String? = nil, rank: Int? = nil) {
        self.personId = personId
        self.termId = termId
        self.url = url
        self.provider = provider
        self.pageUrl = pageUrl
        self.title = title
        self.license = license
        self.licenseUrl = licenseUrl
        self.creator = creator
        self.attribution = attribution
        self.rank = rank
        self.state = .queued
        self.transient = false
        self.tries = 0
        self.createdAt = Date()
        self.updatedAt = createdAt
    }

    /// The table's columns, for requests: `Attempt.Columns.id`.
    public enum Columns {
        public static let id = Column(CodingKeys.id)
        public static let personId = Column(CodingKeys.personId)
        public static let termId = Column(CodingKeys.termId)
        public static let url = Column(CodingKeys.url)
        public static let pageUrl = Column(CodingKeys.pageUrl)
        public static let title = Column(CodingKeys.title)
        public static let provider = Column(CodingKeys.provider)
        public static let license = Column(CodingKeys.license)
        public static let licenseUrl = Column(CodingKeys.licenseUrl)
        public static let creator = Column(CodingKeys.creator)
        public static let attribution = Column(CodingKeys.attribution)
        public static let rank = Column(CodingKeys.rank)
        public static let state = Column(CodingKeys.state)
        public static let failure = Column(CodingKeys.failure)
        public static let transient = Column(CodingKeys.transient)
        public static let httpStatus = Column(CodingKeys.httpStatus)
        public static let error = Column(CodingKeys.error)
        public static let bytes = Column(CodingKeys.bytes)
        public static let ms = Column(CodingKeys.ms)
        public static let tries = Column(CodingKeys.tries)
        public static let imageId = Column(CodingKeys.imageId)
        public static let createdAt = Column(CodingKeys.createdAt)
        public static let updatedAt = Column(CodingKeys.updatedAt)
    }

    public mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }

    /// URLs of a person still to download, oldest first.
    public static func queued(for personId: Int64) -> QueryInterfaceRequest<Attempt> {
        filter(Columns.personId == personId && Columns.state == AttemptState.queued)
            .order(Columns.id)
    }
}

public struct StoredImage: Codable, Sendable, Hashable, FetchableRecord, MutablePersistableRecord {
    public static let databaseTableName = "image"
    public var id: Int64?
    public var personId: Int64
    public var attemptId: Int64?
    public var sha256: String
    public var path: String
    public var bytes: Int
    public var format: ImageFormat
    public var sourceUrl: String
    public var pageUrl: String?
    public var title: String?
    public var provider: Provider
    public var term: String?
    public var license: String?
    public var licenseUrl: String?
    public var creator: String?
    public var attribution: String?
    public var createdAt: Date
    public var pixelSha256: String?
    public var phash: Int64?
    public var width: Int?
    public var height: Int?
    public var faces: Int?
    public var verdict: Verdict
    public var reason: Reason?
    public var detail: String?
    public var reviewed: Bool
    public var reviewedAt: Date?
    public var split: SplitSide?
    public var normalizedPath: String?
    public var orientation: Int?
    public var cameraMake: String?
    public var cameraModel: String?
    public var takenAt: String?
    public var processedAt: Date?
    /// The detector whose faces were recorded (nil before detection ran, or when the image never got to it).
    public var detector: FaceDetector?
    /// For `duplicate` and `label_conflict`: the other images of the group (the kept copy, or the same image
    /// under other people).
    public var related: [Int64]?
    /// The person's reference portrait (Wikidata's P18): identity treats it as an anchor, like a face a
    /// reviewer accepted.
    public var reference: Bool
    /// The verdict the image earns on its own (processing's, then identity's), before dedupe compares it with its
    /// copies: the best copy of a picture gets it, the others are its `duplicate`s (see `Dedupe`).
    public var ownVerdict: Verdict?
    public var ownReason: Reason?
    public var ownDetail: String?
    /// A JPEG's quality (1-100), estimated from its quantisation tables; nil for other formats. It ranks
    /// same-sized copies of one picture.
    public var jpegQuality: Int?

    public init(personId: Int64, attempt: Attempt, term: String?, sha256: String, path: String, bytes: Int, format: ImageFormat) {
        self.personId = personId
        self.attemptId = attempt.id
        self.sha256 = sha256
        self.path = path
        self.bytes = bytes
        self.format = format
        // What `list`, the manifest and the dataset card show: never a password given in the URL.
        self.sourceUrl = Self.redactingPassword(attempt.url)
        self.pageUrl = attempt.pageUrl.map(Self.redactingPassword)
        self.title = attempt.title
        self.provider = attempt.provider
        self.term = term.map(Self.redactingPassword)
        self.license = attempt.license
        self.licenseUrl = attempt.licenseUrl
        self.creator = attempt.creator
        self.attribution = attempt.attribution
        self.createdAt = Date()
        self.verdict = .pending
        self.reviewed = false
        self.reference = false
    }

    /// The table's columns, for requests: `StoredImage.Columns.id`.
    public enum Columns {
        public static let id = Column(CodingKeys.id)
        public static let personId = Column(CodingKeys.personId)
        public static let attemptId = Column(CodingKeys.attemptId)
        public static let sha256 = Column(CodingKeys.sha256)
        public static let path = Column(CodingKeys.path)
        public static let bytes = Column(CodingKeys.bytes)
        public static let format = Column(CodingKeys.format)
        public static let sourceUrl = Column(CodingKeys.sourceUrl)
        public static let pageUrl = Column(CodingKeys.pageUrl)
        public static let title = Column(CodingKeys.title)
        public static let provider = Column(CodingKeys.provider)
        public static let term = Column(CodingKeys.term)
        public static let license = Column(CodingKeys.license)
        public static let licenseUrl = Column(CodingKeys.licenseUrl)
        public static let creator = Column(CodingKeys.creator)
        public static let attribution = Column(CodingKeys.attribution)
        public static let createdAt = Column(CodingKeys.createdAt)
        public static let pixelSha256 = Column(CodingKeys.pixelSha256)
        public static let phash = Column(CodingKeys.phash)
        public static let width = Column(CodingKeys.width)
        public static let height = Column(CodingKeys.height)
        public static let faces = Column(CodingKeys.faces)
        public static let verdict = Column(CodingKeys.verdict)
        public static let reason = Column(CodingKeys.reason)
        public static let detail = Column(CodingKeys.detail)
        public static let reviewed = Column(CodingKeys.reviewed)
        public static let reviewedAt = Column(CodingKeys.reviewedAt)
        public static let split = Column(CodingKeys.split)
        public static let normalizedPath = Column(CodingKeys.normalizedPath)
        public static let orientation = Column(CodingKeys.orientation)
        public static let cameraMake = Column(CodingKeys.cameraMake)
        public static let cameraModel = Column(CodingKeys.cameraModel)
        public static let takenAt = Column(CodingKeys.takenAt)
        public static let processedAt = Column(CodingKeys.processedAt)
        public static let detector = Column(CodingKeys.detector)
        public static let related = Column(CodingKeys.related)
        public static let reference = Column(CodingKeys.reference)
        public static let ownVerdict = Column(CodingKeys.ownVerdict)
        public static let ownReason = Column(CodingKeys.ownReason)
        public static let ownDetail = Column(CodingKeys.ownDetail)
        public static let jpegQuality = Column(CodingKeys.jpegQuality)
    }

    /// `https://user:secret@host/x` as `https://user:***@host/x`; any other URL unchanged.
    public static func redactingPassword(_ url: String) -> String {
        guard let scheme = url.range(of: "://") else { return url }
        let rest = url[scheme.upperBound...]
        let authority = rest.prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        guard let at = authority.lastIndex(of: "@"), let colon = authority[..<at].firstIndex(of: ":") else { return url }
        return String(url[..<authority.index(after: colon)]) + "***" + String(url[at...])
    }

    public mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }

    public static func of(_ personId: Int64) -> QueryInterfaceRequest<StoredImage> {
        filter(Columns.personId == personId)
    }
}

/// One face found in an image.
public struct Face: Codable, Sendable, Hashable, FetchableRecord, MutablePersistableRecord {
    public var id: Int64?
    public var imageId: Int64
    public var idx: Int
    public var left: Double
    public var top: Double
    public var right: Double
    public var bottom: Double
    public var score: Double
    public var landmarks: [Double]?
    public var counted: Bool
    public var chosen: Bool
    public var chipPath: String?
    public var descriptor: Data?
    /// The chip's quality (Curate's `FaceQuality`): variance of the Laplacian, mean grey level, fractions of pixels
    /// clipped dark and bright, and the head's turn (0 facing the camera, 1 the nose at an eye); nil until measured.
    public var sharpness: Double?
    public var brightness: Double?
    public var darkFraction: Double?
    public var brightFraction: Double?
    public var yaw: Double?
    /// Whether the face's eyes are covered, looked at from its chip when it lands in its person's band (nil: not
    /// looked at); its descriptor with a bar over its eyes, where a second look compares it (Curate's `SecondLook`).
    public var eyesCovered: Bool?
    public var maskedDescriptor: Data?

    public init(imageId: Int64, idx: Int, left: Double, top: Double, right: Double, bottom: Double, score: Double,
                landmarks: [Double]?, counted: Bool, chosen: Bool = false, chipPath: String? = nil, descriptor: Data? = nil) {
        self.imageId = imageId
        self.idx = idx
        self.left = left
        self.top = top
        self.right = right
        self.bottom = bottom
        self.score = score
        self.landmarks = landmarks
        self.counted = counted
        self.chosen = chosen
        self.chipPath = chipPath
        self.descriptor = descriptor
    }

    /// The table's columns, for requests: `Face.Columns.id`.
    public enum Columns {
        public static let id = Column(CodingKeys.id)
        public static let imageId = Column(CodingKeys.imageId)
        public static let idx = Column(CodingKeys.idx)
        public static let left = Column(CodingKeys.left)
        public static let top = Column(CodingKeys.top)
        public static let right = Column(CodingKeys.right)
        public static let bottom = Column(CodingKeys.bottom)
        public static let score = Column(CodingKeys.score)
        public static let landmarks = Column(CodingKeys.landmarks)
        public static let counted = Column(CodingKeys.counted)
        public static let chosen = Column(CodingKeys.chosen)
        public static let chipPath = Column(CodingKeys.chipPath)
        public static let descriptor = Column(CodingKeys.descriptor)
        public static let sharpness = Column(CodingKeys.sharpness)
    }

    public mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }

    public var area: Double { max(0, right - left) * max(0, bottom - top) }

    public static func of(_ imageId: Int64) -> QueryInterfaceRequest<Face> {
        filter(Columns.imageId == imageId).order(Columns.idx)
    }

    /// The descriptor as 128 floats.
    public var descriptorValues: [Float]? { Self.unpack(descriptor) }

    /// `maskedDescriptor`'s 128 values (the descriptor with a bar over the eyes), nil when there is none.
    public var maskedValues: [Float]? { Self.unpack(maskedDescriptor) }

    public static func pack(_ values: [Float]) -> Data {
        values.withUnsafeBufferPointer { Data(buffer: $0) }
    }

    /// `pack`'s 128 floats read back; nil unless `data` holds exactly that many.
    static func unpack(_ data: Data?) -> [Float]? {
        guard let data, data.count == 128 * 4 else { return nil }
        return data.withUnsafeBytes { raw in (0..<128).map { raw.load(fromByteOffset: $0 * 4, as: Float.self) } }
    }
}
