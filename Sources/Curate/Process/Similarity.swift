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
/// bits are cut into `radius + 2` chunks, and two hashes that close differ in at most `radius` of them, so agree
/// exactly on at least two (pigeonhole). Each pair of chunks is one table keyed by both chunks' bits (16 bits for
/// radius 6): only hashes sharing a key are compared. Cut into `radius + 1` chunks (agreeing on one), a million
/// hashes fell in buckets of thousands (9 bits a chunk) and `split` spent minutes comparing them.
public struct HammingIndex {
    let radius: Int
    let chunks: [(shift: UInt64, bits: UInt64)]
    var hashes: [UInt64] = []

    public init(radius: Int) {
        self.radius = radius
        let parts = min(max(radius, 0) + 2, 64)
        var chunks: [(UInt64, UInt64)] = []
        var shift = 0
        for p in 0..<parts {
            let bits = 64 / parts + (p < 64 % parts ? 1 : 0)
            chunks.append((UInt64(shift), UInt64(bits)))
            shift += bits
        }
        self.chunks = chunks
    }

    public mutating func insert(_ hash: UInt64) { hashes.append(hash) }

    /// Every pair (i < j) of inserted hashes within the radius.
    public func pairs() -> [(Int, Int)] {
        let n = hashes.count
        var seen = Set<Int>()   // i * count + j, to report a pair once though it may share several keys
        var out: [(Int, Int)] = []
        func consider(_ i: Int, _ j: Int) {
            guard (hashes[i] ^ hashes[j]).nonzeroBitCount <= radius else { return }
            if seen.insert(i * n + j).inserted { out.append((i, j)) }
        }
        guard n > 1 else { return [] }
        if radius >= 62 {   // fewer than two bits to a chunk: every pair is a candidate
            for i in 0..<n { for j in (i + 1)..<n { consider(i, j) } }
            return out
        }
        func mask(_ bits: UInt64) -> UInt64 { bits == 64 ? ~0 : (UInt64(1) << bits) - 1 }
        var keyed = [UInt64](repeating: 0, count: n)
        for a in chunks.indices {
            for b in (a + 1)..<chunks.count {
                let (sa, ba) = chunks[a], (sb, bb) = chunks[b]
                if ba + bb <= 32, n <= Int(UInt32.max) {
                    // The key and the hash's number in one word, sorted: equal keys are runs, numbers ascending.
                    func key(_ h: UInt64) -> UInt64 { ((h >> sa) & mask(ba)) << bb | ((h >> sb) & mask(bb)) }
                    if ba + bb <= 20 {
                        // Keys of 20 bits or fewer (16 at radius 6) sorted by counting them: two passes over the
                        // hashes instead of a comparison sort of a million words, in the same order.
                        var starts = [Int](repeating: 0, count: (1 << Int(ba + bb)) + 1)
                        for h in hashes { starts[Int(key(h)) + 1] += 1 }
                        for k in 1..<starts.count { starts[k] += starts[k - 1] }
                        for i in 0..<n {
                            let k = key(hashes[i])
                            keyed[starts[Int(k)]] = k << 32 | UInt64(i)
                            starts[Int(k)] += 1
                        }
                    } else {
                        for i in 0..<n { keyed[i] = key(hashes[i]) << 32 | UInt64(i) }
                        keyed.sort()
                    }
                    var start = 0
                    while start < n {
                        let key = keyed[start] >> 32
                        var end = start + 1
                        while end < n, keyed[end] >> 32 == key { end += 1 }
                        if end - start > 1 {
                            for x in start..<end { for y in (x + 1)..<end { consider(Int(keyed[x] & 0xFFFF_FFFF), Int(keyed[y] & 0xFFFF_FFFF)) } }
                        }
                        start = end
                    }
                } else {
                    // A small radius: keys too wide to pack beside the number.
                    var table: [UInt64: [Int]] = [:]
                    for i in 0..<n {
                        let h = hashes[i]
                        table[(h & (mask(ba) << sa)) | (h & (mask(bb) << sb)), default: []].append(i)
                    }
                    for bucket in table.values where bucket.count > 1 {
                        for x in bucket.indices { for y in (x + 1)..<bucket.count { consider(bucket[x], bucket[y]) } }
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
