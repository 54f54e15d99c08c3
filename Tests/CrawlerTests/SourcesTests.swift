// Curated sources end to end: Commons categories (paging, subcategories, loops), Wikidata entities and lookups,
// reference portraits, precision order, pacing per API, and the error cases, against the local emulations.
import Catalog
import Foundation
import GRDB
import Testing
import TestSupport
import TestServer
@testable import Crawler

/// Options for runs that also read Wikidata.
func sourceOptions(_ server: TestServer, target: Int) -> FetchOptions {
    var options = testOptions(server, target: target)
    options.wikidataEndpoint = server.baseURL + "/wikidata/w/api.php"
    return options
}

extension TestServer {
    /// Requests to the Commons API emulation, in arrival order.
    var commonsRequests: [Request] { requests.filter { $0.path == "/commons/w/api.php" } }
    var wikidataRequests: [Request] { requests.filter { $0.path == "/wikidata/w/api.php" } }
}

@Suite(.enabled(if: Paths.hasShared, Paths.sharedMissing), .timeLimit(.minutes(10)))
struct SourcesTests {
    @Test func categoryIsPagedToItsEndAndSubcategoriesAreWalkedOnceDespiteALoop() async throws {
        let server = try await TestServer.start(dataRoot: Paths.shared)
        defer { Task { await server.stop() } }
        let simm = johns(server, "John_Simm")
        server.setCategory("John Simm", files: Array(simm.prefix(9)),
                           subcategories: ["John Simm in 2019", "John Simm at events", "Doctor Who cast"])
        server.setCategory("John Simm in 2019", files: Array(simm.suffix(2)))
        // A loop back to the top, a second path to a category already walked, and one level deeper.
        // No files of its own, only a subcategory: exhausted, not no_results.
        server.setCategory("John Simm at events", files: [],
                           subcategories: ["John Simm", "John Simm in 2019", "John Simm at events in London"])
        server.setCategory("John Simm at events in London", files: Array(johns(server, "John_Savage").prefix(2)),
                           subcategories: ["John Simm at events in London 2020"])
        server.setCategory("Doctor Who cast", files: johns(server, "John_Schneider"))
        let f = try Fixture()
        var options = sourceOptions(server, target: 100)
        options.pageSize = 4
        let queries = [PersonQuery(label: "John_Simm", file: "s.txt", lines: [.category("Category:John Simm")])]
        var events: [String] = []
        let summary = try await fetch(f.catalog, queries, options) { event in
            if case let .term(_, term, state, message) = event { events.append("\(term) \(state.rawValue): \(message)") }
        }

        let p = try #require(summary.people.first)
        let states = Dictionary(uniqueKeysWithValues: p.terms.map { ($0.text, $0.state) })
        #expect(states == ["Category:John Simm": "exhausted", "Category:John Simm in 2019": "exhausted",
                           "Category:John Simm at events": "exhausted", "Category:John Simm at events in London": "exhausted"],
                "\(p.terms.map { "\($0.text): \($0.error ?? "-")" })")
        #expect(p.terms.allSatisfy { $0.kind == "category" && $0.provider == "commons" })
        // Every file of the four categories, none of the category whose name is not the person's.
        #expect(p.stored == 9 + 2 + 2)
        #expect(try f.images().allSatisfy { !$0.sourceUrl.contains("John_Schneider") })
        #expect(try f.images().allSatisfy { $0.provider == .commons && $0.license == "CC BY-SA 4.0" && $0.term?.hasPrefix("Category:") == true })

        let files = server.commonsRequests.filter { $0.query["generator"] == "categorymembers" }
        let subcats = server.commonsRequests.filter { $0.query["list"] == "categorymembers" }
        // Paging to the end: 9 files at 4 a page are three pages, the later two continued with gcmcontinue.
        // (Distinct requests: on a loaded machine a timed-out request is sent again.)
        let top = files.filter { $0.query["gcmtitle"] == "Category:John Simm" }
        #expect(Set(top.map { $0.query["gcmcontinue"] ?? "" }).count == 3)
        #expect(top.first?.query["gcmcontinue"] == nil)
        #expect(top.filter { $0.query["gcmcontinue"] != nil }.allSatisfy { $0.query["continue"] == "gcmcontinue||" })
        #expect(p.terms.first?.pages == 4 && p.terms.first?.results == 9)   // one listing of subcategories, three of files
        // Each category is walked once: four terms, however many ways lead to them (the loop back included).
        #expect(Set(files.compactMap { $0.query["gcmtitle"] }) == ["Category:John Simm", "Category:John Simm in 2019",
                                                                  "Category:John Simm at events", "Category:John Simm at events in London"])
        #expect(p.terms.count == 4)
        // Depth 2 is the limit: the deepest category is listed for files only.
        #expect(Set(subcats.compactMap { $0.query["cmtitle"] }) == ["Category:John Simm", "Category:John Simm in 2019", "Category:John Simm at events"])
        #expect(!server.commonsRequests.contains { $0.query.values.contains("Category:Doctor Who cast") })
        // The parameters the MediaWiki documentation asks for, on every request.
        for r in files {
            #expect(r.query["action"] == "query" && r.query["format"] == "json" && r.query["gcmtype"] == "file")
            #expect(r.query["gcmlimit"] == "4" && r.query["prop"] == "imageinfo" && r.query["iiurlwidth"] == "1280")
            #expect(r.query["iiprop"] == "url|size|mime|extmetadata" && r.query["maxlag"] == "5")
        }
        for r in subcats {
            #expect(r.query["cmtype"] == "subcat" && r.query["cmlimit"] == "500" && r.query["maxlag"] == "5" && r.query["format"] == "json")
        }
        #expect(server.requests.allSatisfy { $0.headers["user-agent"] == "curate-tests/1.0 (tests@example.org) libcurl" })
        #expect(events.contains { $0.hasPrefix("Category:John Simm open: 2 subcategories to walk") })
        // Subcategories found by a run are walked again from where they stood by the next: nothing is asked twice.
        let before = server.commonsRequests.count
        let again = try await fetch(f.catalog, queries, options)
        #expect(server.commonsRequests.count == before)
        #expect(again.people[0].terms.count == 4)
        try f.expectFilesMatchRows()
    }

    @Test func onlySubcategoriesAboutThePersonThemselfAreWalkedAndTheOthersAreNamed() async throws {
        let server = try await TestServer.start(dataRoot: Paths.shared)
        defer { Task { await server.stop() } }
        let simm = johns(server, "John_Simm")
        // Commons' conventions: photos of him in a year, at an event, portraits, with someone; his family, his
        // signature and his works are other people or no one.
        server.setCategory("John Simm", files: Array(simm.prefix(3)),
                           subcategories: ["John Simm in 2019", "Portraits of John Simm", "John Simm with David Tennant",
                                           "Family of John Simm", "Signatures of John Simm", "Works by John Simm", "John Simm (band)"])
        server.setCategory("John Simm in 2019", files: [simm[3]])
        server.setCategory("Portraits of John Simm", files: [simm[4]])
        server.setCategory("John Simm with David Tennant", files: [simm[5]])
        server.setCategory("Family of John Simm", files: Array(johns(server, "John_Savage").prefix(3)))
        server.setCategory("Signatures of John Simm", files: Array(johns(server, "John_Schneider").prefix(2)))
        server.setCategory("Works by John Simm", files: Array(johns(server, "John_Schneider").suffix(2)))
        server.setCategory("John Simm (band)", files: Array(johns(server, "John_Savage").suffix(2)))
        let f = try Fixture()
        let queries = [PersonQuery(label: "John_Simm", file: "s.txt", lines: [.category("Category:John Simm")])]
        var events: [String] = []
        let summary = try await fetch(f.catalog, queries, sourceOptions(server, target: 100)) { event in
            if case let .term(_, term, _, message) = event { events.append("\(term): \(message)") }
        }
        let p = try #require(summary.people.first)
        #expect(Set(p.terms.map(\.text)) == ["Category:John Simm", "Category:John Simm in 2019", "Category:Portraits of John Simm",
                                             "Category:John Simm with David Tennant"])
        #expect(p.stored == 6)
        #expect(try f.images().allSatisfy { $0.sourceUrl.contains("John_Simm") })
        let said = try #require(events.first { $0.contains("not about the person, not walked") }, "\(events)")
        #expect(said.contains("Category:Family of John Simm (family of John Simm: their family)"), "\(said)")
        #expect(said.contains("Signatures of John Simm") && said.contains("Works by John Simm") && said.contains("John Simm (band)"))
    }

    @Test func aSearchWhoseFirstPagesTheCategoryCoveredGoesOnToItsNewPhotos() async throws {
        let server = try await TestServer.start(dataRoot: Paths.shared)
        defer { Task { await server.stop() } }
        let simm = johns(server, "John_Simm")
        // The category holds the search's first four results: its first two pages (of 2) add nothing new.
        server.setCategory("John Simm", files: Array(simm.prefix(4)))
        server.setResults(term: "John Simm", paths: Array(simm.prefix(10)))
        let f = try Fixture()
        var options = sourceOptions(server, target: 100)
        options.pageSize = 2
        let queries = [PersonQuery(label: "John_Simm", file: "s.txt", lines: [.category("Category:John Simm"), .search("John Simm")])]
        let summary = try await fetch(f.catalog, queries, options)
        let p = try #require(summary.people.first)
        #expect(p.stored == 10, "the search stopped early: \(p.terms.map { "\($0.text) \($0.state) \($0.pages)" })")
        #expect(p.terms.first { $0.kind == "search" }?.state == "exhausted")
    }

    @Test func theSubcategoryRuleReadsCommonsNamingConventions() {
        let walked = ["John Simm in 2019", "John Simm at the 2019 BAFTA Awards", "Portraits of John Simm", "Photographs of John Simm",
                      "John Simm with David Tennant", "John Simm by Jane Doe", "John Simm in London", "John Simm (2019)"]
        for title in walked { #expect(SubcategoryRule.judge("Category:" + title, root: "John Simm") == .walk, "\(title)") }
        let skipped = ["Family of John Simm", "Children of John Simm", "Signatures of John Simm", "John Simm signatures",
                       "Works by John Simm", "Paintings of John Simm", "Statues of John Simm", "Graves of John Simm",
                       "John Simm family", "John Simm-related", "Things named after John Simm", "John Simm (band)", "Doctor Who cast"]
        for title in skipped {
            guard case .skip = SubcategoryRule.judge("Category:" + title, root: "John Simm") else {
                Issue.record("\(title) walked")
                continue
            }
        }
    }

    @Test func subcategoriesPageWithTheirOwnContinuation() async throws {
        let server = try await TestServer.start(dataRoot: Paths.shared)
        defer { Task { await server.stop() } }
        // 600 subcategories: more than the 500 one listing page holds.
        let names = (1...600).map { "John Simm in \(1400 + $0)" }
        server.setCategory("John Simm", files: [], subcategories: names)
        server.setCategory("John Simm in 1401", files: Array(johns(server, "John_Simm").prefix(2)))
        let f = try Fixture()
        var options = sourceOptions(server, target: 2)
        options.categoryDepth = 1
        let summary = try await fetch(f.catalog, [PersonQuery(label: "Simm", file: "s.txt", lines: [.category("Category:John Simm")])], options)
        let listings = server.commonsRequests.filter { $0.query["list"] == "categorymembers" }
        #expect(Set(listings.map { $0.query["cmcontinue"] ?? "" }).count == 2)
        #expect(listings.contains { $0.query["cmcontinue"]?.hasPrefix("subcat|") == true })
        #expect(summary.people[0].terms.first?.pages == 2)
        #expect(summary.people[0].terms.count == 601)
        #expect(summary.people[0].stored == 2)
    }

    @Test func wikidataEntityGivesCategoryAndPortraitBeforeAnyFullTextSearch() async throws {
        let server = try await TestServer.start(dataRoot: Paths.shared, latencyMs: 30)
        defer { Task { await server.stop() } }
        let simm = johns(server, "John_Simm")
        server.setEntity("Q1234", label: "John Simm", description: "English actor", category: "John Simm", image: simm[10])
        server.setCategory("John Simm", files: Array(simm.prefix(8)))
        server.setResults(term: "John Simm", paths: johns(server, "John_Salley"))
        let f = try Fixture()
        let queries = [PersonQuery(label: "John_Simm", file: "s.txt", lines: [.search("John Simm"), .wikidata("Q1234")])]
        let summary = try await fetch(f.catalog, queries, sourceOptions(server, target: 5))

        let p = try #require(summary.people.first)
        #expect(p.stored == 5)
        // The target was reached from the curated sources: full-text search was never asked.
        #expect(!server.commonsRequests.contains { $0.query["generator"] == "search" })
        #expect(try f.images().allSatisfy { !$0.sourceUrl.contains("John_Salley") })
        let get = try #require(server.wikidataRequests.first)
        #expect(get.query == ["action": "wbgetentities", "format": "json", "ids": "Q1234", "props": "claims", "maxlag": "5"])
        // The entity came first; its portrait was asked for by title with the same image info as search.
        let first = try #require(server.requests.firstIndex { $0.path == "/wikidata/w/api.php" })
        #expect(!server.requests[..<first].contains { $0.path == "/commons/w/api.php" })
        let portrait = try #require(server.commonsRequests.first { $0.query["titles"] != nil })
        #expect(portrait.query["titles"] == "File:000310 00470511.jpg")
        #expect(portrait.query["prop"] == "imageinfo" && portrait.query["iiurlwidth"] == "1280" && portrait.query["maxlag"] == "5")
        // The portrait is the person's reference photo, marked in the catalog (`list --json`: EndToEndTests).
        let references = try f.images().filter(\.reference)
        #expect(references.count == 1)
        #expect(references.first?.sourceUrl.hasSuffix("000310_00470511.jpg") == true)
        #expect(try f.catalog.counts().first?.references == 1)
        let kinds = Dictionary(uniqueKeysWithValues: p.terms.map { ($0.text, $0.kind) })
        #expect(kinds == ["John Simm": "search", "Q1234": "wikidata", "Category:John Simm": "category",
                          "File:000310 00470511.jpg": "reference"])
        #expect(p.sources["reference"] == SourceYield(stored: 1, kept: 0))
        #expect(p.sources["category"] == SourceYield(stored: 4, kept: 0))
        #expect(p.sources["search"] == SourceYield(stored: 0, kept: 0))
        // One request at a time per API.
        #expect(server.maxConcurrent(paths: ["/commons/w/api.php"]) == 1)
        #expect(server.maxConcurrent(paths: ["/wikidata/w/api.php"]) == 1)
        try f.expectFilesMatchRows()
    }

    @Test func unknownCategoryEntityAndPortraitAreNoResultsByNameAndTheRunGoesOn() async throws {
        let server = try await TestServer.start(dataRoot: Paths.shared)
        defer { Task { await server.stop() } }
        server.setResults(term: "John Savage", paths: Array(johns(server, "John_Savage").prefix(3)))
        server.setEntity("Q5", label: "John Savage", description: "without a category or an image")
        let f = try Fixture()
        let queries = [
            PersonQuery(label: "Savage", file: "v.txt", lines: [.category("Category:Nobody Here At All"), .wikidata("Q999999"),
                                                                 .wikidata("Q5"), .search("John Savage")]),
        ]
        var events: [String] = []
        let summary = try await fetch(f.catalog, queries, sourceOptions(server, target: 10)) { event in
            if case let .term(_, term, state, message) = event { events.append("\(term) \(state.rawValue): \(message)") }
        }
        let p = try #require(summary.people.first)
        #expect(p.stored == 3)   // the search still ran and stored its images
        let terms = Dictionary(uniqueKeysWithValues: p.terms.map { ($0.text, $0) })
        #expect(terms["Category:Nobody Here At All"]?.state == "no_results")
        #expect(terms["Category:Nobody Here At All"]?.error?.contains("Category:Nobody Here At All") == true)
        #expect(terms["Q999999"]?.state == "no_results")
        #expect(terms["Q999999"]?.error == "Wikidata has no entity Q999999")
        #expect(terms["Q5"]?.state == "no_results")
        #expect(terms["Q5"]?.error == "Q5 has no Commons category (P373) or image (P18)")
        #expect(terms["John Savage"]?.state == "exhausted")
        #expect(events.contains("Q999999 no_results: Wikidata has no entity Q999999"))
        #expect(p.outcome == "terms_exhausted")
    }

    @Test func aPortraitCommonsDoesNotHaveIsNoResultsByName() async throws {
        let server = try await TestServer.start(dataRoot: Paths.shared)
        defer { Task { await server.stop() } }
        // The entity's P18 names a file Commons does not have: the API answers it as a `missing` page.
        server.setEntity("Q7", label: "John Simm", image: "/files/nowhere/Gone_photo.jpg")
        let f = try Fixture()
        let summary = try await fetch(f.catalog, [PersonQuery(label: "Simm", file: "s.txt", lines: [.wikidata("Q7")])],
                                      sourceOptions(server, target: 3))
        let terms = Dictionary(uniqueKeysWithValues: summary.people[0].terms.map { ($0.text, $0) })
        #expect(terms["Q7"]?.state == "exhausted")
        #expect(terms["File:Gone photo.jpg"]?.kind == "reference")
        #expect(terms["File:Gone photo.jpg"]?.state == "no_results")
        #expect(terms["File:Gone photo.jpg"]?.error == "Commons has no file File:Gone photo.jpg")
        #expect(summary.people[0].stored == 0 && summary.people[0].failed.isEmpty)
    }

    @Test func autoLookupTakesOnlyAnUnambiguousEntityAndListsCandidatesOtherwise() async throws {
        let server = try await TestServer.start(dataRoot: Paths.shared)
        defer { Task { await server.stop() } }
        server.setEntity("Q10", label: "John Simm", description: "English actor", category: "John Simm")
        server.setEntity("Q11", label: "John Simm", description: "Scottish footballer")
        server.setEntity("Q20", label: "John Savage", description: "American actor", category: "John Savage")
        server.setEntity("Q21", label: "John Savage Jr.", description: "a namesake")
        server.setEntity("Q22", label: "John Savage", description: "Wikimedia human name disambiguation page")
        server.setCategory("John Savage", files: Array(johns(server, "John_Savage").prefix(3)))
        server.setCategory("John Simm", files: Array(johns(server, "John_Simm").prefix(3)))
        server.setResults(term: "Simm", paths: Array(johns(server, "John_Simm").suffix(2)))
        let f = try Fixture()
        var options = sourceOptions(server, target: 3)
        options.wikidataAuto = true
        let queries = [PersonQuery(label: "John_Simm", file: "s.txt", lines: [.search("Simm")]),
                       PersonQuery(label: "John_Savage", file: "v.txt", lines: [.search("Savage")]),
                       // A person with a wikidata: line is not looked up.
                       PersonQuery(label: "John_Salley", file: "y.txt", lines: [.wikidata("Q20")])]
        var events: [String] = []
        let summary = try await fetch(f.catalog, queries, options) { event in
            if case let .term(label, term, state, message) = event { events.append("\(label) \(term) \(state.rawValue): \(message)") }
        }
        let simm = try #require(summary.people.first { $0.label == "John_Simm" })
        let lookup = try #require(simm.terms.first { $0.kind == "wikidata" })
        #expect(lookup.text == "John Simm")
        #expect(lookup.state == "ambiguous")
        #expect(lookup.error?.contains("Q10 (John Simm, English actor)") == true)
        #expect(lookup.error?.contains("Q11 (John Simm, Scottish footballer)") == true)
        #expect(!simm.terms.contains { $0.kind == "category" }, "nothing taken")
        #expect(simm.stored == 2)   // its search went on

        let savage = try #require(summary.people.first { $0.label == "John_Savage" })
        #expect(savage.terms.map(\.text) == ["Savage", "John Savage", "Q20", "Category:John Savage"])
        #expect(savage.stored == 3)
        #expect(events.contains("John_Savage John Savage exhausted: took Q20 (John Savage, American actor) for \"John Savage\""))

        let searches = server.wikidataRequests.filter { $0.query["action"] == "wbsearchentities" }
        #expect(Set(searches.compactMap { $0.query["search"] }) == ["John Simm", "John Savage"])
        #expect(searches.allSatisfy { $0.query["language"] == "en" && $0.query["type"] == "item" && $0.query["maxlag"] == "5" })
        // Only what wbsearchentities declares: its `continue` is an integer offset, never sent empty (the real API
        // answers badinteger to `continue=`, as the emulation does).
        #expect(searches.allSatisfy { $0.query["continue"] == nil }, "\(searches.map(\.query))")
        let gets = server.wikidataRequests.filter { $0.query["action"] == "wbgetentities" }.compactMap { $0.query["ids"] }
        #expect(gets.sorted() == ["Q20", "Q20"])   // John_Savage's lookup, and John_Salley's own line
        #expect(summary.people.first { $0.label == "John_Salley" }?.terms.map(\.text) == ["Q20", "Category:John Savage"])
    }

    @Test func theWikidataEmulationValidatesParametersAsMediaWikiDoes() async throws {
        let server = try await TestServer.start(dataRoot: Paths.shared)
        defer { Task { await server.stop() } }
        server.setEntity("Q10", label: "John Simm", description: "English actor", category: "John Simm")
        // curl(1) on loopback, off the cooperative pool the server runs on; `-A ''` sends no User-Agent at all.
        func get(_ query: String, userAgent: String = "curate-test/1.0") async throws -> (status: Int, error: String?, body: [String: Any]) {
            let dir = TempDir()
            let headers = dir.sub("headers").path
            let out = try await offPool {
                try runProcess("/usr/bin/curl", ["-s", "-A", userAgent, "-D", headers, server.baseURL + "/wikidata/w/api.php?" + query])
            }
            let head = (try? String(contentsOfFile: headers, encoding: .utf8)) ?? ""
            let status = Int(head.split(separator: " ").dropFirst().first ?? "") ?? 0
            let error = head.split(separator: "\r\n").first { $0.lowercased().hasPrefix("mediawiki-api-error:") }
                .map { $0.dropFirst("mediawiki-api-error:".count).trimmingCharacters(in: .whitespaces) }
            return (status, error, (try? JSONSerialization.jsonObject(with: Data(out.utf8))) as? [String: Any] ?? [:])
        }
        let search = "action=wbsearchentities&format=json&search=John&language=en"
        var r = try await get(search + "&continue=")
        #expect(r.error == "badinteger" && (r.body["error"] as? [String: Any])?["info"] as? String == "Invalid value \"\" for integer parameter \"continue\".")
        r = try await get(search + "&limit=ten")
        #expect(r.error == "badinteger")
        r = try await get(search + "&type=person")
        #expect(r.error == "badvalue")
        r = try await get("action=wbsearchentities&format=json&search=John")
        #expect(r.error == "missingparam")
        r = try await get(search + "&limit=500&colour=blue")
        #expect(r.error == nil && (r.body["search"] as? [Any])?.count == 1)
        let warnings = String(describing: r.body["warnings"] ?? "")
        #expect(warnings.contains("Unrecognized parameter: colour.") && warnings.contains("may not be over 50"), "\(warnings)")
        r = try await get(search, userAgent: "")
        #expect(r.status == 403)
    }

    @Test func wikidataThrottledTooLongEndsItsSourcesButNotThePersonsSearch() async throws {
        let server = try await TestServer.start(dataRoot: Paths.shared)
        defer { Task { await server.stop() } }
        server.throttleWikidata(count: 5, retryAfterSeconds: 3600)
        server.setResults(term: "John Simm", paths: Array(johns(server, "John_Simm").prefix(3)))
        let f = try Fixture()
        let queries = [PersonQuery(label: "Simm", file: "s.txt", lines: [.wikidata("Q1"), .wikidata("Q2"), .search("John Simm")])]
        let summary = try await fetch(f.catalog, queries, sourceOptions(server, target: 3))
        let p = try #require(summary.people.first)
        #expect(p.stored == 3)
        #expect(Set(server.wikidataRequests.compactMap { $0.query["ids"] }).count == 1, "Wikidata is not asked again in this run")
        let states = Dictionary(uniqueKeysWithValues: p.terms.map { ($0.text, $0.state) })
        #expect(states["Q1"] == "failed" || states["Q2"] == "failed")
        #expect(p.terms.first { $0.state == "failed" }?.error == "Wikidata answered HTTP 429, asking to wait 3600 s; run again later")
    }

    @Test func wikidataThrottleAndLagAreWaitedOutOnItsOwnPace() async throws {
        let server = try await TestServer.start(dataRoot: Paths.shared, latencyMs: 100)
        defer { Task { await server.stop() } }
        server.setEntity("Q1", label: "John Simm", category: "John Simm")
        server.setCategory("John Simm", files: Array(johns(server, "John_Simm").prefix(2)))
        server.setCategory("John Savage", files: Array(johns(server, "John_Savage").prefix(6)))
        server.wikidataLagged(count: 1, retryAfterSeconds: 1)
        server.throttleWikidata(count: 1, retryAfterSeconds: 1)
        let f = try Fixture()
        var options = sourceOptions(server, target: 6)
        options.pageSize = 1   // the other person's category keeps Commons busy meanwhile
        let queries = [PersonQuery(label: "Simm", file: "s.txt", lines: [.wikidata("Q1")]),
                       PersonQuery(label: "Savage", file: "v.txt", lines: [.category("Category:John Savage")])]
        var waits: [String] = []
        let started = Date()
        let summary = try await fetch(f.catalog, queries, options) { event in
            if case let .term(_, _, _, message) = event, message.contains("waiting") { waits.append(message) }
        }
        #expect(Date().timeIntervalSince(started) >= 2, "two waits of 1 s each")
        #expect(summary.people.map(\.stored) == [2, 6], "\(summary.people.flatMap(\.terms).map { "\($0.text): \($0.error ?? "-")" })")
        #expect(waits.count == 2)
        #expect(waits.contains { $0.hasPrefix("Wikidata: Waiting for 10.64.16.8") })
        #expect(waits.contains { $0.hasPrefix("Wikidata answered HTTP 429") })
        #expect(Set(server.wikidataRequests.map(\.query)).count == 1 && server.wikidataRequests.count >= 3)
        // Commons went on while Wikidata was waited for: its requests fall between Wikidata's first and last.
        let spans = server.requests.map(\.path)
        let firstWikidata = try #require(spans.firstIndex(of: "/wikidata/w/api.php"))
        let lastWikidata = try #require(spans.lastIndex(of: "/wikidata/w/api.php"))
        #expect(spans[firstWikidata...lastWikidata].filter { $0 == "/commons/w/api.php" }.count >= 3)
        #expect(server.maxConcurrent(paths: ["/commons/w/api.php"]) == 1)
        #expect(server.maxConcurrent(paths: ["/wikidata/w/api.php"]) == 1)
        // ... and the two APIs were asked at the same time: each is paced on its own.
        #expect(server.maxConcurrent(paths: ["/commons/w/api.php", "/wikidata/w/api.php"]) == 2)
    }
}

