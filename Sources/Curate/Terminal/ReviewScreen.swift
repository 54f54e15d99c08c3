// The interactive review: each item (or a page of thumbnails) drawn in the terminal with its faces boxed and
// numbered, decided with one key, written to the catalog at once. The next pictures are prepared in the
// background while the current one is on screen.
import Catalog
import Foundation

/// What a session did, for the summary printed at the end.
public struct ReviewTally: Codable, Sendable, Equatable {
    public var accepted = 0
    public var rejected = 0
    public var faces = 0
    public var relabelled = 0
    public var undone = 0
    public var interrupted = false

    public var decided: Int { accepted + rejected + faces + relabelled }

    /// Counts decisions made (`by` 1) or undone (`by` -1); an undone decision of an earlier session counts as none.
    mutating func count(_ decisions: [Decision], by delta: Int = 1) {
        for d in decisions {
            switch d.action {
            case .accept: accepted = max(0, accepted + delta)
            case .reject: rejected = max(0, rejected + delta)
            case .face: faces = max(0, faces + delta)
            case .relabel: relabelled = max(0, relabelled + delta)
            }
        }
    }
}

/// A picture ready to be placed: its size in cells and what to write at its top-left corner.
struct Picture {
    var columns: Int
    var rows: Int
    /// Text modes: one string per row. Kitty and sixel: one escape sequence.
    var lines: [String]
    /// Face numbers to write over a text picture, in cells from its top-left corner.
    var labels: [(row: Int, col: Int, text: String, chosen: Bool)]
}

/// Prepares pictures (decode, boxes, fit, encode) and keeps the latest ones, so that moving on is instant.
final class PictureCache: @unchecked Sendable {
    private let workspace: Workspace
    private let mode: GraphicsMode
    private let lock = NSLock()
    private var cache: [String: Picture] = [:]
    private var order: [String] = []
    private let queue = DispatchQueue(label: "curate.review.prefetch", qos: .userInitiated)

    init(workspace: Workspace, mode: GraphicsMode) {
        self.workspace = workspace
        self.mode = mode
    }

    private func key(_ image: StoredImage, _ faces: [Face], _ cols: Int, _ rows: Int) -> String {
        "\(image.id!)|\(cols)x\(rows)|\(faces.first(where: \.chosen)?.idx ?? -1)"
    }

    /// The picture of an image fitted into `cols` x `rows` cells (nil when it cannot be drawn).
    func picture(_ image: StoredImage, faces: [Face], cols: Int, rows: Int, cell: (Int, Int)) -> Picture? {
        let k = key(image, faces, cols, rows)
        lock.lock()
        if let hit = cache[k] { lock.unlock(); return hit }
        lock.unlock()
        guard let picture = try? make(image, faces: faces, cols: cols, rows: rows, cell: cell) else { return nil }
        lock.lock()
        cache[k] = picture
        order.append(k)
        if order.count > 48 { cache[order.removeFirst()] = nil }
        lock.unlock()
        return picture
    }

    /// Prepares pictures in the background.
    func prefetch(_ jobs: [(StoredImage, [Face], Int, Int)], cell: (Int, Int)) {
        queue.async { [self] in
            for (image, faces, cols, rows) in jobs { _ = picture(image, faces: faces, cols: cols, rows: rows, cell: cell) }
        }
    }

    /// However large the terminal says it is (a 10000×10000-cell window took review to 7.9 GB and `q` waited 90 s),
    /// a picture is at most this many cells, each of at most `maxCell` pixels, and at most `maxSide` pixels a side.
    static let maxCells = (columns: 400, rows: 200)
    static let maxCell = (width: 64, height: 128)
    static let maxSide = 4096

