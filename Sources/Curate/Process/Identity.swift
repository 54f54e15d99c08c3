// Who a person looks like: the dominant identity among the face descriptors filed under a person, and each face's distance to it.
import Foundation

/// The distances that decide identity verdicts, in dlib descriptor units. Measured on ../shared/data
/// (docs/process.md, "Identity"; `curate-bench-identity measure` prints the figures).
public struct IdentityOptions: Sendable, Equatable {
    /// Two faces closer than this are joined in the graph that chinese whispers clusters.
    public var graphDistance: Float = 0.55
    /// Clusters whose centres are closer than this are fragments of one identity, and are joined.
    public var mergeDistance: Float = 0.4
    /// A one-face photo farther than this from its person's identity is `wrong_person`.
    public var wrongDistance: Float = 0.6
    /// Between this and `wrongDistance` a kept face is a suspect: kept, and first in `review --suspects`.
    public var suspectDistance: Float = 0.5
    /// How a one-face photo between `suspectDistance` and `wrongDistance` is settled with more evidence.
    public var band = BandRule()
    /// A face of a group photo is the person's when it is within `wrongDistance` and the next face is at least
    /// this much farther.
    public var margin: Float = 0.1
    /// Fewer faces than this (and no reviewer anchor) is too few to know who the person is.
    public var minFaces = 5
    /// The largest cluster must hold more than this share of the faces, and be twice the size of the next one.
    public var majority = 0.5
    /// Seeds chinese whispers' visiting order, so the same faces always give the same clusters.
    public var seed: UInt64 = 1
    /// A person with more faces than this is clustered from a sample of this many (every face is then given the
    /// cluster most common among its sampled neighbours): the graph of all pairs grows with the square of the
    /// faces (20,000 faces are 200 million pairs, most of them edges), the sample's with the faces.
    public var sampleAbove = 2_000

    public init() {}
}

/// The dominant identity among one person's faces.
public struct Identity: Sendable {
    /// Cluster sizes, largest first.
    public var clusterSizes: [Int]
    /// The faces (indices into the descriptors given) that are the person; empty when unclear.
    public var members: [Int]
    /// The mean of the members' descriptors; nil when the identity is unclear.
    public var centre: [Float]?
    /// Why there is no identity, for `curate status`; nil when there is one.
    public var unclear: String?
    /// Whether reviewer-kept faces (or the reference portrait) decided which cluster is the person, where the photos
    /// gave no identity.
    public var anchored: Bool
    /// Where reviewer-kept faces, or the reference portrait, disagree with what the photos agree on: what is kept,
    /// for `curate status`. Nil when they agree.
    public var disputed: String?
    /// The groups of faces that are the person, each with its centre: the photos' identity first, and where
    /// reviewer-kept faces disagree with a clear majority, theirs second (both kept).
    public var groups: [[Int]] = []
    var centres: [[Float]] = []

    public var isClear: Bool { centre != nil }

    /// Distance of descriptor `i` (one of those the identity was found from) to the person: a member is measured
    /// against the centre of the others of its group, so a face does not vouch for itself.
    public func distance(of i: Int, in descriptors: Descriptors) -> Float? {
        guard isClear else { return nil }
        if let g = groups.firstIndex(where: { $0.contains(i) }), groups[g].count > 1 {
            let m = groups[g].count, centre = centres[g]
            let x = descriptors[i]
            var sum: Float = 0
            let scale = Float(m) / Float(m - 1)
            for k in 0..<Descriptors.dimension {
                let c = centre[k] * scale - x[k] / Float(m - 1)
                let d = c - x[k]
                sum += d * d
            }
            return sum.squareRoot()
        }
        return distance(to: descriptors[i])
    }

    /// Distance of any descriptor (a face not among those the identity was found from) to the nearest group.
    public func distance(to descriptor: [Float]) -> Float? {
        centres.map { descriptorDistance(descriptor, $0) }.min()
    }

    /// Distance to the photos' identity alone (the first group): where it is disputed, what `review --suspects`
    /// ranks by, so the faces kept only for the reviewer's group come first.
    public func photosDistance(to descriptor: [Float]) -> Float? {
        centre.map { descriptorDistance(descriptor, $0) }
    }

    var memberSet: Set<Int>

