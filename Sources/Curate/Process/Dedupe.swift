// Dedupe: exact (same pixels) and near (pHash within a Hamming distance) copies over every decoded image; the
// best copy of each picture stands for it, the others are its duplicates; conflicts across people.
import Catalog
import Foundation

struct Dedupe {
    let catalog: Catalog
    let phashDistance: Int
    /// Two faces of one person closer than this (dlib descriptor distance) are the same photo, edited. Measured
    /// on ../shared/data/faces (README, "Dedupe"): no two different photos of a person came under 0.139; the
    /// only pairs under 0.12 were copies of one photo. pHash misses most 5% crops; this catches 77% of them.
    let descriptorDistance: Float
    /// Chosen faces of copies under two people closer than this are one face (a label conflict); farther, two
    /// people of one photo. Edited copies of one face stay under 0.3; two people's faces are rarely under 0.4.
    var sameFaceDistance: Float = Dedupe.sameFace
    static let sameFace: Float = 0.35

    /// The copies of each picture, as `markCopies` found them.
    struct Copies {
        /// Groups of copies of one picture (image ids); images without copies are groups of one.
        var groups: [[Int64]]
        /// Every image's best copy under its own person (an image that is its person's best copy maps to itself).
        var best: [Int64: Int64]
    }

    /// Groups every decoded image no reviewer has rejected into copies of one picture, and marks every copy but
    /// its person's best (`better`) a `duplicate`. Run before identity, so that a worse copy is not counted as
    /// one more face of the person; `settle` finishes the verdicts once identity has given the images theirs.
    ///
    /// Recomputed over every image each run, so running it again (after more images arrive) gives the same
    /// answer as running it once.
    ///
    /// `given`: only these candidates (whole groups: every copy of each is among them), as after a merge.
    func markCopies(_ given: [StoredImage]? = nil) throws -> Copies {
        let (copies, changes) = try group(given ?? catalog.dedupeCandidates())
        try catalog.apply(changes)
        return copies
    }

    /// The groups of copies among `candidates` (in id order) and the verdicts `markCopies` gives them.
    func group(_ candidates: [StoredImage]) throws -> (Copies, [VerdictChange]) {
        // A file that decoded but broke a later step (`processing failed`) is no copy of anything.
        let images = candidates.filter { $0.reviewed || $0.ownReason != .corrupt }
        guard !images.isEmpty else { return (Copies(groups: [], best: [:]), []) }

        // Groups of copies: same pixels or near pHash.
        var sets = Similarity.copies(images, phashDistance: phashDistance, phash: \.phash, sameKeys: { $0.pixelSha256.map { [$0] } ?? [] })

        // Edited copies pHash misses (crops, colour changes): close face descriptors within one person. The face
        // processing found alone in the image, or the one a reviewer chose: facts of the image that identity
        // (which runs after this) does not change, so a second run groups as the first did.
        let faces = try catalog.faces(of: images.compactMap(\.id))
        if descriptorDistance > 0 {
            var byPerson: [Int64: [(Int, [Float])]] = [:]
            for (i, image) in images.enumerated() {
                let face = image.reviewed ? faces[image.id!]?.first(where: \.chosen)
                    : image.faces == 1 ? faces[image.id!]?.first(where: \.counted) : nil
                if let d = face?.descriptorValues { byPerson[image.personId, default: []].append((i, d)) }
            }
            for items in byPerson.values {
                for (a, b) in closePairs(items.map(\.1), within: descriptorDistance) { sets.union(items[a].0, items[b].0) }
            }
        }

        var copies = Copies(groups: [], best: [:])
        var changes: [VerdictChange] = []
        for group in sets.groups() {
            copies.groups.append(group.map { images[$0].id! })
            for members in Dictionary(grouping: group, by: { images[$0].personId }).values {
                let best = images[members.max { Self.better(images[$1], than: images[$0]) }!]
                for m in members {
                    copies.best[images[m].id!] = best.id!
                    // The detail says how the better copy stands once identity has judged it (`settle`). A best
                    // copy takes its own verdict back, in case it was a worse copy before: identity tells the two
                    // apart by their verdicts (`IdentityCandidate.isWorseCopy`).
                    if images[m].id != best.id {
                        changes.append(VerdictChange(imageId: images[m].id!, verdict: .rejected, reason: .duplicate,
                                                     detail: Self.copyDetail(of: best, standing: nil), related: [best.id!]))
                    } else if !best.reviewed {
                        let own = Self.standing(best)
                        changes.append(VerdictChange(imageId: best.id!, verdict: own.verdict, reason: own.reason, detail: own.detail))
                    }
                }
            }
        }
        return (copies, changes)
    }

