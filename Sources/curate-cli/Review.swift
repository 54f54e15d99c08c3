// `curate review`: look at the rejects and decide, in the terminal; or script the same decisions.
import ArgumentParser
import Catalog
import Curate
import Foundation

extension CurateCommand {
    struct Review: Subcommand {
        static let configuration = CommandConfiguration(
            commandName: "review",
            abstract: "Review rejected and flagged images in the terminal, one key per decision.",
            discussion: """
            Walks every rejected image not reviewed yet (no_face, multi_face, duplicate, label_conflict, too_small, ...),
            drawn in the terminal with each detected face boxed and numbered; for duplicate and label_conflict the other
            image is beside it. Keys: a accept, x reject, 1-9 this face is the person, l relabel, s skip, u undo, ? help,
            q quit. Every decision is saved at once; the next `curate review` continues where this one stopped.

            --grid pages through thumbnails of one person and one reason: a number marks a picture to keep, Enter rejects
            the rest of the page and moves on.

            Pictures use the kitty graphics protocol or sixel when the terminal answers that it supports them, else
            chafa's symbol mosaic in 24-bit colour (also inside tmux, which passes neither protocol), or Unicode half
            blocks where libchafa is not installed. --graphics forces one: auto, kitty, sixel, symbols or blocks.

            --quality walks the kept faces with a quality flag (small, blurry, dark, overexposed, turned; --flag picks
            some), the most flags first, each with its figures.

            --suspects walks the suspects instead (kept, but the face farther than the suspect distance from its person's
            identity; a group photo's chosen face too), the farthest first, beside the person's most typical faces; --run ID walks the validation faces a training run named wrong (most sure
            first) or was unsure of. In both, l offers the person the face looks like (or the run predicted).

            Scripting form (no terminal needed): --list [--json] (also with --suspects, --quality or --run), --accept ID...,
            --reject ID..., --face ID:N, --relabel ID:PERSON, --undo. All given decisions are checked first and saved
            together.
            """
        )

        @OptionGroup var global: GlobalOptions

        @Option(name: .long, parsing: .singleValue, help: ArgumentHelp("Only these people (repeatable).", valueName: "person"))
        var person: [String] = []

        @Option(name: .long, parsing: .singleValue, help: ArgumentHelp("Only these reasons, e.g. no_face (repeatable).", valueName: "reason"))
        var reason: [String] = []

        @Flag(name: .long, help: "Walk the suspects instead: kept faces farther than the suspect distance from their person's identity, farthest first.")
        var suspects = false

        @Flag(name: .long, help: "Walk kept faces with a quality flag instead (see --flag), the most flags first.")
        var quality = false

        @Option(name: .long, parsing: .singleValue, help: ArgumentHelp("With --quality: only faces with this flag: small, blurry, dark, overexposed or turned (repeatable).", valueName: "flag"))
        var flag: [String] = []

        @Option(name: .customLong("run"), help: ArgumentHelp("Walk the validation faces training run ID named wrong or was unsure of.", valueName: "id"))
        var runId: Int64?

        @Flag(name: .long, help: "Pages of thumbnails of one person and one reason (see --grid-size).")
        var grid = false

        @Option(name: .long, help: ArgumentHelp("Thumbnails per grid page, columns x rows.", valueName: "CxR"))
        var gridSize = "3x3"

        @Option(name: .long, help: ArgumentHelp("How to draw pictures: auto, kitty, sixel, symbols (chafa) or blocks (half blocks).", valueName: "mode"))
        var graphics: GraphicsChoice = .auto

        @Flag(name: .long, help: "List what waits for review and exit.")
        var list = false

        @Option(name: .long, parsing: .upToNextOption, help: ArgumentHelp("Keep these images (overrides the verdict).", valueName: "id"))
        var accept: [Int64] = []

        @Option(name: .long, parsing: .upToNextOption, help: ArgumentHelp("Reject these images.", valueName: "id"))
        var reject: [Int64] = []

