// The stages across people over only what changed since they last ran to the end (after a merge), giving exactly
// what judging the whole catalog gives: the copies a change reaches, the people whose identity can have changed,
// and the people whose faces an identity that moved can now be taken for.
import Catalog
import Foundation

/// What a run of the stages across people did.
public struct AcrossCounts: Codable, Sendable, Equatable {
    /// People whose identity was found and stored (their rows changed), and people who kept the one stored.
    public var found = 0
    public var kept = 0
    /// People whose rows identity read and judged (every person when the whole catalog was judged).
    public var judgedPeople = 0
    /// Images whose copies were grouped and settled (every decoded image when the whole catalog was judged).
    public var regroupedImages = 0
    /// Whether the whole catalog was judged (nothing judged with these options to trust: never, after other options,
    /// or after a run that changes what they judge from, such as `process`, began).
    public var whole = true

    public init() {}
}

extension Processor {
    /// What the stages across people judge by; a judgement of only what changed is exact only after one by the same.
    static func judgementKey(_ options: ProcessOptions) -> String {
        "\(options.identity.storeKey); phash \(options.phashDistance); descriptor \(options.descriptorDistance)"
    }
}

/// Judges only what changed since the stages last ran, from what they stored then (each person's identity, kept
/// while no row it is found from changes, with the centres every other face was measured against). The last
/// judgement of a person may be this workspace's or, for a person a merge brought, their shard's own (`judgedIn`,
/// brought where the shard finished with these options): people judged apart are each other's changes (a group of
/// copies joining images judged apart, an identity the faces of another judgement were not measured against), so a
/// first merge of shards cut by person judges only what crossing shards changes. Whole judging depends across
/// people in four ways, each followed here:
/// - copies: a group of copies (same pixels, near pHash, close faces of one person) may span people; each group
///   that holds an image of a changed person is grouped again whole (closed over every image it joins), which can
///   make another person's image a copy or the best copy;
/// - identity: a person's identity depends on their rows and on which of them are worse copies; those whose rows
///   or copies changed are found and judged again;
/// - who a face is taken for: a `wrong_person` face names the nearest other identity, and a face in the band is
///   another person's when their identity is nearer; where a changed person's identity moved (or appeared), every
///   other person who has such a face near its old or new centre is judged again;
/// - the crowd: a face in the band whose eyes are covered is measured against every other person's sure faces
///   described with the bar (`BandRule.cohortAgainst`), so every person with such a face is judged again.
/// Then every group of copies holding an image judged again is settled (best copy, `label_conflict`).
struct ChangedJudgement {
    let catalog: Catalog
    let options: ProcessOptions

