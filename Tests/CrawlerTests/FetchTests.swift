// `curate fetch` end to end: real libcurl against a real local server, real SQLite, real photos.
import Catalog
import Foundation
import GRDB
import Testing
import TestSupport
import TestServer
@testable import Crawler

/// Runs a fetch on a thread of its own: the Fetcher blocks, and the server needs the cooperative pool.
func fetch(_ catalog: Catalog, _ queries: [PersonQuery], _ options: FetchOptions,
           events: ((FetchEvent) -> Void)? = nil) async throws -> FetchSummary {
    try await withCheckedThrowingContinuation { continuation in
        let thread = Thread {
            do {
                let fetcher = try Fetcher(catalog: catalog, options: options, onEvent: events ?? { _ in })
                continuation.resume(returning: try fetcher.run(queries: queries))
            } catch {
                continuation.resume(throwing: error)
            }
        }
        thread.start()
    }
}

/// Options for tests: quick retries and tight limits so misbehaviour shows within seconds.
func testOptions(_ server: TestServer, target: Int, provider: ProviderKind = .commons) -> FetchOptions {
    var http = HTTPOptions(userAgent: "curate-tests/1.0 (tests@example.org) libcurl")
    http.concurrency = 8
    http.perHost = 8
    http.timeout = 20
    // Generous: on a loaded 2-core machine a test server may stall a second or two.
    http.lowSpeedLimit = 1_000
    http.lowSpeedTime = 10
    http.maxImageBytes = 5 * 1024 * 1024
    var options = FetchOptions(target: target, http: http)
    options.provider = provider
    options.endpoint = provider == .commons ? server.baseURL + "/commons/w/api.php" : server.baseURL + "/openverse"
    options.retries = 3
    options.backoff = 0.05
    options.maxWait = 5
    return options
}

@Suite(.enabled(if: Paths.hasShared, Paths.sharedMissing), .timeLimit(.minutes(10)))
struct FetchTests {
    @Test func commonsSearchStoresExactlyNPerPersonWithProvenance() async throws {
        let server = try await TestServer.start(dataRoot: Paths.shared)
        defer { Task { await server.stop() } }
        server.setResults(term: "John Simm", paths: Array(johns(server, "John_Simm").prefix(6)))
        server.setResults(term: "John Simm actor", paths: Array(johns(server, "John_Simm").suffix(5)))
        server.setResults(term: "John Savage", paths: johns(server, "John_Savage"))
        let f = try Fixture()
        var options = testOptions(server, target: 8)
        options.pageSize = 4   // several pages per term
        let queries = [PersonQuery(label: "John_Simm", file: "s.txt", lines: [.search("John Simm"), .search("John Simm actor")]),
                       PersonQuery(label: "John_Savage", file: "v.txt", lines: [.search("John Savage")])]
        let summary = try await fetch(f.catalog, queries, options)

        #expect(summary.people.map { $0.stored } == [8, 8])
        #expect(summary.people.map { $0.outcome } == ["target_reached", "target_reached"])
        let images = try f.images()
        #expect(images.count == 16)   // stored, not attempted: no person overshoots its target
        for image in images {
            #expect(image.provider == .commons && image.license == "CC BY-SA 4.0" && image.creator == "Tester")
            #expect(image.pageUrl?.contains("/wiki/File:") == true && image.term != nil && image.verdict == .pending)
        }
        // Round-robin over the person's terms: both terms of John_Simm gave images.
        let simmTerms: Set<String> = Set(images.filter { $0.sourceUrl.contains("John_Simm") }.compactMap { $0.term })
        #expect(simmTerms == ["John Simm", "John Simm actor"])
        try f.expectFilesMatchRows()

        let searches = server.requests.filter { $0.path == "/commons/w/api.php" }
        #expect(searches.contains { $0.query["gsroffset"] == "4" }, "the continue object is sent back")
        #expect(searches.allSatisfy { $0.query["gsrnamespace"] == "6" && $0.query["gsrlimit"] == "4" })
        #expect(server.requests.allSatisfy { $0.headers["user-agent"] == "curate-tests/1.0 (tests@example.org) libcurl" })
    }

