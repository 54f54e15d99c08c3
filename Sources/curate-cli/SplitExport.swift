// `curate split` and `curate export`.
import ArgumentParser
import Catalog
import Curate
import Foundation

extension CurateCommand {
    struct Split: Subcommand {
        static let configuration = CommandConfiguration(
            commandName: "split",
            abstract: "Split accepted images into train/validation(/test) per person.",
            discussion: """
            Stratified per person and deterministic for a seed. Images keep their side as the dataset grows: run it
            again after fetching more and only the new images are assigned. Near-copies and photos from one source
            page stay on one side. People with fewer than --min accepted images are left out.
            """
        )

        @OptionGroup var global: GlobalOptions

        @Option(name: .long, parsing: .unconditional, help: "Fraction of each person's images for validation.")
        var val: Double?

        @Option(name: .long, parsing: .unconditional, help: "Fraction for a test split (default none).")
        var test: Double?

        @Option(name: .long, help: "Seed of the assignment.")
        var seed: UInt64?

        @Option(name: .customLong("min"), parsing: .unconditional, help: "Leave out people with fewer accepted images than this.")
        var minImages: Int?

        @Flag(name: .long, help: "Forget the existing split and split again from scratch.")
        var reset = false

        func validate() throws {
            try check("--val", val, in: 0...0.99)
            try check("--test", test, in: 0...0.99)
            if (val ?? 0) + (test ?? 0) >= 1 {
                throw ValidationError("--val and --test together must leave some images for training (they add up to \((val ?? 0) + (test ?? 0))).")
            }
            try check("--min", minImages, in: 1...1_000_000)
        }

        func execute() throws {
            let catalog = try Catalog.openExisting(global.ws)
            // Options not given repeat the workspace's split (so a plain `curate split` extends it); after
            // --reset, they are the defaults.
            let old = (reset ? nil : try Splitter.current(catalog)) ?? SplitOptions()
            let options = SplitOptions(val: val ?? old.val, test: test ?? old.test, seed: seed ?? old.seed,
                                       minImages: minImages ?? old.minImages, phashDistance: old.phashDistance)
            let summary = try Splitter.run(catalog, options: options, reset: reset)
            if global.json { return try printJSON(summary) }
            guard !global.quiet else { return }
            let width = max(6, summary.people.map(\.label.count).max() ?? 0)
            print("person".padding(toLength: width, withPad: " ", startingAt: 0) + "  train    val   test")
            for p in summary.people {
                if let why = p.excluded {
                    print(p.label.padding(toLength: width, withPad: " ", startingAt: 0) + "  left out: \(why)")
                } else {
                    print(p.label.padding(toLength: width, withPad: " ", startingAt: 0)
                          + "  " + "\(p.train)".leftPad(5) + "  " + "\(p.val)".leftPad(5) + "  " + "\(p.test)".leftPad(5))
                }
            }
            print("split with --val \(options.val) --test \(options.test) --seed \(options.seed); \(summary.assigned) image(s) newly assigned")
        }
    }

    struct Export: Subcommand {
        static let configuration = CommandConfiguration(
            commandName: "export",
            abstract: "Write the split dataset as <out>/<split>/<person>/*.jpg with manifest, classes and dataset card."
        )

        @OptionGroup var global: GlobalOptions

        @Option(name: .long, help: ArgumentHelp("The export folder (default: <workspace>/export).", valueName: "dir"))
        var out: String?

        @Flag(name: .long, help: "Aligned face crops (the default).")
        var crops = false

        @Flag(name: .long, help: "Whole images (normalised copies) instead of face crops.")
        var full = false

        @Flag(name: .long, help: "Leave out the suspects (faces at the edge of the person's identity that neither the evidence nor a reviewer settled, as `review --suspects` lists them): fewer faces, each settled by the evidence or a reviewer.")
        var leaveOutSuspects = false

        func validate() throws {
            guard !(crops && full) else { throw ValidationError("--crops and --full exclude each other.") }
        }

        func execute() throws {
            let catalog = try Catalog.openExisting(global.ws)
            let dest = out.map { URL(fileURLWithPath: $0) } ?? catalog.workspace.root.appendingPathComponent("export")
            let summary = try Exporter.run(catalog, out: dest, kind: full ? .full : .crops, leaveOutSuspects: leaveOutSuspects)
            if global.json { return try printJSON(summary) }
            guard !global.quiet else { return }
            let per = summary.counts.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value.values.reduce(0, +))" }.joined(separator: ", ")
            print("exported \(summary.files) \(summary.kind == .crops ? "face crops" : "images") to \(summary.out) (\(per)); \(summary.linked) hard-linked")
            if summary.suspects > 0 {
                eprint(summary.suspectsLeftOut
                    ? "note: \(summary.suspects) suspect(s) left out; after `curate review --suspects`, export again to include those kept"
                    : "note: \(summary.suspects) suspect(s) in the workspace, exported where split; `curate review --suspects` settles them, `--leave-out-suspects` leaves them out")
            }
            if summary.withoutCrop > 0 {
                eprint("note: \(summary.withoutCrop) accepted image(s) have no chosen face, so no crop; export them with --full")
            }
        }
    }
}