    /// Gives every image the verdict its copies leave it: the best copy of a picture under a person the verdict it
    /// earned on its own (processing's and identity's: kept, no_face, multi_face, too_small, wrong_person...) and
    /// every other copy `duplicate` of it, so no copy is kept while a better copy of the same photo is rejected.
    /// Best copies under two people that are both kept for the same face are `label_conflict`, for a person to
    /// settle (copies under two people that keep different faces are two people in one photo).
    /// `given`: the candidates the copies were grouped from (as they stand now), when not every image's.
    func settle(_ copies: Copies, among given: [StoredImage]? = nil) throws {
        let images = Dictionary(uniqueKeysWithValues: try (given ?? catalog.dedupeCandidates()).map { ($0.id!, $0) })
        let labels = try catalog.labels()
        // The face each image is kept for, as identity chose it.
        let chosen = try catalog.chosenFaces(imageIds: Array(images.keys)).compactMapValues(\.descriptorValues)
        func sameFace(_ a: Int64, _ b: Int64) -> Bool {
            guard let x = chosen[a], let y = chosen[b] else { return true }
            return Curate.descriptorDistance(x, y) < sameFaceDistance
        }

        var changes: [VerdictChange] = []
        for group in copies.groups {
            // A reviewer may have decided an image since `markCopies`; it leaves the group.
            let members = group.compactMap { images[$0] }
            let bests = members.filter { copies.best[$0.id!] == $0.id }
            let kept = bests.filter { Self.standing($0).verdict == .kept }
            var final: [Int64: VerdictChange] = [:]
            for image in bests {
                let id = image.id!
                let others = kept.filter { $0.personId != image.personId && sameFace($0.id!, id) }
                if Self.standing(image).verdict == .kept, !others.isEmpty {
                    // The same picture kept under two people for the same face: one label is wrong.
                    final[id] = VerdictChange(imageId: id, verdict: .rejected, reason: .labelConflict,
                                              detail: "the same image is filed under another person: "
                                                + others.map { "#\($0.id!) (\(labels[$0.personId] ?? "?"))" }.joined(separator: ", "),
                                              related: others.map { $0.id! })
                } else {
                    let own = Self.standing(image)
                    final[id] = VerdictChange(imageId: id, verdict: own.verdict, reason: own.reason, detail: own.detail)
                }
            }
            for image in members where copies.best[image.id!] != image.id {
                guard let bestId = copies.best[image.id!], let best = images[bestId] else { continue }
                let standing = best.reviewed ? nil : final[bestId]
                changes.append(VerdictChange(imageId: image.id!, verdict: .rejected, reason: .duplicate,
                                             detail: Self.copyDetail(of: best, standing: standing), related: [bestId]))
            }
            changes += final.values
        }
        try catalog.apply(changes)
    }

    /// The verdict an image earned on its own. Images processed before the catalog kept it (migration v9) and
    /// not processed since fall back to their verdict, a copy or conflict verdict counting as kept (dedupe
    /// looked at kept images only then).
    static func standing(_ image: StoredImage) -> (verdict: Verdict, reason: Reason?, detail: String?) {
        if image.reviewed { return (image.verdict, nil, image.detail) }
        if let own = image.ownVerdict { return (own, image.ownReason, image.ownDetail) }
        if image.reason == .duplicate || image.reason == .labelConflict { return (.kept, nil, nil) }
        return (image.verdict, image.reason, image.detail)
    }