    private func make(_ image: StoredImage, faces: [Face], cols wanted: Int, rows wantedRows: Int, cell reported: (Int, Int)) throws -> Picture? {
        let cols = min(wanted, Self.maxCells.columns), rows = min(wantedRows, Self.maxCells.rows)
        let cell = (min(reported.0, Self.maxCell.width), min(reported.1, Self.maxCell.height))
        guard cols > 0, rows > 0, image.normalizedPath != nil else { return nil }
        let pixels = try Self.upright(image, in: workspace)
        // Text modes fit the picture in square half-cell pixels (a cell is twice as tall as wide).
        let box = mode.isText ? (cols, rows * 2) : (min(cols * cell.0, Self.maxSide), min(rows * cell.1, Self.maxSide))
        let size = fitting(width: pixels.width, height: pixels.height, into: box.0, box.1)
        let scale = Double(size.width) / Double(pixels.width)
        // Text cells are too coarse for drawn digits: their face numbers are written as text over the picture.
        try Self.drawFaces(faces, on: pixels, thickness: max(2, Int((1.5 / scale).rounded(.up))), numbered: !mode.isText)
        switch mode {
        case .blocks, .symbols:
            let labels = faces.map { f in
                (row: min(max(0, Int(f.top * scale / 2)), (size.height - 1) / 2), col: min(max(0, Int(f.left * scale)), size.width - 1),
                 text: "\(f.idx + 1)", chosen: f.chosen)
            }
            let mosaic: Mosaic
            if mode == .symbols, let chafa = try? ChafaRenderer.shared.get() {
                // chafa reads 8 x 8 pixels per cell: resize to that grid (squeezed to half height, as cells are tall).
                let columns = size.width, rows = (size.height + 1) / 2
                mosaic = chafa.mosaic(try pixels.resized(width: columns * 8, height: rows * 8).rgb(), columns: columns, rows: rows)
            } else {
                mosaic = HalfBlocks.mosaic(try pixels.resized(width: size.width, height: size.height).rgb())
            }
            return Picture(columns: mosaic.columns, rows: mosaic.rows, lines: mosaic.lines(), labels: labels)
        case .kitty, .sixel:
            let rgb = try pixels.resized(width: size.width, height: size.height).rgb()
            let c = max(1, (size.width + cell.0 - 1) / cell.0), r = max(1, (size.height + cell.1 - 1) / cell.1)
            // Sixel: chafa's where libchafa loads (a palette from the image, far closer than the fixed cube).
            let sequence = mode == .kitty ? Kitty.encode(rgb, columns: c, rows: r)
                : (try? ChafaRenderer.shared.get())?.sixel(rgb) ?? Sixel.encode(rgb)
            return Picture(columns: c, rows: r, lines: [sequence], labels: [])
        }
    }

    /// The image as processing saw it: the upright normalised copy (or the original, turned upright).
    static func upright(_ image: StoredImage, in workspace: Workspace) throws -> DecodedImage {
        if let path = image.normalizedPath, let bytes = try? ImageLimits.read(workspace.url(forRelativePath: path).path) {
            return try DecodedImage.decode(bytes)
        }
        return try DecodedImage.upright(image, in: workspace)
    }

    /// Boxes every detected face: counted faces green, the chosen one yellow, faces too small to count grey.
    static func drawFaces(_ faces: [Face], on pixels: DecodedImage, thickness: Int, numbered: Bool) throws {
        for face in faces {
            let colour: (UInt8, UInt8, UInt8) = face.chosen ? (0, 215, 255) : face.counted ? (0, 200, 0) : (150, 150, 150)
            try pixels.drawBox(left: Int(face.left), top: Int(face.top), right: Int(face.right), bottom: Int(face.bottom),
                               thickness: thickness, bgr: colour, label: numbered ? "\(face.idx + 1)" : nil)
        }
    }
}

public final class ReviewScreen {
    public enum Layout: Sendable, Equatable {
        case single
        case grid(columns: Int, rows: Int)
    }

    private let reviewer: Reviewer
    private let terminal: Terminal
    private let mode: GraphicsMode
    private let layout: Layout
    private let pictures: PictureCache
    /// The items read so far; the queue's next pages are read as the walk nears their end.
    private var items: [ReviewItem]
    private var queue: ReviewQueue?
    private var total: Int
    private var pos = 0                       // single: the item shown; grid: the first item of the page
    private var toggled: Set<Int64> = []      // grid: items marked to keep on this page
    private var status = ""
    private var statusIsError = false
    private var prompt: String?               // the relabel prompt's text while it is open
    private var tally = ReviewTally()

    /// Walks `items`, then the pages of `queue` (read as the walk reaches them). `notice`: a line for the status bar
    /// at the start (e.g. why pictures are half blocks).
    public init(reviewer: Reviewer, items: [ReviewItem], queue: ReviewQueue? = nil, terminal: Terminal, mode: GraphicsMode, layout: Layout,
                notice: String? = nil) {
        self.reviewer = reviewer
        self.items = items
        self.queue = queue
        self.total = items.count + (queue?.count ?? 0)
        self.terminal = terminal
        self.mode = mode
        self.layout = layout
        self.pictures = PictureCache(workspace: reviewer.catalog.workspace, mode: mode)
        if let notice { say(notice) }
        if let warning = reviewer.modelWarning { say("chosen faces get no descriptor: \(warning)", error: true) }
    }

