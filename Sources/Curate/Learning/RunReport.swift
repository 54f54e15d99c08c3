// Judging a trained model: per-person accuracy, precision, recall and F1, the confusion matrix and the most
// confused pairs; and the run's HTML report (curves and matrix as SVG, misclassified faces), no JavaScript.
import Foundation

public struct ClassMetrics: Codable, Sendable, Equatable {
    public var label: String
    /// Recall: the share of this person's validation faces named right.
    public var accuracy: Double
    public var precision: Double
    public var recall: Double
    public var f1: Double
    public var support: Int
}

public struct Confusion: Codable, Sendable, Equatable {
    public var labels: [String]
    /// matrix[true][predicted]
    public var matrix: [[Int]]
}

public struct ConfusedPair: Codable, Sendable, Equatable {
    public var actual: String
    public var predicted: String
    public var count: Int

    enum CodingKeys: String, CodingKey {
        case count
        case actual = "true"
        case predicted
    }
}

public struct Metrics: Codable, Sendable, Equatable {
    public var accuracy: Double
    public var macroAccuracy: Double
    public var perClass: [ClassMetrics]
    public var confusion: Confusion
    public var mostConfused: [ConfusedPair]

    enum CodingKeys: String, CodingKey {
        case accuracy, confusion
        case macroAccuracy = "macro_accuracy"
        case perClass = "per_class"
        case mostConfused = "most_confused"
    }

    /// Metrics of predicted against true classes.
    public init(labels: [String], actual: [Int], predicted: [Int]) {
        let k = labels.count
        var matrix = [[Int]](repeating: [Int](repeating: 0, count: k), count: k)
        for (a, p) in zip(actual, predicted) { matrix[a][p] += 1 }
        perClass = (0..<k).map { c in
            let support = matrix[c].reduce(0, +)
            let predictedAs = (0..<k).map { matrix[$0][c] }.reduce(0, +)
            let hit = Double(matrix[c][c])
            let recall = support > 0 ? hit / Double(support) : 0
            let precision = predictedAs > 0 ? hit / Double(predictedAs) : 0
            let f1 = precision + recall > 0 ? 2 * precision * recall / (precision + recall) : 0
            return ClassMetrics(label: labels[c], accuracy: recall, precision: precision, recall: recall, f1: f1, support: support)
        }
        let total = actual.count
        accuracy = total > 0 ? Double((0..<k).map { matrix[$0][$0] }.reduce(0, +)) / Double(total) : 0
        let present = perClass.filter { $0.support > 0 }
        macroAccuracy = present.isEmpty ? 0 : present.map(\.accuracy).reduce(0, +) / Double(present.count)
        confusion = Confusion(labels: labels, matrix: matrix)
        var pairs: [ConfusedPair] = []
        for a in 0..<k { for p in 0..<k where a != p && matrix[a][p] > 0 { pairs.append(ConfusedPair(actual: labels[a], predicted: labels[p], count: matrix[a][p])) } }
        mostConfused = Array(pairs.sorted { ($1.count, $0.actual, $0.predicted) < ($0.count, $1.actual, $1.predicted) }.prefix(5))
    }
}

/// A validation face the model named wrong.
public struct Misclassified: Codable, Sendable, Equatable {
    public var imageId: Int64
    public var actual: String
    public var predicted: String
    public var probability: Double
    /// The thumbnail, relative to the run folder.
    public var thumbnail: String

    enum CodingKeys: String, CodingKey {
        case probability, thumbnail, predicted
        case imageId = "image_id"
        case actual = "true"
    }
}

/// The best epoch's answer for one validation face.
public struct ValidationPrediction: Codable, Sendable, Equatable {
    public var imageId: Int64
    public var actual: String
    public var predicted: String
    public var probability: Double

    enum CodingKeys: String, CodingKey {
        case predicted, probability
        case imageId = "image_id"
        case actual = "true"
    }
}