    /// Nil where judging only the changes would not save anything (every person changed).
    func run() throws -> AcrossCounts? {
        let o = options.identity
        let key = Processor.judgementKey(options)
        let labels = try catalog.labels()
        let shapes = try catalog.identityShapes(options: o.storeKey)
        // Which judgement each person stands as: this workspace's (0, where it last finished with these options) or
        // a merged shard's (its id). The others changed.
        let trusted = try catalog.judgedOptions() == key
        var judgedIn: [Int64: Int64] = [:]
        for personId in labels.keys {
            guard let shape = shapes[personId], shape.valid else { continue }
            if let shard = shape.judgedIn { judgedIn[personId] = shard } else if trusted { judgedIn[personId] = 0 }
        }
        let changed = Set(labels.keys.filter { judgedIn[$0] == nil })
        guard changed.count < labels.count else { return nil }
        var counts = AcrossCounts()
        counts.whole = false
        guard !changed.isEmpty || Set(judgedIn.values).count > 1 else {
            (counts.found, counts.kept) = try IdentityIndex.store(catalog, options: o)
            try catalog.recordJudgement(key)
            return counts
        }
        // The centres each judgement measured its faces against: this workspace's as stored here (its people's own
        // rows), each shard's as it brought them.
        var measured: [Int64: [Int64: [Float]]] = [:]
        for (personId, shape) in shapes where shape.judgedIn == nil {
            if let first = shape.centres.flatMap(IdentityShape.decodeCentres)?.first { measured[0, default: [:]][personId] = first }
        }
        for (shard, byPerson) in try catalog.shardCentres() {
            for (personId, data) in byPerson {
                if let first = IdentityShape.decodeCentres(data)?.first { measured[shard, default: [:]][personId] = first }
            }
        }
        // Killed from here on, the next run judges the whole catalog (the shards' judgements are forgotten too).
        try catalog.recordJudgement(nil)
        let dedupe = Dedupe(catalog: catalog, phashDistance: options.phashDistance, descriptorDistance: options.descriptorDistance)
        var graph = try CopyGraph(catalog: catalog, phashDistance: options.phashDistance, descriptorDistance: options.descriptorDistance)

        // Copies: the groups holding a changed person's image or joining images judged apart, whole.
        let seeds = graph.seeds(of: changed).union(graph.spanning(judgedIn))
        let reached = try graph.closure(seeds)
        let before = try catalog.dedupeCandidates(ids: reached.map { graph.nodes[$0].id })
        let (copies, marks) = try dedupe.group(before)
        try catalog.apply(marks)
        let unreviewed = Set(before.filter { !$0.reviewed }.map(\.id!))
        let wasCopy = Set(before.filter { !$0.reviewed && $0.reason == .duplicate }.map(\.id!))
        let isCopy = Set(marks.filter { $0.reason == .duplicate && unreviewed.contains($0.imageId) }.map(\.imageId))
        let personOf = Dictionary(uniqueKeysWithValues: before.map { ($0.id!, $0.personId) })
        var people = changed
        for id in wasCopy.symmetricDifference(isCopy) { if let p = personOf[id] { people.insert(p) } }

        // Identity of those people, every other face measured against the centres stored.
        var centres: [Int64: [Float]] = [:]
        for (personId, shape) in shapes where !people.contains(personId) {
            if let first = shape.centres.flatMap(IdentityShape.decodeCentres)?.first { centres[personId] = first }
        }
        let look = SecondLook(options.models)
        let index = try IdentityIndex.judging(catalog, options: o, look: look, only: people.sorted(), others: centres)
        for personId in people { if let new = index.people[personId]?.identity.centre { centres[personId] = new } }
        // What moved for each judgement's faces: every centre that is not the one it measured them against (an
        // identity judged again, or one judged apart), with the one it did.
        var moved: [Int64: [[Float]]] = [:]
        for domain in Set(judgedIn.values) {
            let before = measured[domain] ?? [:]
            var list: [[Float]] = []
            for personId in Set(before.keys).union(centres.keys) where before[personId] != centres[personId] {
                if let old = before[personId] { list.append(old) }
                if let new = centres[personId] { list.append(new) }
            }
            moved[domain] = list
        }
        var verdicts = index.verdicts
        // And every person with a covered face in their band: the crowd it is measured against is every other
        // person's barred sure faces (`BandRule.cohortAgainst`), which judgements made apart, or the people judged
        // above, change.
        let crowded = try catalog.peopleWithCoveredFaces().subtracting(people)
        let near = Array(Set(try takenFor(moved, judgedIn: judgedIn, people: people, shapes: shapes)).union(crowded)).sorted()
        if !near.isEmpty {
            verdicts += try IdentityIndex.judging(catalog, options: o, look: look, only: near, others: centres).verdicts
        }
        try catalog.applyIdentity(verdicts)
        let judged = people.union(near)

        // Settling: every group holding an image judged again, or one grouped again above.
        let settled = try graph.closure(Set(reached).union(graph.seeds(of: judged)))
        let images = try catalog.dedupeCandidates(ids: settled.map { graph.nodes[$0].id })
        // The same groups as above where no other is settled (identity changes nothing they are grouped by).
        try dedupe.settle(settled == reached ? copies : try dedupe.group(images).0, among: images)

        (counts.found, counts.kept) = try IdentityIndex.store(catalog, options: o)
        counts.judgedPeople = judged.count
        counts.regroupedImages = settled.count
        try catalog.recordJudgement(key)
        return counts
    }