    /// Runs until `q`, Ctrl-C or the end of the input. Every decision is already in the catalog when a key returns.
    public func run() -> ReviewTally {
        draw()
        while true {
            guard let key = terminal.readKey(timeout: 0.2) else { continue }
            if key == .interrupt || key == .closed {
                tally.interrupted = true
                break
            }
            if key == .resize { draw(); continue }
            if prompt != nil { editPrompt(key); draw(); continue }
            if key == .char("q") { break }
            if key == .char("?") { showHelp(); draw(); continue }
            status = ""
            statusIsError = false
            do {
                switch layout {
                case .single: try handleSingle(key)
                case .grid: try handleGrid(key)
                }
            } catch {
                say("\(error)", error: true)
            }
            draw()
        }
        return tally
    }

    /// Reads the queue's next pages until the item at `index` is read, or the queue ends. An item already on the
    /// walk (one an undo brought back) is not read twice.
    private func read(through index: Int) throws {
        guard let queue, index >= items.count else { return }
        var known = Set(items.map(\.id))
        while index >= items.count {
            let page = try queue.next()
            if page.isEmpty {
                self.queue = nil
                total = items.count
                return
            }
            for item in page where known.insert(item.id).inserted { items.append(item) }
        }
    }

    // MARK: Keys

    private var current: ReviewItem? { pos < items.count ? items[pos] : nil }

    private func handleSingle(_ key: Key) throws {
        switch key {
        case .char("u"):
            try undo()
            return
        case .left:
            if pos > 0 { pos -= 1 }
            return
        default: break
        }
        guard let item = current else { return }
        switch key {
        case .char("a"):
            try decide(.accept(item.id), "accepted #\(item.id)")
        case .char("x"):
            try decide(.reject(item.id), "rejected #\(item.id)")
        case .char(let c) where c.isNumber && c != "0":
            let n = Int(String(c))!
            guard n <= item.faces.count else {
                return say(item.faces.isEmpty ? "#\(item.id) has no detected faces" : "#\(item.id) has \(item.faces.count) faces: 1–\(item.faces.count)", error: true)
            }
            try decide(.face(item.id, n), "#\(item.id): face \(n) is \(item.label)")
        case .char("l"):
            // The person the face looks like (or the run predicted) is offered: Enter moves it there.
            prompt = item.looksLike ?? ""
        case .char("s"), .right:
            pos += 1
            say("skipped #\(item.id)")
        default:
            say("unknown key; ? shows the keys", error: true)
        }
    }

    private func handleGrid(_ key: Key) throws {
        let page = pageRange
        switch key {
        case .char(let c) where c.isNumber && c != "0":
            let n = Int(String(c))!
            guard n <= page.count else { return say("this page has \(page.count) items", error: true) }
            let id = items[page.lowerBound + n - 1].id
            if toggled.contains(id) { toggled.remove(id) } else { toggled.insert(id) }
        case .enter:
            guard !page.isEmpty else { return }
            let commands: [ReviewCommand] = items[page].map { toggled.contains($0.id) ? .accept($0.id) : .reject($0.id) }
            let decisions = try reviewer.apply(commands)
            tally.count(decisions)
            let kept = toggled.count
            toggled = []
            pos = page.upperBound
            say("page applied: \(kept) kept, \(page.count - kept) rejected")
        case .char("s"), .right:
            toggled = []
            pos = page.upperBound
        case .left:
            toggled = []
            pos = previousPageStart
        case .char("u"):
            try undo()
        default:
            say("unknown key; ? shows the keys", error: true)
        }
    }

    private func decide(_ command: ReviewCommand, _ message: String) throws {
        let decisions = try reviewer.apply([command])
        tally.count(decisions)
        items[pos] = try reviewer.item(id: command.imageId)
        pos += 1
        say(message + " — u undoes")
    }

