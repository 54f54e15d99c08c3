// `curate process`: verdicts for every stored image (also run at the end of `curate fetch`).
import ArgumentParser
import Catalog
import Curate
import Foundation

extension CurateCommand {
    struct Process: Subcommand {
        static let configuration = CommandConfiguration(
            commandName: "process",
            abstract: "Clean, detect faces and dedupe stored images; every image gets a verdict and a reason.",
            discussion: """
            Decodes each image by content (GIFs by their first frame), applies EXIF orientation, rejects what is not
            an image, corrupt, too small or too large, finds faces (dlib HOG; with --detector cnn, dlib's CNN
            detector looks again at the images HOG finds no face in), keeps images with exactly one face with its
            aligned crop and descriptor, and flags duplicates and the same image under two people. Of the
            copies of one picture the best (a reviewer's pick, then more pixels, then the higher JPEG quality or
            more bytes, then the first stored) gets its own verdict; the others are its duplicates.
            Nothing is deleted: every verdict is a catalog row that review can reverse.
            """
        )

        @OptionGroup var global: GlobalOptions
        @OptionGroup var processing: ProcessingOptions
        @OptionGroup var sharding: ShardOptions

        func execute() throws {
            let catalog: Catalog
            let lock: WorkspaceLock
            let shard = try sharding.resolve()
            catalog = try Catalog.openExisting(global.ws)
            lock = try WorkspaceLock(global.ws, command: "process")
            defer { withExtendedLifetime(lock) {} }
            if let shard {
                if let has = try catalog.shard(), has != shard { throw ShardError.otherShard(global.ws.root.path, has, shard) }
                let labels = try catalog.people().map(\.label)
                if !global.quiet { eprint(shardLine(shard, taken: labels.filter(shard.owns), of: labels.count)) }
            }
            Signals.install()
            let summary = try processing.run(catalog: catalog, global: global, shard: shard)
            if global.json { try printJSON(summary) }
            if summary.interrupted { throw Exit.interrupted }
        }
    }
}

/// Processing knobs, shared by `process` and `fetch`.
struct ProcessingOptions: ParsableArguments {
    @Option(name: .long, parsing: .unconditional, help: "Worker threads (default: all cores).")
    var threads: Int = ProcessInfo.processInfo.activeProcessorCount

    @Option(name: .long, parsing: .unconditional, help: "Reject images whose shorter side is under this many pixels.")
    var minSide: Int = 64

    @OptionGroup var judging: JudgingOptions

    @Option(name: .long, help: ArgumentHelp("Face detector: hog, or cnn for a second look by dlib's CNN detector at the images HOG finds no face in (also those of earlier runs); it finds side-on and partly hidden faces, at seconds per image.", valueName: "hog|cnn"))
    var detector: FaceDetector = .hog

    @Flag(name: .long, help: "Process again every image a reviewer has not decided, not only new ones.")
    var all = false

    @Flag(name: .long, help: "Try again, one at a time, the images rejected as corrupt because a run died on them.")
    var retryCrashed = false

    func validate() throws {
        try check("--threads", threads, in: 1...256)
        try check("--min-side", minSide, in: 1...100_000, unit: " px")
    }

    func run(catalog: Catalog, global: GlobalOptions, shard: Shard? = nil) throws -> ProcessSummary {
        var options = ProcessOptions(models: ModelFiles.locate(in: [catalog.workspace.modelsURL]))
        options.threads = threads
        judging.apply(to: &options)
        options.minSide = minSide
        options.all = all
        options.retryCrashed = retryCrashed
        options.detector = detector
        options.shard = shard
        let tty = isatty(STDERR_FILENO) != 0 && !global.quiet
        var lastLine = Date.distantPast
        let processor = Processor(catalog: catalog, options: options, onProgress: { p in
            guard !global.quiet else { return }
            let now = Date()
            if tty {
                FileHandle.standardError.write(Data("\r\u{1B}[2Kprocessing \(p.done)/\(p.total)".utf8))
            } else if now.timeIntervalSince(lastLine) >= 5 || p.done == p.total {
                lastLine = now
                eprint("process: \(p.done)/\(p.total) images")
            }
        }, shouldStop: { Signals.interrupted })
        let summary = try processor.run()
        if tty { FileHandle.standardError.write(Data("\r\u{1B}[2K".utf8)) }
        if !global.quiet {
            for w in summary.warnings { eprint("warning: " + printable(w)) }
            let rejected = summary.rejected.sorted { $0.value > $1.value }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
            eprint("processed \(summary.processed) image(s) in \(String(format: "%.1f", summary.seconds)) s "
                   + "(\(String(format: "%.1f", summary.imagesPerSecond)) img/s on \(summary.threads) thread(s)); "
                   + "kept \(summary.kept) in all" + (rejected.isEmpty ? "" : "; rejected: \(rejected)"))
        }
        return summary
    }
}

extension FaceDetector: ExpressibleByArgument {}

/// The distances the stages across images and people judge by: processing's, and merge's after the union.
struct JudgingOptions: ParsableArguments {
    @Option(name: .long, parsing: .unconditional, help: "pHash Hamming distance at or under which two images are near-duplicates.")
    var phashDistance: Int = 6

    @Option(name: .long, help: "A one-face photo farther than this (face descriptor distance) from its person's identity is wrong_person.")
    var identityDistance: Float = IdentityOptions().wrongDistance

    @Option(name: .long, help: "Kept faces farther than this from their person's identity are suspects (first in review --suspects).")
    var suspectDistance: Float = IdentityOptions().suspectDistance

    @Option(name: .long, help: "A group photo is kept with the face that is the person when the next face is this much farther.")
    var faceMargin: Float = IdentityOptions().margin

    func validate() throws {
        try check("--phash-distance", phashDistance, in: 0...20)
        try check("--identity-distance", identityDistance, in: 0.01...1.99)
        try check("--suspect-distance", suspectDistance, in: 0.01...identityDistance)
        try check("--face-margin", faceMargin, in: 0...1.99)
    }

    func apply(to options: inout ProcessOptions) {
        options.phashDistance = phashDistance
        options.identity.wrongDistance = identityDistance
        options.identity.suspectDistance = suspectDistance
        options.identity.margin = faceMargin
    }
}
