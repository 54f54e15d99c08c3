// The identity stage of processing: every person's identity from the catalog, and the verdicts it gives
// (wrong_person, a group photo's face, suspects); also what status and review ask about identities.
import Catalog
import Foundation

/// Every person's identity, found from the one-face photos filed under them and the faces reviewers kept.
public struct IdentityIndex {
    public struct Entry {
        public var personId: Int64
        public var label: String
        public var identity: Identity
        /// The descriptors the identity was found from, and the image each came from.
        public var descriptors: Descriptors
        public var imageIds: [Int64]
        public var anchors: Int
        /// Distance of each image's face (one-face and reviewer-kept images) to the identity.
        public var distances: [Int64: Float]
    }

    public let options: IdentityOptions
    public private(set) var people: [Int64: Entry] = [:]
    let candidates: [IdentityCandidate]
    /// The chosen face of every candidate that has one with a descriptor.
    let chosen: [Int64: (idx: Int, descriptor: [Float])]
    /// The counted face of one-face images.
    let counted: [Int64: Int]

    /// Computes every person's identity from the catalog (cheap: a few milliseconds for hundreds of faces).
    public init(catalog: Catalog, options: IdentityOptions = IdentityOptions()) throws {
        self.options = options
        candidates = try catalog.identityCandidates()
        var chosen: [Int64: (Int, [Float])] = [:], counted: [Int64: Int] = [:]
        for c in candidates {
            if let f = c.faces.first(where: \.chosen), let d = f.descriptorValues { chosen[c.image.id!] = (f.idx, d) }
            if c.image.faces == 1, let f = c.faces.first(where: \.counted) { counted[c.image.id!] = f.idx }
        }
        self.chosen = chosen
        self.counted = counted
        let labels = try catalog.labels()
        var byPerson: [Int64: [IdentityCandidate]] = [:]
        for c in candidates { byPerson[c.image.personId, default: []].append(c) }
        for (personId, label) in labels {
            // One-face photos and reviewer-kept faces say who the person is; a group photo's faces are mixed.
            var descriptors = Descriptors()
            var imageIds: [Int64] = []
            var anchors = Set<Int>(), portraits = Set<Int>()
            // In content order (not id order, which follows download order): the same photos give the same
            // clusters however a fetch went.
            for c in (byPerson[personId] ?? []).sorted(by: { $0.image.sha256 < $1.image.sha256 }) {
                let face = c.image.reviewed ? c.faces.first : c.faces.first(where: \.counted)
                // A worse copy of a picture (dedupe marks them before identity runs) is not another face of the
                // person: ten copies of one intruder's photo must not make a majority.
                guard !c.isWorseCopy, c.image.reviewed || c.image.faces == 1, let d = face?.descriptorValues else { continue }
                // The person's reference portrait (Wikidata's P18) is as sure as a reviewer's word, and decides alone
                // where the photos give no identity (see Identity.find).
                if c.image.reference { portraits.insert(imageIds.count) } else if c.image.reviewed { anchors.insert(imageIds.count) }
                descriptors.append(d)
                imageIds.append(c.image.id!)
            }
            let identity = Identity.find(descriptors, anchors: anchors, portraits: portraits, options: options)
            var distances: [Int64: Float] = [:]
            if identity.isClear {
                for (i, id) in imageIds.enumerated() { distances[id] = identity.distance(of: i, in: descriptors) }
                // Worse copies are judged too (the verdict each would earn alone), measured against the identity.
                for c in byPerson[personId] ?? [] where c.isWorseCopy && c.image.faces == 1 {
                    if let d = c.faces.first(where: \.counted)?.descriptorValues { distances[c.image.id!] = identity.distance(to: d) }
                }
            }
            people[personId] = Entry(personId: personId, label: label, identity: identity, descriptors: descriptors,
                                     imageIds: imageIds, anchors: anchors.count + portraits.count, distances: distances)
        }
    }

    /// The person (other than `personId`) whose identity this face is closest to, when within `wrongDistance`.
    public func looksLike(_ descriptor: [Float], notPerson personId: Int64) -> (label: String, distance: Float)? {
        var best: (String, Float)?
        for entry in people.values where entry.personId != personId {
            guard let d = entry.identity.distance(to: descriptor), d <= options.wrongDistance else { continue }
            if best == nil || d < best!.1 || (d == best!.1 && entry.label < best!.0) { best = (entry.label, d) }
        }
        return best
    }

    /// How far an image's chosen face (its only face, or the one kept) is from its person's identity.
    public func distance(of image: StoredImage) -> Float? {
        guard let id = image.id, let entry = people[image.personId], entry.identity.isClear else { return nil }
        // The face identity was found from (leave-one-out), unless the image is kept for another of its faces.
        if let d = entry.distances[id], chosen[id] == nil || chosen[id]!.idx == counted[id] { return d }
        return chosen[id].flatMap { entry.identity.distance(to: $0.descriptor) }
    }

    /// Who an image's chosen face looks like, other than its own person.
    public func looksLike(_ image: StoredImage, in catalog: Catalog) throws -> (label: String, distance: Float)? {
        guard let id = image.id, let d = try chosen[id]?.descriptor ?? catalog.faces(of: id).first(where: \.chosen)?.descriptorValues else { return nil }
        return looksLike(d, notPerson: image.personId)
    }

