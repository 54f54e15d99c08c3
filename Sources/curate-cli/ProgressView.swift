// Live fetch progress: redrawn bars per person on a terminal, plain periodic lines otherwise.
import Catalog
import Crawler
import Foundation
import Rainbow

final class ProgressView {
    private let quiet: Bool
    private let tty = isatty(STDERR_FILENO) != 0
    private var drawn = 0
    private var last: [PersonProgress] = []
    private var lastPlain = 0.0
    private var plainStamp: [String: (Int, Int)] = [:]
    private let started = Date()

    init(quiet: Bool) {
        self.quiet = quiet
        Rainbow.enabled = tty && ProcessInfo.processInfo.environment["NO_COLOR"] == nil
    }

    func handle(_ event: FetchEvent) {
        guard !quiet else {
            if case .warning(let text) = event { eprint("warning: \(printable(text))") }
            return
        }
        switch event {
        case .progress(let people):
            last = people
            if tty { redraw() } else { plain(force: false) }
        case let .term(label, term, state, message):
            // Terms and messages hold what providers said (subcategory names, Wikidata labels, portraits).
            line("\(label): \"\(printable(term))\" \(state.rawValue): \(printable(message))".yellow)
        case .warning(let text):
            line("warning: \(printable(text))".red)
        }
    }

    func finish() {
        guard !quiet else { return }
        if tty { redraw() } else { plain(force: true) }
        drawn = 0
    }

    /// A line printed above the bars (on a terminal) or on its own.
    private func line(_ text: String) {
        if tty {
            clear()
            eprint(text)
            redraw()
        } else {
            eprint(text)
        }
    }

    private func clear() {
        guard drawn > 0 else { return }
        var s = ""
        for _ in 0..<drawn { s += "\u{1B}[1A\u{1B}[2K" }
        FileHandle.standardError.write(Data(s.utf8))
        drawn = 0
    }

    private func redraw() {
        clear()
        let width = last.map(\.label.count).max() ?? 0
        let seconds = max(Date().timeIntervalSince(started), 0.001)
        var out = ""
        for p in last {
            let fraction = p.target > 0 ? min(1, Double(p.stored) / Double(p.target)) : 1
            let cells = 24
            let full = Int((fraction * Double(cells)).rounded(.down))
            let bar = String(repeating: "█", count: full) + String(repeating: "░", count: cells - full)
            let rate = Double(p.storedThisRun) / seconds
            var text = "\(p.label.padding(toLength: width, withPad: " ", startingAt: 0))  \(fraction >= 1 ? bar.green : bar.cyan) "
            text += "\(p.stored)/\(p.target)  \(String(format: "%.1f", rate)) img/s"
            if p.failed > 0 { text += "  " + "\(p.failed) failed".red }
            if p.duplicates > 0 { text += "  \(p.duplicates) same file" }
            if p.inFlight > 0 { text += "  \(p.inFlight)↓".dim }
            if p.searching { text += "  searching".dim }
            out += text + "\n"
        }
        FileHandle.standardError.write(Data(out.utf8))
        drawn = last.count
    }

    /// Without a terminal: one line per person whose figures changed, at most every 5 seconds.
    private func plain(force: Bool) {
        let now = Date().timeIntervalSince(started)
        guard force || now - lastPlain >= 5 else { return }
        lastPlain = now
        for p in last {
            let stamp = (p.stored, p.failed)
            if let old = plainStamp[p.label], old == stamp { continue }
            plainStamp[p.label] = stamp
            eprint("fetch: \(p.label) \(p.stored)/\(p.target) stored, \(p.failed) failed, \(p.duplicates) same file")
        }
    }
}

