// Curated sources through the real binary: stored and kept per source in the summary and --json, the reference
// photo in list and status, and bad options and lines.
import Catalog
import Crawler
import Foundation
import Testing
import TestSupport
import TestServer

@Suite(.enabled(if: Paths.hasShared, Paths.sharedMissing), .timeLimit(.minutes(10)))
struct SourcesCLITests {
    @Test func summaryAndJSONCountStoredAndKeptPerSourceAndTheReferenceShowsInListAndStatus() async throws {
        let server = try await TestServer.start(dataRoot: Paths.shared)
        defer { Task { await server.stop() } }
        let simm = johns(server, "John_Simm")
        server.setEntity("Q1234", label: "John Simm", category: "John Simm", image: simm[10])
        server.setCategory("John Simm", files: Array(simm.prefix(6)), subcategories: ["John Simm in 2019"])
        // A photo of somebody else filed in the subcategory, and a search that finds an eagle and two photos of John Simm.
        server.setCategory("John Simm in 2019", files: [simm[6]] + Array(johns(server, "John_Salley").prefix(1)))
        let cat = try #require(server.imagePaths(under: "nonface").first { $0.hasSuffix("eagle.jpg") })
        server.setResults(term: "John Simm actor", paths: [cat] + Array(simm[7...8]))
        let dir = TempDir()
        let ws = dir.sub("ws").path
        let queries = dir.queries(["John Simm": ["John Simm actor", "wikidata:Q1234"]])
        let env = ["CURATE_COMMONS_ENDPOINT": server.baseURL + "/commons/w/api.php",
                   "CURATE_WIKIDATA_ENDPOINT": server.baseURL + "/wikidata/w/api.php"]
        // N is what the sources hold: a second run has nothing to fetch and says so with status 0.
        var r = try await curate(["fetch", "--query", queries.path, "--n", "12", "--json", "--workspace", ws], env: env, timeout: 300)
        #expect(r.status == 0, "\(r.stderr)")
        struct Report: Decodable { var fetch: FetchSummary }
        let summary = try JSONDecoder().decode(Report.self, from: Data(r.stdout.utf8)).fetch
        let p = try #require(summary.people.first)
        #expect(p.stored == 1 + 6 + 2 + 3)

        r = try await curate(["list", "--json", "--workspace", ws])
        let rows = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [[String: Any]])
        #expect(rows.allSatisfy { $0["reference"] is Bool })
        #expect(rows.filter { $0["reference"] as? Bool == true }.compactMap { $0["term"] as? String } == ["File:000310 00470511.jpg"])
        // The summary's figures are the catalog's: stored and kept per kind of source and per term.
        func count(_ match: ([String: Any]) -> Bool) -> (stored: Int, kept: Int) {
            let mine = rows.filter(match)
            return (mine.count, mine.filter { $0["verdict"] as? String == "kept" }.count)
        }
        let category = count { ($0["term"] as? String)?.hasPrefix("Category:") == true }
        let search = count { $0["term"] as? String == "John Simm actor" }
        #expect(p.sources["category"] == SourceYield(stored: category.stored, kept: category.kept))
        #expect(p.sources["search"] == SourceYield(stored: search.stored, kept: search.kept))
        #expect(p.sources["reference"]?.stored == 1)
        #expect(p.sources["wikidata"] == SourceYield(stored: 0, kept: 0))
        #expect(category.stored == 8 && search.stored == 3)
        // Processing ran, and it did not keep everything: the eagle has no face.
        #expect(rows.allSatisfy { $0["verdict"] as? String != "pending" })
        #expect(search.kept < search.stored)
        let top = try #require(p.terms.first { $0.text == "Category:John Simm" })
        #expect(top.stored == 6 && top.kept == count { $0["term"] as? String == "Category:John Simm" }.kept)

