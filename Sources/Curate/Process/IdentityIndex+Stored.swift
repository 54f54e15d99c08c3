// The identities `status` and the review queue read: stored after the stages across people, found again only for the
// people whose rows changed.
import Catalog
import Foundation

extension IdentityOptions {
    /// The version of the rules that find an identity and judge its faces (IdentityCheck, Suspects): bump it with
    /// any change to them, so that identities (and the suspects counted with them) stored by the older rules are
    /// found again, not read. curate's own version does not change with each rule.
    public static let rules = 6

    /// What a stored identity was found with: the rules' version and every option.
    public var storeKey: String { "rules \(Self.rules) \(self)" }

    /// The options the stages across people last judged `catalog` by: the defaults with the distances given to
    /// `process` (stored by it), so that status, review, list and the gallery count and walk what processing judged.
    public static func judged(in catalog: Catalog) throws -> IdentityOptions {
        var o = IdentityOptions()
        if let t = try catalog.judgedThresholds() { (o.wrongDistance, o.suspectDistance, o.margin) = t }
        return o
    }
}

extension IdentityIndex {
    /// Every person's identity summary, by label, as `summaries()` of a fresh index gives them: read where the
    /// stages across people stored it (the catalog clears a stored one when a row it was found from changes), found again
    /// from their own rows for the people with none. A catalog of a million images is a read of 10,000 rows, not of
    /// a million descriptors.
    public static func summaries(_ catalog: Catalog, options: IdentityOptions = IdentityOptions()) throws -> [IdentitySummary] {
        let (stored, missing) = try catalog.storedIdentities(options: options.storeKey)
        let labels = try catalog.labels()
        var out: [IdentitySummary] = []
        var again = missing
        let decoder = JSONDecoder()
        for (personId, json) in stored {
            guard let label = labels[personId] else { continue }
            guard var summary = try? decoder.decode(IdentitySummary.self, from: Data(json.utf8)) else { again.append(personId); continue }
            summary.label = label
            out.append(summary)
        }
        if !again.isEmpty {
            // A few people are read alone; many (a catalog identity never ran on) in the one ordered pass.
            let index = try IdentityIndex(catalog: catalog, options: options, judging: false, only: again.count <= 1_000 ? again : nil)
            out += again.compactMap { index.people[$0] }.map(index.summary)
        }
        return out.sorted { $0.label < $1.label }
    }

    /// Stores the identity of every person the catalog has none stored for (with these options), found from the rows
    /// as they are now: the last of the stages across people (after dedupe has given the verdicts, which the
    /// suspects counted depend on). The catalog clears a person's stored identity whenever a row it is found from
    /// changes, so a person whose rows neither this run nor a merge changed keeps theirs, found from the same rows,
    /// without being found again; a summary depends on the person's own rows alone. Found while no row changes, it
    /// is stored; a person whose rows changed meanwhile (a reviewer deciding) is found again by status. Returns how
    /// many people's identities were found and how many were kept.
    @discardableResult
    static func store(_ catalog: Catalog, options: IdentityOptions) throws -> (found: Int, kept: Int) {
        // Those stored before their centres were (review measures against those) are found again too.
        let (stored, missing) = try catalog.storedCentres(options: options.storeKey)
        guard !missing.isEmpty else { return (0, stored.count) }
        // A few people are read alone; many in the one ordered pass (as `summaries`).
        let index = try IdentityIndex(catalog: catalog, options: options, judging: false, only: missing.count <= 1_000 ? missing : nil)
        let wanted = Set(missing)
        try catalog.storeIdentities(index.stored.filter { wanted.contains($0.personId) })
        return (missing.count, stored.count)
    }

    /// Every person's identity as the catalog stores it, against the changes counted when their rows were read.
    var stored: [StoredIdentity] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return people.values.compactMap { entry in
            guard let json = try? encoder.encode(summary(entry)) else { return nil }
            let shape = IdentityShape(entry)
            return StoredIdentity(personId: entry.personId, changes: changes[entry.personId] ?? 0, options: options.storeKey,
                                  summary: String(decoding: json, as: UTF8.self), centres: shape.encodedCentres, distances: shape.encodedDistances)
        }
    }
}