        @Option(name: .long, parsing: .singleValue, help: ArgumentHelp("Face N (as numbered on screen) of image ID is the person (repeatable).", valueName: "ID:N"))
        var face: [String] = []

        @Option(name: .long, parsing: .singleValue, help: ArgumentHelp("Image ID belongs to another person; moves and keeps it (repeatable).", valueName: "ID:PERSON"))
        var relabel: [String] = []

        @Flag(name: .long, help: "Undo the latest decision (a grid page counts as one).")
        var undo = false

        private var gridShape: (columns: Int, rows: Int)? {
            let parts = gridSize.lowercased().split(separator: "x").compactMap { Int($0) }
            guard parts.count == 2, (1...9).contains(parts[0]), (1...9).contains(parts[1]), parts[0] * parts[1] <= 9 else { return nil }
            return (parts[0], parts[1])
        }

        func validate() throws {
            guard [suspects, runId != nil, quality].filter({ $0 }).count <= 1 else {
                throw ValidationError("--suspects, --quality and --run walk different images: give one.")
            }
            guard (!suspects && runId == nil && !quality) || (reason.isEmpty && !grid) else {
                throw ValidationError("--\(suspects ? "suspects" : quality ? "quality" : "run") walks its own images: --reason and --grid do not apply.")
            }
            guard flag.isEmpty || quality else { throw ValidationError("--flag filters --quality: give --quality too.") }
            for f in flag where QualityFlag(rawValue: f) == nil {
                throw ValidationError("--flag \(f): flags are \(QualityFlag.allCases.map(\.rawValue).joined(separator: ", ")).")
            }
            guard gridShape != nil else {
                throw ValidationError("--grid-size \(gridSize): expected columns x rows with at most 9 pictures (keys 1-9), e.g. 3x3 or 4x2.")
            }
        }

