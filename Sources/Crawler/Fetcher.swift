// `curate fetch`: search and download until each person has N stored images, recording everything in the catalog.
import Catalog
import DequeModule
import Foundation

public struct FetchOptions: Sendable {
    /// Stored images wanted per person (counting those stored by earlier runs).
    public var target: Int
    public var provider: ProviderKind = .commons
    /// Overrides the provider's endpoint (else its environment variable, else the public API).
    public var endpoint: String?
    public var http: HTTPOptions
    /// Tries per URL in one run for transient errors (connection errors, 5xx, 429).
    public var retries = 3
    /// First backoff; it doubles with each try.
    public var backoff: Double = 1
    /// The longest wait the run accepts from Retry-After or a throttle message; longer waits end the attempt.
    /// Also the cap of one wait of the run's own backoff.
    public var maxWait: Double = 120
    /// The seconds one API may keep the run waiting in all (throttles, lag): past it, its terms stop with the
    /// API's message until the next run.
    public var waitBudget: Double = 600
    /// The most terms one person may have (`FetchLimits.termsPerPerson`; tests set fewer).
    public var maxTermsPerPerson = FetchLimits.termsPerPerson
    /// Put URLs that failed with transient errors back in the queue first.
    public var retryFailed = false
    /// Results per search page; nil keeps the provider's default (Commons 50, Openverse 20). Also a Commons
    /// category's files per page.
    public var pageSize: Int?
    /// Look each person without a `wikidata:` line up on Wikidata by name, taking an entity only when one
    /// matches exactly (`--wikidata auto`).
    public var wikidataAuto = false
    /// How deep a Commons category's subcategories are walked (0: the category alone).
    public var categoryDepth = 2
    /// Overrides Wikidata's API address (else CURATE_WIKIDATA_ENDPOINT, else the public API).
    public var wikidataEndpoint: String?

    public init(target: Int, http: HTTPOptions = HTTPOptions(userAgent: HTTPOptions.defaultUserAgent)) {
        self.target = target
        self.http = http
    }

    public var resolvedEndpoint: String { endpoint(for: provider) }

    /// The API address of a provider: `endpoint` for the search provider, `wikidataEndpoint` for Wikidata, else
    /// the provider's environment variable, else the public API. (Category and portrait lines go to Commons
    /// whichever provider searches.)
    public func endpoint(for kind: ProviderKind) -> String {
        if kind == provider, let endpoint { return endpoint }
        if kind == .wikidata, let wikidataEndpoint { return wikidataEndpoint }
        return ProcessInfo.processInfo.environment[kind.endpointVariable] ?? kind.defaultEndpoint
    }

}

/// Limits that keep every walk finite, whatever a provider answers.
public enum FetchLimits {
    /// Pages in a row (of one term) that bring nothing usable end the term: no image stored from them, no
    /// new source found. Several, not one: a page of duplicates or of dead links can be followed by good ones.
    public static let barrenPages = 5
    /// Terms one person may have (query lines and the sources they led to: subcategories, portraits).
    public static let termsPerPerson = 2_000
}

public enum FetchError: BadInput {
    case badTarget(Int)
    public var description: String {
        switch self {
        case .badTarget(let n): return "--n must be at least 1 (got \(n))."
        }
    }
}

/// Runs one fetch. Single-threaded: one loop drives libcurl, the file moves and the catalog writes, so the
/// order "file in place, then row committed" holds without locks.
public final class Fetcher {
    private let catalog: Catalog
    private let store: ImageStore
    private let options: FetchOptions
    /// Full-text search (Commons or Openverse).
    private let provider: SearchProvider
    /// The sources people curated: Commons categories, Commons files by name (portraits), Wikidata entities.
    private let categories: CommonsCategoryReader
    private let files: CommonsFileReader
    private let wikidata: WikidataReader
    private let engine: HTTPEngine
    private let onEvent: (FetchEvent) -> Void
    private let shouldStop: () -> Bool

