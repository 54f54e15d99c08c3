// `curate train`, `curate runs` and `curate predict`.
import ArgumentParser
import Catalog
import Curate
import Foundation
import Rainbow

extension CurateCommand {
    struct Train: Subcommand {
        static let configuration = CommandConfiguration(
            commandName: "train",
            abstract: "Train a face classifier on the split and report per-person accuracy.",
            discussion: """
            --model embed (the default when the pretrained dlib models are present) trains a softmax head on each face's
            128-d descriptor from dlib's ResNet; --model cnn trains a small CNN from scratch on the aligned crops, with
            augmentation. Both use AdamW with a one-cycle learning rate and label smoothing, evaluate on the validation
            split every epoch and keep the best epoch. The run is saved under <workspace>/runs/<id> (model, metrics.json,
            report.html) and recorded in the catalog (`curate runs`). The same seed and data give the same metrics.
            """
        )

        @OptionGroup var global: GlobalOptions

        @Option(name: .long, help: "embed or cnn (default: embed when the dlib model files are present).")
        var model: ModelKind?

        @Option(name: .long, parsing: .unconditional, help: "Epochs (default: embed 150, cnn 80).")
        var epochs: Int?

        @Option(name: .long, parsing: .unconditional, help: "Examples per batch.")
        var batchSize: Int?

        @Option(name: .long, parsing: .unconditional, help: "Peak learning rate of the one-cycle schedule.")
        var lr: Float?

        @Option(name: .long, parsing: .unconditional, help: "AdamW weight decay.")
        var weightDecay: Float?

        @Option(name: .long, parsing: .unconditional, help: "embed: hidden units of the head (default 128; 0 = a linear softmax head).")
        var hidden: Int?

        @Option(name: .long, parsing: .unconditional, help: "cnn: side of the input crops in pixels (a multiple of 32; default 64).")
        var side: Int?

        @Flag(name: .long, help: "cnn: no flip/crop/brightness augmentation.")
        var noAugment = false

        @Option(name: .long, parsing: .unconditional, help: "Stop after this many epochs without a better validation accuracy (0 = never).")
        var patience: Int?

        @Option(name: .long, help: "Seed of initialisation, order and augmentation.")
        var seed: UInt64 = 0

        @Option(name: .long, parsing: .unconditional, help: "Threads (default: all cores).")
        var threads: Int?

        @Option(name: .long, help: ArgumentHelp("Leave training faces with these quality flags out (comma-separated: small, blurry, dark, overexposed, turned, or all); validation keeps every face, and the report compares with a run that kept them.", valueName: "flags"))
        var leaveOut: String?

