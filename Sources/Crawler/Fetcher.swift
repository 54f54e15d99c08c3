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
    public var maxWait: Double = 120
    /// Put URLs that failed with transient errors back in the queue first.
    public var retryFailed = false
    /// Results per search page; nil keeps the provider's default (Commons 50, Openverse 20).
    public var pageSize: Int?

    public init(target: Int, http: HTTPOptions = HTTPOptions(userAgent: HTTPOptions.defaultUserAgent)) {
        self.target = target
        self.http = http
    }

    public var resolvedEndpoint: String {
        endpoint ?? ProcessInfo.processInfo.environment[provider.endpointVariable] ?? provider.defaultEndpoint
    }
}

/// Live figures of one person, for progress display.
public struct PersonProgress: Sendable {
    public var label: String
    public var target: Int
    public var stored: Int
    public var storedThisRun = 0
    public var duplicates = 0
    public var failed = 0
    public var inFlight = 0
    public var bytes = 0
    public var searching = false
}

public enum FetchEvent: Sendable {
    case progress([PersonProgress])
    /// A term finished, failed or was throttled: worth a line of its own.
    case term(label: String, term: String, state: TermState, message: String)
    case warning(String)
}

public struct TermSummary: Codable, Sendable {
    public var text: String
    public var kind: String
    public var provider: String
    public var state: String
    public var pages: Int
    public var results: Int
    public var error: String?
}

public struct PersonSummary: Codable, Sendable {
    public var label: String
    public var target: Int
    public var stored: Int
    public var storedThisRun: Int
    public var duplicates: Int
    public var failed: [String: Int]
    /// target_reached | terms_exhausted | provider_errors | interrupted
    public var outcome: String
    public var terms: [TermSummary]
}

public struct FetchSummary: Codable, Sendable {
    public var people: [PersonSummary]
    public var stored: Int
    public var duplicates: Int
    public var failed: Int
    public var bytes: Int
    public var seconds: Double
    public var interrupted: Bool
    public var requeued: Int
    public var orphansRemoved: Int