    /// Finds the identity among `descriptors`. `anchors` are faces a reviewer kept: they are the person, and every
    /// anchor is a member. Where the photos give no identity, two or more anchors decide it (the clusters holding
    /// them); where a clear majority disagrees with them (none inside it), both are kept, as two groups, and the
    /// identity says it is disputed: a reviewer's decision settles the images decided, it does not reject the many
    /// others. `portraits` are the person's reference portraits (Wikidata's P18): one decides the identity only
    /// where the photos give none (too few faces, no clear majority, and the photos themselves not agreeing); where
    /// agreeing photos disagree with it, the photos stand and the portrait is the suspect.
    public static func find(_ descriptors: Descriptors, anchors reviewerAnchors: Set<Int> = [], portraits: Set<Int> = [],
                            options: IdentityOptions = IdentityOptions()) -> Identity {
        let anchors = reviewerAnchors.union(portraits)
        let n = descriptors.count
        guard n > 0 else {
            return Identity(clusterSizes: [], members: [], centre: nil, unclear: "no faces with descriptors", anchored: false, disputed: nil, memberSet: [])
        }
        let labels = n > options.sampleAbove
            ? sampledWhispers(descriptors, keeping: anchors, sample: options.sampleAbove, options: options)
            : chineseWhispers(neighbours: descriptors.neighbours(within: options.graphDistance), seed: options.seed)
        var byLabel: [Int: [Int]] = [:]
        for (i, l) in labels.enumerated() { byLabel[l, default: []].append(i) }
        let clusters = mergeFragments(Array(byLabel.values), descriptors, within: options.mergeDistance)
        let sizes = clusters.map(\.count)

        // The clear majority, if there is one.
        var majority: [Int]?
        var why: String?
        let second = sizes.count > 1 ? sizes[1] : 0
        if n < options.minFaces {
            why = "\(n) face\(n == 1 ? "" : "s"), fewer than \(options.minFaces)"
        } else if Double(sizes[0]) <= options.majority * Double(n) || sizes[0] < 2 * second {
            why = "no clear majority"
        } else {
            majority = clusters[0]
        }
        // Photos that agree without the portraits: the largest cluster's photos at least two, a clear majority of
        // the photos (more than `majority` of them, twice the next cluster's), every reviewer-kept face among them.
        if majority == nil, !portraits.isEmpty {
            let photoCounts = clusters.map { $0.filter { !portraits.contains($0) }.count }
            let photos = n - portraits.count
            if let top = photoCounts.indices.max(by: { photoCounts[$0] < photoCounts[$1] }) {
                let next = photoCounts.enumerated().filter { $0.offset != top }.map(\.element).max() ?? 0
                // A reviewer-kept face outside them is a reviewer disagreeing: then the anchors decide, as below.
                if photoCounts[top] >= 2, Double(photoCounts[top]) > options.majority * Double(photos), photoCounts[top] >= 2 * next,
                   Set(clusters[top]).isDisjoint(with: portraits), reviewerAnchors.isSubset(of: Set(clusters[top])) {
                    let agreeing = clusters[top].filter { !portraits.contains($0) }
                    return Identity.make(groups: [agreeing], descriptors, sizes: sizes, anchored: false,
                                         disputed: "the reference portrait is not the person \(agreeing.count) agreeing photos show: "
                                            + "the photos stand, the portrait is the suspect")
                }
            }
        }
        // A clear majority and reviewer-kept faces outside it (two or more, none inside): both are the person, as two
        // groups; nothing is rejected for being either.
        if let majority, reviewerAnchors.count >= 2, Set(majority).isDisjoint(with: anchors) {
            let theirs = Set(clusters.filter { !Set($0).isDisjoint(with: reviewerAnchors) }.joined()).union(reviewerAnchors).subtracting(majority)
            return Identity.make(groups: [majority, theirs.sorted()], descriptors, sizes: sizes, anchored: false,
                                 disputed: "\(reviewerAnchors.count) reviewer-kept faces are not the clear majority (\(majority.count) faces): "
                                    + "both kept; `curate review --suspects` shows the faces kept for the reviewer's")
        }
        // Reviewer-kept faces are the person, all of them: the clusters holding them are one identity. Two or
        // more outside the majority override it (a wrong majority, or none); a single one (a side-on photo kept
        // from the suspects) joins the majority instead of replacing it.
        let pooled = Set(clusters.filter { !Set($0).isDisjoint(with: anchors) }.joined()).union(anchors)
        var chosen: [Int]
        var anchored = false
        if let majority, !Set(majority).isDisjoint(with: anchors) {
            chosen = Array(pooled.union(majority))
        } else if anchors.count >= 2 || (majority == nil && !portraits.isEmpty) {
            chosen = Array(pooled)
            anchored = true
        } else if let majority {
            chosen = majority
        } else {
            return Identity(clusterSizes: sizes, members: [], centre: nil,
                            unclear: why! + (anchors.count == 1 ? "; one reviewer-kept face (two anchor it)" : ""), anchored: false,
                            disputed: nil, memberSet: [])
        }
        chosen = Array(Set(chosen).union(anchors)).sorted()
        return Identity.make(groups: [chosen], descriptors, sizes: sizes, anchored: anchored, disputed: nil)
    }

