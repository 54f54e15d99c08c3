// Training through the torch bridge: learning synthetic tasks, reproducibility, save and reload, metrics,
// and the clear errors of a workspace that is not ready.
import Catalog
import Foundation
import Testing
import TestSupport
@testable import Curate

/// Three classes of 32x32 images: horizontal stripes, vertical stripes, a bright centre, under noise.
func syntheticImages(count: Int, seed: UInt64) -> (x: [[Float]], y: [Int]) {
    var rng = SplitMix64(seed)
    var xs: [[Float]] = [], ys: [Int] = []
    let side = 32
    for i in 0..<count {
        let label = i % 3
        var img = [Float](repeating: 0, count: 3 * side * side)
        for c in 0..<3 {
            for yy in 0..<side {
                for xx in 0..<side {
                    let base: Float
                    switch label {
                    case 0: base = (yy / 4) % 2 == 0 ? 0.8 : 0.2
                    case 1: base = (xx / 4) % 2 == 0 ? 0.8 : 0.2
                    default: base = abs(xx - 16) < 8 && abs(yy - 16) < 8 ? 0.8 : 0.2
                    }
                    let noise = Float(Double(rng.next() % 1000) / 1000 - 0.5) * 0.4
                    img[c * side * side + yy * side + xx] = min(1, max(0, base + noise))
                }
            }
        }
        xs.append(img)
        ys.append(label)
    }
    return (xs, ys)
}

@Suite(.timeLimit(.minutes(10)))
struct TrainTests {
    func accuracy(_ net: TorchNetwork, _ x: [[Float]], _ y: [Int]) throws -> Double {
        let p = try net.predict(x.flatMap { $0 })
        return Double(zip(p, y).filter { argmax($0.0) == $0.1 }.count) / Double(y.count)
    }

    func step(_ i: Int, lr: Float = 0.003, augment: Bool = false) -> StepSettings {
        StepSettings(lr: lr, beta1: 0.9, weightDecay: 0.01, labelSmoothing: 0.1, flip: augment, cropPad: augment ? 2 : 0,
                     brightness: augment ? 0.1 : 0, contrast: augment ? 0.1 : 0, seed: UInt64(i))
    }

    @Test func theCNNLearnsASyntheticSeparableTaskWithinAFewEpochs() async throws {
        try await offPool {
            try TorchNetwork.setThreads(2)
            let (x, y) = syntheticImages(count: 150, seed: 1)
            let (vx, vy) = syntheticImages(count: 60, seed: 2)
            let net = try TorchNetwork(try .cnn(classes: 3, side: 32), seed: 7)
            let before = try accuracy(net, vx, vy)
            var k = 0
            for _ in 0..<4 {
                for b in stride(from: 0, to: x.count, by: 25) {
                    _ = try net.train(x[b..<(b + 25)].flatMap { $0 }, labels: y[b..<(b + 25)].map(Int64.init), step: step(k, augment: true))
                    k += 1
                }
            }
            let after = try accuracy(net, vx, vy)
            #expect(after >= 0.9, "validation accuracy \(after) after 4 epochs (chance is 0.33; it was \(before) untrained)")
        }
    }

    @Test func theHeadLearnsSeparableVectors() async throws {
        try await offPool {
            var rng = SplitMix64(3)
            func sample(_ n: Int) -> ([[Float]], [Int]) {
                (0..<n).map { i -> ([Float], Int) in
                    let c = i % 4
                    return ((0..<128).map { d in Float(d % 4 == c ? 1 : 0) + Float(Double(rng.next() % 1000) / 1000 - 0.5) }, c)
                }.reduce(into: ([[Float]](), [Int]())) { $0.0.append($1.0); $0.1.append($1.1) }
            }
            let (x, y) = sample(200), (vx, vy) = sample(80)
            let net = try TorchNetwork(.mlp(inputs: 128, hidden: 0, classes: 4, dropout: 0), seed: 1)
            for e in 0..<10 {
                _ = try net.train(x.flatMap { $0 }, labels: y.map(Int64.init), step: step(e, lr: 0.05))
            }
            #expect(try accuracy(net, vx, vy) >= 0.95)
        }
    }