/// What a run reports: `curate train --json` and the run folder's metrics.json.
public struct RunReport: Codable, Sendable {
    public var run: Int64
    public var model: String
    public var accuracy: Double
    public var macroAccuracy: Double
    public var perClass: [ClassMetrics]
    public var confusion: Confusion
    public var mostConfused: [ConfusedPair]
    public var bestEpoch: Int
    public var epochs: Int
    public var trainImages: Int
    public var valImages: Int
    public var seconds: Double
    public var imagesPerSecond: Double
    public var interrupted: Bool
    public var folder: String
    public var options: TrainOptions
    public var network: NetworkSpec
    public var history: [EpochStats]
    public var validation: [ValidationPrediction]
    public var misclassified: [Misclassified]
    /// With `--leave-out`: what leaving flagged faces out did.
    @ExplicitNull public var quality: LeftOutReport?

    enum CodingKeys: String, CodingKey {
        case run, model, accuracy, confusion, epochs, seconds, interrupted, folder, options, network, history, validation, misclassified, quality
        case macroAccuracy = "macro_accuracy"
        case perClass = "per_class"
        case mostConfused = "most_confused"
        case bestEpoch = "best_epoch"
        case trainImages = "train_images"
        case valImages = "val_images"
        case imagesPerSecond = "images_per_second"
    }
}

/// The run's report.html: everything inline (SVG charts), thumbnails beside it in the run folder.
enum HTMLReport {
    static func render(_ r: RunReport) -> String {
        func esc(_ s: String) -> String {
            s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
        }
        func pct(_ v: Double) -> String { String(format: "%.1f%%", v * 100) }
        var h = """
        <!doctype html>
        <html><head><meta charset="utf-8"><title>curate run \(r.run)</title>
        <style>
        body{font-family:system-ui,sans-serif;margin:2em;color:#222} table{border-collapse:collapse} td,th{padding:3px 10px;text-align:right}
        th{background:#eee} td:first-child,th:first-child{text-align:left} .weak{color:#b00;font-weight:bold}
        figure{display:inline-block;margin:6px;text-align:center;font-size:12px} figure img{width:96px;height:96px;display:block}
        </style></head><body>
        <h1>curate run \(r.run): \(esc(r.model))</h1>
        <p>Validation accuracy <b>\(pct(r.accuracy))</b>, macro accuracy <b>\(pct(r.macroAccuracy))</b> on \(r.valImages) faces;
        trained on \(r.trainImages) faces, best epoch \(r.bestEpoch) of \(r.epochs), \(String(format: "%.1f", r.seconds)) s,
        \(String(format: "%.0f", r.imagesPerSecond)) images/s\(r.interrupted ? " (interrupted)" : "").</p>
        \(r.quality.map { "<p>Quality: \(esc($0.summary)).</p>" } ?? "")
        <h2>Per person</h2>
        <table><tr><th>person</th><th>accuracy (recall)</th><th>precision</th><th>F1</th><th>support</th></tr>

        """
        for c in r.perClass {
            let weak = c.accuracy < 0.9 ? " class=\"weak\"" : ""
            h += "<tr><td>\(esc(c.label))</td><td\(weak)>\(pct(c.accuracy))</td><td>\(pct(c.precision))</td><td>\(String(format: "%.3f", c.f1))</td><td>\(c.support)</td></tr>\n"
        }
        h += "</table>\n<h2>Learning curves</h2>\n" + curves(r.history) + "\n<h2>Confusion matrix (rows: true, columns: predicted)</h2>\n" + matrix(r.confusion, esc)
        if !r.mostConfused.isEmpty {
            h += "\n<h2>Most confused</h2>\n<ul>\n"
            for p in r.mostConfused { h += "<li>\(esc(p.actual)) taken for \(esc(p.predicted)): \(p.count)</li>\n" }
            h += "</ul>\n"
        }
        h += "<h2>Misclassified validation faces (\(r.misclassified.count))</h2>\n"
        for m in r.misclassified {
            h += "<figure><img src=\"\(esc(m.thumbnail))\" alt=\"image \(m.imageId)\"><figcaption>#\(m.imageId)<br>true: \(esc(m.actual))<br>predicted: \(esc(m.predicted)) \(String(format: "%.2f", m.probability))</figcaption></figure>\n"
        }
        return h + "</body></html>\n"
    }

