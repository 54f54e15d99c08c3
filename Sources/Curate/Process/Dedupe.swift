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

    /// Recomputes duplicate and label_conflict verdicts over every undecided one-face image, so running it
    /// again (after more images arrive) gives the same answer as running it once.
    func run() throws {
        let images = try catalog.dedupeCandidates()
        guard !images.isEmpty else { return }
        let labels = try catalog.labels()

        // Groups of copies: same pixels or near pHash.
        var sets = Similarity.copies(images, phashDistance: phashDistance, sameKeys: { $0.pixelSha256.map { [$0] } ?? [] })

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