    /// A clear identity of these groups (the first is the photos'), each with its mean as its centre.
    static func make(groups: [[Int]], _ descriptors: Descriptors, sizes: [Int], anchored: Bool, disputed: String?) -> Identity {
        let centres = groups.map { group -> [Float] in
            var centre = [Float](repeating: 0, count: Descriptors.dimension)
            for i in group {
                let x = descriptors[i]
                for k in 0..<Descriptors.dimension { centre[k] += x[k] }
            }
            return centre.map { $0 / Float(group.count) }
        }
        let members = Array(Set(groups.joined())).sorted()
        return Identity(clusterSizes: sizes, members: members, centre: centres[0], unclear: nil, anchored: anchored, disputed: disputed,
                        groups: groups, centres: centres, memberSet: Set(members))
    }
}

/// Chinese whispers over a person with thousands of faces: on `sample` of them (evenly spaced in the order given,
/// which is content order, plus every anchor), then each other face takes the label most common among the sampled
/// faces within `graphDistance` (ties to the smaller label), or one of its own when none is that close: one pass
/// of the whispers with the sample's labels held. Labels are numbered as `chineseWhispers` numbers them.
func sampledWhispers(_ descriptors: Descriptors, keeping anchors: Set<Int>, sample: Int, options: IdentityOptions) -> [Int] {
    let n = descriptors.count
    var picked = Set((0..<sample).map { $0 * n / sample })
    picked.formUnion(anchors)
    let chosen = picked.sorted()
    var subset = Descriptors()
    subset.values.reserveCapacity(chosen.count * Descriptors.dimension)
    for i in chosen { subset.values.append(contentsOf: descriptors.values[(i * Descriptors.dimension)..<((i + 1) * Descriptors.dimension)]) }
    let sampled = chineseWhispers(neighbours: subset.neighbours(within: options.graphDistance), seed: options.seed)
    var labels = [Int](repeating: -1, count: n)
    for (k, i) in chosen.enumerated() { labels[i] = sampled[k] }
    var next = (sampled.max() ?? -1) + 1
    let r2 = options.graphDistance * options.graphDistance
    var counts = [Int](repeating: 0, count: next + 1)
    var touched: [Int] = []
    descriptors.values.withUnsafeBufferPointer { all in
        subset.values.withUnsafeBufferPointer { some in
            for i in 0..<n where labels[i] < 0 {
                let a = UnsafeRawPointer(all.baseAddress!).advanced(by: i * Descriptors.dimension * 4)
                for k in chosen.indices where squaredDistance(a, UnsafeRawPointer(some.baseAddress!).advanced(by: k * Descriptors.dimension * 4)) < r2 {
                    let l = sampled[k]
                    if counts[l] == 0 { touched.append(l) }
                    counts[l] += 1
                }
                var best = -1, bestCount = 0
                for l in touched {
                    if counts[l] > bestCount || (counts[l] == bestCount && l < best) { best = l; bestCount = counts[l] }
                    counts[l] = 0
                }
                touched.removeAll(keepingCapacity: true)
                if best >= 0 { labels[i] = best } else { labels[i] = next; next += 1 }
            }
        }
    }
    var renumber: [Int: Int] = [:]
    return labels.map { l in
        if let r = renumber[l] { return r }
        renumber[l] = renumber.count
        return renumber[l]!
    }
}

/// The squared distance of two descriptors, eight lanes of SIMD at a time.
@inline(__always) func squaredDistance(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer) -> Float {
    var acc = SIMD8<Float>()
    for l in 0..<(Descriptors.dimension / 8) {
        let d = a.loadUnaligned(fromByteOffset: l * 32, as: SIMD8<Float>.self) - b.loadUnaligned(fromByteOffset: l * 32, as: SIMD8<Float>.self)
        acc += d * d
    }
    return acc.sum()
}