    private final class Run {
        let person: Person
        var terms: [SearchTerm]
        var nextTerm = 0
        var queue: Deque<Attempt> = []
        var progress: PersonProgress
        var failures: [String: Int] = [:]
        var waiting = 0          // attempts waiting for a retry
        var committing = 0       // downloads in place, their rows in the next batch
        var busy = Set<Int>()    // terms with a request in flight or waiting to be retried
        /// By term id: the continuations each term was answered with in this run (one seen again is a loop).
        var cursors: [Int64: Set<String>] = [:]
        /// By term id: the pages in a row that brought nothing usable (see `FetchLimits.barrenPages`).
        var barren: [Int64: Int] = [:]
        /// By term id: the pages in a row that added no URL the catalog did not have.
        var noNew: [Int64: Int] = [:]
        /// Limits this person met, for the summary.
        var notes: [String] = []
        init(person: Person, terms: [SearchTerm], target: Int, stored: Int) {
            self.person = person
            self.terms = terms
            self.progress = PersonProgress(label: person.label, target: target, stored: stored)
        }
        var reserved: Int { progress.stored + progress.inFlight + waiting + committing }
        var wantsMore: Bool { reserved < progress.target }
        var termsLeft: Bool { terms.contains(where: \.isOpen) }
    }

    private enum Work {
        case download(Run, Attempt)
        case search(Run, termIndex: Int, tries: Int)
    }

    private var runs: [Run] = []
    private var inFlight: [Int: Work] = [:]
    private var delayed: [(due: Double, work: Work)] = []
    private var nextId = 0
    /// Per API (endpoint): no request before this time (a throttle's wait).
    private var blockedUntil: [String: Double] = [:]
    /// Downloads whose files are in place, waiting to be committed together.
    private var batch: [(Run, Catalog.Download)] = []
    private var lastCommit = 0.0
    private static let batchSize = 64
    private static let batchSeconds = 0.25
    /// Per API (endpoint): why it is not asked again in this run (a throttle longer than `maxWait`, or its
    /// wait budget spent).
    private var gaveUp: [String: String] = [:]
    /// By person id and a direct URL as the catalog keeps it (its password `***`): the URL as its query file
    /// gives it, read again each run; the password is kept nowhere else.
    private var secretURLs: [Int64: [String: String]] = [:]
    /// Per API: throttles in a row (the run's own backoff doubles with each) and seconds waited in this run.
    private var throttles: [String: Int] = [:]
    private var waited: [String: Double] = [:]

    public init(catalog: Catalog, options: FetchOptions, onEvent: @escaping (FetchEvent) -> Void = { _ in },
                shouldStop: @escaping () -> Bool = { false }) throws {
        guard options.target >= 1 else { throw FetchError.badTarget(options.target) }
        self.catalog = catalog
        self.store = ImageStore(workspace: catalog.workspace, catalog: catalog)
        self.options = options
        self.provider = makeProvider(options.provider, endpoint: options.resolvedEndpoint, pageSize: options.pageSize)
        var categories = CommonsCategoryReader(endpoint: options.endpoint(for: .commons))
        if let pageSize = options.pageSize { categories.pageSize = min(max(1, pageSize), 500) }
        self.categories = categories
        self.files = CommonsFileReader(endpoint: options.endpoint(for: .commons))
        self.wikidata = WikidataReader(endpoint: options.endpoint(for: .wikidata))
        self.engine = try HTTPEngine(options: options.http)
        self.onEvent = onEvent
        self.shouldStop = shouldStop
    }

    /// Checks, before anything is written, that the hosts of the APIs the queries need answer a connection.
    public static func checkEndpoint(_ options: FetchOptions, queries: [PersonQuery]) throws {
        var needed: [ProviderKind] = []
        let lines = queries.flatMap(\.lines)
        if lines.contains(where: { if case .search = $0 { true } else { false } }) { needed.append(options.provider) }
        let entities = options.wikidataAuto || lines.contains { if case .wikidata = $0 { true } else { false } }
        if entities { needed.append(.wikidata) }
        // An entity's category and portrait are read from Commons.
        if entities || lines.contains(where: { if case .category = $0 { true } else { false } }) { needed.append(.commons) }
        var checked = Set<String>()
        for kind in needed where checked.insert(options.endpoint(for: kind)).inserted {
            try HTTPEngine.checkReachable(options.endpoint(for: kind), options: options.http)
        }
    }

