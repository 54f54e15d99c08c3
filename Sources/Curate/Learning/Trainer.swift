// `curate train`: a classifier on the split faces, trained through the torch bridge, with per-person metrics.
// What the data is (TrainingSet) stays apart from how a model learns from it (Trainer) and how it is judged
// (Metrics, in RunReport.swift).
import Catalog
import Foundation

public enum ModelKind: String, Codable, Sendable, CaseIterable {
    /// A softmax head on the 128-d descriptors of dlib's pretrained ResNet (transfer learning).
    case embed
    /// A CNN trained from scratch on the aligned face crops.
    case cnn
}

public struct TrainOptions: Codable, Sendable, Equatable {
    public var model: ModelKind
    public var epochs: Int
    public var batchSize: Int
    /// The one-cycle schedule's peak learning rate.
    public var lr: Float
    public var weightDecay: Float
    public var labelSmoothing: Float
    /// embed: hidden units of the head (0 = linear).
    public var hidden: Int
    /// cnn: side of the input crops.
    public var side: Int
    /// cnn: flip, crop and brightness/contrast augmentation.
    public var augment: Bool
    /// Stop when validation accuracy has not improved for this many epochs (0 = never).
    public var patience: Int
    public var seed: UInt64
    public var threads: Int
    /// Training faces with any of these quality flags are left out (`train --leave-out`); validation keeps every
    /// face, so the run's accuracy compares with a run that kept them.
    public var leaveOut: [QualityFlag] = []

    enum CodingKeys: String, CodingKey {
        case model, epochs, batchSize, lr, weightDecay, labelSmoothing, hidden, side, augment, patience, seed, threads, leaveOut
    }

    public static func defaults(for model: ModelKind) -> TrainOptions {
        switch model {
        case .embed:
            // A hidden layer: on the five-celebrity set both reach 100% validation accuracy, but the linear head
            // is unsure (mean probability of the right person 0.87 against 0.93, lowest 0.48 against 0.69).
            return TrainOptions(model: .embed, epochs: 150, batchSize: 16, lr: 0.03, weightDecay: 0.01, labelSmoothing: 0.1,
                                hidden: 128, side: 64, augment: false, patience: 0, seed: 0,
                                threads: ProcessInfo.processInfo.activeProcessorCount)
        case .cnn:
            // 80 epochs: on 167 aligned crops of 10 people (bench/torch) 40 epochs reached 0.90, 80 reached 0.93-0.94.
            return TrainOptions(model: .cnn, epochs: 80, batchSize: 32, lr: 0.004, weightDecay: 0.05, labelSmoothing: 0.1,
                                hidden: 0, side: 64, augment: true, patience: 0, seed: 0,
                                threads: ProcessInfo.processInfo.activeProcessorCount)
        }
    }
}

public enum TrainError: BadInput, Equatable {
    case noSplit
    case noValidation
    case tooFewPeople(Int)
    case noTrainingImages([String])
    case noDescriptors(missing: Int, of: Int)
    case noRun
    case runNotFound(Int64)
    case runNotFinished(Int64, String)
    case badOption(String)

    public var description: String {
        switch self {
        case .noSplit:
            return "no split yet: run `curate split` first (train reads the train and val sides from it)."
        case .noValidation:
            return "the split has no validation images: run `curate split --reset --val 0.2`."
        case let .tooFewPeople(n):
            return "training needs at least 2 people with split images; this workspace has \(n)."
        case let .noTrainingImages(labels):
            return "no training images for \(labels.joined(separator: ", ")): fetch and review more, or `curate split --reset`."
        case let .noDescriptors(missing, total):
            return "\(missing) of \(total) split faces have no descriptor (the ResNet model file was missing when they were processed): "
                + "run scripts/setup.sh and `curate process --all`, or train with --model cnn."
        case .noRun:
            return "no finished training run in this workspace: run `curate train` first."
        case let .runNotFound(id):
            return "no run \(id) in this workspace (see `curate runs`)."
        case let .runNotFinished(id, status):
            return "run \(id) did not finish (\(status)); pick a finished one with --run (see `curate runs`)."
        case let .badOption(text):
            return text
        }
    }
}

/// One split face: its class, and its input (descriptor or crop pixels).
public struct Example: Sendable {
    public var imageId: Int64
    public var label: Int
    public var chipPath: String
    public var descriptor: [Float]?
}

/// The split faces as classes and examples.
public struct TrainingSet: Sendable {
    public var labels: [String]
    public var train: [Example]
    public var val: [Example]
    /// Split images without a chosen face (e.g. a group photo accepted without choosing one).
    public var withoutFace: Int
    /// Training faces left out for their quality flags (`TrainOptions.leaveOut`), and those kept because they were
    /// never measured (their chips are gone).
    public var leftOut = 0
    public var unmeasured = 0

