// Dedupe: exact (same pixels) and near (pHash within a Hamming distance) copies, within a person and across people.
import Catalog
import Foundation

/// Finds every pair of 64-bit hashes within `radius` bits without comparing all pairs: split the bits into
/// radius + 1 chunks; two hashes that close agree exactly on at least one chunk (pigeonhole), so only hashes
/// sharing a chunk value are compared (multi-index hashing).
public struct HammingIndex {
    let radius: Int
    let chunks: [(shift: UInt64, mask: UInt64)]
    var tables: [[UInt64: [Int]]]
    var hashes: [UInt64] = []

    public init(radius: Int) {
        self.radius = radius
        let parts = radius + 1
        var chunks: [(UInt64, UInt64)] = []
        var shift = 0
        for p in 0..<parts {
            let bits = 64 / parts + (p < 64 % parts ? 1 : 0)
            chunks.append((UInt64(shift), bits == 64 ? ~0 : (UInt64(1) << UInt64(bits)) - 1))
            shift += bits
        }
        self.chunks = chunks
        self.tables = Array(repeating: [:], count: parts)
    }

    public mutating func insert(_ hash: UInt64) {
        let id = hashes.count
        hashes.append(hash)
        for (t, c) in chunks.enumerated() { tables[t][(hash >> c.shift) & c.mask, default: []].append(id) }
    }

    /// Every pair (i < j) of inserted hashes within the radius.
    public func pairs() -> [(Int, Int)] {
        var seen = Set<Int>()   // i * count + j, to report a pair once though it may share several chunks
        var out: [(Int, Int)] = []
        let n = hashes.count
        for table in tables {
            for bucket in table.values where bucket.count > 1 {
                for a in 0..<bucket.count {
                    for b in (a + 1)..<bucket.count {
                        let i = min(bucket[a], bucket[b]), j = max(bucket[a], bucket[b])
                        guard (hashes[i] ^ hashes[j]).nonzeroBitCount <= radius else { continue }
                        if seen.insert(i * n + j).inserted { out.append((i, j)) }
                    }
                }
            }
        }
        return out
    }
}

/// Disjoint sets over 0..<count: which items must be treated as one (copies of one picture, one source page).
struct UnionFind {
    private var parent: [Int]

    init(count: Int) { parent = Array(0..<count) }

    mutating func find(_ i: Int) -> Int {
        var i = i
        while parent[i] != i { parent[i] = parent[parent[i]]; i = parent[i] }
        return i
    }

    mutating func union(_ a: Int, _ b: Int) {
        let (ra, rb) = (find(a), find(b))
        if ra != rb { parent[max(ra, rb)] = min(ra, rb) }
    }

    /// The sets, each listed by its members.
    mutating func groups() -> [[Int]] {
        var byRoot: [Int: [Int]] = [:]
        for i in parent.indices { byRoot[find(i), default: []].append(i) }
        return Array(byRoot.values)
    }
}

struct Dedupe {
    let catalog: Catalog
    let phashDistance: Int
    /// Two faces of one person closer than this (dlib descriptor distance) are the same photo, edited. Measured
    /// on ../shared/data/faces (README, "Dedupe"): no two different photos of a person came under 0.139; the
    /// only pairs under 0.12 were copies of one photo. pHash misses most 5% crops; this catches 77% of them.
    let descriptorDistance: Float

