// `curate split`: train/validation/test per person, stratified, seeded, stable as the dataset grows, and
// with near-copies and photos of one source page kept on one side.
import Catalog
import Foundation

public struct SplitOptions: Codable, Sendable, Equatable {
    public var val: Double
    public var test: Double
    public var seed: UInt64
    /// People with fewer accepted images are left out.
    public var minImages: Int
    /// pHash distance under which two accepted images are kept on one side.
    public var phashDistance: Int

    public init(val: Double = 0.2, test: Double = 0, seed: UInt64 = 0, minImages: Int = 10, phashDistance: Int = 6) {
        self.val = val
        self.test = test
        self.seed = seed
        self.minImages = minImages
        self.phashDistance = phashDistance
    }
}

public struct PersonSplit: Codable, Sendable {
    public var label: String
    public var train: Int
    public var val: Int
    public var test: Int
    /// Set when the person was left out, with why.
    public var excluded: String?
}

public struct SplitSummary: Codable, Sendable {
    public var options: SplitOptions
    public var people: [PersonSplit]
    /// Images that got a split in this run (those assigned before keep theirs).
    public var assigned: Int
}

public enum SplitError: BadInput {
    case badFractions(Double, Double)
    case changed(old: SplitOptions, new: SplitOptions)
    case nothingAccepted
    /// Every person has fewer accepted images than --min: the most any has.
    case nobodyQualifies(min: Int, most: Int)

    public var description: String {
        switch self {
        case let .badFractions(val, test):
            return "--val \(val) and --test \(test) must each be between 0 and 1 and leave some images for training."
        case let .changed(old, new):
            return "this workspace is already split with --val \(old.val) --test \(old.test) --seed \(old.seed) --min \(old.minImages); "
                + "asked for --val \(new.val) --test \(new.test) --seed \(new.seed) --min \(new.minImages). "
                + "Run with the same options to extend it, or add --reset to split again from scratch."
        case .nothingAccepted:
            return "no accepted images to split: run `curate process` (and `curate review`) first."
        case let .nobodyQualifies(min, most):
            return "no person has \(min) accepted images (--min \(min)); the most any has is \(most). Nothing was split or "
                + "changed: give a lower --min."
        }
    }
}

public enum Splitter {
    /// The options a workspace was split with, if it was.
    public static func current(_ catalog: Catalog) throws -> SplitOptions? {
        guard let json = try catalog.setting("split") else { return nil }
        return try JSONDecoder().decode(SplitOptions.self, from: Data(json.utf8))
    }

    /// Assigns a split to every accepted image without one. Images assigned before keep their side, so a
    /// growing dataset never moves an image between train and validation. With `reset`, the earlier split is
    /// forgotten and every image assigned afresh, in the same transaction: bad options change nothing.
    public static func run(_ catalog: Catalog, options: SplitOptions, reset: Bool = false) throws -> SplitSummary {
        guard (0..<1).contains(options.val), (0..<1).contains(options.test), options.val + options.test < 1 else {
            throw SplitError.badFractions(options.val, options.test)
        }
        if !reset, let old = try current(catalog), old != options { throw SplitError.changed(old: old, new: options) }
        var accepted = try catalog.splitCandidates()
        if reset { for i in accepted.indices { accepted[i].split = nil } }
        guard !accepted.isEmpty else { throw SplitError.nothingAccepted }
        let labels = try catalog.labels()

        // Images that must share a side: near-copies (same pixels or close pHash) and one source page.
        var sets = Similarity.copies(accepted, phashDistance: options.phashDistance, phash: \.phash, sameKeys: { image in
            [image.pixelSha256.map { "px:" + $0 }, image.pageUrl.map { "page:\(image.personId):" + $0 }].compactMap { $0 }
        })
        let groups = sets.groups()

        var assignments: [Int64: String] = [:]
        var cleared: [Int64] = []
        var people: [PersonSplit] = []
        let byPerson = Dictionary(grouping: groups, by: { accepted[$0[0]].personId })
        for personId in byPerson.keys.sorted(by: { (labels[$0] ?? "") < (labels[$1] ?? "") }) {
            let personGroups = byPerson[personId]!
            let count = personGroups.reduce(0) { $0 + $1.count }
            let label = labels[personId] ?? "?"
            guard count >= options.minImages else {
                cleared += personGroups.flatMap { $0 }.map { accepted[$0].id }
                people.append(PersonSplit(label: label, train: 0, val: 0, test: 0,
                                          excluded: "\(count) accepted image(s), fewer than --min \(options.minImages)"))
                continue
            }
            var counts = ["train": 0, "val": 0, "test": 0]
            var open: [[Int]] = []
            for group in personGroups {
                // A group with an assigned member keeps that side, and its new members join it.
                if let side = group.compactMap({ accepted[$0].split?.rawValue }).first {
                    for m in group where accepted[m].split?.rawValue != side { assignments[accepted[m].id] = side }
                    counts[side, default: 0] += group.count
                } else {
                    open.append(group)
                }
            }
            // New groups in a seeded, content-derived order, each to the side furthest below its share.
            let want = ["val": Double(count) * options.val, "test": Double(count) * options.test]
            // Each group's rank computed once (a SHA-256), not at every comparison of the sort.
            for (_, group) in open.map({ (rank($0, accepted, options.seed), $0) }).sorted(by: { $0.0 < $1.0 }) {
                let side: String
                if Double(counts["val"]!) + Double(group.count) / 2 <= want["val"]! && want["val"]! > 0 { side = "val" }
                else if Double(counts["test"]!) + Double(group.count) / 2 <= want["test"]! && want["test"]! > 0 { side = "test" }
                else { side = "train" }
                for m in group { assignments[accepted[m].id] = side }
                counts[side, default: 0] += group.count
            }
            people.append(PersonSplit(label: label, train: counts["train"]!, val: counts["val"]!, test: counts["test"]!, excluded: nil))
        }
        // A split that would leave everyone out is a mistake in --min, not a dataset: refused before anything changes.
        if people.allSatisfy({ $0.excluded != nil }) {
            throw SplitError.nobodyQualifies(min: options.minImages, most: byPerson.values.map { $0.reduce(0) { $0 + $1.count } }.max() ?? 0)
        }
        let json = String(decoding: try JSONEncoder().encode(options), as: UTF8.self)
        try catalog.saveSplit(setting: json, assignments: assignments, cleared: cleared, reset: reset)
        return SplitSummary(options: options, people: people, assigned: assignments.count)
    }

    /// A group's place in the seeded order: SHA-256 of the seed and its smallest content hash, so it depends on
    /// the images themselves, not on when they arrived.
    static func rank(_ group: [Int], _ images: [Catalog.SplitCandidate], _ seed: UInt64) -> String {
        let key = group.map { images[$0].sha256 }.min()!
        return SHA256.hex(Array("\(seed):\(key)".utf8))
    }
}