    /// Reads the split from the catalog: classes are the people with split images, in label order.
    public static func load(_ catalog: Catalog, model: ModelKind, leaveOut: [QualityFlag] = [],
                            quality: QualityOptions = QualityOptions()) throws -> TrainingSet {
        guard try catalog.setting("split") != nil else { throw TrainError.noSplit }
        let images = try catalog.splitImages()
        let faces = try catalog.chosenFaces(imageIds: images.compactMap(\.id))
        let names = try catalog.labels()
        let people = Set(images.map(\.personId)).map { names[$0] ?? "?" }.sorted()
        guard people.count >= 2 else { throw TrainError.tooFewPeople(people.count) }
        let index = Dictionary(uniqueKeysWithValues: people.enumerated().map { ($1, $0) })
        var set = TrainingSet(labels: people, train: [], val: [], withoutFace: 0)
        for image in images {
            guard let face = faces[image.id!], let chip = face.chipPath else { set.withoutFace += 1; continue }
            let example = Example(imageId: image.id!, label: index[names[image.personId] ?? "?"]!, chipPath: chip,
                                  descriptor: face.descriptorValues)
            switch image.split {
            case .train where !leaveOut.isEmpty:
                guard let q = face.quality else { set.unmeasured += 1; set.train.append(example); continue }
                if quality.flags(q).contains(where: leaveOut.contains) { set.leftOut += 1 } else { set.train.append(example) }
            case .train: set.train.append(example)
            case .val: set.val.append(example)
            default: break   // a test side is not used for choosing the model
            }
        }
        let trained = Set(set.train.map(\.label))
        let without = people.enumerated().filter { !trained.contains($0.offset) }.map(\.element)
        guard without.isEmpty else { throw TrainError.noTrainingImages(without) }
        guard !set.val.isEmpty else { throw TrainError.noValidation }
        if model == .embed {
            let all = set.train + set.val
            let missing = all.filter { $0.descriptor == nil }.count
            if missing > 0 { throw TrainError.noDescriptors(missing: missing, of: all.count) }
        }
        return set
    }
}

/// Network inputs: descriptors as they are, crops as planar RGB in [0, 1].
public enum Inputs {
    public static func embed(_ examples: [Example]) -> [[Float]] { examples.map { $0.descriptor! } }

    public static func crops(_ examples: [Example], side: Int, workspace: Workspace) throws -> [[Float]] {
        try examples.map { e in
            let url = workspace.url(forRelativePath: e.chipPath)
            guard let data = FileManager.default.contents(atPath: url.path) else {
                throw TorchError(description: "the face crop \(e.chipPath) of image #\(e.imageId) is missing: run `curate process --all`")
            }
            return try planar(try DecodedImage.decode([UInt8](data)), side: side)
        }
    }

    /// An image resized to side x side, as R, G and B planes of floats in [0, 1].
    public static func planar(_ image: DecodedImage, side: Int) throws -> [Float] {
        let small = image.width == side && image.height == side ? image : try image.resized(width: side, height: side)
        let plane = side * side
        var out = [Float](repeating: 0, count: 3 * plane)
        small.withPixels { p, stride in
            for y in 0..<side {
                let row = p + y * stride
                for x in 0..<side {
                    let i = y * side + x
                    out[i] = Float(row[3 * x + 2]) / 255
                    out[plane + i] = Float(row[3 * x + 1]) / 255
                    out[2 * plane + i] = Float(row[3 * x]) / 255
                }
            }
        }
        return out
    }
}