    /// The people other than `people` with a face whose verdict names or weighs the nearest other identity (measured
    /// farther than `suspectDistance` from their own: `wrong_person`, or in the band) within reach of one of the
    /// centres that moved for the judgement they stand as (`moved`, by `judgedIn`): judged again, that verdict may
    /// change. Read from the identities stored (a one-face photo's distance; the centres a group photo's faces are
    /// measured against) and those faces' descriptors alone.
    private func takenFor(_ movedFor: [Int64: [[Float]]], judgedIn: [Int64: Int64], people: Set<Int64>,
                          shapes: [Int64: (valid: Bool, centres: Data?, distances: Data?, judgedIn: Int64?)]) throws -> [Int64] {
        func moved(_ personId: Int64) -> [[Float]] { judgedIn[personId].flatMap { movedFor[$0] } ?? [] }
        guard movedFor.values.contains(where: { !$0.isEmpty }) else { return [] }
        let o = options.identity
        var owner: [Int64: Int64] = [:]
        for (personId, shape) in shapes where shape.valid && !people.contains(personId) && !moved(personId).isEmpty {
            guard let c = shape.centres, let d = shape.distances, let stored = IdentityShape(centres: c, distances: d) else { continue }
            for (id, distance) in stored.distances where distance > o.suspectDistance { owner[id] = personId }
        }
        // `looksLike` looks within suspectDistance, the band within its distance less otherMargin, and at the sure faces
        // of the people whose identity is within wrongDistance (`BandRule.otherFaceDecides`: a person's sure faces
        // change only with their centre); a little more for rounding (`IdentityCentres.nearest` measures again near
        // the edge).
        let reach = max(o.suspectDistance, o.wrongDistance - o.band.otherMargin, o.band.otherFaceDecides ? o.wrongDistance : 0) + 1e-3
        var out = Set<Int64>()
        if !owner.isEmpty {
            for (id, data) in try catalog.countedDescriptors(imageIds: Array(owner.keys)) {
                guard let personId = owner[id], !out.contains(personId), let d = Face.values(data) else { continue }
                if moved(personId).contains(where: { descriptorDistance(d, $0) <= reach }) { out.insert(personId) }
            }
        }
        // A photo of several faces kept for one in the band, or rejected for it (`IdentityIndex.groupChoice`): any of
        // its faces in the band of the person's identity (measured as identity measures it, against every group's
        // centre) may be the one chosen.
        var groups: [Int64: [[Float]]] = [:]
        for (personId, shape) in shapes where shape.valid && !people.contains(personId) && !moved(personId).isEmpty {
            if let c = shape.centres.flatMap(IdentityShape.decodeCentres), !c.isEmpty { groups[personId] = c }
        }
        for face in try catalog.groupPhotoFaces() {
            guard !out.contains(face.personId), let centres = groups[face.personId], let d = Face.values(face.descriptor),
                  let own = centres.map({ descriptorDistance(d, $0) }).min(),
                  own > o.suspectDistance - 1e-3, own <= o.wrongDistance + 1e-3 else { continue }
            if moved(face.personId).contains(where: { descriptorDistance(d, $0) <= reach }) { out.insert(face.personId) }
        }
        return out.sorted()
    }
}

/// Every decoded image's copy links, for finding the groups of copies that hold some images without grouping them
/// all: pixel hashes and pHashes of the whole catalog (a narrow read), and the close faces within a person read
/// only for the people a group reaches.
struct CopyGraph {
    let catalog: Catalog
    let descriptorDistance: Float
    let nodes: [CopyNode]
    private var sets: UnionFind
    private let byId: [Int64: Int]
    private let byPerson: [Int64: [Int]]
    /// For an image dedupe no longer groups (a reviewer rejected it), the candidates it was a copy of: their groups
    /// may have been joined through it.
    private var ghostLinks: [Int: [Int]] = [:]
    /// People whose close faces are joined.
    private var loaded = Set<Int64>()

