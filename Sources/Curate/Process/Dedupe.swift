// Dedupe: exact (same pixels) and near (pHash within a Hamming distance) copies, within a person and across people.
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
    var sameFaceDistance: Float = 0.35

    /// Recomputes duplicate and label_conflict verdicts over every undecided one-face image, so running it
    /// again (after more images arrive) gives the same answer as running it once.
    func run() throws {
        let images = try catalog.dedupeCandidates()
        guard !images.isEmpty else { return }
        let labels = try catalog.labels()

        // Groups of copies: same pixels or near pHash.
        var sets = Similarity.copies(images, phashDistance: phashDistance, sameKeys: { $0.pixelSha256.map { [$0] } ?? [] })

        // Edited copies pHash misses (crops, colour changes): close face descriptors within one person.
        let chosen = try catalog.chosenFaces(imageIds: images.compactMap(\.id)).compactMapValues(\.descriptorValues)
        if descriptorDistance > 0 {
            var byPerson: [Int64: [(Int, [Float])]] = [:]
            for (i, image) in images.enumerated() {
                if let d = chosen[image.id!] { byPerson[image.personId, default: []].append((i, d)) }
            }
            for items in byPerson.values {
                for (a, b) in closePairs(items.map(\.1), within: descriptorDistance) { sets.union(items[a].0, items[b].0) }
            }
        }

        // The face each image is kept for: copies under two people that keep different faces are two people in
        // one photo (identity chose a face for each), not a label conflict.
        func sameFace(_ a: Int, _ b: Int) -> Bool {
            guard let x = chosen[images[a].id!], let y = chosen[images[b].id!] else { return true }
            return Curate.descriptorDistance(x, y) < sameFaceDistance
        }

        var changes: [VerdictChange] = []
        for group in sets.groups() {
            // The same picture under two people with the same face: one label is wrong, a person decides which.
            let conflicts = group.filter { m in group.contains { images[$0].personId != images[m].personId && sameFace($0, m) } }
            for m in conflicts {
                let others = group.filter { images[$0].personId != images[m].personId && sameFace($0, m) }
                changes.append(VerdictChange(imageId: images[m].id!, verdict: .rejected, reason: .labelConflict,
                                             detail: "the same image is filed under another person: "
                                                + others.map { "#\(images[$0].id!) (\(labels[images[$0].personId] ?? "?"))" }.joined(separator: ", "),
                                             related: others.map { images[$0].id! }))
            }
            let rest = Dictionary(grouping: group.filter { !conflicts.contains($0) }, by: { images[$0].personId })
            for members in rest.values {
                dedupe(members, images: images, into: &changes)
            }
        }
        try catalog.apply(changes)
    }

    /// Copies of one picture under one person: the copy a reviewer kept, else the largest (ties: the earliest) is
    /// kept, the others are duplicates of it.
    private func dedupe(_ members: [Int], images: [StoredImage], into changes: inout [VerdictChange]) {
        let best = members.max { a, b in
            if images[a].reviewed != images[b].reviewed { return images[b].reviewed }
            let pa = (images[a].width ?? 0) * (images[a].height ?? 0), pb = (images[b].width ?? 0) * (images[b].height ?? 0)
            return pa != pb ? pa < pb : images[a].id! > images[b].id!
        }!
        let b = images[best]
        for m in members {
            if m == best {
                // Identity already said `kept` (with its detail): a kept image that stays kept is left as it is.
                if b.verdict != .kept { changes.append(VerdictChange(imageId: b.id!, verdict: .kept, reason: nil, detail: nil)) }
            } else {
                changes.append(VerdictChange(imageId: images[m].id!, verdict: .rejected, reason: .duplicate,
                                             detail: "a copy of #\(b.id!) (\(b.width ?? 0)×\(b.height ?? 0)), which is kept",
                                             related: [b.id!]))
            }
        }
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