/// A small deterministic generator (SplitMix64): the same seed gives the same order on every machine.
public struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    public init(_ seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// One epoch as reported live and kept in the run's history.
public struct EpochStats: Codable, Sendable {
    public var epoch: Int
    public var loss: Double
    public var trainAccuracy: Double
    public var valLoss: Double
    public var valAccuracy: Double
    public var imagesPerSecond: Double
    public var seconds: Double

    enum CodingKeys: String, CodingKey {
        case epoch, loss, seconds
        case trainAccuracy = "train_accuracy"
        case valLoss = "val_loss"
        case valAccuracy = "val_accuracy"
        case imagesPerSecond = "images_per_second"
    }
}

/// The one-cycle schedule: learning rate up from lr/25 to lr over the first quarter (cosine), then down to
/// lr/250000; Adam's beta1 the other way, 0.95 to 0.85 and back.
func oneCycle(step: Int, of total: Int, peak: Float) -> (lr: Float, beta1: Float) {
    let warm = max(1, Int(Double(total) * 0.25))
    func cosine(_ from: Float, _ to: Float, _ t: Double) -> Float { to + (from - to) * Float((1 + cos(Double.pi * t)) / 2) }
    if step < warm {
        let t = Double(step) / Double(warm)
        return (cosine(peak / 25, peak, t), cosine(0.95, 0.85, t))
    }
    let t = Double(step - warm) / Double(max(1, total - warm))
    return (cosine(peak, peak / 250_000, t), cosine(0.85, 0.95, t))
}

/// Trains one network on a training set, keeping the weights of the best validation epoch in `modelURL`.
public final class Trainer {
    public let options: TrainOptions
    public let set: TrainingSet
    public let spec: NetworkSpec
    private let trainX: [[Float]]
    /// Every validation input, end to end: evaluated as one call each epoch (the bridge sizes its own chunks).
    private let valX: [Float]

    public init(set: TrainingSet, options: TrainOptions, workspace: Workspace) throws {
        self.set = set
        self.options = options
        switch options.model {
        case .embed:
            spec = .mlp(inputs: 128, hidden: options.hidden, classes: set.labels.count, dropout: options.hidden > 0 ? 0.2 : 0)
            trainX = Inputs.embed(set.train)
            valX = Inputs.embed(set.val).flatMap { $0 }
        case .cnn:
            spec = try .cnn(classes: set.labels.count, side: options.side)
            trainX = try Inputs.crops(set.train, side: options.side, workspace: workspace)
            valX = try Inputs.crops(set.val, side: options.side, workspace: workspace).flatMap { $0 }
        }
    }

    public struct Outcome {
        public var history: [EpochStats]
        public var bestEpoch: Int
        /// Validation probabilities of the best epoch, one row per validation example.
        public var probabilities: [[Float]]
        public var seconds: Double
        public var imagesPerSecond: Double
        public var interrupted: Bool
    }

    /// Trains; `onEpoch` sees every epoch as it ends; `shouldStop` ends the run after the current batch.
    public func run(modelURL: URL, onEpoch: (EpochStats) -> Void = { _ in },
                    shouldStop: () -> Bool = { false }) throws -> Outcome {
        try TorchNetwork.setThreads(options.threads)
        let net = try TorchNetwork(spec, seed: options.seed)
        let n = trainX.count
        let batch = max(1, min(options.batchSize, n))
        let batchesPerEpoch = (n + batch - 1) / batch
        let total = batchesPerEpoch * options.epochs
        var history: [EpochStats] = []
        var best = (epoch: 0, accuracy: -1.0, loss: Double.infinity)
        var bestProbabilities: [[Float]] = []
        var trainSeconds = 0.0
        var seen = 0
        var interrupted = false
        let started = Date()
        var step = 0
        epochs: for epoch in 1...max(1, options.epochs) {
            var rng = SplitMix64(options.seed &* 0x9E37_79B9 &+ UInt64(epoch))
            var order = Array(0..<n)
            order.shuffle(using: &rng)
            var lossSum = 0.0, correct = 0
            let epochStart = Date()
            for b in 0..<batchesPerEpoch {
                if shouldStop() { interrupted = true; break epochs }
                let idx = order[(b * batch)..<min(n, (b + 1) * batch)]
                var x: [Float] = []
                x.reserveCapacity(idx.count * spec.inputLength)
                for i in idx { x += trainX[i] }
                let (lr, beta1) = oneCycle(step: step, of: total, peak: options.lr)
                let augment = options.model == .cnn && options.augment
                let settings = StepSettings(lr: lr, beta1: beta1, weightDecay: options.weightDecay, labelSmoothing: options.labelSmoothing,
                                            flip: augment, cropPad: augment ? max(1, options.side / 16) : 0,
                                            brightness: augment ? 0.2 : 0, contrast: augment ? 0.2 : 0,
                                            seed: rng.next())
                let r = try net.train(x, labels: idx.map { Int64(set.train[$0].label) }, step: settings)
                lossSum += Double(r.loss) * Double(idx.count)
                correct += r.correct
                step += 1
            }
            let epochSeconds = Date().timeIntervalSince(epochStart)
            trainSeconds += epochSeconds
            seen += n
            let probabilities = try net.predict(valX)
            var valLoss = 0.0, valCorrect = 0
            for (p, e) in zip(probabilities, set.val) {
                valLoss -= log(Double(max(p[e.label], 1e-12)))
                if argmax(p) == e.label { valCorrect += 1 }
            }
            let stats = EpochStats(epoch: epoch, loss: lossSum / Double(n), trainAccuracy: Double(correct) / Double(n),
                                   valLoss: valLoss / Double(set.val.count), valAccuracy: Double(valCorrect) / Double(set.val.count),
                                   imagesPerSecond: Double(n) / max(epochSeconds, 1e-9), seconds: Date().timeIntervalSince(started))
            history.append(stats)
            onEpoch(stats)
            // The best epoch: highest validation accuracy, then lowest validation loss.
            if stats.valAccuracy > best.accuracy || (stats.valAccuracy == best.accuracy && stats.valLoss < best.loss) {
                best = (epoch, stats.valAccuracy, stats.valLoss)
                bestProbabilities = probabilities
                try net.save(to: modelURL)
            }
            if options.patience > 0 && epoch - best.epoch >= options.patience { break }
        }
        guard best.epoch > 0 else { throw TorchError(description: "training stopped before the first epoch ended") }
        return Outcome(history: history, bestEpoch: best.epoch, probabilities: bestProbabilities,
                       seconds: Date().timeIntervalSince(started), imagesPerSecond: Double(seen) / max(trainSeconds, 1e-9),
                       interrupted: interrupted)
    }
}

func argmax(_ p: [Float]) -> Int {
    var best = 0
    for i in p.indices where p[i] > p[best] { best = i }
    return best
}
