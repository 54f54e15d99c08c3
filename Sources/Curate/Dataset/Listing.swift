// What `curate list` and `curate status` report: rows and counts read from the catalog.
import Catalog
import Foundation

/// One stored image as scripts see it (`curate list --json`). Field names are part of the interface; every key is
/// always present (an empty value is an explicit null), so scripts can rely on the shape.
public struct ImageRow: Codable, Sendable, Equatable {
    public var id: Int64
    public var label: String
    public var sourceUrl: String
    @ExplicitNull public var pageUrl: String?
    public var provider: Provider
    @ExplicitNull public var term: String?
    @ExplicitNull public var license: String?
    @ExplicitNull public var creator: String?
    public var sha256: String
    public var path: String
    public var bytes: Int
    public var format: ImageFormat
    public var verdict: Verdict
    @ExplicitNull public var reason: Reason?
    @ExplicitNull public var faces: Int?
    /// The detector whose faces were counted: hog, or cnn when the CNN detector's second look (`--detector cnn`)
    /// was what found them; null when detection never ran.
    @ExplicitNull public var detector: FaceDetector?
    public var reviewed: Bool
    @ExplicitNull public var split: SplitSide?
    /// The person's reference portrait (from Wikidata).
    public var reference: Bool
    /// What the verdict's stage said about it (`distance 0.71 > 0.60 for its only face found (62×62 px); ...`).
    @ExplicitNull public var detail: String?
    /// Distance of the chosen face to the person's identity, two decimals as the details print it; null when the
    /// identity is not clear or no face was chosen.
    @ExplicitNull public var distance: Double?
    /// Faces the detector found (counted or not).
    public var detected: Int
    /// The face the image is kept (or judged) for, in the upright image's pixels; null when none was chosen.
    @ExplicitNull public var face: FaceBox?
    /// Whether that face was chosen among several found (a group photo, or a larger face beside smaller ones).
    public var chosenAmongSeveral: Bool
    /// That face's quality measures and flags; null when no face was chosen or it was not measured yet.
    @ExplicitNull public var quality: QualityRow?

    enum CodingKeys: String, CodingKey {
        case id, label, provider, term, license, creator, sha256, path, bytes, format, verdict, reason, faces, detector, reviewed, split, reference
        case detail, distance, detected, face, quality
        case sourceUrl = "source_url"
        case pageUrl = "page_url"
        case chosenAmongSeveral = "chosen_among_several"
    }
}

/// A face's quality as scripts see it: the measures (`FaceQuality`) and the flags they raise.
public struct QualityRow: Codable, Sendable, Equatable {
    public var sharpness: Double
    public var brightness: Double
    public var dark: Double
    public var bright: Double
    public var size: Int
    @ExplicitNull public var yaw: Double?
    public var flags: [QualityFlag]

    public init(_ q: FaceQuality, options: QualityOptions = QualityOptions()) {
        func round(_ x: Double, _ places: Double) -> Double { (x * places).rounded() / places }
        (sharpness, brightness, dark, bright, size) = (round(q.sharpness, 10), round(q.brightness, 10), round(q.dark, 1000), round(q.bright, 1000), q.size)
        yaw = q.yaw.map { round($0, 100) }
        flags = options.flags(q)
    }
}

/// A face's box as scripts see it: `number` as review draws it (from 1), edges in pixels.
public struct FaceBox: Codable, Sendable, Equatable {
    public var number: Int
    public var left: Int
    public var top: Int
    public var right: Int
    public var bottom: Int

    public init(_ face: Face) {
        number = face.idx + 1
        left = Int(face.left.rounded())
        top = Int(face.top.rounded())
        right = Int(face.right.rounded())
        bottom = Int(face.bottom.rounded())
    }
}

public enum ListingError: BadInput {
    case unknownPerson(String, known: [String])
    public var description: String {
        switch self {
        case let .unknownPerson(label, known):
            return "no person \"\(label)\" in this workspace; known: \(known.isEmpty ? "none" : known.joined(separator: ", "))."
        }
    }
}

public enum Listing {
    /// Stored images, optionally of one person and/or one reason code, in catalog order.
    public static func rows(_ catalog: Catalog, person: String? = nil, reason: String? = nil) throws -> [ImageRow] {
        var out: [ImageRow] = []
        try forEach(catalog, person: person, reason: reason) { out.append($0) }
        return out
    }

    /// `rows`, one at a time as the catalog yields them, so `curate list` prints a million rows in constant memory.
    public static func forEach(_ catalog: Catalog, person: String? = nil, reason: String? = nil, _ body: (ImageRow) throws -> Void) throws {
        let people = try catalog.people()
        var personId: Int64?
        if let person {
            guard let match = people.first(where: { $0.label.lowercased() == person.lowercased() }) else {
                throw ListingError.unknownPerson(person, known: people.map(\.label))
            }
            personId = match.id
        }
        let labels = Dictionary(uniqueKeysWithValues: people.map { ($0.id!, $0.label) })
        let identities = try IdentityIndex(asJudged: catalog)
        try catalog.forEachImageWithFaces(personId: personId, reason: reason) { image, faces in
            let chosen = faces.first(where: \.chosen)
            try body(ImageRow(id: image.id!, label: labels[image.personId] ?? "?", sourceUrl: image.sourceUrl,
                              pageUrl: image.pageUrl, provider: image.provider, term: image.term, license: image.license,
                              creator: image.creator, sha256: image.sha256,
                              path: catalog.workspace.url(forRelativePath: image.path).path, bytes: image.bytes,
                              format: image.format, verdict: image.verdict, reason: image.reason, faces: image.faces,
                              detector: image.detector, reviewed: image.reviewed, split: image.split, reference: image.reference,
                              detail: image.detail, distance: chosen == nil ? nil : identities.distance(of: image).map { (Double($0) * 100).rounded() / 100 },
                              detected: faces.count, face: chosen.map(FaceBox.init), chosenAmongSeveral: chosen != nil && faces.count > 1,
                              quality: chosen?.quality.map { QualityRow($0) }))
        }
    }
}