        // The text summary says the same.
        r = try await curate(["fetch", "--query", queries.path, "--n", "12", "--workspace", ws], env: env, timeout: 300)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("kept / stored by source"))
        #expect(r.stderr.contains("John Simm: category \(category.kept)/\(category.stored), reference \(p.sources["reference"]!.kept)/1, search \(search.kept)/\(search.stored)"))
        #expect(r.stderr.contains("\"Category:John Simm in 2019\" (category): "))

        r = try await curate(["status", "--json", "--workspace", ws])
        let counts = try JSONDecoder().decode([PersonCounts].self, from: Data(r.stdout.utf8))
        #expect(counts.first?.references == 1)
        r = try await curate(["status", "--workspace", ws])
        let line = try #require(r.stdout.split(separator: "\n").first { $0.hasPrefix("John Simm") })
        #expect(line.hasSuffix("yes"))
        #expect(r.stdout.contains("reference"))
    }

    /// Three photos are too few for the photos alone to say who the person is; the portrait Wikidata gives decides,
    /// so an intruder who is a third of the person's photos is `wrong_person`. The same photos through the category
    /// alone (no portrait) give no identity, and the intruder stays kept: it is the portrait that decides.
    @Test func aReferencePortraitDecidesWhoThePersonIsWhereThePhotosCannot() async throws {
        let server = try await TestServer.start(dataRoot: Paths.shared)
        defer { Task { await server.stop() } }
        let simm = johns(server, "John_Simm"), savage = try #require(johns(server, "John_Savage").first)
        server.setEntity("Q1234", label: "John Simm", category: "John Simm", image: simm[10])
        server.setCategory("John Simm", files: [simm[0], savage])
        // Server paths are `files/<path under ../shared/data>`.
        let intruder = SHA256.hex(try Data(contentsOf: Paths.shared.appendingPathComponent(String(savage.dropFirst("files/".count)))))
        let env = ["CURATE_COMMONS_ENDPOINT": server.baseURL + "/commons/w/api.php",
                   "CURATE_WIKIDATA_ENDPOINT": server.baseURL + "/wikidata/w/api.php"]
        let dir = TempDir()
        func rows(_ lines: [String], _ name: String) async throws -> [[String: Any]] {
            let ws = dir.sub(name).path
            let queries = dir.queries(["John Simm": lines])
            var r = try await curate(["fetch", "--query", queries.path, "--n", "3", "--workspace", ws], env: env, timeout: 300)
            #expect(r.status == 0, "\(r.stderr)")
            r = try await curate(["list", "--json", "--workspace", ws])
            return try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [[String: Any]])
        }

        let withPortrait = try await rows(["wikidata:Q1234"], "portrait")
        #expect(withPortrait.count == 3)
        #expect(withPortrait.filter { $0["reference"] as? Bool == true }.count == 1)
        for row in withPortrait {
            if row["sha256"] as? String == intruder {
                #expect(row["verdict"] as? String == "rejected" && row["reason"] as? String == "wrong_person", "\(row)")
            } else {
                #expect(row["verdict"] as? String == "kept", "\(row)")
            }
        }

        let categoryOnly = try await rows(["category:John Simm"], "category")
        #expect(categoryOnly.count == 2)
        #expect(categoryOnly.allSatisfy { $0["verdict"] as? String == "kept" }, "\(categoryOnly)")
    }

    /// Wikidata answering a lookup with an API error (HTTP 200, `{"error": {"code", "info"}}`, as the Action API
    /// documents): a refusal that will come again (`readapidenied`) fails that lookup at once and is named, with
    /// Wikidata's code and words, in the live line and under the person in the summary, even when the person reached
    /// N through their other terms; a fault on Wikidata's side (`internal_api_error_…`) is asked again, as an HTTP
    /// 5xx is; `ratelimited` is waited out. Nothing is lost: the person's other terms and the other people go on,
    /// the run exits 0, and the next run asks the failed lookup again and takes what it finds.
    @Test func aWikidataLookupAnsweredWithAnAPIErrorIsNamedAndTheRunGoesOn() async throws {
        let server = try await TestServer.start(dataRoot: Paths.shared)
        defer { Task { await server.stop() } }
        let simm = johns(server, "John_Simm"), savage = johns(server, "John_Savage"), salley = johns(server, "John_Salley")
        server.setEntity("Q10", label: "John Simm", description: "English actor", category: "John Simm")
        server.setEntity("Q20", label: "John Savage", description: "American actor", category: "John Savage")
        server.setEntity("Q30", label: "John Salley", description: "American basketball player", category: "John Salley")
        server.setCategory("John Simm", files: Array(simm.prefix(5)))
        server.setCategory("John Savage", files: Array(savage.prefix(3)))
        server.setCategory("John Salley", files: Array(salley.prefix(3)))
        server.setResults(term: "John Simm actor", paths: Array(simm.suffix(3)))
        server.wikidataRefuses("John Simm", code: "readapidenied", info: "You need read permission to use this module.", times: 1)
        server.wikidataRefuses("John Savage", code: "internal_api_error_DBQueryError",
                               info: "[d1c0ffee] Caught exception of type Wikimedia\\Rdbms\\DBQueryError", times: 1)
        server.wikidataRefuses("Q30", code: "ratelimited", info: "You've exceeded your rate limit. Please wait some time and try again.",
                               times: 1)
        let dir = TempDir()
        let ws = dir.sub("ws").path
        let queries = dir.queries(["John_Simm": ["John Simm actor"], "John_Savage": ["Savage"], "John_Salley": ["wikidata:Q30"]])
        let env = ["CURATE_COMMONS_ENDPOINT": server.baseURL + "/commons/w/api.php",
                   "CURATE_WIKIDATA_ENDPOINT": server.baseURL + "/wikidata/w/api.php"]
        var r = try await curate(["fetch", "--query", queries.path, "--n", "3", "--wikidata", "auto", "--no-process",
                                  "--workspace", ws], env: env, timeout: 300)
        #expect(r.status == 0, "\(r.stderr)")
        let refusal = "Wikidata error readapidenied: You need read permission to use this module."
        #expect(r.stderr.contains("John_Simm: \"John Simm\" failed: \(refusal)"), "\(r.stderr)")
        // The summary: John Simm reached N through his search, and his failed lookup is still named under him.
        let summary = r.stderr.components(separatedBy: "outcome").last ?? ""
        let simmBlock = summary.components(separatedBy: "\nJohn_Simm ").last?.components(separatedBy: "\nJohn_S").first ?? ""
        #expect(simmBlock.contains("target reached") && simmBlock.contains("\"John Simm\" (wikidata): failed") && simmBlock.contains(refusal),
                "\(summary)")
        r = try await curate(["list", "--json", "--workspace", ws])
        var rows = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [[String: Any]])
        func terms(_ person: String) -> [String] { rows.filter { $0["label"] as? String == person }.compactMap { $0["term"] as? String }.sorted() }
        #expect(terms("John_Simm") == ["John Simm actor", "John Simm actor", "John Simm actor"])
        // The internal error was asked again and the lookup taken; the rate limit was waited out.
        #expect(terms("John_Savage") == Array(repeating: "Category:John Savage", count: 3), "\(rows)")
        #expect(terms("John_Salley") == Array(repeating: "Category:John Salley", count: 3), "\(rows)")

        // The next run asks the failed lookup again: Wikidata answers now, and its category gives the rest.
        r = try await curate(["fetch", "--query", queries.path, "--n", "5", "--wikidata", "auto", "--no-process",
                              "--workspace", ws], env: env, timeout: 300)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("took Q10 (John Simm, English actor) for \"John Simm\""), "\(r.stderr)")
        r = try await curate(["list", "--json", "--workspace", ws])
        rows = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [[String: Any]])
        #expect(terms("John_Simm").filter { $0 == "John Simm actor" }.count == 3, "what the first run stored is kept")
        #expect(terms("John_Simm").count >= 5 && terms("John_Simm").contains("Category:John Simm"), "\(terms("John_Simm"))")
    }

    @Test func badWikidataOptionAndLinesAreClearErrors() async throws {
        let dir = TempDir()
        let ws = dir.sub("ws").path
        let queries = dir.queries(["Arya": ["category:Maisie Williams"]])
        var r = try await curate(["fetch", "--query", queries.path, "--wikidata", "maybe", "--workspace", ws])
        #expect(r.status == 64)
        #expect(r.stderr.contains("'maybe' is invalid for '--wikidata") && r.stderr.contains("'auto' and 'off'"))
        // Wikidata is read for entities, never searched for images.
        r = try await curate(["fetch", "--query", queries.path, "--provider", "wikidata", "--workspace", ws])
        #expect(r.status == 64)
        #expect(r.stderr.contains("'commons' and 'openverse'"))
        r = try await curate(["fetch", "--query", queries.path, "--category-depth", "-1", "--workspace", ws])
        #expect(r.status == 64)
        let bad = dir.queries(["Sansa": ["Sophie Turner", "wikidata:Sophie"]])
        r = try await curate(["fetch", "--query", bad.path, "--workspace", ws])
        #expect(r.status == 2)
        #expect(r.stderr.contains("Sansa.txt:2: wikidata:Sophie is not a Wikidata item id"))
        #expect(!FileManager.default.fileExists(atPath: ws), "bad input must not create a workspace")
    }
}