    /// Which API reads a term.
    private func reader(_ term: SearchTerm) -> SearchProvider {
        switch term.kind {
        case .search, .url: provider
        case .category: categories
        case .reference: files
        case .wikidata: wikidata
        }
    }

    public func run(queries: [PersonQuery]) throws -> FetchSummary {
        let start = now()
        let orphans = try store.sweep()
        let requeued = options.retryFailed ? try catalog.requeueTransientFailures() : 0
        for query in queries {
            let person = try catalog.person(label: query.label, queryFile: query.file)
            for case .url(let url) in query.lines where StoredImage.redactingPassword(url) != url {
                secretURLs[person.id!, default: [:]][StoredImage.redactingPassword(url)] = url
            }
            var lines = query.lines.map { line -> (String, TermKind, Provider) in
                switch line {
                case .search(let text): (text, .search, options.provider.code)
                case .url(let url): (StoredImage.redactingPassword(url), .url, .direct)
                case .category(let title): (title, .category, .commons)
                case .wikidata(let id): (id, .wikidata, .wikidata)
                }
            }
            if options.wikidataAuto, !lines.contains(where: { $0.1 == .wikidata }) {
                // Looked up by the person's name: the label with its underscores as spaces.
                lines.append((query.label.replacingOccurrences(of: "_", with: " "), .wikidata, .wikidata))
            }
            var terms = try catalog.syncTerms(personId: person.id!, lines: lines)
            // The sources these lines led to in earlier runs (subcategories, what an entity named) come back too.
            let all = try catalog.terms(of: person.id!)
            var kept = Set(terms.compactMap(\.id))
            var grew = true
            while grew {
                grew = false
                for t in all where !kept.contains(t.id!) {
                    if let parent = t.parentId, kept.contains(parent) { kept.insert(t.id!); grew = true }
                }
            }
            terms = all.filter { kept.contains($0.id!) }
            // A term that failed in an earlier run (provider errors, a long throttle) is searched again.
            for i in terms.indices where terms[i].state == .failed { terms[i].state = .open }
            // Direct URLs go straight into the queue (once: the catalog ignores URLs it knows).
            var direct: [(term: SearchTerm, candidates: [Attempt])] = []
            for (i, term) in terms.enumerated() where term.kind == .url && term.state == .open {
                terms[i].state = .exhausted
                terms[i].pages = 1
                terms[i].results = 1
                direct.append((terms[i], [Attempt(personId: person.id!, termId: term.id, url: term.text, provider: .direct)]))
            }
            _ = try catalog.recordPages(direct)
            let run = Run(person: person, terms: terms, target: options.target, stored: try catalog.imageCount(of: person.id!))
            run.queue.append(contentsOf: try catalog.queuedAttempts(of: person.id!))
            runs.append(run)
        }
        onEvent(.progress(runs.map(\.progress)))

        var interrupted = false
        var lastReport = 0.0
        do {
            while true {
                if shouldStop() { interrupted = true; break }
                releaseDue()
                try commit(force: false)
                try schedule()
                if engine.count == 0 && delayed.isEmpty {
                    // Committing may show duplicates, which leaves people wanting more: schedule again.
                    if !batch.isEmpty { try commit(force: true); continue }
                    break
                }
                let wait = delayed.map(\.due).min().map { max(0, Int(($0 - now()) * 1000)) } ?? 200
                let results = engine.run(timeoutMs: min(200, max(1, wait)))
                for (i, result) in results.enumerated() {
                    do { try finish(result) } catch {
                        // This transfer and those finished beside it are out of the engine: their files go here
                        // (this one's too: moving it into place may be what failed, e.g. a full disk under images/).
                        for rest in results[i...] { store.removeTemp(rest.transfer) }
                        throw error
                    }
                }
                if now() - lastReport > 0.1 {
                    lastReport = now()
                    onEvent(.progress(runs.map(\.progress)))
                }
            }
            try commit(force: true)
        } catch {
            // Whatever stops the run (a full disk under tmp/ or under the catalog, a catalog that cannot be
            // written): keep what is in place if the catalog still can, leave the rest queued, and remove the
            // partial files of the downloads in flight.
            for t in engine.abandonAll() { store.removeTemp(t) }
            try? commit(force: true)
            throw error
        }
        if interrupted {
            // Abandoned downloads stay queued in the catalog; their partial files go.
            for t in engine.abandonAll() { store.removeTemp(t) }
            for run in runs { run.progress.inFlight = 0 }
        }
        onEvent(.progress(runs.map(\.progress)))
        return try summary(start: start, interrupted: interrupted, requeued: requeued, orphans: orphans)
    }