    /// Undoes the latest batch and shows its item again: where it is in this session's list, or inserted here
    /// when it was decided in an earlier session.
    private func undo() throws {
        let undone = try reviewer.undo()
        guard let first = undone.last else { return say("nothing to undo", error: true) }
        tally.undone += undone.count
        tally.count(undone, by: -1)
        let ids = undone.map(\.imageId)
        if let i = items.firstIndex(where: { ids.contains($0.id) }) {
            pos = i
            if case .grid = layout { pos = pageStart(containing: i) }
        } else {
            let restored = try ids.sorted().map { try reviewer.item(id: $0) }
            items.insert(contentsOf: restored, at: min(pos, items.count))
            total += restored.count
        }
        for id in ids { if let i = items.firstIndex(where: { $0.id == id }) { items[i] = try reviewer.item(id: id) } }
        say("undid \(first.action.rawValue) of #\(first.imageId)" + (undone.count > 1 ? " and \(undone.count - 1) more" : ""))
    }

    private func editPrompt(_ key: Key) {
        guard var text = prompt, let item = current else { prompt = nil; return }
        let people = ((try? reviewer.people()) ?? []).map(\.label)
        let matches = people.filter { $0.lowercased().hasPrefix(text.lowercased()) }
        switch key {
        case .escape, .interrupt:
            prompt = nil
            return say("relabel cancelled")
        case .backspace:
            if !text.isEmpty { text.removeLast() }
        case .tab:
            text = commonPrefix(matches) ?? text
        case .enter:
            let choice = people.first(where: { $0.lowercased() == text.lowercased() }) ?? (matches.count == 1 ? matches[0] : nil)
            guard let choice else {
                say(matches.isEmpty ? "no person \"\(text)\"; known: \(people.joined(separator: ", "))"
                    : "\"\(text)\" could be \(matches.joined(separator: ", ")); type more or press Tab", error: true)
                prompt = text
                return
            }
            prompt = nil
            do { try decide(.relabel(item.id, choice), "#\(item.id) moved from \(item.label) to \(choice)") } catch { say("\(error)", error: true) }
            return
        case .char(let c):
            text.append(c)
        default: break
        }
        prompt = text
    }

    private func commonPrefix(_ words: [String]) -> String? {
        guard var prefix = words.first else { return nil }
        for w in words.dropFirst() {
            while !w.lowercased().hasPrefix(prefix.lowercased()) { prefix.removeLast() }
        }
        return prefix
    }

    private func say(_ text: String, error: Bool = false) {
        status = text
        statusIsError = error
    }

    // MARK: Grid pages: one person and one reason at a time

    private var pageSize: Int {
        if case let .grid(c, r) = layout { return c * r }
        return 1
    }

    private func group(_ item: ReviewItem) -> String { "\(item.image.personId)|\(item.image.reason?.rawValue ?? "")" }

    /// The items of the page starting at `pos`: at most a grid's worth, all of one person and one reason.
    private var pageRange: Range<Int> {
        guard pos < items.count else { return items.count..<items.count }
        var end = pos + 1
        while end < items.count, end - pos < pageSize, group(items[end]) == group(items[pos]) { end += 1 }
        return pos..<end
    }

    private func pageStart(containing index: Int) -> Int {
        var start = 0
        while true {
            var end = start + 1
            while end < items.count, end - start < pageSize, group(items[end]) == group(items[start]) { end += 1 }
            if index < end { return start }
            start = end
        }
    }

    private var previousPageStart: Int { pos == 0 ? 0 : pageStart(containing: pos - 1) }

    // MARK: Drawing

    private let help = [
        "a accept (keep: overrides the verdict)    x reject    1–9 this face is the person (group photos)",
        "l relabel (offers who it looks like; Tab completes)    s or → skip    ← back    u undo (again for more)",
        "? this help    q quit (every decision is already saved; `curate review` continues where you stopped)",
    ]
    private let gridHelp = [
        "1–9 toggle keep on that picture (unmarked ones are rejected)    Enter apply this page and go on",
        "s or → skip this page    ← back    u undo the last page    ? this help    q quit (decisions are saved)",
    ]

    private func showHelp() {
        var out = "\u{1B}[2J\u{1B}[H"
        if mode == .kitty { out += Kitty.clear }
        out += "\u{1B}[1mcurate review: keys\u{1B}[0m\r\n\r\n"
        for line in (layout == .single ? help : gridHelp) { out += line + "\r\n" }
        out += "\r\nBoxes: green = a counted face, yellow = the chosen face, grey = too small to count.\r\n"
        out += "\r\nPress any key to go back."
        terminal.write(out)
        while terminal.readKey(timeout: 0.2) == nil {}
    }