/// The readers on answers written in the documented shapes (no server).
@Suite struct WikimediaReaderTests {
    func body(_ object: Any) throws -> [UInt8] { [UInt8](try JSONSerialization.data(withJSONObject: object)) }

    @Test func categoryCursorSelectsThePhase() {
        let reader = CommonsCategoryReader(endpoint: "https://commons.example/w/api.php")
        let subcats = reader.requestURL(term: "Category:John Simm", cursor: nil)
        #expect(subcats.contains("list=categorymembers") && subcats.contains("cmtype=subcat") && subcats.contains("cmtitle=Category%3AJohn%20Simm"))
        #expect(subcats.hasSuffix("&maxlag=5&continue="))
        let more = reader.requestURL(term: "Category:John Simm", cursor: #"{"cmcontinue":"subcat|4a|7","continue":"-||"}"#)
        #expect(more.contains("cmcontinue=subcat%7C4a%7C7") && more.contains("cmtype=subcat"))
        let files = reader.requestURL(term: "Category:John Simm", cursor: CommonsCategoryReader.filesFromStart)
        #expect(files.contains("generator=categorymembers") && files.contains("gcmtype=file") && files.contains("prop=imageinfo"))
        #expect(files.hasSuffix("&continue="))
        let next = reader.requestURL(term: "Category:John Simm", cursor: #"{"continue":"gcmcontinue||","gcmcontinue":"file|4a|9"}"#)
        #expect(next.contains("gcmcontinue=file%7C4a%7C9") && next.contains("generator=categorymembers"))
    }

    @Test func categoryAnswersInBothPhases() throws {
        let reader = CommonsCategoryReader(endpoint: "x")
        let listing = try body(["batchcomplete": "", "query": ["categorymembers": [
            ["pageid": 1, "ns": 14, "title": "Category:John Simm in 2019"], ["pageid": 2, "ns": 6, "title": "File:x.jpg"]]]])
        #expect(reader.read(status: 200, body: listing, retryAfter: nil)
                == .found([FoundSource(text: "Category:John Simm in 2019", kind: .category, provider: .commons)],
                          cursor: CommonsCategoryReader.filesFromStart, note: nil))
        let empty = try body(["batchcomplete": "", "query": ["categorymembers": [Any]()]])
        #expect(reader.read(status: 200, body: empty, retryAfter: nil) == .found([], cursor: CommonsCategoryReader.filesFromStart, note: nil))
        // A generator with no pages leaves `query` out: an empty, last page of files.
        #expect(reader.read(status: 200, body: try body(["batchcomplete": ""]), retryAfter: nil) == .page(candidates: [], cursor: nil, total: nil))
        let lagged = try body(["error": ["code": "maxlag", "info": "Waiting for db: 7 seconds lagged."]])
        #expect(reader.read(status: 200, body: lagged, retryAfter: 7) == .throttled(seconds: 7, message: "Commons: Waiting for db: 7 seconds lagged."))
        let invalid = try body(["error": ["code": "invalidcategory", "info": "The category name you entered is not valid."]])
        #expect(reader.read(status: 200, body: invalid, retryAfter: nil) == .failed("Commons error invalidcategory: The category name you entered is not valid."))
    }

    @Test func entityStatementsPreferredBeforeNormalDeprecatedNever() throws {
        func statement(_ value: String, _ rank: String) -> [String: Any] {
            ["mainsnak": ["snaktype": "value", "property": "P18", "datavalue": ["value": value, "type": "string"]], "rank": rank, "type": "statement"]
        }
        #expect(WikidataReader.bestValue([statement("old.jpg", "deprecated"), statement("a.jpg", "normal"), statement("b.jpg", "preferred")]) == "b.jpg")
        #expect(WikidataReader.bestValue([statement("old.jpg", "deprecated")]) == nil)
        #expect(WikidataReader.bestValue([["mainsnak": ["snaktype": "novalue", "property": "P18"], "rank": "normal"], statement("a.jpg", "normal")]) == "a.jpg")
        let reader = WikidataReader(endpoint: "x")
        let entity = try body(["entities": ["Q1": ["type": "item", "id": "Q1", "claims": [
            "P373": [statement("maisie_Williams", "normal")], "P18": [statement("Maisie_Williams 2019.jpg", "normal")]]]], "success": 1])
        #expect(reader.read(status: 200, body: entity, retryAfter: nil) == .found(
            [FoundSource(text: "Category:Maisie Williams", kind: .category, provider: .commons),
             FoundSource(text: "File:Maisie Williams 2019.jpg", kind: .reference, provider: .commons)],
            cursor: nil, note: "Q1: Commons category Category:Maisie Williams, portrait File:Maisie Williams 2019.jpg"))
        let missing = try body(["entities": ["Q9": ["id": "Q9", "missing": ""]], "success": 1])
        #expect(reader.read(status: 200, body: missing, retryAfter: nil) == .page(candidates: [], cursor: nil, total: nil))
        let invalid = try body(["error": ["code": "no-such-entity", "info": "Could not find an entity with the ID \"X\"."]])
        #expect(reader.read(status: 200, body: invalid, retryAfter: nil) == .failed("Wikidata error no-such-entity: Could not find an entity with the ID \"X\"."))
    }
}
