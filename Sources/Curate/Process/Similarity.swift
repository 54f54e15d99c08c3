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
