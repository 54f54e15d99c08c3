// `curate fetch`: search and download images per person into the workspace.
import ArgumentParser
import Catalog
import Crawler
import Curate
import Foundation

extension CurateCommand {
    struct Fetch: Subcommand {
        static let configuration = CommandConfiguration(
            abstract: "Search and download images per person until each has N stored.",
            discussion: """
            Each .txt file in the query folder is one person: the file name is the label, each line a search
            term, an http(s) URL of one image, category:NAME (a Wikimedia Commons category and its subcategories)
            or wikidata:Q1234 (a Wikidata entity: its Commons category and its portrait, the person's reference
            photo). Categories and portraits are fetched before search terms. Lines starting with # are comments.
            Interrupt with Ctrl-C at any time; running the same command again continues where it stopped.
            """
        )

        @OptionGroup var global: GlobalOptions

        @Option(name: .long, help: ArgumentHelp("A folder of query files, or one query file.", valueName: "path"))
        var query: String

        @Option(name: .customLong("n"), parsing: .unconditional, help: "Stored images wanted per person (counting earlier runs).")
        var n: Int = 300

        @Option(name: .long, help: "Search provider: commons (Wikimedia Commons, the default) or openverse.")
        var provider: ProviderKind = .commons

        @Option(name: .long, help: ArgumentHelp("The provider's API address (default: the public API, or CURATE_COMMONS_ENDPOINT / CURATE_OPENVERSE_ENDPOINT).", valueName: "url"))
        var endpoint: String?

        @Option(name: .long, parsing: .unconditional, help: "Downloads in flight at once.")
        var concurrency: Int = 16

        @Option(name: .long, parsing: .unconditional, help: "Connections to one host at once.")
        var perHost: Int = 8

        @Option(name: .long, parsing: .unconditional, help: "Largest image accepted, in MiB.")
        var maxSize: Int = 20

        @Option(name: .long, parsing: .unconditional, help: "Seconds one download may take in all.")
        var timeout: Double = 120

        @Option(name: .long, parsing: .unconditional, help: "Tries per URL for connection errors, 5xx and 429.")
        var retries: Int = 3

        @Option(name: .long, help: ArgumentHelp("auto: look each person without a wikidata: line up on Wikidata by name, taking the entity only when exactly one matches; off (the default): only wikidata: lines."))
        var wikidata: WikidataMode = .off

        @Option(name: .long, parsing: .unconditional, help: "How many levels of a Commons category's subcategories are walked (0: the category alone).")
        var categoryDepth: Int = 2

        @Option(name: .long, help: ArgumentHelp("Wikidata's API address (default: the public API, or CURATE_WIKIDATA_ENDPOINT).", valueName: "url"))
        var wikidataEndpoint: String?

        @Flag(name: .long, help: "Queue again the URLs that failed with a transient error in earlier runs.")
        var retryFailed = false

        @Flag(name: .long, help: "Only download; leave processing (clean, faces, dedupe) to `curate process`.")
        var noProcess = false

        @OptionGroup var processing: ProcessingOptions

        @OptionGroup var sharding: ShardOptions

        func validate() throws {
            try check("--n", n, in: 1...1_000_000)
            try check("--concurrency", concurrency, in: 1...256)
            try check("--per-host", perHost, in: 1...256)
            try check("--max-size", maxSize, in: 1...(ImageLimits.maxFileBytes >> 20), unit: " MiB")
            try check("--timeout", timeout, in: 1...86_400, unit: " seconds")
            try check("--retries", retries, in: 1...100)
            try check("--category-depth", categoryDepth, in: 0...10)
            for (name, value) in [("--endpoint", endpoint), ("--wikidata-endpoint", wikidataEndpoint)] {
                guard let value else { continue }
                guard let url = URL(string: value), ["http", "https"].contains(url.scheme?.lowercased() ?? ""), url.host != nil else {
                    throw ValidationError("\(name) \(value) is not an http(s) URL.")
                }
            }
        }