    // MARK: Scheduling

    private func schedule() throws {
        for run in runs { try endBarrenTerms(run) }
        // Downloads, round-robin over people, never more than a person still needs.
        var progressed = true
        while progressed && engine.count < options.http.concurrency {
            progressed = false
            for run in runs where engine.count < options.http.concurrency && run.wantsMore {
                guard let attempt = run.queue.popFirst() else { continue }
                start(.download(run, attempt))
                progressed = true
            }
        }
        // API requests: one at a time per API (Commons asks for requests in series; Wikidata, on its own host,
        // is paced apart), for the people who need candidates most, refilling before their queues run dry.
        let t = now()
        var unavailable = Set(gaveUp.keys).union(blockedUntil.filter { $0.value > t }.map(\.key))
        unavailable.formUnion(inFlight.values.compactMap(api))
        unavailable.formUnion(delayed.compactMap { api($0.work) })
        let needy = runs.filter { $0.wantsMore && $0.termsLeft && $0.reserved + $0.queue.count < $0.progress.target + options.http.concurrency }
            .filter { $0.queue.count < options.http.concurrency }
            .sorted { $0.queue.count < $1.queue.count }
        for run in needy {
            guard let index = nextTermIndex(run, unavailable: unavailable) else { continue }
            unavailable.insert(reader(run.terms[index]).endpoint)
            start(.search(run, termIndex: index, tries: 0))
        }
    }

    /// The API a request goes to (nil for downloads).
    private func api(_ work: Work) -> String? {
        if case let .search(run, index, _) = work { return reader(run.terms[index]).endpoint }
        return nil
    }

    /// The person's next term, round-robin among the open terms of the most precise kind left: Wikidata entities
    /// and portraits, then categories, then full-text search. A term waits while a more precise one is open
    /// (also in flight): an entity may yet name the person's category.
    private func nextTermIndex(_ run: Run, unavailable: Set<String>) -> Int? {
        // An API that gave up for this run holds nobody back.
        let open = run.terms.indices.filter { run.terms[$0].isOpen && gaveUp[reader(run.terms[$0]).endpoint] == nil }
        guard let tier = open.map({ run.terms[$0].kind.precision }).min() else { return nil }
        // A term at the limit of barren pages waits for its downloads to say whether it goes on.
        let eligible = Set(open.filter {
            run.terms[$0].kind.precision == tier && !run.busy.contains($0) && !unavailable.contains(reader(run.terms[$0]).endpoint)
                && (run.barren[run.terms[$0].id!] ?? 0) < FetchLimits.barrenPages
        })
        let n = run.terms.count
        for step in 0..<n {
            let i = (run.nextTerm + step) % n
            if eligible.contains(i) {
                run.nextTerm = (i + 1) % n
                return i
            }
        }
        return nil
    }

    /// Ends the terms whose last `FetchLimits.barrenPages` pages brought nothing usable, once none of their
    /// downloads is left to say otherwise (a stored image starts the count again).
    private func endBarrenTerms(_ run: Run) throws {
        for (id, count) in run.barren where count >= FetchLimits.barrenPages {
            guard let i = run.terms.firstIndex(where: { $0.id == id }), run.terms[i].isOpen, !run.busy.contains(i),
                  !hasDownloadsLeft(run, termId: id) else { continue }
            run.terms[i].stopPaging("\(count) pages in a row brought nothing usable")
            try catalog.update(run.terms[i])
            run.barren[id] = nil
            let term = run.terms[i]
            onEvent(.term(label: run.person.label, term: term.text, state: term.state, message: term.doneMessage(total: nil) ?? ""))
        }
    }