    private func draw() {
        do { try read(through: pos + 2 * pageSize + 2) } catch { say("\(error)", error: true) }
        let size = terminal.size
        var out = "\u{1B}[?2026h\u{1B}[H\u{1B}[2J"
        if mode == .kitty { out += Kitty.clear }
        func at(_ row: Int, _ col: Int) -> String { "\u{1B}[\(row);\(col)H" }
        // Every line of text goes through here: a licence, a URL or a label from a provider is printed, not obeyed.
        func fit(_ text: String, _ width: Int) -> String {
            let s = printable(text)
            return s.count <= width ? s : String(s.prefix(max(0, width - 1))) + "…"
        }
        let cell = (size.cellWidth, size.cellHeight)
        let areaTop = 4, areaRows = max(1, size.rows - 5)
        let page = layout == .single ? (pos..<min(pos + 1, items.count)) : pageRange

        if page.isEmpty {
            out += at(1, 1) + "\u{1B}[1mNothing left to review.\u{1B}[0m"
            out += at(3, 1) + "\(tally.decided) decided in this session. u undoes the latest decision, q quits."
        } else if case let .grid(gc, gr) = layout {
            let first = items[page.lowerBound]
            let total = max(total, items.count)
            out += at(1, 1) + "\u{1B}[1m" + fit("\(first.label) — \(first.image.reason?.rawValue ?? "?"): items \(page.lowerBound + 1)–\(page.upperBound) of \(total)", size.columns) + "\u{1B}[0m"
            out += at(2, 1) + fit("Unmarked pictures are rejected (\(first.image.reason?.rawValue ?? "")) when you press Enter; marked ones are kept.", size.columns)
            let cw = max(4, (size.columns - (gc - 1)) / gc), ch = max(2, areaRows / gr)
            for (k, index) in page.enumerated() {
                let item = items[index]
                let row = areaTop + (k / gc) * ch, col = 1 + (k % gc) * (cw + 1)
                let keep = toggled.contains(item.id)
                let mark = keep ? "\u{1B}[42;30m KEEP \u{1B}[0m" : "\u{1B}[41;97m reject \u{1B}[0m"
                out += at(row, col) + "\u{1B}[1m[\(k + 1)]\u{1B}[0m " + mark + " " + fit("#\(item.id) \(item.image.detail ?? "")", cw - 13)
                out += place(item.image, item.faces, row: row + 1, col: col, cols: cw, rows: ch - 1, cell: cell, at: at)
            }
            prefetchGrid(after: page, cw: cw, ch: ch, cell: cell)
        } else {
            let item = items[pos]
            let i = item.image
            let reason = i.reason.map { "\u{1B}[33m\($0)\u{1B}[0m" } ?? "\u{1B}[32m\(i.verdict.rawValue)\u{1B}[0m"
            let detail = item.answer.map { String(format: "labelled %@, the run predicted %@ (%.2f)", $0.actual, $0.predicted, $0.probability) }
                ?? item.quality.map { "quality: " + QualityOptions().describe($0) }
                ?? i.detail ?? item.distance.map { String(format: "distance %.2f to %@'s identity", $0, item.label) }
            out += at(1, 1) + "\u{1B}[1m[\(pos + 1)/\(max(total, items.count))] #\(item.id) \(printable(item.label))\u{1B}[0m — " + reason
                + (detail.map { ": " + fit($0, size.columns - 30 - item.label.count) } ?? "")
            let facts = [i.width.flatMap { w in i.height.map { "\(w)×\($0)" } }, "\(item.faces.count) face\(item.faces.count == 1 ? "" : "s") detected",
                         "\(i.format) \(i.bytes / 1024) KB", i.provider.rawValue, i.license].compactMap { $0 }
            out += at(2, 1) + fit(facts.joined(separator: " · "), size.columns)
            out += at(3, 1) + "\u{1B}[2m" + fit("source: \(i.sourceUrl)", size.columns) + "\u{1B}[0m"
            if !item.showable {
                out += at(areaTop + 1, 3) + "This file is listed, not shown: it never decoded (\(i.reason?.rawValue ?? "unprocessed"))."
                out += at(areaTop + 2, 3) + fit("file: \(reviewer.catalog.workspace.url(forRelativePath: i.path).path)", size.columns - 3)
                out += at(areaTop + 3, 3) + "x confirms the rejection; s skips."
            } else if item.related.isEmpty {
                out += place(i, item.faces, row: areaTop, col: 1, cols: size.columns, rows: areaRows, cell: cell, at: at)
            } else {
                // This image beside the one its verdict points at.
                let others = item.related.prefix(2)
                let n = others.count + 1
                let cw = max(4, (size.columns - (n - 1) * 2) / n)
                out += at(areaTop, 1) + "\u{1B}[1mthis image #\(item.id)\u{1B}[0m"
                out += place(i, item.faces, row: areaTop + 1, col: 1, cols: cw, rows: areaRows - 1, cell: cell, at: at)
                for (k, other) in others.enumerated() {
                    let col = 1 + (k + 1) * (cw + 2)
                    let what = i.reason == .duplicate ? "kept copy" : i.reason == .labelConflict ? "same image under" : "typical face of"
                    out += at(areaTop, col) + "\u{1B}[1m" + fit("\(what) #\(other.image.id!) \(other.label) (\(other.image.verdict.rawValue))", cw) + "\u{1B}[0m"
                    out += place(other.image, other.faces, row: areaTop + 1, col: col, cols: cw, rows: areaRows - 1, cell: cell, at: at)
                }
            }
            prefetchSingle(cols: size.columns, areaRows: areaRows, cell: cell)
        }

        // Status and help lines.
        if let text = prompt, let item = current {
            let matches = ((try? reviewer.labels(startingWith: text)) ?? []).prefix(8)
            out += at(size.rows - 1, 1) + "\u{1B}[2K" + fit("people: " + matches.joined(separator: "  "), size.columns)
            out += at(size.rows, 1) + "\u{1B}[2K\u{1B}[1m" + fit("move #\(item.id) from \(item.label) to: ", size.columns) + "\u{1B}[0m" + text + "▏  (Tab completes, Enter moves, Esc cancels)"
        } else {
            let colour = statusIsError ? "\u{1B}[31m" : "\u{1B}[36m"
            out += at(size.rows - 1, 1) + "\u{1B}[2K" + colour + fit(status, size.columns) + "\u{1B}[0m"
            let keys = layout == .single ? "a accept  x reject  1-9 face  l relabel  s skip  u undo  ? help  q quit"
                : "1-9 toggle keep  Enter apply page  s skip  u undo  ? help  q quit"
            out += at(size.rows, 1) + "\u{1B}[2K\u{1B}[7m" + fit(keys, size.columns) + "\u{1B}[0m"
        }
        out += "\u{1B}[?2026l"
        terminal.write(out)
    }