    @Test func termsRunDryAndSayWhy() async throws {
        let server = try await TestServer.start(dataRoot: Paths.shared)
        defer { Task { await server.stop() } }
        let photos = johns(server, "John_Shimkus")
        server.setResults(term: "Shimkus", paths: Array(photos.prefix(7)))
        server.setResults(term: "Shimkus again", paths: Array(photos.prefix(5)))   // its pages add nothing new
        let f = try Fixture()
        var options = testOptions(server, target: 100, provider: .openverse)
        options.pageSize = 3
        let queries = [PersonQuery(label: "Shimkus", file: "s.txt", lines: [.search("Shimkus"), .search("Shimkus again"), .search("nobody at all")])]
        var termEvents: [String] = []
        let summary = try await fetch(f.catalog, queries, options) { event in
            if case let .term(_, term, state, _) = event { termEvents.append("\(term):\(state.rawValue)") }
        }
        let p = try #require(summary.people.first)
        #expect(p.outcome == "terms_exhausted")
        // dlib's John_Shimkus folder holds one photo twice: byte-identical copies are stored once.
        let distinct = Set(try photos.prefix(7).map { SHA256.hex(try Data(contentsOf: Paths.data(String($0.dropFirst("/files/".count))))) })
        #expect(p.stored == distinct.count)
        #expect(p.stored + p.duplicates == 7)
        let states = Dictionary(uniqueKeysWithValues: p.terms.map { ($0.text, $0.state) })
        // A term whose pages another term already covered pages on to the provider's end (two pages: fewer than
        // the several in a row that would end it).
        #expect(states == ["Shimkus": "exhausted", "Shimkus again": "exhausted", "nobody at all": "no_results"])
        #expect(p.terms.first { $0.text == "Shimkus" }?.pages == 3)
        #expect(p.terms.first { $0.text == "Shimkus again" }?.pages == 2)   // 5 results, 3 a page
        #expect(Set(termEvents) == ["Shimkus:exhausted", "Shimkus again:exhausted", "nobody at all:no_results"])
        let pages = server.requests.filter { $0.path == "/openverse/v1/images/" && $0.query["q"] == "Shimkus" }.compactMap { $0.query["page"] }
        #expect(pages == ["1", "2", "3"])
        try f.expectFilesMatchRows()
    }