/// Chinese whispers on a dense graph can split one person's varied photos into two or three large clusters,
/// differently for different visiting orders (measured: Elton John's 20 web photos came out 18/1/1 or 11/4/...).
/// Clusters (of two faces or more) whose centres are closer than `within` are one identity: joined, the closest
/// pair first. Returns the clusters largest first; equal sizes in order of their first face.
func mergeFragments(_ clusters: [[Int]], _ descriptors: Descriptors, within: Float) -> [[Int]] {
    func order(_ c: [[Int]]) -> [[Int]] { c.map { $0.sorted() }.sorted { $0.count != $1.count ? $0.count > $1.count : $0[0] < $1[0] } }
    var clusters = order(clusters)
    // Only the largest clusters are worth joining (singletons are faces with no neighbour at all).
    var groups = Array(clusters.prefix { $0.count >= 2 }.prefix(64))
    let rest = Array(clusters.dropFirst(groups.count))
    func centre(_ members: [Int]) -> [Float] {
        var c = [Float](repeating: 0, count: Descriptors.dimension)
        for i in members { for (k, v) in descriptors[i].enumerated() { c[k] += v } }
        return c.map { $0 / Float(members.count) }
    }
    var centres = groups.map(centre)
    while groups.count > 1 {
        var best: (Int, Int, Float)?
        for a in groups.indices {
            for b in (a + 1)..<groups.count {
                let d = descriptorDistance(centres[a], centres[b])
                if d < within && (best == nil || d < best!.2) { best = (a, b, d) }
            }
        }
        guard let (a, b, _) = best else { break }
        groups[a] += groups[b]
        groups.remove(at: b)
        centres[a] = centre(groups[a])
        centres.remove(at: b)
    }
    clusters = order(groups + rest)
    return clusters
}

/// Face descriptors (128 floats each) in one flat buffer, for fast all-pairs distances.
public struct Descriptors: Sendable {
    public static let dimension = 128
    var values: [Float] = []

    public init() {}
    public init(_ list: [[Float]]) { for d in list { append(d) } }

    public var count: Int { values.count / Self.dimension }

    public mutating func append(_ descriptor: [Float]) {
        precondition(descriptor.count == Self.dimension, "a face descriptor has \(Self.dimension) values")
        values.append(contentsOf: descriptor)
    }

    public subscript(i: Int) -> [Float] { Array(values[(i * Self.dimension)..<((i + 1) * Self.dimension)]) }

    /// For each descriptor, the others closer than `radius`. All pairs, eight lanes of SIMD at a time: a few
    /// thousand faces take a few tens of milliseconds, and no index prunes well at face-recognition radii.
    func neighbours(within radius: Float) -> [[Int]] {
        let n = count
        let r2 = radius * radius
        var out = [[Int]](repeating: [], count: n)
        values.withUnsafeBufferPointer { buffer in
            let raw = UnsafeRawPointer(buffer.baseAddress!)
            for i in 0..<n {
                let a = raw.advanced(by: i * Self.dimension * 4)
                for j in (i + 1)..<max(i + 1, n) {
                    if squaredDistance(a, raw.advanced(by: j * Self.dimension * 4)) < r2 {
                        out[i].append(j)
                        out[j].append(i)
                    }
                }
            }
        }
        return out
    }
}

/// Chinese whispers (Biemann 2006, as dlib's `chinese_whispers`): every node starts in its own cluster and, in
/// a seeded random order, takes the label most common among itself and its neighbours (ties to the smaller
/// label), until a full pass changes nothing (or 100 passes). Labels are returned renumbered from 0.
public func chineseWhispers(neighbours: [[Int]], seed: UInt64, maxPasses: Int = 100) -> [Int] {
    let n = neighbours.count
    var labels = Array(0..<n)
    var counts = [Int](repeating: 0, count: n)
    var touched: [Int] = []
    var rng = SplitMix64(seed)   // Train's generator: the same seed gives the same order everywhere
    var order = Array(0..<n)
    for _ in 0..<maxPasses {
        // Fisher-Yates with the seeded generator: the same faces always visit in the same order.
        for i in stride(from: n - 1, to: 0, by: -1) {
            let j = Int(rng.next() % UInt64(i + 1))
            order.swapAt(i, j)
        }
        var changed = false
        for i in order where !neighbours[i].isEmpty {
            touched.removeAll(keepingCapacity: true)
            // The node's own label counts once, as dlib's face clustering graph has a self edge per face.
            touched.append(labels[i])
            counts[labels[i]] = 1
            for j in neighbours[i] {
                let l = labels[j]
                if counts[l] == 0 { touched.append(l) }
                counts[l] += 1
            }
            var best = labels[i], bestCount = 0
            for l in touched {
                if counts[l] > bestCount || (counts[l] == bestCount && l < best) { best = l; bestCount = counts[l] }
                counts[l] = 0
            }
            if best != labels[i] { labels[i] = best; changed = true }
        }
        if !changed { break }
    }
    var renumber: [Int: Int] = [:]
    return labels.map { l in
        if let r = renumber[l] { return r }
        renumber[l] = renumber.count
        return renumber[l]!
    }
}