    public var imagesPerSecond: Double { seconds > 0 ? Double(stored) / seconds : 0 }
    /// Every person already had its target, so storing nothing is no failure.
    public var complete: Bool { people.allSatisfy { $0.stored >= $0.target } }
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
    private let workspace: Workspace
    private let options: FetchOptions
    private let provider: SearchProvider
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
        init(person: Person, terms: [SearchTerm], target: Int, stored: Int) {
            self.person = person
            self.terms = terms
            self.progress = PersonProgress(label: person.label, target: target, stored: stored)
        }
        var reserved: Int { progress.stored + progress.inFlight + waiting + committing }
        var wantsMore: Bool { reserved < progress.target }
        var termsLeft: Bool { terms.contains { $0.kind == .search && !$0.state.isDone && $0.state != .failed } }
    }

    private enum Work {
        case download(Run, Attempt)
        case search(Run, termIndex: Int, tries: Int)
    }

    private var runs: [Run] = []
    private var inFlight: [Int: Work] = [:]
    private var delayed: [(due: Double, work: Work)] = []
    private var nextId = 0
    private var searchBlockedUntil: Double = 0
    /// Downloads whose files are in place, waiting to be committed together.
    private var batch: [(Run, Catalog.Download)] = []
    private var lastCommit = 0.0
    private static let batchSize = 64
    private static let batchSeconds = 0.25
    private var providerGaveUp: String?

    public init(catalog: Catalog, options: FetchOptions, onEvent: @escaping (FetchEvent) -> Void = { _ in },
                shouldStop: @escaping () -> Bool = { false }) throws {
        guard options.target >= 1 else { throw FetchError.badTarget(options.target) }
        self.catalog = catalog
        self.workspace = catalog.workspace
        self.options = options
        self.provider = makeProvider(options.provider, endpoint: options.resolvedEndpoint, pageSize: options.pageSize)
        self.engine = try HTTPEngine(options: options.http)
        self.onEvent = onEvent
        self.shouldStop = shouldStop
    }

    /// Checks, before anything is written, that the provider's host answers a connection.
    public static func checkEndpoint(_ options: FetchOptions, queries: [PersonQuery]) throws {
        let searches = queries.contains { $0.lines.contains { if case .search = $0 { true } else { false } } }
        guard searches else { return }
        try HTTPEngine.checkReachable(options.resolvedEndpoint, options: options.http)
    }

    public func run(queries: [PersonQuery]) throws -> FetchSummary {
        let start = now()
        let orphans = try sweep()
        let requeued = options.retryFailed ? try catalog.requeueTransientFailures() : 0
        for query in queries {
            let person = try catalog.person(label: query.label, queryFile: query.file)
            let lines = query.lines.map { line -> (String, TermKind, String) in
                switch line {
                case .search(let text): (text, .search, options.provider.rawValue)
                case .url(let url): (url, .url, "direct")
                }
            }
            var terms = try catalog.syncTerms(personId: person.id!, lines: lines)
            // A term that failed in an earlier run (provider errors, a long throttle) is searched again.
            for i in terms.indices where terms[i].state == .failed { terms[i].state = .open }
            // Direct URLs go straight into the queue (once: the catalog ignores URLs it knows).
            var direct: [(term: SearchTerm, candidates: [Attempt])] = []
            for (i, term) in terms.enumerated() where term.kind == .url && term.state == .open {
                terms[i].state = .exhausted
                terms[i].pages = 1
                terms[i].results = 1
                direct.append((terms[i], [Attempt(personId: person.id!, termId: term.id, url: term.text, provider: "direct")]))
            }
            _ = try catalog.recordPages(direct)
            let run = Run(person: person, terms: terms, target: options.target, stored: try catalog.imageCount(of: person.id!))
            run.queue.append(contentsOf: try catalog.queuedAttempts(of: person.id!))
            runs.append(run)
        }
        onEvent(.progress(runs.map(\.progress)))

        var interrupted = false
        var lastReport = 0.0
        while true {
            if shouldStop() { interrupted = true; break }
            releaseDue()
            try commit(force: false)
            schedule()
            if engine.count == 0 && delayed.isEmpty {
                // Committing may show duplicates, which leaves people wanting more: schedule again.
                if !batch.isEmpty { try commit(force: true); continue }
                break
            }
            let wait = delayed.map(\.due).min().map { max(0, Int(($0 - now()) * 1000)) } ?? 200
            for result in engine.run(timeoutMs: min(200, max(1, wait))) { try finish(result) }
            if now() - lastReport > 0.1 {
                lastReport = now()
                onEvent(.progress(runs.map(\.progress)))
            }
        }
        try commit(force: true)
        if interrupted {
            // Abandoned downloads stay queued in the catalog; their partial files go.
            for t in engine.abandonAll() { removeTemp(t) }
            for run in runs { run.progress.inFlight = 0 }
        }
        onEvent(.progress(runs.map(\.progress)))
        return try summary(start: start, interrupted: interrupted, requeued: requeued, orphans: orphans)
    }

    // MARK: Scheduling

    private func schedule() {
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
        // Searches: one at a time per provider (Commons asks for requests in series), for the person who needs
        // candidates most, refilling before the queue runs dry.
        guard providerGaveUp == nil, now() >= searchBlockedUntil,
              !inFlight.values.contains(where: { if case .search = $0 { true } else { false } }),
              !delayed.contains(where: { if case .search = $0.work { true } else { false } }) else { return }
        let needy = runs.filter { $0.wantsMore && $0.termsLeft && $0.reserved + $0.queue.count < $0.progress.target + options.http.concurrency }
            .filter { $0.queue.count < options.http.concurrency }
            .min { $0.queue.count < $1.queue.count }
        guard let run = needy, let index = nextTermIndex(run) else { return }
        start(.search(run, termIndex: index, tries: 0))
    }

    private func nextTermIndex(_ run: Run) -> Int? {
        let n = run.terms.count
        for step in 0..<n {
            let i = (run.nextTerm + step) % n
            let t = run.terms[i]
            if t.kind == .search && !t.state.isDone && t.state != .failed {
                run.nextTerm = (i + 1) % n
                return i
            }
        }
        return nil
    }

    private func start(_ work: Work) {
        nextId += 1
        let id = nextId
        do {
            switch work {
            case let .download(run, attempt):
                let transfer = try Transfer(id: id, url: attempt.url, sink: .imageFile(tempURL(attempt)),
                                            options: options.http, headers: [])
                try engine.add(transfer)
                run.progress.inFlight += 1
            case let .search(run, index, _):
                let term = run.terms[index]
                let url = provider.requestURL(term: term.text, cursor: term.cursor)
                let transfer = try Transfer(id: id, url: url, sink: .memory, options: options.http,
                                            headers: ["Accept: application/json"])
                try engine.add(transfer)
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
            run.progress.searching = false
            try finishSearch(run, index, tries: tries + 1, result)
        }
    }

    private func finishDownload(_ run: Run, _ attempt: Attempt, _ result: TransferResult) throws {
        var attempt = attempt
        attempt.tries += 1
        if let failure = Failure.of(result) {
            removeTemp(result.transfer)
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
        let path = Workspace.imagePath(sha256: sha, ext: format.fileExtension)
        let dest = workspace.url(forRelativePath: path)
        let temp = tempURL(attempt)
        let fm = FileManager.default
        if fm.fileExists(atPath: dest.path) {
            try? fm.removeItem(at: temp)   // the same bytes are stored already (another URL or person)
        } else {
            try fm.createDirectory(at: dest.deletingLastPathComponent(), withIntermediateDirectories: true)
            guard rename(temp.path, dest.path) == 0 else {
                let why = String(cString: strerror(errno))
                try? fm.removeItem(at: temp)
                record(run, attempt, .transient(.io, "cannot move download into place: \(why)"), ms: result.ms, status: result.status)
                return
            }
        }
        let term = run.terms.first { $0.id == attempt.termId }?.text
        run.committing += 1
        run.progress.bytes += t.bytes
        batch.append((run, Catalog.Download(attempt: attempt, term: term, sha256: sha, path: path, bytes: t.bytes,
                                            format: format, httpStatus: result.status, ms: result.ms)))
    }

    /// Commits the batch of finished downloads when it is big or old enough (or when told to). The files are
    /// in place already, so a kill before the commit leaves only files the next run's sweep removes.
    private func commit(force: Bool) throws {
        guard !batch.isEmpty, force || batch.count >= Self.batchSize || now() - lastCommit >= Self.batchSeconds else { return }
        let items = batch
        batch.removeAll(keepingCapacity: true)
        lastCommit = now()
        let outcomes = try catalog.recordDownloads(items.map(\.1))
        for ((run, _), outcome) in zip(items, outcomes) {
            run.committing -= 1
            switch outcome {
            case .stored:
                run.progress.stored += 1
                run.progress.storedThisRun += 1
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
        let answer: SearchAnswer
        if let failure = Failure.of(result) {
            if failure.code.isHTTP {
                answer = provider.read(status: result.status, body: result.transfer.body, retryAfter: result.retryAfter)
            } else if failure.transient, tries < options.retries, let delay = retryDelay(tries: tries, retryAfter: nil) {
                onEvent(.warning("\(provider.kind.rawValue) search for \"\(term.text)\" failed (\(failure.message)); retrying in \(String(format: "%.1f", delay)) s"))
                delayed.append((now() + delay, .search(run, termIndex: index, tries: tries)))
                return
            } else {
                answer = .failed("\(provider.kind.rawValue) request failed: \(failure.message)")
            }
        } else {
            answer = provider.read(status: result.status, body: result.transfer.body, retryAfter: result.retryAfter)
        }
        switch answer {
        case let .throttled(seconds, message):
            if Double(seconds) <= options.maxWait {
                searchBlockedUntil = now() + Double(seconds)
                onEvent(.term(label: run.person.label, term: term.text, state: term.state,
                              message: "\(message); waiting \(seconds) s"))
                delayed.append((now() + Double(seconds), .search(run, termIndex: index, tries: tries)))
            } else {
                providerGaveUp = "\(message); run again later"
                term.state = .failed
                term.lastError = providerGaveUp
                try catalog.update(term)
                run.terms[index] = term
                onEvent(.term(label: run.person.label, term: term.text, state: .failed, message: providerGaveUp!))
            }
        case .failed(let message):
            if (500..<600).contains(result.status), tries < options.retries,
               let delay = retryDelay(tries: tries, retryAfter: result.retryAfter) {
                delayed.append((now() + delay, .search(run, termIndex: index, tries: tries)))
                return
            }
            term.state = .failed
            term.lastError = message
            try catalog.update(term)
            run.terms[index] = term
            onEvent(.term(label: run.person.label, term: term.text, state: .failed, message: message))
        case let .page(candidates, cursor, total):
            term.pages += 1
            term.results += candidates.count
            term.cursor = cursor
            term.lastError = nil
            if candidates.isEmpty && term.pages == 1 {
                term.state = .noResults
            } else if cursor == nil {
                term.state = .exhausted
            }
            let attempts = candidates.map {
                Attempt(personId: run.person.id!, termId: term.id, url: $0.url, provider: provider.kind.rawValue,
                        pageUrl: $0.pageUrl, title: $0.title, license: $0.license, licenseUrl: $0.licenseUrl,
                        creator: $0.creator, attribution: $0.attribution, rank: $0.rank)
            }
            let added = try catalog.recordPage(term: term, candidates: attempts)
            if added.isEmpty && !candidates.isEmpty && !term.state.isDone {
                term.state = .noNew   // paging on would only repeat what we have
                try catalog.update(term)
            }
            run.terms[index] = term
            run.queue.append(contentsOf: added)
            switch term.state {
            case .noResults:
                onEvent(.term(label: run.person.label, term: term.text, state: term.state, message: "no results"))
            case .exhausted, .noNew:
                let why = term.state == .noNew ? "a page added nothing new" : "no more pages"
                onEvent(.term(label: run.person.label, term: term.text, state: term.state,
                              message: "\(why) after \(term.pages) page(s), \(term.results) result(s)\(total.map { " of \($0)" } ?? "")"))
            default:
                break
            }
        }
    }

    /// Exponential backoff with jitter, at least what the server asked for; nil when it asks for too long.
    private func retryDelay(tries: Int, retryAfter: Int?) -> Double? {
        let backoff = options.backoff * pow(2, Double(tries - 1)) * Double.random(in: 1...1.25)
        let delay = max(backoff, Double(retryAfter ?? 0))
        return delay <= options.maxWait ? delay : nil
    }

    // MARK: Files

    private func tempURL(_ attempt: Attempt) -> URL {
        workspace.tmpURL.appendingPathComponent("\(attempt.id!).part")
    }

    private func removeTemp(_ transfer: Transfer) {
        if case .imageFile(let url) = transfer.sink { try? FileManager.default.removeItem(at: url) }
    }

    /// Finishes what a killed run left: partial downloads, and files moved into place whose catalog row was
    /// never committed (their URLs are still queued, so they will be fetched again).
    private func sweep() throws -> Int {
        let fm = FileManager.default
        for name in (try? fm.contentsOfDirectory(atPath: workspace.tmpURL.path)) ?? [] where name.hasSuffix(".part") {
            try? fm.removeItem(at: workspace.tmpURL.appendingPathComponent(name))
        }
        let known = try catalog.storedPaths()
        var removed = 0
        for dir in (try? fm.contentsOfDirectory(atPath: workspace.imagesURL.path)) ?? [] {
            let folder = workspace.imagesURL.appendingPathComponent(dir)
            for name in (try? fm.contentsOfDirectory(atPath: folder.path)) ?? [] {
                let path = "images/\(dir)/\(name)"
                if !known.contains(path) {
                    try? fm.removeItem(at: folder.appendingPathComponent(name))
                    removed += 1
                }
            }
        }
        return removed
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
            else if terms.contains(where: { $0.state == .failed }) || providerGaveUp != nil { outcome = "provider_errors" }
            else { outcome = "terms_exhausted" }
            people.append(PersonSummary(
                label: run.person.label, target: p.target, stored: p.stored, storedThisRun: p.storedThisRun,
                duplicates: p.duplicates, failed: run.failures, outcome: outcome,
                terms: terms.map { TermSummary(text: $0.text, kind: $0.kind.rawValue, provider: $0.provider,
                                               state: $0.state.rawValue, pages: $0.pages, results: $0.results,
                                               error: $0.lastError) }))
        }
        return FetchSummary(people: people, stored: runs.map(\.progress.storedThisRun).reduce(0, +),
                            duplicates: runs.map(\.progress.duplicates).reduce(0, +),
                            failed: runs.map(\.progress.failed).reduce(0, +),
                            bytes: runs.map(\.progress.bytes).reduce(0, +),
                            seconds: now() - start, interrupted: interrupted, requeued: requeued, orphansRemoved: orphans)
    }
}

func now() -> Double {
    Double(DispatchTime.now().uptimeNanoseconds) / 1e9
}