    /// The images of a person whose faces are nearest the identity's centre: what the person looks like.
    public func typical(_ personId: Int64, count: Int = 3) -> [Int64] {
        guard let entry = people[personId], entry.identity.isClear else { return [] }
        let members = Set(entry.imageIds)
        return entry.distances.filter { members.contains($0.key) }.sorted { $0.value != $1.value ? $0.value < $1.value : $0.key < $1.key }.prefix(count).map(\.key)
    }

    /// Identity's verdict for every image it looks at that no reviewer decided, with the face it is kept for.
    func verdicts() -> [IdentityChange] {
        let o = options
        var out: [IdentityChange] = []
        for c in candidates where !c.image.reviewed {
            let id = c.image.id!
            guard let entry = people[c.image.personId] else { continue }
            let counted = c.image.faces ?? 0
            let own = c.faces.first(where: \.counted)?.idx
            func kept(_ detail: String?, face: Int?) -> IdentityChange {
                IdentityChange(verdict: VerdictChange(imageId: id, verdict: .kept, reason: nil, detail: detail), chosenFace: face)
            }
            // The face that is the person: within the distance, and by a margin nearer than every other face. Only
            // when every face was described, or a face not looked at could be the person.
            func match() -> IdentityChange? {
                guard entry.identity.isClear, c.faces.allSatisfy({ $0.descriptor != nil }) else { return nil }
                let ranked = c.faces.compactMap { f in f.descriptorValues.flatMap(entry.identity.distance(to:)).map { (f.idx, $0) } }
                    .sorted { $0.1 != $1.1 ? $0.1 < $1.1 : $0.0 < $1.0 }
                guard let best = ranked.first, best.1 <= o.wrongDistance, ranked.count < 2 || ranked[1].1 - best.1 >= o.margin else { return nil }
                var detail = String(format: "face %d of %d matches (%.2f", best.0 + 1, c.faces.count, best.1)
                detail += ranked.count > 1 ? String(format: "; next %.2f)", ranked[1].1) : ")"
                return kept(detail, face: best.0)
            }
            if counted == 1 {
                // A one-face photo: kept unless identity is clear and its face is far from it, when a smaller face
                // that is the person (beside a stranger in front) keeps it, or it is wrong_person.
                guard let d = entry.distances[id], d > o.wrongDistance, !c.image.reference else {
                    let d = entry.distances[id] ?? 0
                    out.append(kept(d > o.suspectDistance && !c.image.reference
                        ? String(format: "distance %.2f, between %.2f and %.2f: a suspect (curate review --suspects)", d, o.suspectDistance, o.wrongDistance)
                        : nil, face: own))
                    continue
                }
                if let m = match(), m.chosenFace != own { out.append(m); continue }
                var detail = String(format: "distance %.2f > %.2f", d, o.wrongDistance)
                if let values = c.faces.first(where: \.counted)?.descriptorValues, let like = looksLike(values, notPerson: c.image.personId) {
                    detail += String(format: "; looks like %@ (%.2f)", like.label, like.distance)
                }
                out.append(IdentityChange(verdict: VerdictChange(imageId: id, verdict: .rejected, reason: .wrongPerson,
                                                                 detail: detail), chosenFace: own))
            } else {
                // A group photo: kept with the one face that is the person, else multi_face as before.
                out.append(match() ?? IdentityChange(verdict: VerdictChange(imageId: id, verdict: .rejected, reason: .multiFace,
                                                                            detail: multiFaceDetail(counted: counted, detected: c.faces.count)),
                                                     chosenFace: nil))
            }
        }
        return out
    }
}

/// What `curate status` says about a person's identity.
public struct IdentitySummary: Codable, Sendable, Equatable {
    public var label: String
    public var clear: Bool
    /// One-face photos and reviewer-kept faces the identity was found from.
    public var faces: Int
    public var anchors: Int
    /// Whether the anchors decided who the person is.
    public var anchored: Bool
    /// Cluster sizes, largest first.
    public var clusters: [Int]
    /// Why there is no identity (null when clear).
    public var unclear: String?
}

extension IdentityIndex {
    /// Per person, by label.
    public func summaries() -> [IdentitySummary] {
        people.values.sorted { $0.label < $1.label }.map { e in
            IdentitySummary(label: e.label, clear: e.identity.isClear, faces: e.descriptors.count, anchors: e.anchors, anchored: e.identity.anchored,
                            clusters: e.identity.clusterSizes, unclear: e.identity.unclear)
        }
    }
}

extension IdentityCandidate {
    /// A copy of a picture that dedupe found a better copy of, under the same person (see `Dedupe.markCopies`).
    var isWorseCopy: Bool { !image.reviewed && image.reason == .duplicate }
}

/// The stage: recomputes identity verdicts over every undecided image, so running it again (after more images
/// arrive) gives the same answer as running it once. Its verdict is the image's own (see `StoredImage.ownVerdict`):
/// dedupe then gives it to the best copy of each picture.
struct IdentityCheck {
    let catalog: Catalog
    let options: IdentityOptions

    func run() throws {
        try catalog.applyIdentity(IdentityIndex(catalog: catalog, options: options).verdicts())
    }
}
