// What `curate list` and `curate status` report: rows and counts read from the catalog.
import Catalog
import Foundation

/// One stored image as scripts see it (`curate list --json`). Field names are part of the interface.
public struct ImageRow: Codable, Sendable, Equatable {
    public var id: Int64
    public var label: String
    public var sourceUrl: String
    public var pageUrl: String?
    public var provider: String
    public var term: String?
    public var license: String?
    public var creator: String?
    public var sha256: String
    public var path: String
    public var bytes: Int
    public var format: ImageFormat
    public var verdict: Verdict
    public var reason: Reason?
    public var faces: Int?
    public var reviewed: Bool
    public var split: SplitSide?

    enum CodingKeys: String, CodingKey {
        case id, label, provider, term, license, creator, sha256, path, bytes, format, verdict, reason, faces, reviewed, split
        case sourceUrl = "source_url"
        case pageUrl = "page_url"
    }

    /// Every key is always present; a missing value is an explicit null, so scripts can rely on the shape.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(label, forKey: .label)
        try c.encode(sourceUrl, forKey: .sourceUrl)
        try c.encode(pageUrl, forKey: .pageUrl)
        try c.encode(provider, forKey: .provider)
        try c.encode(term, forKey: .term)
        try c.encode(license, forKey: .license)
        try c.encode(creator, forKey: .creator)
        try c.encode(sha256, forKey: .sha256)
        try c.encode(path, forKey: .path)
        try c.encode(bytes, forKey: .bytes)
        try c.encode(format, forKey: .format)
        try c.encode(verdict, forKey: .verdict)
        try c.encode(reason, forKey: .reason)
        try c.encode(faces, forKey: .faces)
        try c.encode(reviewed, forKey: .reviewed)
        try c.encode(split, forKey: .split)
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
        let people = try catalog.people()
        var personId: Int64?
        if let person {
            guard let match = people.first(where: { $0.label.lowercased() == person.lowercased() }) else {
                throw ListingError.unknownPerson(person, known: people.map(\.label))
            }
            personId = match.id
        }
        let labels = Dictionary(uniqueKeysWithValues: people.map { ($0.id!, $0.label) })
        return try catalog.images(personId: personId, reason: reason).map { image in
            ImageRow(id: image.id!, label: labels[image.personId] ?? "?", sourceUrl: image.sourceUrl,
                     pageUrl: image.pageUrl, provider: image.provider, term: image.term, license: image.license,
                     creator: image.creator, sha256: image.sha256,
                     path: catalog.workspace.url(forRelativePath: image.path).path, bytes: image.bytes,
                     format: image.format, verdict: image.verdict, reason: image.reason, faces: image.faces,
                     reviewed: image.reviewed, split: image.split)
        }
    }
}
