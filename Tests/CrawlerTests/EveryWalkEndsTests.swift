// Every wait and every walk of a fetch ends, whatever the APIs answer (issue 22): a continuation that loops,
// a listing that never ends, pages of dead links, throttles that never lift (Retry-After in every bad shape),
// lag that never clears, an answer far longer than the page asked for, more sources than a person can have.
import Catalog
import Foundation
import Testing
import TestSupport
import TestServer
@testable import Crawler

@Suite(.enabled(if: Paths.hasShared, Paths.sharedMissing), .timeLimit(.minutes(2)))
struct EveryWalkEndsTests {
    /// Quick waits: the run's backoff starts at 10 ms and an API may keep it waiting 0.3 s in all.
    func quickWaits(_ options: FetchOptions) -> FetchOptions {
        var options = options
        options.backoff = 0.01
        options.waitBudget = 0.3
        return options
    }

    func listingRequests(_ server: TestServer, _ title: String) -> Int {
        server.commonsRequests.filter { $0.query["gcmtitle"] == title || $0.query["cmtitle"] == title }.count
    }

    @Test func aContinuationSeenBeforeEndsTheTerm() async throws {
        let server = try await TestServer.start(dataRoot: Paths.shared)
        defer { Task { await server.stop() } }
        server.setListingFault("John Simm", .continueLoop)
        var options = sourceOptions(server, target: 3)
        options.categoryDepth = 0
        let f = try Fixture()
        let summary = try await fetch(f.catalog, [PersonQuery(label: "Simm", file: "s.txt", lines: [.category("Category:John Simm")])], options)
        let term = try #require(summary.people.first?.terms.first)
        // A, then B, then A again: the third answer repeats the first continuation.
        #expect(listingRequests(server, "Category:John Simm") == 3)
        #expect(term.state == "exhausted")
        #expect(term.error == "Commons gave a continuation it had given before (a loop)", "\(term)")
    }

    @Test func aListingOfPagesWithoutImagesEndsAfterSeveralInARow() async throws {
        let server = try await TestServer.start(dataRoot: Paths.shared)
        defer { Task { await server.stop() } }
        server.setListingFault("John Simm", .endless)
        var options = sourceOptions(server, target: 3)
        options.categoryDepth = 0
        let f = try Fixture()
        let summary = try await fetch(f.catalog, [PersonQuery(label: "Simm", file: "s.txt", lines: [.category("Category:John Simm")])], options)
        let term = try #require(summary.people.first?.terms.first)
        #expect(listingRequests(server, "Category:John Simm") == FetchLimits.barrenPages)
        #expect(term.state == "exhausted")
        #expect(term.error == "\(FetchLimits.barrenPages) pages in a row brought nothing usable", "\(term)")
    }

    @Test func searchPagesOfDeadLinksEndTheTermOnceTheirDownloadsHaveFailed() async throws {
        let server = try await TestServer.start(dataRoot: Paths.shared)
        defer { Task { await server.stop() } }
        server.setResults(term: "Nobody", paths: (1...1000).map { "/bad/404/\($0).jpg" })
        var options = testOptions(server, target: 5)
        options.pageSize = 10
        let f = try Fixture()
        let summary = try await fetch(f.catalog, [PersonQuery(label: "Nobody", file: "n.txt", lines: [.search("Nobody")])], options)
        let p = try #require(summary.people.first)
        #expect(server.commonsRequests.count == FetchLimits.barrenPages)
        #expect(p.terms[0].state == "exhausted" && p.terms[0].error == "\(FetchLimits.barrenPages) pages in a row brought nothing usable")
        #expect(p.failed["http_404"] == FetchLimits.barrenPages * 10, "\(p.failed)")
    }

    @Test func aGoodPageAfterDeadOnesKeepsTheTermGoing() async throws {
        let server = try await TestServer.start(dataRoot: Paths.shared)
        defer { Task { await server.stop() } }
        let dead = (1...(FetchLimits.barrenPages - 1) * 2).map { "/bad/404/\($0).jpg" }
        let good = Array(johns(server, "John_Salley").prefix(4))
        server.setResults(term: "Salley", paths: dead + [good[0], "/bad/404/x.jpg"] + dead.map { $0 + "2" } + Array(good[1...]))
        var options = testOptions(server, target: 4)
        options.pageSize = 2
        options.http.concurrency = 1   // pages wait for the person's queue: the count sees each page's downloads
        let f = try Fixture()
        let summary = try await fetch(f.catalog, [PersonQuery(label: "Salley", file: "s.txt", lines: [.search("Salley")])], options)
        #expect(summary.people[0].stored == 4, "\(summary.people[0].terms)")
    }