    @Test func misbehavingServersGiveFailuresWithReasonsAndKeepNothingBroken() async throws {
        let server = try await TestServer.start(dataRoot: Paths.shared)
        defer { Task { await server.stop() } }
        let b = server.baseURL
        let photo = "faces/dlib_johns/John_Salley/000179_02159509.jpg"
        let urls: [String: (state: AttemptState, failure: String?)] = [
            "\(b)/bad/404/a": (.failed, "http_404"),
            "\(b)/bad/redirect/3/\(photo)": (.stored, nil),
            "\(b)/bad/redirect/6/\(photo)": (.failed, "redirects"), // more than 5
            "\(b)/bad/loop/a": (.failed, "redirects"),
            "\(b)/bad/scheme/a": (.failed, "bad_scheme"),
            "\(b)/bad/filescheme/a": (.failed, "bad_scheme"),
            "\(b)/bad/huge/30/a.jpg": (.failed, "too_large"),
            "\(b)/bad/hugechunked/30/a.jpg": (.failed, "too_large"),
            "\(b)/bad/html/a.jpg": (.failed, "not_image"),
            "\(b)/bad/reset/a.jpg": (.failed, "connection"),
            "\(b)/bad/truncated/a.jpg": (.failed, "connection"),
            "\(b)/files/broken/png_content_named_as.jpg": (.stored, nil),
        ]
        let f = try Fixture()
        // flaky (500 then 200) and throttle (429 then 200) serve the same photo: which one finishes first depends
        // on timing, so the pair is checked apart below.
        let samePhoto = ["\(b)/bad/flaky/1/a.jpg", "\(b)/bad/throttle/a.jpg"]
        let queries = [PersonQuery(label: "Web", file: "w.txt", lines: (urls.keys.sorted() + samePhoto).map { .url($0) })]
        let started = Date()
        let summary = try await fetch(f.catalog, queries, testOptions(server, target: 50))
        let byURL = Dictionary(uniqueKeysWithValues: try f.attempts().map { ($0.url, $0) })
        for (url, expected) in urls {
            let a = try #require(byURL[url], "no attempt for \(url)")
            #expect(a.state == expected.state, "\(url): \(a.state) \(a.failure?.rawValue ?? "") \(a.error ?? "")")
            #expect(a.failure?.rawValue == expected.failure, "\(url): \(a.error ?? "")")
        }
        let pair = try samePhoto.map { try #require(byURL[$0], "no attempt for \($0)") }
        #expect(pair.map(\.state).sorted { $0.rawValue < $1.rawValue } == [.duplicate, .stored], "one stored, one duplicate of it")
        #expect(pair[0].imageId != nil && pair[0].imageId == pair[1].imageId)
        // Transient failures were retried (3 tries), permanent ones were not.
        // (Server hits can exceed our tries: libcurl itself resends once on a reused connection that died.)
        #expect(byURL["\(b)/bad/reset/a.jpg"]?.tries == 3)
        #expect(byURL["\(b)/bad/truncated/a.jpg"]?.tries == 3)
        #expect(byURL["\(b)/bad/404/a"]?.tries == 1)
        #expect(server.hits(path: "/bad/404/a") == 1)
        #expect(server.hits(path: "/bad/flaky/1/a.jpg") == 2)
        #expect(byURL["\(b)/bad/reset/a.jpg"]?.transient == true)
        #expect(byURL["\(b)/bad/404/a"]?.transient == false)
        #expect(byURL["\(b)/bad/404/a"]?.httpStatus == 404)
        // The 429 waited for its Retry-After: 1 before the second try.
        #expect(Date().timeIntervalSince(started) >= 1)
        #expect(summary.people[0].stored == 3)
        let formats: [String] = try f.images().map { $0.format.rawValue }.sorted()
        #expect(formats == ["jpeg", "jpeg", "png"])
        try f.expectFilesMatchRows()
    }

    @Test func aSlowDripIsAbortedByTheLowSpeedLimit() async throws {
        let server = try await TestServer.start(dataRoot: Paths.shared)
        defer { Task { await server.stop() } }
        let url = "\(server.baseURL)/bad/drip/400/faces/dlib_johns/John_Salley/000179_02159509.jpg"
        let f = try Fixture()
        var options = testOptions(server, target: 1)
        options.http.lowSpeedLimit = 100   // the drip sends 2.5 bytes/s
        options.http.lowSpeedTime = 2
        options.retries = 1
        let started = Date()
        let summary = try await fetch(f.catalog, [PersonQuery(label: "Drip", file: "d.txt", lines: [.url(url)])], options)
        let attempt = try #require(try f.attempts().first)
        #expect(attempt.state == .failed)
        #expect(attempt.failure == .timeout)
        #expect(attempt.transient)
        #expect(summary.people[0].failed == ["timeout": 1])
        #expect(Date().timeIntervalSince(started) < 15, "aborted by the low-speed limit, not the overall timeout")
        try f.expectFilesMatchRows()
    }

    @Test func rerunDownloadsNothingTwiceAndRetryFailedRetriesOnlyTransient() async throws {
        let server = try await TestServer.start(dataRoot: Paths.shared)
        defer { Task { await server.stop() } }
        let b = server.baseURL
        let photos = johns(server, "John_Schneider").prefix(4).map { b + $0 }
        let lines: [QueryLine] = (photos + ["\(b)/bad/404/x", "\(b)/bad/flaky/5/x.jpg"]).map { .url($0) }
        let queries = [PersonQuery(label: "Schneider", file: "s.txt", lines: lines)]
        let f = try Fixture()
        var options = testOptions(server, target: 10)
        options.retries = 2
        let first = try await fetch(f.catalog, queries, options)
        #expect(first.stored == 4)
        let hitsAfterFirst = server.requests.count

        let second = try await fetch(f.catalog, queries, options)
        #expect(second.stored == 0)
        #expect(server.requests.count == hitsAfterFirst, "a rerun downloads nothing that succeeded or failed")

        options.retryFailed = true
        options.retries = 4   // flaky/5 fails 5 times: 2 + 4 tries = 6 in all, the last succeeds
        let third = try await fetch(f.catalog, queries, options)
        #expect(third.requeued == 1)
        #expect(third.stored == 1)
        #expect(server.hits(path: "/bad/404/x") == 1)
        #expect(server.hits(path: "/bad/flaky/5/x.jpg") == 6)
        #expect(try f.images().count == 5)
        try f.expectFilesMatchRows()
    }

    @Test func sameBytesUnderTwoPeopleAreOneFileAndTwoRows() async throws {
        let server = try await TestServer.start(dataRoot: Paths.shared)
        defer { Task { await server.stop() } }
        let photo = server.baseURL + johns(server, "John_Simm")[0]
        let f = try Fixture()
        let queries = [PersonQuery(label: "A", file: "a.txt", lines: [.url(photo), .url(photo + "?copy=1")]),
                       PersonQuery(label: "B", file: "b.txt", lines: [.url(photo)])]
        let summary = try await fetch(f.catalog, queries, testOptions(server, target: 5))
        #expect(summary.people.map { $0.stored } == [1, 1])
        #expect(summary.people.map { $0.duplicates } == [1, 0])
        let images = try f.images()
        #expect(images.count == 2)
        #expect(Set(images.map { $0.sha256 }).count == 1)
        #expect(f.files().count == 1)
        try f.expectFilesMatchRows()
    }

    @Test func throttledSearchesWaitAndContinue() async throws {
        let server = try await TestServer.start(dataRoot: Paths.shared)
        defer { Task { await server.stop() } }
        server.setResults(term: "Salley", paths: johns(server, "John_Salley"))
        server.throttleSearches(count: 1, retryAfterSeconds: 1)
        server.commonsRateLimited(count: 1)
        let f = try Fixture()
        var options = testOptions(server, target: 5)
        options.maxWait = 10
        var messages: [String] = []
        let started = Date()
        let summary = try await fetch(f.catalog, [PersonQuery(label: "Salley", file: "s.txt", lines: [.search("Salley")])], options) { event in
            if case let .term(_, _, _, message) = event { messages.append(message) }
            if case let .warning(message) = event { messages.append(message) }
        }
        #expect(!messages.contains { $0.contains("retrying") }, "no transport errors expected: \(messages)")
        #expect(summary.people[0].stored == 5)
        #expect(Date().timeIntervalSince(started) >= 1)
        #expect(messages.contains { $0.contains("HTTP 429") && $0.contains("waiting 1 s") })
        #expect(messages.contains { $0.contains("rate limit") })
        #expect(server.requests.filter { $0.path == "/commons/w/api.php" }.count == 3)
    }

    @Test func aThrottleLongerThanTheRunWillWaitEndsTheTermWithAClearError() async throws {
        let server = try await TestServer.start(dataRoot: Paths.shared)
        defer { Task { await server.stop() } }
        server.setResults(term: "Salley", paths: johns(server, "John_Salley"))
        server.throttleSearches(count: 1, retryAfterSeconds: 3600)
        let f = try Fixture()
        let summary = try await fetch(f.catalog, [PersonQuery(label: "Salley", file: "s.txt", lines: [.search("Salley")])],
                                      testOptions(server, target: 5, provider: .openverse))
        let p = summary.people[0]
        #expect(p.stored == 0, "\(server.port) \(server.requests.map { "\($0.path)?\($0.query)" })")
        #expect(p.outcome == "provider_errors")
        #expect(p.terms[0].state == "failed")
        #expect(p.terms[0].error?.contains("3600") == true)
        // The failed term is searched again by the next run.
        let again = try await fetch(f.catalog, [PersonQuery(label: "Salley", file: "s.txt", lines: [.search("Salley")])],
                                    testOptions(server, target: 5, provider: .openverse))
        #expect(again.people[0].stored == 5)
    }
}
