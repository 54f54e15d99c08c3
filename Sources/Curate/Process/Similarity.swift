// Which images are copies of one picture: the one grouping that dedupe (verdicts) and split (one side per
// group) both use, over the same pixel hashes and the same Hamming index of pHashes.
import Catalog

enum Similarity {
    /// Disjoint sets over `images`' indices: images that share a key (`sameKeys`: the pixels' SHA-256, a source
    /// page) or whose pHashes are within `phashDistance` bits are in one set.
    static func copies<Image>(_ images: [Image], phashDistance: Int, phash: (Image) -> Int64?, sameKeys: (Image) -> [String]) -> UnionFind {
        var sets = UnionFind(count: images.count)
        var byKey: [String: Int] = [:]
        var index = HammingIndex(radius: phashDistance)
        var hashed: [Int] = []
        for (i, image) in images.enumerated() {
            for key in sameKeys(image) {
                if let j = byKey[key] { sets.union(i, j) } else { byKey[key] = i }
            }
            if let h = phash(image) {
                index.insert(UInt64(bitPattern: h))
                hashed.append(i)
            }
        }
        for (a, b) in index.pairs() { sets.union(hashed[a], hashed[b]) }
        return sets
    }
}

/// Finds every pair of 64-bit hashes within `radius` bits without comparing all pairs (multi-index hashing): the
/// bits are split into chunks, and two hashes that close differ in at most `radius / chunks` bits of at least one
/// chunk (pigeonhole), so each hash is compared only with those whose value in some chunk is its own, or its own
/// with that few bits flipped. Up to radius 3, radius + 1 chunks that must agree exactly; above, four chunks of 16
/// bits probed with their flips: at a million hashes, chunks of 9 bits (seven for radius 6) left buckets of
/// thousands, billions of comparisons, where 16 bits leave a few per bucket.
public struct HammingIndex {
    let radius: Int
    let chunks: [(shift: UInt64, mask: UInt64, bits: Int)]
    /// How many bits may differ within the chunk two hashes agree on best.
    let flips: Int
    var tables: [[UInt64: [Int]]]
    var hashes: [UInt64] = []

    public init(radius: Int) {
        self.radius = radius
        let parts = min(radius + 1, 4)
        flips = radius + 1 <= 4 ? 0 : radius / parts
        var chunks: [(UInt64, UInt64, Int)] = []
        var shift = 0
        for p in 0..<parts {
            let bits = 64 / parts + (p < 64 % parts ? 1 : 0)
            chunks.append((UInt64(shift), bits == 64 ? ~0 : (UInt64(1) << UInt64(bits)) - 1, bits))
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

    /// Every value within `flips` bits of `value` in a chunk of `bits` bits.
    static func probes(_ value: UInt64, bits: Int, flips: Int) -> [UInt64] {
        var out = [value]
        func flip(_ from: Int, _ left: Int, _ v: UInt64) {
            guard left > 0 else { return }
            for b in from..<bits {
                let w = v ^ (UInt64(1) << UInt64(b))
                out.append(w)
                flip(b + 1, left - 1, w)
            }
        }
        flip(0, flips, value)
        return out
    }

    /// Every pair (i < j) of inserted hashes within the radius.
    public func pairs() -> [(Int, Int)] {
        var seen = Set<Int>()   // i * count + j, to report a pair once though it may be found in several chunks
        var out: [(Int, Int)] = []
        let n = hashes.count
        for (t, c) in chunks.enumerated() {
            let table = tables[t]
            if flips == 0 {
                for bucket in table.values where bucket.count > 1 {
                    for a in 0..<bucket.count {
                        for b in (a + 1)..<bucket.count {
                            let i = min(bucket[a], bucket[b]), j = max(bucket[a], bucket[b])
                            guard (hashes[i] ^ hashes[j]).nonzeroBitCount <= radius else { continue }
                            if seen.insert(i * n + j).inserted { out.append((i, j)) }
                        }
                    }
                }
                continue
            }
            for i in 0..<n {
                for probe in Self.probes((hashes[i] >> c.shift) & c.mask, bits: c.bits, flips: flips) {
                    guard let bucket = table[probe] else { continue }
                    for j in bucket where j > i && (hashes[i] ^ hashes[j]).nonzeroBitCount <= radius {
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