    /// Loss (left axis, its own scale) and train/validation accuracy (0-1) per epoch.
    static func curves(_ history: [EpochStats]) -> String {
        let w = 640.0, h = 260.0, pad = 40.0
        guard history.count > 0 else { return "" }
        let maxLoss = max(history.map { max($0.loss, $0.valLoss) }.max() ?? 1, 1e-9)
        func x(_ e: Int) -> Double { pad + (w - 2 * pad) * (history.count == 1 ? 0.5 : Double(e - 1) / Double(history.count - 1)) }
        func y(_ v: Double) -> Double { h - pad - (h - 2 * pad) * v }
        func line(_ values: [Double], _ colour: String, _ dash: String = "") -> String {
            let points = values.enumerated().map { String(format: "%.1f,%.1f", x($0.offset + 1), y($0.element)) }.joined(separator: " ")
            return "<polyline fill=\"none\" stroke=\"\(colour)\" stroke-width=\"2\"\(dash) points=\"\(points)\"/>"
        }
        var s = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(w))\" height=\"\(Int(h))\" font-size=\"11\">"
        s += "<rect x=\"\(pad)\" y=\"\(pad)\" width=\"\(w - 2 * pad)\" height=\"\(h - 2 * pad)\" fill=\"#fafafa\" stroke=\"#ccc\"/>"
        for t in [0.0, 0.25, 0.5, 0.75, 1.0] {
            s += String(format: "<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"start\">%.0f%%</text>", w - pad + 4, y(t) + 4, t * 100)
            s += String(format: "<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"end\">%.2f</text>", pad - 4, y(t) + 4, t * maxLoss)
        }
        s += line(history.map { $0.loss / maxLoss }, "#999")
        s += line(history.map { $0.valLoss / maxLoss }, "#999", " stroke-dasharray=\"4 3\"")
        s += line(history.map(\.trainAccuracy), "#1f77b4")
        s += line(history.map(\.valAccuracy), "#d62728")
        s += "<text x=\"\(pad)\" y=\"16\"><tspan fill=\"#999\">— loss (left), - - validation loss</tspan>  <tspan fill=\"#1f77b4\">— train accuracy</tspan>  <tspan fill=\"#d62728\">— validation accuracy (right)</tspan></text>"
        s += String(format: "<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"middle\">epoch 1 … %d</text>", w / 2, h - 10, history.count)
        return s + "</svg>"
    }

    static func matrix(_ c: Confusion, _ esc: (String) -> String) -> String {
        let k = c.labels.count, cell = 34.0, left = 150.0, top = 110.0
        let size = (Int(left + cell * Double(k) + 10), Int(top + cell * Double(k) + 10))
        var s = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(size.0)\" height=\"\(size.1)\" font-size=\"11\">"
        for (j, label) in c.labels.enumerated() {
            let x = left + cell * (Double(j) + 0.5)
            s += String(format: "<text transform=\"translate(%.0f,%.0f) rotate(-45)\">", x, top - 6) + esc(label) + "</text>"
        }
        for (i, row) in c.matrix.enumerated() {
            let total = max(1, row.reduce(0, +))
            s += String(format: "<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"end\">", left - 6, top + cell * (Double(i) + 0.6)) + esc(c.labels[i]) + "</text>"
            for (j, v) in row.enumerated() {
                let share = Double(v) / Double(total)
                let colour = i == j ? String(format: "rgb(%d,%d,%d)", Int(255 - 200 * share), Int(255 - 80 * share), Int(255 - 200 * share))
                    : String(format: "rgb(%d,%d,%d)", 255, Int(255 - 200 * share), Int(255 - 200 * share))
                s += String(format: "<rect x=\"%.0f\" y=\"%.0f\" width=\"%.0f\" height=\"%.0f\" ", left + cell * Double(j), top + cell * Double(i), cell, cell)
                    + "fill=\"\(colour)\" stroke=\"#ddd\"/>"
                if v > 0 {
                    s += String(format: "<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"middle\">%d</text>", left + cell * (Double(j) + 0.5), top + cell * (Double(i) + 0.6), v)
                }
            }
        }
        return s + "</svg>"
    }
}
