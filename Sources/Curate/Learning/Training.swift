// One `curate train`: reads the split, trains, judges on validation, and writes the run folder
// (model, metrics, report, misclassified thumbnails) and its row in the catalog.
import Catalog
import Foundation

/// What a run folder needs to be used again (`model.json`): the network to build and the class names.
public struct SavedModel: Codable, Sendable {
    public var model: ModelKind
    public var network: NetworkSpec
    public var labels: [String]
}

public enum Training {
    /// Trains a model as `options` say. The run is recorded before training starts (status running) and updated
    /// at the end: done, interrupted (the best epoch so far is kept and usable) or failed.
    public static func run(_ catalog: Catalog, options: TrainOptions, onStart: (TrainingRun, TrainingSet) -> Void = { _, _ in },
                           onEpoch: (EpochStats) -> Void = { _ in }, shouldStop: () -> Bool = { false }) throws -> RunReport {
        let set = try TrainingSet.load(catalog, model: options.model, leaveOut: options.leaveOut)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        var run = try catalog.startRun(TrainingRun(model: options.model.rawValue,
                                                   options: String(decoding: try encoder.encode(options), as: UTF8.self),
                                                   labels: set.labels, trainImages: set.train.count, valImages: set.val.count))
        let folder = catalog.workspace.url(forRelativePath: run.folder)
        do {
            try? FileManager.default.removeItem(at: folder)   // a folder left by an earlier catalog with this id
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            onStart(run, set)
            let trainer = try Trainer(set: set, options: options, workspace: catalog.workspace)
            try encoder.encode(SavedModel(model: options.model, network: trainer.spec, labels: set.labels))
                .write(to: folder.appendingPathComponent("model.json"))
            try writeDescriptors(set.train, to: folder.appendingPathComponent("descriptors.bin"))
            let outcome = try trainer.run(modelURL: folder.appendingPathComponent("model.pt"), onEpoch: onEpoch, shouldStop: shouldStop)

            let predicted = outcome.probabilities.map(argmax)
            let metrics = Metrics(labels: set.labels, actual: set.val.map(\.label), predicted: predicted)
            var misclassified: [Misclassified] = []
            let thumbs = folder.appendingPathComponent("misclassified")
            for (i, e) in set.val.enumerated() where predicted[i] != e.label {
                try FileManager.default.createDirectory(at: thumbs, withIntermediateDirectories: true)
                let name = "misclassified/\(e.imageId).jpg"
                let dest = folder.appendingPathComponent(name)
                try? FileManager.default.removeItem(at: dest)
                try FileManager.default.copyItem(at: catalog.workspace.url(forRelativePath: e.chipPath), to: dest)
                misclassified.append(Misclassified(imageId: e.imageId, actual: set.labels[e.label], predicted: set.labels[predicted[i]],
                                                   probability: Double(outcome.probabilities[i][predicted[i]]), thumbnail: name))
            }
            let report = RunReport(run: run.id!, model: options.model.rawValue, accuracy: metrics.accuracy, macroAccuracy: metrics.macroAccuracy,
                                   perClass: metrics.perClass, confusion: metrics.confusion, mostConfused: metrics.mostConfused,
                                   bestEpoch: outcome.bestEpoch, epochs: outcome.history.count, trainImages: set.train.count,
                                   valImages: set.val.count, seconds: outcome.seconds, imagesPerSecond: outcome.imagesPerSecond,
                                   interrupted: outcome.interrupted, folder: folder.path, options: options, network: trainer.spec,
                                   history: outcome.history,
                                   validation: set.val.enumerated().map { i, e in
                                       ValidationPrediction(imageId: e.imageId, actual: set.labels[e.label], predicted: set.labels[predicted[i]],
                                                            probability: Double(outcome.probabilities[i][predicted[i]]))
                                   },
                                   misclassified: misclassified,
                                   quality: options.leaveOut.isEmpty ? nil
                                       : try LeftOutReport(catalog, options: options, set: set, accuracy: metrics.accuracy, run: run.id!))
            try encoder.encode(report).write(to: folder.appendingPathComponent("metrics.json"))
            try Data(HTMLReport.render(report).utf8).write(to: folder.appendingPathComponent("report.html"))
            run.status = outcome.interrupted ? .interrupted : .done
            run.accuracy = metrics.accuracy
            run.macroAccuracy = metrics.macroAccuracy
            run.bestEpoch = outcome.bestEpoch
            run.epochs = outcome.history.count
            run.seconds = outcome.seconds
            run.imagesPerSecond = outcome.imagesPerSecond
            try catalog.updateRun(run)
            return report
        } catch {
            run.status = shouldStop() ? .interrupted : .failed
            run.error = "\(error)"
            try? catalog.updateRun(run)
            throw error
        }
    }

