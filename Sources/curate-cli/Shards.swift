// `--shard` for fetch and process, `curate shard-done` and `curate merge`: working past one machine.
import ArgumentParser
import Catalog
import Curate
import Foundation

/// Which shard of the people a command works on.
struct ShardOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Work only on the people of shard K of N (by a hash of each label), or auto: K and N from SLURM_ARRAY_TASK_ID and SLURM_ARRAY_TASK_COUNT, or JOB_COMPLETION_INDEX with --shard-count.", valueName: "K/N|auto"))
    var shard: String?

    @Option(name: .long, help: ArgumentHelp("The number of shards, for --shard auto (a Kubernetes Indexed Job sets only the index).", valueName: "N"))
    var shardCount: Int?

    func resolve() throws -> Shard? {
        try Shard.resolve(shard, count: shardCount, environment: ProcessInfo.processInfo.environment)
    }
}

/// The line that says which shard a command took and whose images: "shard 1/3: 2 of 5 people (ben, madonna)".
func shardLine(_ shard: Shard, taken: [String], of total: Int) -> String {
    let names = taken.count <= 20 ? taken.joined(separator: ", ") : taken.prefix(20).joined(separator: ", ") + ", and \(taken.count - 20) more"
    return "shard \(shard): \(taken.count) of \(total) people" + (taken.isEmpty ? "" : " (\(names))")
}

extension CurateCommand {
    struct ShardDone: Subcommand {
        static let configuration = CommandConfiguration(
            commandName: "shard-done",
            abstract: "Mark a finished shard's workspace, or publish it into a shared folder, with its shard.json.",
            discussion: """
            Every image must be processed. Without --into, writes shard.json (the shard's summary) into the
            workspace. With --into DEST (a shared folder, while the shard ran in node-local scratch), copies the
            catalog and every file beside DEST, renames the copy to DEST (replacing an earlier publication of the
            shard) and writes DEST/shard.json last: `curate merge` takes only shards that have it.
            """
        )

        @OptionGroup var global: GlobalOptions

        @Option(name: .long, help: ArgumentHelp("Publish the shard into this folder (copy, rename, then the marker).", valueName: "dir"))
        var into: String?

        func execute() throws {
            let catalog = try Catalog.openExisting(global.ws)
            let lock = try WorkspaceLock(global.ws, command: "shard-done")
            defer { withExtendedLifetime(lock) {} }
            let marker = try catalog.finishShard(into: into.map { URL(fileURLWithPath: $0) })
            if global.json { try printJSON(marker) }
            else if !global.quiet {
                eprint("shard \(marker.shard ?? "(whole)"): \(marker.people.count) people, \(marker.images) images, \(marker.faces) faces; "
                       + "\(ShardMarker.fileName) written in \(into ?? global.workspace)")
            }
        }
    }

    struct Merge: Subcommand {
        static let configuration = CommandConfiguration(
            abstract: "Merge finished shard workspaces into this one, then judge across people.",
            discussion: """
            Brings each shard's people, terms, URLs, images, faces and descriptors, review decisions and training
            runs, with its files (hard links where the file system allows, else copies checked by SHA-256), one
            transaction per shard; rows the workspace has already keep what they hold. Then copies across people
            (label_conflict), the best copy of each picture and every person's identity are judged over the
            merged catalog from the stored descriptors, as `process` does. A shard without shard.json is
            unfinished and refused; shards made with different settings are refused. Merging a shard again
            changes nothing; a killed merge is finished by running it again.
            """
        )

        @OptionGroup var global: GlobalOptions

        @Argument(help: ArgumentHelp("Finished shard workspaces (each with its shard.json).", valueName: "shard"))
        var shards: [String]

        @OptionGroup var judging: JudgingOptions

        func validate() throws {
            guard !shards.isEmpty else { throw ValidationError("give at least one shard workspace to merge.") }
        }

        func execute() throws {
            try global.ws.prepare()
            let lock = try WorkspaceLock(global.ws, command: "merge")
            let catalog = try Catalog.open(global.ws)
            defer { withExtendedLifetime(lock) {} }
            var options = ProcessOptions(models: ModelFiles.locate(in: [catalog.workspace.modelsURL]))
            judging.apply(to: &options)
            let merger = Merger(catalog: catalog, options: options, onShard: { o in
                guard !global.quiet, !global.json else { return }
                if o.alreadyMerged { eprint("merge: \(o.path) (shard \(o.shard ?? "whole")): merged before, nothing to do"); return }
                let f = o.files
                eprint("merge: \(o.path) (shard \(o.shard ?? "whole")): \(o.people) people, \(o.images) images, \(o.faces) faces, "
                       + "\(o.decisions) decisions; files \(f.linked) linked, \(f.copied) copied, \(f.present) present"
                       + (f.missing > 0 ? ", \(f.missing) missing from the shard" : "")
                       + String(format: " (%.1f s: files %.1f s, rows %.1f s)", o.seconds, o.filesSeconds, o.rowsSeconds))
            })
            let summary = try merger.run(shards: shards.map { URL(fileURLWithPath: $0) })
            if global.json { try printJSON(summary) }
            else if !global.quiet {
                let rejected = summary.rejected.sorted { $0.value > $1.value }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
                eprint(String(format: "merged %d image(s) in %.1f s (%.0f img/s)", summary.images, summary.unionSeconds, summary.imagesPerSecond)
                       + (summary.judgeSeconds > 0 ? String(format: "; judged across people in %.1f s", summary.judgeSeconds) : "")
                       + "; kept \(summary.kept) in all" + (rejected.isEmpty ? "" : "; rejected: \(rejected)"))
            }
        }
    }
}