    @Test(arguments: ["-1", "0", "abc", "1e309", "1.5", nil] as [String?])
    func aThrottleThatNeverLiftsSpendsTheAPIsWaitBudgetAndStopsItsTerms(retryAfter: String?) async throws {
        let server = try await TestServer.start(dataRoot: Paths.shared)
        defer { Task { await server.stop() } }
        server.setResults(term: "Salley", paths: johns(server, "John_Salley"))
        server.throttleSearches(count: 1_000, retryAfter: retryAfter)
        let f = try Fixture()
        let summary = try await fetch(f.catalog, [PersonQuery(label: "Salley", file: "s.txt", lines: [.search("Salley"), .search("John Salley")])],
                                      quickWaits(testOptions(server, target: 5)))
        let p = try #require(summary.people.first)
        #expect(p.outcome == "provider_errors")
        // 10, 20, 40, 80 ms (at least what a valid header asked), then the next would pass 0.3 s.
        #expect((2...8).contains(server.commonsRequests.count), "\(server.commonsRequests.count) requests")
        for term in p.terms {
            #expect(term.state == "failed")
            #expect(term.error?.hasPrefix("Commons answered HTTP 429; this API already kept the run waiting") == true, "\(term)")
            #expect(term.error?.contains("of the 0.3 s it may; run again later") == true, "\(term)")
        }
    }

    @Test func aRetryAfterTooLongToSayIsNotWaitedFor() async throws {
        let server = try await TestServer.start(dataRoot: Paths.shared)
        defer { Task { await server.stop() } }
        server.throttleSearches(count: 1_000, retryAfter: "99999999999999999999")
        let f = try Fixture()
        let summary = try await fetch(f.catalog, [PersonQuery(label: "Salley", file: "s.txt", lines: [.search("Salley")])],
                                      quickWaits(testOptions(server, target: 5)))
        #expect(server.commonsRequests.count == 1)
        #expect(summary.people[0].terms[0].error == "Commons answered HTTP 429, asking to wait without end; run again later")
    }

    @Test func lagThatNeverClearsStopsWikidataButNotCommons() async throws {
        let server = try await TestServer.start(dataRoot: Paths.shared)
        defer { Task { await server.stop() } }
        server.wikidataLagged(count: 1_000, retryAfterSeconds: 0)
        server.setResults(term: "John Simm", paths: Array(johns(server, "John_Simm").prefix(3)))
        let f = try Fixture()
        let queries = [PersonQuery(label: "Simm", file: "s.txt", lines: [.wikidata("Q1"), .search("John Simm")])]
        let summary = try await fetch(f.catalog, queries, quickWaits(sourceOptions(server, target: 3)))
        let p = try #require(summary.people.first)
        #expect(p.stored == 3)
        #expect(server.wikidataRequests.count <= 8)
        let q1 = try #require(p.terms.first { $0.text == "Q1" })
        #expect(q1.state == "failed" && q1.error?.hasPrefix("Wikidata: Waiting for 10.64.16.8: 5 seconds lagged.; this API already kept") == true, "\(q1)")
    }

    @Test func subcategoriesBeyondWhatWasAskedAndBeyondThePersonsTermsAreNotTaken() async throws {
        let server = try await TestServer.start(dataRoot: Paths.shared)
        defer { Task { await server.stop() } }
        server.setListingFault("John Simm", .ignoresLimit(600))
        var options = sourceOptions(server, target: 3)
        options.categoryDepth = 1
        options.maxTermsPerPerson = 40
        let f = try Fixture()
        let summary = try await fetch(f.catalog, [PersonQuery(label: "Simm", file: "s.txt", lines: [.category("Category:John Simm")])], options)
        let p = try #require(summary.people.first)
        #expect(p.terms.count == 40)
        #expect(p.notes == ["40 terms, the most one person may have: sources found from Category:John Simm on are not walked"])
    }
}

@Suite struct RetryAfterTests {
    @Test func readAsRFC9110SaysOrNotAtAll() {
        let now = Date(timeIntervalSince1970: 784_111_777)   // Sun, 06 Nov 1994 08:49:37 GMT
        #expect(RetryAfter.seconds("120", now: now) == 120)
        #expect(RetryAfter.seconds(" 0 ", now: now) == 0)
        #expect(RetryAfter.seconds("99999999999999999999", now: now) == Int.max)
        for bad in ["-1", "abc", "1e309", "1.5", "", "+5", "5s"] { #expect(RetryAfter.seconds(bad, now: now) == nil, "\(bad)") }
        #expect(RetryAfter.seconds("Sun, 06 Nov 1994 08:50:37 GMT", now: now) == 60)
        #expect(RetryAfter.seconds("Sunday, 06-Nov-94 08:51:37 GMT", now: now) == 120)
        #expect(RetryAfter.seconds("Sun Nov  6 08:49:47 1994", now: now) == 10)
        #expect(RetryAfter.seconds("Sat, 05 Nov 1994 08:49:37 GMT", now: now) == 0)
    }

    @Test func aListingAnswersAtMostWhatWasAskedFor() throws {
        let members = (1...600).map { ["pageid": $0, "ns": 14, "title": "Category:X \($0)"] as [String: Any] }
        let body = [UInt8](try JSONSerialization.data(withJSONObject: ["batchcomplete": "", "query": ["categorymembers": members]]))
        guard case let .found(found, _, _) = CommonsCategoryReader(endpoint: "x").read(status: 200, body: body, retryAfter: nil) else {
            Issue.record("not read as a listing"); return
        }
        #expect(found.count == CommonsCategoryReader.subcategoryLimit)
    }
}