    /// The training faces' descriptors (label as Int32, then 128 Float32, per face), for telling an unknown face
    /// from the known people at prediction time. Written only when every face has one.
    static func writeDescriptors(_ examples: [Example], to url: URL) throws {
        guard !examples.isEmpty, examples.allSatisfy({ $0.descriptor?.count == 128 }) else { return }
        var data = Data(capacity: examples.count * (4 + 512))
        for e in examples {
            var label = Int32(e.label).littleEndian
            withUnsafeBytes(of: &label) { data.append(contentsOf: $0) }
            e.descriptor!.withUnsafeBufferPointer { data.append(Data(buffer: $0)) }
        }
        try data.write(to: url)
    }

    static func readDescriptors(_ url: URL) -> [(label: Int, descriptor: [Float])]? {
        guard let data = try? Data(contentsOf: url), data.count % 516 == 0, !data.isEmpty else { return nil }
        return data.withUnsafeBytes { raw in
            (0..<(data.count / 516)).map { i in
                let base = i * 516
                let label = Int(Int32(littleEndian: raw.loadUnaligned(fromByteOffset: base, as: Int32.self)))
                return (label, (0..<128).map { raw.loadUnaligned(fromByteOffset: base + 4 + $0 * 4, as: Float.self) })
            }
        }
    }
}

/// What leaving flagged faces out of training did (`train --leave-out`): against the newest finished run of the same
/// model that kept every face and was judged on the same validation faces, when there is one.
public struct LeftOutReport: Codable, Sendable, Equatable {
    public var flags: [QualityFlag]
    /// Training faces left out, and those kept because they were never measured.
    public var leftOut: Int
    public var unmeasured: Int
    @ExplicitNull public var baselineRun: Int64?
    @ExplicitNull public var baselineAccuracy: Double?
    /// Whether validation accuracy rose (null without a run to compare with).
    @ExplicitNull public var helped: Bool?
    /// The same in words, for the table and the HTML report.
    public var summary: String

    enum CodingKeys: String, CodingKey {
        case flags, unmeasured, helped, summary
        case leftOut = "left_out"
        case baselineRun = "baseline_run"
        case baselineAccuracy = "baseline_accuracy"
    }

    init(_ catalog: Catalog, options: TrainOptions, set: TrainingSet, accuracy: Double, run: Int64) throws {
        flags = options.leaveOut
        leftOut = set.leftOut
        unmeasured = set.unmeasured
        let validation = Set(set.val.map(\.imageId))
        struct Saved: Decodable {
            struct Options: Decodable { var leaveOut: [String]? }
            var options: Options
            var validation: [ValidationPrediction]
        }
        let baseline = try catalog.runs().filter { $0.id != run && $0.status == .done && $0.model == options.model.rawValue }
            .sorted { $0.id! > $1.id! }
            .first { r in
                let url = catalog.workspace.url(forRelativePath: r.folder).appendingPathComponent("metrics.json")
                guard let saved = try? JSONDecoder().decode(Saved.self, from: Data(contentsOf: url)) else { return false }
                return (saved.options.leaveOut ?? []).isEmpty && Set(saved.validation.map(\.imageId)) == validation
            }
        let what = "\(leftOut) training face\(leftOut == 1 ? "" : "s") flagged \(flags.map(\.rawValue).joined(separator: " or ")) left out"
            + (unmeasured > 0 ? " (\(unmeasured) never measured, kept)" : "")
        guard let baseline, let before = baseline.accuracy else {
            summary = what + "; no finished \(options.model.rawValue) run with every face on the same validation faces to compare with: "
                + "train once without --leave-out"
            return
        }
        baselineRun = baseline.id
        baselineAccuracy = before
        helped = accuracy > before
        summary = what + String(format: "; validation accuracy %.1f%% against %.1f%% with them (run %lld): ", accuracy * 100, before * 100, baseline.id!)
            + (accuracy > before ? "it helped" : accuracy == before ? "no change" : "it did not help")
    }
}