        /// `--leave-out` read.
        var leftOutFlags: [QualityFlag] {
            get throws {
                guard let leaveOut else { return [] }
                var flags: [QualityFlag] = []
                for word in leaveOut.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces).lowercased() }) {
                    if word == "all" { flags += QualityFlag.allCases; continue }
                    guard let flag = QualityFlag(rawValue: word) else {
                        throw ValidationError("--leave-out \(leaveOut): unknown flag \"\(word)\"; flags are: "
                                              + QualityFlag.allCases.map(\.rawValue).joined(separator: ", ") + ", or all.")
                    }
                    flags.append(flag)
                }
                return Array(Set(flags)).sorted()
            }
        }

        func validate() throws {
            try check("--epochs", epochs, in: 1...100_000)
            try check("--batch-size", batchSize, in: 2...65_536)
            try check("--lr", lr, in: 1e-9...10)
            try check("--weight-decay", weightDecay, in: 0...10)
            try check("--hidden", hidden, in: 0...65_536)
            try check("--side", side, in: 32...1024, unit: " px")
            if let side, side % 32 != 0 { throw ValidationError("--side must be a multiple of 32 (the CNN halves it five times).") }
            try check("--patience", patience, in: 0...100_000)
            try check("--threads", threads, in: 1...256)
            _ = try leftOutFlags
        }

        func execute() throws {
            // No workspace lock: training reads its data once at the start and writes only its run, so a fetch may go on.
            let catalog = try Catalog.openExisting(global.ws)
            let files = ModelFiles.locate(in: [catalog.workspace.modelsURL])
            let kind = model ?? (files.resnet != nil ? .embed : .cnn)
            var options = TrainOptions.defaults(for: kind)
            options.epochs = epochs ?? options.epochs
            options.batchSize = batchSize ?? options.batchSize
            options.lr = lr ?? options.lr
            options.weightDecay = weightDecay ?? options.weightDecay
            options.hidden = hidden ?? options.hidden
            options.side = side ?? options.side
            options.augment = options.augment && !noAugment
            options.patience = patience ?? options.patience
            options.seed = seed
            options.threads = threads ?? options.threads
            options.leaveOut = try leftOutFlags
            Signals.install()

            let quiet = global.quiet || global.json
            let report: RunReport = try Training.run(catalog, options: options, onStart: { run, set in
                if !quiet {
                    eprint("run \(run.id!): \(kind.rawValue) on \(set.train.count) training and \(set.val.count) validation faces of \(set.labels.count) people, "
                           + "\(options.epochs) epochs, \(options.threads) thread(s)"
                           + (set.withoutFace > 0 ? "; \(set.withoutFace) split image(s) without a chosen face left out" : "")
                           + (options.leaveOut.isEmpty ? "" : "; \(set.leftOut) training face(s) flagged \(options.leaveOut.map(\.rawValue).joined(separator: " or ")) left out"))
                }
            }, onEpoch: { e in
                if !quiet {
                    eprint(String(format: "epoch %3d/%d  loss %.4f  train %.3f  val %.3f  (val loss %.4f)  %.0f img/s",
                                  e.epoch, options.epochs, e.loss, e.trainAccuracy, e.valAccuracy, e.valLoss, e.imagesPerSecond))
                }
            }, shouldStop: { Signals.interrupted })
            if global.json {
                try printJSON(report)
            } else if !global.quiet {
                printTable(report)
            }
            if report.interrupted { throw Exit.interrupted }
        }

        private func printTable(_ r: RunReport) {
            let width = max(6, r.perClass.map(\.label.count).max() ?? 0)
            func pad(_ s: String) -> String { s.padding(toLength: width, withPad: " ", startingAt: 0) }
            print("\n" + pad("person") + "  accuracy  precision     f1  support")
            for c in r.perClass {
                let line = pad(c.label) + String(format: "  %7.1f%%  %8.1f%%  %5.3f  %7d", c.accuracy * 100, c.precision * 100, c.f1, c.support)
                print(c.accuracy < 0.9 ? line.red : line)
            }
            print(pad("overall") + String(format: "  %7.1f%%  (macro %.1f%%)", r.accuracy * 100, r.macroAccuracy * 100))
            if !r.mostConfused.isEmpty {
                print("most confused: " + r.mostConfused.map { "\($0.actual) → \($0.predicted) (\($0.count))" }.joined(separator: ", "))
            }
            print(String(format: "run %lld: best epoch %d of %d, %.1f s, %.0f images/s", r.run, r.bestEpoch, r.epochs, r.seconds, r.imagesPerSecond)
                  + (r.interrupted ? " (interrupted)" : ""))
            if let q = r.quality { print("quality: \(q.summary)") }
            print("report: \(r.folder)/report.html")
        }
    }

    struct Runs: Subcommand {
        static let configuration = CommandConfiguration(commandName: "runs", abstract: "List training runs, newest first.")

        @OptionGroup var global: GlobalOptions

        func execute() throws {
            let runs = try Catalog.openForReading(global.ws).runs()
            if global.json { return try printJSON(runs) }
            guard !global.quiet else { return }
            if runs.isEmpty { return print("no runs yet: `curate train`.") }
            print("  id  model  status       people  train    val  accuracy  macro   epochs  seconds  created")
            let f = ISO8601DateFormatter()
            for r in runs {
                let acc = r.accuracy.map { String(format: "%6.1f%%", $0 * 100) } ?? "      -"
                let macro = r.macroAccuracy.map { String(format: "%6.1f%%", $0 * 100) } ?? "      -"
                print(String(format: "%4lld  ", r.id ?? 0) + r.model.padding(toLength: 5, withPad: " ", startingAt: 0) + "  "
                      + r.status.rawValue.padding(toLength: 11, withPad: " ", startingAt: 0)
                      + String(format: "  %6d  %5d  %5d  ", r.labels.count, r.trainImages, r.valImages) + acc + "  " + macro
                      + String(format: "  %6d  %7.1f  ", r.epochs ?? 0, r.seconds ?? 0) + f.string(from: r.createdAt))
            }
        }
    }

    struct Predict: Subcommand {
        static let configuration = CommandConfiguration(
            commandName: "predict",
            abstract: "Name the faces in photos with a trained run: top 3 people per face, or unknown.",
            discussion: """
            Uses the newest finished run unless --run says which. A face farther than --unknown-distance (face
            descriptor distance, dlib's 0.6 by default) from every training face is reported as unknown rather than
            forced into a class. Exit status: 0 when every photo had a face, 1 when some had none, 2 for bad input.
            """
        )

        @OptionGroup var global: GlobalOptions

        @Argument(help: "Photos to look at.")
        var photos: [String]

        @Option(name: .customLong("run"), help: "The run to use (see `curate runs`).")
        var runId: Int64?

        @Option(name: .long, help: ArgumentHelp("Write a copy with boxes and names: a file for one photo, a folder for several.", valueName: "out"))
        var annotate: String?

        @Option(name: .long, parsing: .unconditional, help: "Descriptor distance beyond which a face is unknown.")
        var unknownDistance: Double = 0.6

        func validate() throws {
            guard !photos.isEmpty else { throw ValidationError("name at least one photo.") }
            try check("--unknown-distance", unknownDistance, in: 0.001...10)
        }

        func execute() throws {
            // Every photo is read and checked first: a bad one is bad input before any model is loaded.
            let images = try photos.map(Predictor.load)
            let predictor: Predictor
            let catalog = try Catalog.openExisting(global.ws)
            predictor = try Predictor(catalog: catalog, runId: runId, modelFiles: ModelFiles.locate(in: [catalog.workspace.modelsURL]),
                                      unknownDistance: unknownDistance)
            var results: [PhotoPrediction] = []
            for (photo, image) in zip(photos, images) {
                results.append(try predictor.predict(image, photo: photo))
            }
            if let annotate {
                if photos.count == 1 {
                    try Predictor.annotate(images[0], results[0]).write(to: URL(fileURLWithPath: annotate))
                } else {
                    let dir = URL(fileURLWithPath: annotate, isDirectory: true)
                    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
                    for (image, r) in zip(images, results) {
                        let name = ((r.photo as NSString).lastPathComponent as NSString).deletingPathExtension + ".jpg"
                        try Predictor.annotate(image, r).write(to: dir.appendingPathComponent(name))
                    }
                }
            }

            if global.json {
                try printJSON(results)
            } else if !global.quiet {
                for r in results {
                    print("\(r.photo): " + (r.faces.isEmpty ? "no face found" : "\(r.faces.count) face\(r.faces.count == 1 ? "" : "s")"))
                    for (i, f) in r.faces.enumerated() {
                        let top = f.top.map { "\($0.label) \(String(format: "%.2f", $0.probability))" }.joined(separator: ", ")
                        let distance = f.distance.map { String(format: ", nearest known face %.2f", $0) } ?? ""
                        let who = f.unknown ? "unknown (most like \(top))" : top
                        print("  face \(i + 1) at \(f.box.left),\(f.box.top)–\(f.box.right),\(f.box.bottom): \(who)\(distance)")
                    }
                }
            }
            if results.contains(where: { $0.faces.isEmpty }) { throw Exit.noFace }
        }
    }
}

extension ModelKind: ExpressibleByArgument {}