    /// Recomputes duplicate and label_conflict verdicts over every undecided one-face image, so running it
    /// again (after more images arrive) gives the same answer as running it once.
    func run() throws {
        let images = try catalog.dedupeCandidates()
        guard !images.isEmpty else { return }
        let labels = try catalog.labels()

        // Groups of copies: union-find over same-pixel and near-pHash pairs.
        var sets = UnionFind(count: images.count)

        var byPixels: [String: Int] = [:]
        var index = HammingIndex(radius: phashDistance)
        var hashed: [Int] = []
        for (i, image) in images.enumerated() {
            if let p = image.pixelSha256 {
                if let j = byPixels[p] { sets.union(i, j) } else { byPixels[p] = i }
            }
            if let h = image.phash {
                index.insert(UInt64(bitPattern: h))
                hashed.append(i)
            }
        }
        for (a, b) in index.pairs() { sets.union(hashed[a], hashed[b]) }

        // Edited copies pHash misses (crops, colour changes): close face descriptors within one person.
        if descriptorDistance > 0 {
            let faces = try catalog.chosenFaces(imageIds: images.compactMap(\.id))
            var byPerson: [Int64: [(Int, [Float])]] = [:]
            for (i, image) in images.enumerated() {
                if let d = faces[image.id!]?.descriptorValues { byPerson[image.personId, default: []].append((i, d)) }
            }
            for items in byPerson.values {
                for (a, b) in closePairs(items.map(\.1), within: descriptorDistance) { sets.union(items[a].0, items[b].0) }
            }
        }

        var changes: [VerdictChange] = []
        for members in sets.groups() {
            let people = Set(members.map { images[$0].personId })
            if members.count == 1 {
                changes.append(VerdictChange(imageId: images[members[0]].id!, verdict: .kept, reason: nil, detail: nil))
            } else if people.count > 1 {
                // The same picture under two people: one label is wrong, a person decides which.
                for m in members {
                    let others = members.filter { images[$0].personId != images[m].personId }
                        .map { "#\(images[$0].id!) (\(labels[images[$0].personId] ?? "?"))" }
                    changes.append(VerdictChange(imageId: images[m].id!, verdict: .rejected, reason: .labelConflict,
                                                 detail: "the same image is filed under another person: " + others.joined(separator: ", "),
                                                 related: members.filter { images[$0].personId != images[m].personId }.map { images[$0].id! }))
                }
            } else {
                // Keep the copy a reviewer kept, else the largest; ties go to the earliest.
                let best = members.max { a, b in
                    if images[a].reviewed != images[b].reviewed { return images[b].reviewed }
                    let pa = (images[a].width ?? 0) * (images[a].height ?? 0), pb = (images[b].width ?? 0) * (images[b].height ?? 0)
                    return pa != pb ? pa < pb : images[a].id! > images[b].id!
                }!
                for m in members {
                    if m == best {
                        changes.append(VerdictChange(imageId: images[m].id!, verdict: .kept, reason: nil, detail: nil))
                    } else {
                        let b = images[best]
                        changes.append(VerdictChange(imageId: images[m].id!, verdict: .rejected, reason: .duplicate,
                                                     detail: "a copy of #\(b.id!) (\(b.width ?? 0)×\(b.height ?? 0)), which is kept",
                                                     related: [b.id!]))
                    }
                }
            }
        }
        try catalog.apply(changes)
    }
}

/// Pairs of vectors closer than `radius`, by sort-and-sweep along the coordinate that varies most: two vectors
/// that close are that close on every coordinate, so only neighbours in the sorted order are compared.
func closePairs(_ vectors: [[Float]], within radius: Float) -> [(Int, Int)] {
    guard vectors.count > 1, let dims = vectors.first?.count else { return [] }
    var best = 0
    var bestVariance: Float = -1
    for d in 0..<dims {
        let mean = vectors.reduce(Float(0)) { $0 + $1[d] } / Float(vectors.count)
        let variance = vectors.reduce(Float(0)) { $0 + ($1[d] - mean) * ($1[d] - mean) }
        if variance > bestVariance { bestVariance = variance; best = d }
    }
    let order = vectors.indices.sorted { vectors[$0][best] < vectors[$1][best] }
    var out: [(Int, Int)] = []
    for (k, i) in order.enumerated() {
        var m = k + 1
        while m < order.count, vectors[order[m]][best] - vectors[i][best] < radius {
            let j = order[m]
            if descriptorDistance(vectors[i], vectors[j]) < radius { out.append((min(i, j), max(i, j))) }
            m += 1
        }
    }
    return out
}