    private func place(_ image: StoredImage, _ faces: [Face], row: Int, col: Int, cols: Int, rows: Int, cell: (Int, Int),
                       at: (Int, Int) -> String) -> String {
        guard let picture = pictures.picture(image, faces: faces, cols: cols, rows: rows, cell: cell) else {
            return at(row, col) + "(cannot draw #\(image.id!))"
        }
        let left = col + max(0, (cols - picture.columns) / 2)
        if mode.isText {
            return picture.lines.enumerated().map { at(row + $0.offset, left) + $0.element }.joined()
                + picture.labels.map { at(row + $0.row, left + $0.col) + ($0.chosen ? "\u{1B}[1;30;43m" : "\u{1B}[1;30;42m") + $0.text + "\u{1B}[0m" }.joined()
        }
        return at(row, left) + picture.lines[0]
    }

    private func prefetchSingle(cols: Int, areaRows: Int, cell: (Int, Int)) {
        var jobs: [(StoredImage, [Face], Int, Int)] = []
        for next in items.dropFirst(pos + 1).prefix(2) where next.showable {
            if next.related.isEmpty {
                jobs.append((next.image, next.faces, cols, areaRows))
            } else {
                let n = min(2, next.related.count) + 1
                let cw = max(4, (cols - (n - 1) * 2) / n)
                jobs.append((next.image, next.faces, cw, areaRows - 1))
                for other in next.related.prefix(2) { jobs.append((other.image, other.faces, cw, areaRows - 1)) }
            }
        }
        pictures.prefetch(jobs, cell: cell)
    }

    private func prefetchGrid(after page: Range<Int>, cw: Int, ch: Int, cell: (Int, Int)) {
        let next = items[page.upperBound...].prefix(pageSize).filter(\.showable)
        pictures.prefetch(next.map { ($0.image, $0.faces, cw, ch - 1) }, cell: cell)
    }
}