enum SummaryView {
    static func print(_ s: FetchSummary) {
        // "same file": a download whose bytes were already stored (processing's `duplicate` is another copy of a
        // picture, a different thing). Each column as wide as its widest entry, so the rows line up under the header.
        let columns = ["stored", "new", "same file", "failed"]
        let cells = s.people.map { p in ["\(p.stored)/\(p.target)", "\(p.storedThisRun)", "\(p.duplicates)", "\(p.failed.values.reduce(0, +))"] }
        let widths = columns.indices.map { i in max(columns[i].count, cells.map { $0[i].count }.max() ?? 0) }
        let width = max(6, s.people.map(\.label.count).max() ?? 0)
        eprint("")
        eprint(("person".padding(toLength: width, withPad: " ", startingAt: 0) + "  "
                + zip(columns, widths).map { $0.leftPad($1) }.joined(separator: "  ") + "  outcome").bold)
        for (p, row) in zip(s.people, cells) {
            let row = p.label.padding(toLength: width, withPad: " ", startingAt: 0) + "  "
                + zip(row, widths).map { $0.leftPad($1) }.joined(separator: "  ") + "  " + p.outcome.replacingOccurrences(of: "_", with: " ")
            eprint(p.outcome == "target_reached" ? row : row.yellow)
            if !p.failed.isEmpty {
                let reasons = p.failed.sorted { $0.value > $1.value }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
                eprint("    failures: \(reasons)".dim)
            }
            for note in p.notes { eprint("    \(printable(note))".yellow) }
            let sources = p.sources.filter { $0.value.stored > 0 }.sorted { $0.key < $1.key }
            if !sources.isEmpty {
                eprint("    stored by source: \(sources.map { "\($0.key) \($0.value.stored)" }.joined(separator: ", "))".dim)
            }
            // For people short of N, every term's state; for the others, the sources that failed or were not taken,
            // so a lookup that failed is never hidden behind a person whose other terms reached N.
            for t in p.terms where t.kind != "url" {
                if p.outcome != "target_reached" || t.state == "failed" || t.state == "ambiguous" {
                    let detail = t.error.map { ": \(printable($0))" } ?? ""
                    eprint("    \"\(printable(t.text))\" (\(t.provider)): \(t.state.replacingOccurrences(of: "_", with: " ")), \(t.pages) page(s), \(t.results) result(s)\(detail)".dim)
                }
            }
        }
        let mb = Double(s.bytes) / 1_048_576
        var total = "stored \(s.stored) new image(s), \(String(format: "%.1f", mb)) MB in \(String(format: "%.1f", s.seconds)) s"
        total += " (\(String(format: "%.1f", s.imagesPerSecond)) img/s, \(String(format: "%.2f", s.seconds > 0 ? mb / s.seconds : 0)) MB/s)"
        if s.duplicates > 0 { total += ", \(s.duplicates) already stored (the same file)" }
        if s.failed > 0 { total += ", \(s.failed) failed" }
        if s.requeued > 0 { total += ", \(s.requeued) retried from earlier runs" }
        if s.orphansRemoved > 0 { total += ", \(s.orphansRemoved) unrecorded file(s) from a killed run removed" }
        eprint(total)
        if s.interrupted { eprint("interrupted: run the same command again to continue.".yellow) }
    }

    /// After processing: per person, what each kind of source and each term gave (stored, kept), so a user sees
    /// which sources are worth keeping.
    static func printSources(_ s: FetchSummary) {
        eprint("")
        eprint("kept / stored by source".bold)
        for p in s.people {
            let kinds = p.sources.filter { $0.value.stored > 0 }.sorted { $0.key < $1.key }
            guard !kinds.isEmpty else { continue }
            eprint("\(p.label): " + kinds.map { "\($0.key) \($0.value.kept)/\($0.value.stored)" }.joined(separator: ", "))
            for t in p.terms where t.stored > 0 && t.kind != "url" {
                eprint("    \"\(printable(t.text))\" (\(t.kind)): \(t.kept)/\(t.stored) kept".dim)
            }
        }
    }
}

extension String {
    func leftPad(_ n: Int) -> String {
        count >= n ? self : String(repeating: " ", count: n - count) + self
    }
}
