// `curate gallery`.
import ArgumentParser
import Catalog
import Curate
import Foundation

extension CurateCommand {
    struct Gallery: Subcommand {
        static let configuration = CommandConfiguration(
            commandName: "gallery",
            abstract: "Write the dataset as a static site to look at in a browser (opens from file://, nothing to serve).",
            discussion: """
            An overview page with every person's counts (as `curate status`), and pages for each person: the kept
            faces (suspects first, with their distance), the group photos with the chosen face boxed, the rejected
            photos by reason with the faces found, each duplicate beside the copy that stands, the reference
            portrait marked. Click a picture to see it large with its source, licence and attribution. Thumbnails
            are made once; run it again after processing or review to update what changed.
            """
        )

        @OptionGroup var global: GlobalOptions

        @Option(name: .long, help: ArgumentHelp("The gallery folder (default: <workspace>/gallery).", valueName: "dir"))
        var out: String?

        @Option(name: .long, help: ArgumentHelp("Only this person (repeat for more).", valueName: "label"))
        var person: [String] = []

        @Option(name: .customLong("page-size"), help: "Pictures on one page of a person.")
        var pageSize: Int = 120

        @Option(name: .customLong("people-per-page"), help: "People on one page of the overview; more go on index-2.html, ...")
        var peoplePerPage: Int = 500

        @Option(name: .long, help: "Threads making thumbnails (default: one per core).")
        var threads: Int?

        func validate() throws {
            try check("--page-size", pageSize, in: 10...10_000)
            try check("--people-per-page", peoplePerPage, in: 1...100_000)
            try check("--threads", threads, in: 1...256)
        }

        func execute() throws {
            let catalog = try Catalog.openExisting(global.ws)
            let dest = out.map { URL(fileURLWithPath: $0) } ?? catalog.workspace.root.appendingPathComponent("gallery")
            var options = GalleryOptions(out: dest, people: person, pageSize: pageSize, peoplePerPage: peoplePerPage)
            if let threads { options.threads = threads }
            let summary = try Curate.Gallery.build(catalog, options: options)
            if global.json { return try printJSON(summary) }
            guard !global.quiet else { return }
            print("gallery of \(summary.people) \(summary.people == 1 ? "person" : "people"), \(summary.pictures) pictures on "
                  + "\(summary.pages) pages: \(summary.thumbnailsMade) thumbnails and chips made, \(summary.thumbnailsKept) kept from before"
                  + (summary.removed > 0 ? ", \(summary.removed) unused removed" : ""))
            if summary.unreadable > 0 { eprint("note: \(summary.unreadable) picture(s) could not be read or decoded; they are shown as text") }
            print("open \(summary.index)")
        }
    }
}
