// `curate merge`: finished shard workspaces into one. The catalog makes the union (records and files); then the
// stages that look across people run over the merged catalog, as after processing, from the stored descriptors.
import Catalog
import Foundation

public struct MergeSummary: Codable, Sendable {
    public var shards: [ShardMergeOutcome]
    /// Image rows brought in this run, and how many a second of the union that was (files and rows).
    public var images: Int
    public var unionSeconds: Double
    public var imagesPerSecond: Double
    /// The stages across people (copies, identity, best copy); 0 when nothing new was merged.
    public var judgeSeconds: Double
    /// People whose identity the stages found and stored (those whose rows changed), and people who kept the one
    /// stored (no row of theirs changed).
    public var identitiesFound: Int
    public var identitiesKept: Int
    /// People whose rows the stages read and judged again, images whose copies they grouped and settled again, and
    /// whether they judged the whole catalog (else only what the merge changed; 0, 0, false when nothing was new).
    public var judgedPeople: Int
    public var regroupedImages: Int
    public var judgedWhole: Bool
    public var kept: Int
    public var rejected: [String: Int]
}

public final class Merger {
    private let catalog: Catalog
    private let options: ProcessOptions
    private let onShard: (ShardMergeOutcome) -> Void

    /// `options` gives the distances the cross-people stages judge by (those of `process`).
    public init(catalog: Catalog, options: ProcessOptions, onShard: @escaping (ShardMergeOutcome) -> Void = { _ in }) {
        self.catalog = catalog
        self.options = options
        self.onShard = onShard
    }

    /// Checks every shard, then merges them one by one, then judges across people if anything is new (or a
    /// killed merge left that undone): only what the merge changed, trusting the judgement the workspace and each
    /// shard last finished with these options (`ChangedJudgement`). Run again, it changes nothing.
    public func run(shards: [URL]) throws -> MergeSummary {
        let sources = try catalog.checkShards(shards)
        let started = Date()
        // Each shard's own judgement of its people comes with them where it was made with these options.
        let carry = JudgementCarry(options: Processor.judgementKey(options), identityOptions: options.identity.storeKey,
                                   renumber: IdentityShape.renumbered)
        let outcomes = try catalog.merge(sources, carrying: carry, onShard: onShard)
        let union = Date().timeIntervalSince(started)
        var judge = 0.0
        var across = AcrossCounts()
        across.whole = false
        if try catalog.unsettledMerges() > 0 {
            let t = Date()
            var stages = StageTimes()
            across = try Processor.judgeAcross(catalog, options, stages: &stages, changedOnly: true)
            try catalog.settleMerges()
            judge = Date().timeIntervalSince(t)
        }
        let counts = try catalog.counts()
        var rejected: [String: Int] = [:]
        for c in counts { for (k, v) in c.reasons { rejected[k, default: 0] += v } }
        let images = outcomes.map(\.images).reduce(0, +)
        return MergeSummary(shards: outcomes, images: images, unionSeconds: union,
                            imagesPerSecond: union > 0 ? Double(images) / union : 0, judgeSeconds: judge,
                            identitiesFound: across.found, identitiesKept: across.kept,
                            judgedPeople: across.judgedPeople, regroupedImages: across.regroupedImages, judgedWhole: across.whole,
                            kept: counts.map { $0.images["kept"] ?? 0 }.reduce(0, +), rejected: rejected)
    }
}