/// A person's identity as review measures a face against it: the centres of its groups (the photos' first; none when
/// the identity is unclear) and the distance of each face it was found from (a member measured without itself).
/// Stored beside the summary, as little-endian counts and values, so review does not find it again.
struct IdentityShape {
    var centres: [[Float]]
    var distances: [Int64: Float]

    init(centres: [[Float]], distances: [Int64: Float]) {
        self.centres = centres
        self.distances = distances
    }

    init(_ entry: IdentityIndex.Entry) {
        centres = entry.identity.isClear ? entry.identity.centres : []
        distances = entry.distances
    }

    /// Read back from `encodedCentres` and `encodedDistances`; nil if either is not what they write.
    init?(centres c: Data, distances d: Data) {
        guard let centres = Self.decodeCentres(c), let distances = Self.decodeDistances(d) else { return nil }
        self.centres = centres
        self.distances = distances
    }

    static func decodeDistances(_ data: Data) -> [Int64: Float]? {
        let bytes = [UInt8](data)
        guard bytes.count >= 4 else { return nil }
        let n = Int(Self.uint32(bytes, 0))
        guard bytes.count == 4 + n * 12 else { return nil }
        var distances: [Int64: Float] = [:]
        distances.reserveCapacity(n)
        for k in 0..<n {
            let at = 4 + k * 12
            var id: UInt64 = 0
            for b in 0..<8 { id |= UInt64(bytes[at + b]) << (8 * UInt64(b)) }
            distances[Int64(bitPattern: id)] = Float(bitPattern: Self.uint32(bytes, at + 8))
        }
        return distances
    }

    /// Stored face distances (`encodedDistances`) with each image id mapped by `ids`: how a merge brings the
    /// identities a shard stored, whose images are numbered anew. Nil where an id is not in `ids` or the data is not
    /// what `encodedDistances` writes.
    static func renumbered(_ data: Data, _ ids: [Int64: Int64]) -> Data? {
        guard let distances = decodeDistances(data) else { return nil }
        var out: [Int64: Float] = [:]
        for (id, d) in distances {
            guard let new = ids[id] else { return nil }
            out[new] = d
        }
        return IdentityShape(centres: [], distances: out).encodedDistances
    }

    static func decodeCentres(_ data: Data) -> [[Float]]? {
        let bytes = [UInt8](data)
        guard bytes.count >= 4 else { return nil }
        let n = Int(uint32(bytes, 0)), width = Descriptors.dimension * 4
        guard bytes.count == 4 + n * width else { return nil }
        return (0..<n).map { g in (0..<Descriptors.dimension).map { Float(bitPattern: uint32(bytes, 4 + g * width + $0 * 4)) } }
    }

    private static func uint32(_ bytes: [UInt8], _ at: Int) -> UInt32 {
        UInt32(bytes[at]) | UInt32(bytes[at + 1]) << 8 | UInt32(bytes[at + 2]) << 16 | UInt32(bytes[at + 3]) << 24
    }

    private static func append(_ value: UInt32, to out: inout [UInt8]) {
        for b in 0..<4 { out.append(UInt8(truncatingIfNeeded: value >> (8 * UInt32(b)))) }
    }

    /// The count of groups, then each centre's values; never empty (an empty blob is stored as NULL).
    var encodedCentres: Data {
        var out: [UInt8] = []
        Self.append(UInt32(centres.count), to: &out)
        for centre in centres { for v in centre { Self.append(v.bitPattern, to: &out) } }
        return Data(out)
    }

    /// The count of faces, then each face's image id (8 bytes) and distance, by id.
    var encodedDistances: Data {
        var out: [UInt8] = []
        Self.append(UInt32(distances.count), to: &out)
        for (id, d) in distances.sorted(by: { $0.key < $1.key }) {
            let bits = UInt64(bitPattern: id)
            Self.append(UInt32(truncatingIfNeeded: bits), to: &out)
            Self.append(UInt32(truncatingIfNeeded: bits >> 32), to: &out)
            Self.append(d.bitPattern, to: &out)
        }
        return Data(out)
    }