    /// Whether a download found through the term is queued, in flight, waiting to be retried or to be committed.
    private func hasDownloadsLeft(_ run: Run, termId: Int64) -> Bool {
        func ours(_ work: Work) -> Bool {
            if case let .download(r, attempt) = work { return r === run && attempt.termId == termId }
            return false
        }
        return run.queue.contains { $0.termId == termId } || inFlight.values.contains(where: ours)
            || delayed.contains { ours($0.work) } || batch.contains { $0.0 === run && $0.1.attempt.termId == termId }
    }

    /// How many categories up a category term is from the category it was found from (0 for a query line's or
    /// an entity's category).
    private func depth(_ run: Run, _ index: Int) -> Int {
        var depth = 0
        var term = run.terms[index]
        while let parent = term.parentId, let up = run.terms.first(where: { $0.id == parent }), up.kind == .category {
            depth += 1
            term = up
        }
        return depth
    }

    /// The name of the category a category term was walked from (the top of its chain), without `Category:`.
    private func rootCategoryName(_ run: Run, _ index: Int) -> String {
        var term = run.terms[index]
        while let parent = term.parentId, let up = run.terms.first(where: { $0.id == parent }), up.kind == .category { term = up }
        return String(term.text.dropFirst("Category:".count))
    }

    private func start(_ work: Work) {
        nextId += 1
        let id = nextId
        do {
            switch work {
            case let .download(run, attempt):
                // A provider's result may reach a loopback or link-local address only when the endpoint is one
                // (a local test server); a direct URL from a query file, only the kind its own host is.
                let pointed = LocalAddress.of(url: attempt.provider == .direct ? attempt.url : options.resolvedEndpoint)
                let url = attempt.provider == .direct ? secretURLs[attempt.personId]?[attempt.url] ?? attempt.url : attempt.url
                let transfer = try Transfer(id: id, url: url, sink: .imageFile(store.tempURL(attempt)),
                                            options: options.http, headers: [], allowedLocal: Set([pointed].compactMap { $0 }))
                try engine.add(transfer)
                run.progress.inFlight += 1
            case let .search(run, index, _):
                let term = run.terms[index]
                var cursor = term.cursor
                if term.kind == .category, cursor == nil, depth(run, index) >= options.categoryDepth {
                    cursor = CommonsCategoryReader.filesFromStart   // deep enough: its files, not its subcategories
                }
                let url = reader(term).requestURL(term: term.text, cursor: cursor)
                let transfer = try Transfer(id: id, url: url, sink: .memory, options: options.http,
                                            headers: ["Accept: application/json"], limit: reader(term).maxAnswerBytes)
                try engine.add(transfer)
                run.busy.insert(index)
                run.progress.searching = true
            }
            inFlight[id] = work
        } catch {
            onEvent(.warning("\(error)"))
            if case let .download(run, attempt) = work {
                record(run, attempt, Failure.permanent(.error, "\(error)"), ms: nil, status: nil)
            }
        }
    }

    private func releaseDue() {
        let t = now()
        let due = delayed.filter { $0.due <= t }
        guard !due.isEmpty else { return }
        delayed.removeAll { $0.due <= t }
        for item in due {
            switch item.work {
            case let .download(run, attempt):
                run.waiting -= 1
                run.queue.prepend(attempt)
            case .search:
                start(item.work)
            }
        }
    }

    // MARK: Finished transfers

    private func finish(_ result: TransferResult) throws {
        guard let work = inFlight.removeValue(forKey: result.transfer.id) else { return }
        switch work {
        case let .download(run, attempt):
            run.progress.inFlight -= 1
            try finishDownload(run, attempt, result)
        case let .search(run, index, tries):
            run.busy.remove(index)
            run.progress.searching = run.busy.isEmpty == false
            try finishSearch(run, index, tries: tries + 1, result)
        }
    }