        func execute() throws {
            let catalog = try Catalog.openExisting(global.ws)
            let reviewer = Reviewer(catalog: catalog, models: ModelFiles.locate(in: [catalog.workspace.modelsURL]))
            let commands: [ReviewCommand] = try accept.map { .accept($0) } + reject.map { .reject($0) } + face.map(ReviewCommand.face)
                + relabel.map(ReviewCommand.relabel)

            if !commands.isEmpty || undo {
                if !face.isEmpty, let warning = reviewer.modelWarning { eprint("warning: chosen faces get no descriptor: \(warning)") }
                if undo {
                    let undone = try reviewer.undo()
                    if !global.quiet && !global.json {
                        print(undone.isEmpty ? "nothing to undo" : "undid \(undone.map { "\($0.action.rawValue) of #\($0.imageId)" }.joined(separator: ", "))")
                    }
                }
                let decisions = commands.isEmpty ? [] : try reviewer.apply(commands)
                if global.json { return try printJSON(decisions.map(DecisionRow.init)) }
                if !global.quiet { for d in decisions { print("\(d.action.rawValue) #\(d.imageId)") } }
                return
            }

            // The queue is read a page at a time (the first page is all it reads to open); the other walks are built whole.
            var items: [ReviewItem] = []
            var queue: ReviewQueue?
            if suspects {
                items = try reviewer.suspects(people: person)
            } else if quality {
                items = try reviewer.quality(people: person, flags: flag.compactMap(QualityFlag.init))
            } else if let runId {
                items = try reviewer.runAnswers(run: runId).filter { person.isEmpty || person.map { $0.lowercased() }.contains($0.label.lowercased()) }
            } else {
                queue = try reviewer.queue(people: person, reasons: reason, drawable: grid && !list)
            }
            func forEachItem(_ body: (ReviewItem) throws -> Void) throws {
                guard let queue else { return try items.forEach(body) }
                while case let page = try queue.next(), !page.isEmpty { try page.forEach(body) }
            }
            if list {
                var listed = 0
                if global.json {
                    try printJSONArray(of: ReviewRow.self) { print in try forEachItem { listed += 1; try print(reviewer.row($0)) } }
                    return
                }
                try forEachItem { item in
                    listed += 1
                    let i = item.image
                    let detail = item.answer.map { String(format: "predicted %@ (%.2f)", $0.predicted, $0.probability) }
                        ?? item.quality.map { QualityOptions().describe($0) }
                        ?? i.detail ?? item.distance.map { String(format: "distance %.2f", $0) } ?? ""
                    print(["\(item.id)", item.label, i.reason?.rawValue ?? "-", detail, catalog.workspace.url(forRelativePath: i.path).path]
                        .map(printable).joined(separator: "\t"))
                }
                if !global.quiet {
                    eprint(suspects ? "\(listed) suspect(s): kept, farther than the suspect distance from their person, farthest first"
                           : quality ? "\(listed) kept face(s) with a quality flag, the most flags first"
                           : runId != nil ? "\(listed) validation face(s) run #\(runId!) named wrong or was unsure of"
                           : "\(listed) image(s) wait for review")
                }
                return
            }

            guard Terminal.isInteractive() else { throw TerminalError.notATerminal }
            let waiting = queue == nil ? items.count : grid ? try reviewer.queueCount(people: person, reasons: reason) : queue!.count
            if waiting == 0 {
                print(suspects ? "No suspects: no kept face is farther than the suspect distance from a clear identity, or each was reviewed."
                      : quality ? "No kept face not yet reviewed has a quality flag\(flag.isEmpty ? "" : " of these")."
                      : runId != nil ? "Run #\(runId!) named every validation face right and was sure of each."
                      : "Nothing waits for review" + (person.isEmpty && reason.isEmpty ? "." : " with these filters."))
                return
            }
            if grid {
                let shown = queue?.count ?? items.filter(\.showable).count
                items = items.filter(\.showable)
                if shown < waiting {
                    eprint("\(waiting - shown) file(s) that never decoded are not in the grid; `curate review` lists them.")
                }
            }
            let terminal = try Terminal()
            var mode = GraphicsMode(rawValue: graphics.rawValue)
                ?? GraphicsDetection.detect(input: terminal.input, output: terminal.output)
            // Without libchafa, symbols (asked for, or the best text mode) become half blocks, and the status line says why.
            var notice: String?
            if mode.isText, graphics != .blocks, case .failure(let why) = ChafaRenderer.shared {
                mode = .blocks
                notice = "\(why)"
            }
            let layout: ReviewScreen.Layout = grid ? .grid(columns: gridShape!.columns, rows: gridShape!.rows) : .single
            let tally = ReviewScreen(reviewer: reviewer, items: items, queue: queue, terminal: terminal, mode: mode, layout: layout, notice: notice).run()
            terminal.restore()

            let left = suspects || quality || runId != nil ? 0 : (try? reviewer.queueCount(people: person, reasons: reason)) ?? 0
            if !global.quiet {
                print("reviewed \(tally.decided): \(tally.accepted) accepted, \(tally.rejected) rejected, \(tally.faces) face(s) chosen, "
                      + "\(tally.relabelled) relabelled" + (tally.undone > 0 ? "; \(tally.undone) undone" : "") + ".")
                print(left == 0 ? "Nothing left to review." : "\(left) left: run `curate review` to go on.")
            }
            if tally.interrupted { throw Exit.interrupted }
        }
    }
}

/// One decision as `curate review --json` prints it.
struct DecisionRow: Encodable {
    var id: Int64
    var image: Int64
    var action: String
    @ExplicitNull var face: Int?
    @ExplicitNull var person: Int64?

    init(_ d: Decision) {
        id = d.id ?? 0
        image = d.imageId
        action = d.action.rawValue
        face = d.face.map { $0 + 1 }
        person = d.personId
    }

    enum CodingKeys: String, CodingKey { case id, image, action, face, person }
}

/// `--graphics`: a drawing mode, or auto (ask the terminal).
enum GraphicsChoice: String, CaseIterable, ExpressibleByArgument { case auto, kitty, sixel, symbols, blocks }