    @Test func theSameSeedGivesTheSameLossesAndAReloadedNetTheSamePredictions() async throws {
        try await offPool {
            let (x, y) = syntheticImages(count: 40, seed: 5)
            func losses() throws -> ([Float], TorchNetwork) {
                let net = try TorchNetwork(try .cnn(classes: 3, side: 32), seed: 11)
                var out: [Float] = []
                for i in 0..<4 {
                    out.append(try net.train(x[(i * 10)..<(i * 10 + 10)].flatMap { $0 }, labels: y[(i * 10)..<(i * 10 + 10)].map(Int64.init),
                                             step: step(i, augment: true)).loss)
                }
                return (out, net)
            }
            let (a, net) = try losses()
            let (b, _) = try losses()
            #expect(closeEnough(a, b), "\(a) against \(b)")
            let url = FileManager.default.temporaryDirectory.appendingPathComponent("curate-net-\(UUID().uuidString).pt")
            defer { try? FileManager.default.removeItem(at: url) }
            try net.save(to: url)
            let fresh = try TorchNetwork(try .cnn(classes: 3, side: 32), seed: 99)
            try fresh.load(from: url)
            let batch = x.prefix(8).flatMap { $0 }
            #expect(closeEnough(try fresh.predict(batch).flatMap { $0 }, try net.predict(batch).flatMap { $0 }))
            // A file of another network, and a file that is not a model, are errors, not crashes.
            let other = try TorchNetwork(try .cnn(classes: 4, side: 32), seed: 1)
            #expect(throws: TorchError.self) { try other.load(from: url) }
            try Data("not a model".utf8).write(to: url)
            #expect(throws: TorchError.self) { try fresh.load(from: url) }
            #expect(throws: TorchError.self) { try TorchNetwork(try .cnn(classes: 3, side: 30), seed: 1) }
        }
    }

    @Test func metricsCountRecallPrecisionAndTheMostConfusedPairs() {
        let m = Metrics(labels: ["a", "b", "c"], actual: [0, 0, 0, 0, 1, 1, 2, 2], predicted: [0, 0, 0, 1, 1, 0, 2, 2])
        #expect(m.accuracy == 6.0 / 8)
        #expect(m.perClass.map(\.accuracy) == [0.75, 0.5, 1])
        #expect(m.perClass.map(\.precision) == [0.75, 0.5, 1])
        #expect(m.perClass.map(\.support) == [4, 2, 2])
        #expect(abs(m.macroAccuracy - 0.75) < 1e-12)
        #expect(m.confusion.matrix == [[3, 1, 0], [1, 1, 0], [0, 0, 2]])
        #expect(m.mostConfused == [ConfusedPair(actual: "a", predicted: "b", count: 1), ConfusedPair(actual: "b", predicted: "a", count: 1)])
        #expect(abs(oneCycle(step: 0, of: 100, peak: 1).lr - 1.0 / 25) < 1e-6)
        #expect(abs(oneCycle(step: 25, of: 100, peak: 1).lr - 1) < 1e-6)
        #expect(abs(oneCycle(step: 0, of: 100, peak: 1).beta1 - 0.95) < 1e-6)
        #expect(oneCycle(step: 99, of: 100, peak: 1).lr < 0.001)
    }
}

@Suite(.enabled(if: Paths.hasShared, Paths.sharedMissing), .timeLimit(.minutes(10)))
struct TrainingSetTests {
    @Test func aWorkspaceThatIsNotReadyGivesClearErrors() async throws {
        try await offPool {
            let f = try ProcessFixture()
            let ben = "faces/opencv_course_5celeb/ben_afflek"
            for name in try FileManager.default.contentsOfDirectory(atPath: Paths.shared.appendingPathComponent(ben).path).sorted().prefix(4) {
                try f.add("ben_afflek", file: "\(ben)/\(name)")
            }
            _ = try f.process()
            #expect(throws: TrainError.noSplit) { try TrainingSet.load(f.catalog, model: .embed) }
            try f.catalog.saveSplit(setting: "{}", assignments: [:], cleared: [])
            #expect(throws: TrainError.tooFewPeople(0)) { try TrainingSet.load(f.catalog, model: .embed) }
            // Two people, but one has only validation images.
            let madonna = "faces/opencv_course_5celeb/madonna"
            for name in try FileManager.default.contentsOfDirectory(atPath: Paths.shared.appendingPathComponent(madonna).path).sorted().prefix(2) {
                try f.add("madonna", file: "\(madonna)/\(name)")
            }
            _ = try f.process()
            let images = try f.catalog.acceptedImages()
            let labels = try f.catalog.labels()
            var assignments: [Int64: String] = [:]
            for (i, image) in images.enumerated() {
                assignments[image.id!] = labels[image.personId] == "madonna" ? "val" : (i % 2 == 0 ? "train" : "val")
            }
            try f.catalog.saveSplit(setting: "{}", assignments: assignments, cleared: [])
            #expect(throws: TrainError.noTrainingImages(["madonna"])) { try TrainingSet.load(f.catalog, model: .embed) }
        }
    }
}