    private func finishDownload(_ run: Run, _ attempt: Attempt, _ result: TransferResult) throws {
        var attempt = attempt
        attempt.tries += 1
        if case let .io(path, code)? = result.transfer.abort {
            // tmp/ cannot be written (disk full, read-only): no URL's fault. The attempt stays queued.
            store.removeTemp(result.transfer)
            throw WorkspaceIOError(path: path, operation: "write", code: code)
        }
        if let failure = Failure.of(result) {
            store.removeTemp(result.transfer)
            if failure.transient, attempt.tries < options.retries,
               let delay = retryDelay(tries: attempt.tries, retryAfter: failure.retryAfter) {
                run.waiting += 1
                delayed.append((now() + delay, .download(run, attempt)))
                return
            }
            record(run, attempt, failure, ms: result.ms, status: result.status == 0 ? nil : result.status)
            return
        }
        let t = result.transfer
        let sha = t.hasher.hexDigest()
        let format = t.format!
        let path = try store.place(attempt, sha256: sha, format: format)
        let term = run.terms.first { $0.id == attempt.termId }
        run.committing += 1
        run.progress.bytes += t.bytes
        batch.append((run, Catalog.Download(attempt: attempt, term: term?.text, sha256: sha, path: path, bytes: t.bytes,
                                            format: format, httpStatus: result.status, ms: result.ms,
                                            reference: term?.kind == .reference)))
    }

    /// Commits the batch of finished downloads when it is big or old enough (or when told to). The files are
    /// in place already, so a kill before the commit leaves only files the next run's sweep removes.
    private func commit(force: Bool) throws {
        guard !batch.isEmpty, force || batch.count >= Self.batchSize || now() - lastCommit >= Self.batchSeconds else { return }
        let items = batch
        batch.removeAll(keepingCapacity: true)
        lastCommit = now()
        let outcomes = try catalog.recordDownloads(items.map(\.1))
        for ((run, download), outcome) in zip(items, outcomes) {
            run.committing -= 1
            switch outcome {
            case .stored:
                run.progress.stored += 1
                run.progress.storedThisRun += 1
                if let id = download.attempt.termId { run.barren[id] = 0 }
            case .duplicate:
                run.progress.duplicates += 1
            }
        }
    }

    private func record(_ run: Run, _ attempt: Attempt, _ failure: Failure, ms: Int?, status: Int?) {
        run.failures[failure.code.rawValue, default: 0] += 1
        run.progress.failed += 1
        do {
            try catalog.recordFailure(attempt: attempt, failure: failure.code, transient: failure.transient,
                                      httpStatus: status, error: failure.message, ms: ms)
        } catch {
            onEvent(.warning("could not record the failure of \(attempt.url): \(error)"))
        }
    }