    /// Whether `a` is a better copy of one picture than `b`. A copy a reviewer kept first; then a copy in which
    /// processing found a face over one in which it found none (the detector can miss a face in the larger copy,
    /// blurred or upscaled, that it finds in a smaller one: a larger `no_face` copy must not make the copy that
    /// shows the person its duplicate); then more pixels; at equal size, the higher JPEG quality (from the
    /// quantisation tables) when both are JPEGs, else more bytes (at equal size, more bytes per pixel); then the
    /// one stored first.
    static func better(_ a: StoredImage, than b: StoredImage) -> Bool {
        let (ka, kb) = (a.reviewed && a.verdict == .kept, b.reviewed && b.verdict == .kept)
        if ka != kb { return ka }
        // Faces processing counted: a fact of the image, so a second run chooses as the first did.
        let (fa, fb) = ((a.faces ?? 0) > 0, (b.faces ?? 0) > 0)
        if fa != fb { return fa }
        let (pa, pb) = ((a.width ?? 0) * (a.height ?? 0), (b.width ?? 0) * (b.height ?? 0))
        if pa != pb { return pa > pb }
        if let qa = a.jpegQuality, let qb = b.jpegQuality, qa != qb { return qa > qb }
        if a.bytes != b.bytes { return a.bytes > b.bytes }
        return a.id! < b.id!
    }

    /// A duplicate's detail: "a copy of #12 (640×828, JPEG quality 90), the better copy, which is rejected
    /// (multi_face)". `standing` is the verdict the better copy gets (nil while not known yet, or when a
    /// reviewer decided it).
    static func copyDetail(of best: StoredImage, standing: VerdictChange?) -> String {
        var detail = "a copy of #\(best.id!) (\(best.width ?? 0)×\(best.height ?? 0)"
            + (best.jpegQuality.map { ", JPEG quality \($0)" } ?? "") + "), the better copy"
        if best.reviewed {
            detail += ", which a reviewer kept"
        } else if let standing {
            detail += standing.verdict == .kept ? ", which is kept" : ", which is rejected" + (standing.reason.map { " (\($0))" } ?? "")
        }
        return detail
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
    guard vectors.allSatisfy({ $0.count == Descriptors.dimension }) else {
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
    // One person's faces all lie within the window of one coordinate (their spread there is a fraction of the
    // radius), so the sweep compares nearly all pairs: 20,000 faces are 200 million. So the sweep runs over flat
    // buffers in sorted order, each pair measured eight lanes at a time; only a sum within rounding of the radius
    // is measured again as `descriptorDistance` sums, so the pairs are exactly those it finds.
    let keys = order.map { vectors[$0][best] }
    var flat = [Float]()
    flat.reserveCapacity(order.count * Descriptors.dimension)
    for i in order { flat.append(contentsOf: vectors[i]) }
    let r2 = radius * radius, surelyIn = r2 * (1 - 1e-3), surelyOut = r2 * (1 + 1e-3)
    let n = order.count
    keys.withUnsafeBufferPointer { keys in
        flat.withUnsafeBufferPointer { flat in
            let base = UnsafeRawPointer(flat.baseAddress!)
            for k in 0..<n {
                let a = base.advanced(by: k * Descriptors.dimension * 4)
                var m = k + 1
                while m < n, keys[m] - keys[k] < radius {
                    let s = squaredDistance(a, base.advanced(by: m * Descriptors.dimension * 4))
                    if s < surelyIn || (s <= surelyOut && descriptorDistance(vectors[order[k]], vectors[order[m]]) < radius) {
                        out.append((min(order[k], order[m]), max(order[k], order[m])))
                    }
                    m += 1
                }
            }
        }
    }
    return out
}