    /// How far an image's chosen face is from the identity, as `IdentityIndex.distance(of:)` measures it: the distance
    /// identity measured from its face, unless it is kept for another face (or was not measured), then that face's
    /// distance to the nearest group. `faces` are all the image's faces.
    func distance(of image: StoredImage, faces: [Face]) -> Float? {
        guard !centres.isEmpty, let id = image.id else { return nil }
        // Only the images identity looks at were measured, or have a face it measures (`identityCandidates`).
        guard image.processedAt != nil, (image.faces ?? 0) >= 1, !image.reviewed || image.verdict == .kept else { return nil }
        let measured = image.reviewed ? faces.filter(\.chosen) : faces
        if let chosen = IdentityIndex.chosenFace(measured, counted: image.faces, measured: distances[id] != nil) {
            return centres.map { descriptorDistance(chosen.descriptor, $0) }.min()
        }
        return distances[id]
    }
}

/// Every person's identity as the review queue asks about it (a face's distance to its person, who a wrong_person
/// face looks like), read where the stages across people stored it and found again, from their own rows, for the
/// people whose rows changed since: opening the queue of a million images reads a person's identity when the walk
/// reaches them, and every centre only when a face asks whom it looks like.
final class StoredIdentityLookup {
    private let catalog: Catalog
    private let options: IdentityOptions
    private var shapes: [Int64: IdentityShape] = [:]
    private var centres: IdentityCentres?

    init(catalog: Catalog, options: IdentityOptions = IdentityOptions()) {
        self.catalog = catalog
        self.options = options
    }

    /// A person's identity: stored, or found again from their rows.
    func shape(_ personId: Int64) throws -> IdentityShape {
        if let known = shapes[personId] { return known }
        if let stored = try catalog.storedIdentityShape(of: personId, options: options.storeKey),
           let shape = IdentityShape(centres: stored.centres, distances: stored.distances) {
            shapes[personId] = shape
            return shape
        }
        try findAgain([personId])
        return shapes[personId]!
    }

    /// Finds these people's identities from their rows (a few alone, many in the one ordered pass over all).
    private func findAgain(_ people: [Int64]) throws {
        guard !people.isEmpty else { return }
        let index = try IdentityIndex(catalog: catalog, options: options, judging: false, only: people.count <= 1_000 ? people : nil)
        for personId in people {
            shapes[personId] = index.people[personId].map(IdentityShape.init) ?? IdentityShape(centres: [], distances: [:])
        }
    }

    func distance(of image: StoredImage, faces: [Face]) throws -> Float? {
        try shape(image.personId).distance(of: image, faces: faces)
    }

    /// Who an image's chosen face looks like, other than its own person (`IdentityIndex.looksLike`).
    func looksLike(_ image: StoredImage, faces: [Face]) throws -> (label: String, distance: Float)? {
        guard let d = faces.first(where: \.chosen)?.descriptorValues else { return nil }
        return try everyCentre().nearest(d, notPerson: image.personId, within: options.suspectDistance)
    }

    private func everyCentre() throws -> IdentityCentres {
        if let centres { return centres }
        let (stored, missing) = try catalog.storedCentres(options: options.storeKey)
        var all: [Int64: [Float]] = [:]
        var again = missing
        for (personId, data) in stored {
            guard let groups = IdentityShape.decodeCentres(data) else { again.append(personId); continue }
            all[personId] = groups.first   // none: the identity is unclear
        }
        try findAgain(again.filter { shapes[$0] == nil })
        for personId in again { all[personId] = shapes[personId]?.centres.first }
        let labels = try catalog.labels()
        var out = IdentityCentres()
        for (personId, centre) in all.sorted(by: { $0.key < $1.key }) { out.append(personId, labels[personId] ?? "?", centre) }
        centres = out
        return out
    }
}