        func execute() throws {
            var http = HTTPOptions(userAgent: HTTPOptions.defaultUserAgent)
            http.concurrency = concurrency
            http.perHost = perHost
            http.maxImageBytes = maxSize * 1024 * 1024
            http.timeout = timeout
            var options = FetchOptions(target: n, http: http)
            options.provider = provider
            options.endpoint = endpoint
            options.retries = retries
            options.retryFailed = retryFailed
            options.wikidataAuto = wikidata == .auto
            options.categoryDepth = categoryDepth
            options.wikidataEndpoint = wikidataEndpoint

            // Everything that can be wrong with the input is found before the catalog is touched.
            let queries: [PersonQuery]
            let lock: WorkspaceLock
            let catalog: Catalog
            let shard = try sharding.resolve()
            let all = try QueryFile.load(path: query)
            queries = shard.map { shard in all.filter { shard.owns($0.label) } } ?? all
            try Fetcher.checkEndpoint(options, queries: queries)
            try global.ws.prepare()
            lock = try WorkspaceLock(global.ws, command: "fetch")
            catalog = try Catalog.open(global.ws)
            defer { withExtendedLifetime(lock) {} }
            if let shard {
                try catalog.claim(shard)
                if !global.quiet { eprint(shardLine(shard, taken: queries.map(\.label).sorted(), of: all.count)) }
            }

            let asksWikimedia = options.wikidataAuto || queries.contains { $0.lines.contains {
                switch $0 {
                case .search: options.provider == .commons
                case .url: false
                case .category, .wikidata: true
                }
            } }
            if asksWikimedia, ProcessInfo.processInfo.environment["CURATE_CONTACT"] == nil, !global.quiet {
                eprint("note: Wikimedia asks API clients for a contact in the User-Agent: set CURATE_CONTACT=you@example.org")
            }
            let progress = ProgressView(quiet: global.quiet)
            Signals.install()
            let fetcher = try Fetcher(catalog: catalog, options: options, onEvent: progress.handle,
                                      shouldStop: { Signals.interrupted })
            var summary = try fetcher.run(queries: queries)
            progress.finish()

            if !global.json && !global.quiet { SummaryView.print(summary) }
            if summary.interrupted {
                if global.json { try printJSON(FetchReport(fetch: summary, process: nil, shard: shard.map { ShardReport($0, queries) })) }
                throw Exit.interrupted
            }
            let processed = noProcess ? nil : try processing.run(catalog: catalog, global: global, shard: shard)
            if processed != nil {
                // Now the kept figures per source are known.
                try summary.recountSources(catalog)
                if !global.json && !global.quiet { SummaryView.printSources(summary) }
            }
            if global.json { try printJSON(FetchReport(fetch: summary, process: processed, shard: shard.map { ShardReport($0, queries) })) }
            if processed?.interrupted == true { throw Exit.interrupted }
            if summary.stored == 0 && !summary.complete {
                eprint("error: this run stored no image; see the terms above for why.")
                throw Exit.nothingStored
            }
        }
    }
}

/// `curate fetch --json`: the fetch summary, and processing's when it ran.
struct FetchReport: Encodable {
    var fetch: FetchSummary
    var process: ProcessSummary?
    /// With --shard: which shard, and the people it took.
    var shard: ShardReport?
}

struct ShardReport: Encodable {
    var index: Int
    var count: Int
    var people: [String]
    init(_ shard: Shard, _ queries: [PersonQuery]) {
        index = shard.index
        count = shard.count
        people = queries.map(\.label).sorted()
    }
}

extension ProviderKind: ExpressibleByArgument {
    /// Only the providers that search: Wikidata is read for entities, never searched for images.
    public init?(argument: String) {
        guard let kind = ProviderKind(rawValue: argument), ProviderKind.searchable.contains(kind) else { return nil }
        self = kind
    }
    public static var allValueStrings: [String] { searchable.map(\.rawValue) }
}

/// `--wikidata`: whether people without a `wikidata:` line are looked up by name.
enum WikidataMode: String, CaseIterable, ExpressibleByArgument {
    case auto, off
}