    private func finishSearch(_ run: Run, _ index: Int, tries: Int, _ result: TransferResult) throws {
        var term = run.terms[index]
        let reader = reader(term)
        let api = reader.endpoint
        let site = reader.kind.rawValue
        let siteName = site.prefix(1).uppercased() + site.dropFirst()
        func retry(after delay: Double) {
            run.busy.insert(index)
            delayed.append((now() + delay, .search(run, termIndex: index, tries: tries)))
        }
        func report(_ state: TermState, _ message: String) {
            onEvent(.term(label: run.person.label, term: term.text, state: state, message: message))
        }
        let answer: SearchAnswer
        if let failure = Failure.of(result) {
            if failure.code == .tooLarge {
                answer = .failed("\(siteName) answered more than \(result.transfer.limit / 1024) KiB, "
                                 + "far more than the page asked for: refused")
            } else if failure.code.isHTTP {
                answer = reader.read(status: result.status, body: result.transfer.body, retryAfter: result.retryAfter)
            } else if failure.transient, tries < options.retries, let delay = retryDelay(tries: tries, retryAfter: nil) {
                onEvent(.warning("\(site) request for \"\(term.text)\" failed (\(failure.message)); retrying in \(String(format: "%.1f", delay)) s"))
                retry(after: delay)
                return
            } else {
                answer = .failed("\(site) request failed: \(failure.message)")
            }
        } else {
            answer = reader.read(status: result.status, body: result.transfer.body, retryAfter: result.retryAfter)
        }
        if case .throttled = answer {} else { throttles[api] = nil }
        // A continuation this term was answered with before: paging on would go round for ever.
        func looped(_ cursor: String?) -> Bool {
            guard let id = term.id, let cursor else { return false }
            if let sent = run.terms[index].cursor { run.cursors[id, default: []].insert(sent) }
            return !run.cursors[id, default: []].insert(cursor).inserted
        }
        func loopMessage() -> String { "\(siteName) gave a continuation it had given before (a loop)" }
        switch answer {
        case let .throttled(asked, message):
            let n = (throttles[api] ?? 0) + 1
            throttles[api] = n
            let spent = waited[api] ?? 0
            // What the server asked for, but never less than the run's own backoff (a server that says 0, or
            // nothing usable, is not asked again at once), and no more than one wait may last.
            let wait = min(max(Double(asked ?? 0), options.backoff * pow(2, Double(min(n, 60) - 1))), options.maxWait)
            if let asked, Double(asked) > options.maxWait {
                try giveUp(api, "\(message), asking to wait \(asked == Int.max ? "without end" : "\(asked) s"); run again later")
                report(.failed, gaveUp[api]!)
            } else if spent + wait > options.waitBudget {
                try giveUp(api, "\(message); this API already kept the run waiting \(Self.seconds(spent)) s of the \(Self.seconds(options.waitBudget)) s it may; run again later")
                report(.failed, gaveUp[api]!)
            } else {
                waited[api] = spent + wait
                blockedUntil[api] = now() + wait
                report(term.state, "\(message); waiting \(Self.seconds(wait)) s")
                retry(after: wait)
            }
        case .failed(var message), .faulted(var message):
            // A fault on the provider's side (HTTP 5xx, an internal error) is asked again; a refusal is final.
            var fault = (500..<600).contains(result.status)
            if case .faulted = answer { fault = true }
            if fault, tries < options.retries, let delay = retryDelay(tries: tries, retryAfter: result.retryAfter) {
                onEvent(.warning("\(site) request for \"\(term.text)\" failed (\(message)); retrying in \(String(format: "%.1f", delay)) s"))
                retry(after: delay)
                return
            }
            if fault { message += " (\(tries) tries; the next run asks again)" }
            term.fail(message)
            try catalog.update(term)
            run.terms[index] = term
            report(.failed, message)
        case .ambiguous(let message):
            term.ambiguous(message)
            try catalog.update(term)
            run.terms[index] = term
            report(.ambiguous, message)
        case let .found(found, cursor, note):
            let loop = looped(cursor)
            term.foundSources(count: found.count, cursor: cursor, note: note)
            if loop { term.stopPaging(loopMessage()) }
            var sources = found
            var skipped: [String] = []
            if term.kind == .category {
                // Only subcategories about the person themself (SubcategoryRule), judged against the category the
                // walk started from.
                let root = rootCategoryName(run, index)
                sources = sources.filter { source in
                    guard case .skip(let why) = SubcategoryRule.judge(source.text, root: root) else { return true }
                    // Those that merely do not name the person are many and say nothing: only the others are listed.
                    if source.text.lowercased().contains(root.lowercased()) { skipped.append("\(source.text) (\(why))") }
                    return false
                }
            }
            let room = max(0, options.maxTermsPerPerson - run.terms.count)
            if sources.count > room {
                sources = Array(sources.prefix(room))
                if run.notes.isEmpty {
                    let said = "\(options.maxTermsPerPerson) terms, the most one person may have: sources found from \(term.text) on are not walked"
                    run.notes.append(said)
                    onEvent(.warning("\(run.person.label): \(said)"))
                }
            }
            let (added, _) = try catalog.foundTerms(parent: term, sources.map { ($0.text, $0.kind, $0.provider.code) })
            try catalog.update(term)
            run.terms[index] = term
            run.terms.append(contentsOf: added)
            if let id = term.id { run.barren[id] = added.isEmpty ? (run.barren[id] ?? 0) + 1 : 0 }
            if loop, let message = term.doneMessage(total: nil) { report(term.state, message) }
            if let note { report(term.state, note) }
            if term.kind == .category, !added.isEmpty {
                report(term.state, "\(added.count) subcategor\(added.count == 1 ? "y" : "ies") to walk: " + added.map(\.text).joined(separator: ", "))
            }
            if !skipped.isEmpty {
                report(term.state, "\(skipped.count) subcategor\(skipped.count == 1 ? "y" : "ies") not about the person, not walked: "
                       + skipped.joined(separator: ", "))
            }
        case let .page(candidates, cursor, total):
            let walked = run.terms.contains { $0.parentId == term.id && $0.kind == .category }
            let loop = looped(cursor)
            term.foundPage(count: candidates.count, cursor: cursor, walkedSubcategories: walked)
            if loop && term.isOpen { term.stopPaging(loopMessage()) }
            let attempts = candidates.map {
                Attempt(personId: run.person.id!, termId: term.id, url: $0.url, provider: reader.kind.code,
                        pageUrl: $0.pageUrl, title: $0.title, license: $0.license, licenseUrl: $0.licenseUrl,
                        creator: $0.creator, attribution: $0.attribution, rank: $0.rank)
            }
            let added = try catalog.recordPage(term: term, candidates: attempts)
            var inARow = 0
            if let id = term.id {
                inARow = added.isEmpty && !candidates.isEmpty ? (run.noNew[id] ?? 0) + 1 : 0
                run.noNew[id] = inARow
            }
            if term.recorded(candidates: candidates.count, added: added.count, inARow: inARow) { try catalog.update(term) }
            run.terms[index] = term
            // Until one of its images is stored, each page counts towards the term's end.
            if let id = term.id { run.barren[id, default: 0] += 1 }
            run.queue.append(contentsOf: added)
            if let message = term.doneMessage(total: total) { report(term.state, message) }
        }
    }