    init(catalog: Catalog, phashDistance: Int, descriptorDistance: Float) throws {
        self.catalog = catalog
        self.descriptorDistance = descriptorDistance
        let nodes = try catalog.copyNodes()
        self.nodes = nodes
        sets = UnionFind(count: nodes.count)
        byId = Dictionary(uniqueKeysWithValues: nodes.enumerated().map { ($0.element.id, $0.offset) })
        byPerson = Dictionary(grouping: nodes.indices, by: { nodes[$0].personId })
        // The same grouping as `Similarity.copies` over the candidates (same pixels, near pHash).
        var byKey: [String: Int] = [:]
        for (i, n) in nodes.enumerated() where n.candidate {
            if let j = byKey[n.pixelSha256] { sets.union(i, j) } else { byKey[n.pixelSha256] = i }
        }
        for (i, n) in nodes.enumerated() where !n.candidate {
            if let j = byKey[n.pixelSha256] { ghostLinks[i, default: []].append(j) }
        }
        var index = HammingIndex(radius: phashDistance)
        var hashed: [Int] = []
        for (i, n) in nodes.enumerated() { if let h = n.phash { index.insert(UInt64(bitPattern: h)); hashed.append(i) } }
        for (a, b) in index.pairs() {
            let (i, j) = (hashed[a], hashed[b])
            switch (nodes[i].candidate, nodes[j].candidate) {
            case (true, true): sets.union(i, j)
            case (false, true): ghostLinks[i, default: []].append(j)
            case (true, false): ghostLinks[j, default: []].append(i)
            case (false, false): break
            }
        }
    }

    /// These people's candidates, and the candidates their other decoded images are copies of.
    func seeds(of people: Set<Int64>) -> Set<Int> {
        var out = Set<Int>()
        for personId in people {
            for i in byPerson[personId] ?? [] {
                if nodes[i].candidate { out.insert(i) } else { out.formUnion(ghostLinks[i] ?? []) }
            }
        }
        return out
    }

    /// The candidates of every group joined by pixels and pHashes that holds images of people judged apart (by the
    /// judgement each stands as, `judgedIn`; people not in it are judged again, and found by `seeds(of:)`).
    mutating func spanning(_ judgedIn: [Int64: Int64]) -> Set<Int> {
        guard Set(judgedIn.values).count > 1 else { return [] }
        var first: [Int: Int64] = [:]
        var mixed = Set<Int>()
        for i in nodes.indices where nodes[i].candidate {
            guard let domain = judgedIn[nodes[i].personId] else { continue }
            let root = sets.find(i)
            if let f = first[root] { if f != domain { mixed.insert(root) } } else { first[root] = domain }
        }
        guard !mixed.isEmpty else { return [] }
        return Set(nodes.indices.filter { nodes[$0].candidate && mixed.contains(sets.find($0)) })
    }

    /// Every candidate in a group of copies with one of `seeds`, in id order: the groups joined by pixels and pHashes,
    /// then by close faces within each person they reach, until no group reaches another person.
    mutating func closure(_ seeds: Set<Int>) throws -> [Int] {
        while true {
            let roots = Set(seeds.map { sets.find($0) })
            let members = nodes.indices.filter { nodes[$0].candidate && roots.contains(sets.find($0)) }
            let people = Set(members.map { nodes[$0].personId }).subtracting(loaded)
            guard descriptorDistance > 0, !people.isEmpty else { return members }
            loaded.formUnion(people)
            var faces: [Int64: [(node: Int, descriptor: [Float])]] = [:]
            for (id, face) in try catalog.copyDescriptors(of: people.sorted()) {
                guard let node = byId[id], let d = Face.values(face.descriptor) else { continue }
                faces[face.personId, default: []].append((node, d))
            }
            for items in faces.values {
                for (a, b) in closePairs(items.map(\.descriptor), within: descriptorDistance) { sets.union(items[a].node, items[b].node) }
            }
        }
    }
}

extension Face {
    /// A stored descriptor as 128 floats (nil if it is not one), as `descriptorValues` reads it.
    static func values(_ data: Data) -> [Float]? {
        var face = Face(imageId: 0, idx: 0, left: 0, top: 0, right: 0, bottom: 0, score: 0, landmarks: nil, counted: false)
        face.descriptor = data
        return face.descriptorValues
    }
}