    /// Ends an API for this run: its open terms fail with `why` (and are searched again by the next run).
    private func giveUp(_ api: String, _ why: String) throws {
        gaveUp[api] = why
        for run in runs {
            for i in run.terms.indices where run.terms[i].isOpen && !run.busy.contains(i) && reader(run.terms[i]).endpoint == api {
                run.terms[i].fail(why)
                try catalog.update(run.terms[i])
            }
        }
    }

    /// A wait in seconds as a person reads it: "1", "0.05", "120".
    static func seconds(_ value: Double) -> String {
        value >= 10 ? String(format: "%.0f", value) : String(format: "%.2g", value)
    }

    /// Exponential backoff with jitter, at least what the server asked for; nil when it asks for too long.
    private func retryDelay(tries: Int, retryAfter: Int?) -> Double? {
        let backoff = options.backoff * pow(2, Double(tries - 1)) * Double.random(in: 1...1.25)
        let delay = max(backoff, Double(retryAfter ?? 0))
        return delay <= options.maxWait ? delay : nil
    }

    // MARK: Summary

    private func summary(start: Double, interrupted: Bool, requeued: Int, orphans: Int) throws -> FetchSummary {
        var people: [PersonSummary] = []
        for run in runs {
            let terms = try catalog.terms(of: run.person.id!)
            let p = run.progress
            let outcome: String
            if p.stored >= p.target { outcome = "target_reached" }
            else if interrupted { outcome = "interrupted" }
            else if terms.contains(where: { $0.state == .failed }) || !gaveUp.isEmpty { outcome = "provider_errors" }
            else { outcome = "terms_exhausted" }
            people.append(PersonSummary(
                label: run.person.label, target: p.target, stored: p.stored, storedThisRun: p.storedThisRun,
                duplicates: p.duplicates, failed: run.failures, outcome: outcome,
                terms: terms.map { TermSummary(text: $0.text, kind: $0.kind.rawValue, provider: $0.provider.rawValue,
                                               state: $0.state.rawValue, pages: $0.pages, results: $0.results,
                                               error: $0.lastError, stored: 0, kept: 0) },
                sources: [:], notes: run.notes))
        }
        var summary = FetchSummary(people: people, stored: runs.map(\.progress.storedThisRun).reduce(0, +),
                            duplicates: runs.map(\.progress.duplicates).reduce(0, +),
                            failed: runs.map(\.progress.failed).reduce(0, +),
                            bytes: runs.map(\.progress.bytes).reduce(0, +),
                            seconds: now() - start, interrupted: interrupted, requeued: requeued, orphansRemoved: orphans)
        try summary.recountSources(catalog)
        return summary
    }
}

func now() -> Double {
    Double(DispatchTime.now().uptimeNanoseconds) / 1e9
}
