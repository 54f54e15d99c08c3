// Query files: labels, comments, URLs and the errors a user gets for bad input.
import Foundation
import Testing
import TestSupport
@testable import Crawler

@Suite struct QueryFileTests {
    @Test func parsesTermsURLsAndComments() throws {
        let dir = TempDir()
        dir.queries(["Arya Stark": [
            "# Arya, in and out of costume",
            "Maisie Williams",
            "",
            "  Arya   Stark  # the character",
            "https://example.org/a.jpg#frag",
            "Maisie Williams",
        ]])
        let people = try QueryFile.load(path: dir.sub("queries").path)
        #expect(people.count == 1)
        #expect(people[0].label == "Arya Stark")
        #expect(people[0].lines == [.search("Maisie Williams"), .search("Arya Stark"), .url("https://example.org/a.jpg#frag")])
    }

    @Test func categoryAndWikidataLinesAreReadAsMediaWikiNamesThem() throws {
        let dir = TempDir()
        dir.queries(["Arya Stark": [
            "category:Maisie Williams",
            "Category:maisie_williams   in  2019  # the first letter is capitalised, underscores are spaces",
            "CATEGORY: Category:Maisie Williams",
            "wikidata:Q234",
            "wikidata: q234",
            "Maisie Williams",
        ]])
        let people = try QueryFile.load(path: dir.sub("queries").path)
        #expect(people[0].lines == [.category("Category:Maisie Williams"), .category("Category:Maisie williams in 2019"),
                                    .wikidata("Q234"), .search("Maisie Williams")])
        let bad = dir.sub("bad.txt")
        for (line, error) in [("category:", QueryError.badCategory(file: bad.path, line: 1, text: "category:")),
                              ("category:A [b]", QueryError.badCategory(file: bad.path, line: 1, text: "category:A [b]")),
                              ("wikidata:Q0", QueryError.badEntity(file: bad.path, line: 1, text: "wikidata:Q0")),
                              ("wikidata:Maisie", QueryError.badEntity(file: bad.path, line: 1, text: "wikidata:Maisie"))] {
            try (line + "\n").write(to: bad, atomically: true, encoding: .utf8)
            #expect(throws: error) { try QueryFile.load(path: bad.path) }
        }
        #expect(QueryError.badEntity(file: "a.txt", line: 3, text: "wikidata:X").description
                == "a.txt:3: wikidata:X is not a Wikidata item id: write wikidata:Q followed by digits (e.g. wikidata:Q1234).")
    }

    @Test func labelsAreSafeForTheFileSystem() {
        #expect(QueryFile.safeLabel("Jon Snow") == "Jon Snow")
        #expect(QueryFile.safeLabel("..") == nil)
        #expect(QueryFile.safeLabel("...hidden") == "hidden")
        #expect(QueryFile.safeLabel("a/b\\c:d") == "a_b_c_d")
        #expect(QueryFile.safeLabel("tab\tname\u{7}") == "tabname")
        #expect(QueryFile.safeLabel("   ") == nil)
        // Found by fuzz/query.swift: stripping dots, then spaces, left dots in front again.
        #expect(QueryFile.safeLabel(". ..") == nil)
        #expect(QueryFile.safeLabel("... ....lia ClU>") == "lia ClU_")
    }

    @Test func twoFilesWithOneLabelAreAnError() throws {
        let dir = TempDir()
        dir.queries(["jon:snow": ["a"], "jon_snow": ["b"]])
        #expect {
            try QueryFile.load(path: dir.sub("queries").path)
        } throws: { error in
            guard case let QueryError.sameLabel(label, first, second)? = error as? QueryError else { return false }
            return label == "jon_snow" && first.hasSuffix("jon:snow.txt") && second.hasSuffix("jon_snow.txt")
        }
    }

    @Test func badInputNamesWhatIsWrong() throws {
        let dir = TempDir()
        #expect(throws: QueryError.missing(dir.sub("nope").path)) { try QueryFile.load(path: dir.sub("nope").path) }
        let empty = dir.sub("empty")
        try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
        try "not a query".write(to: empty.appendingPathComponent("README.md"), atomically: true, encoding: .utf8)
        #expect(throws: QueryError.emptyFolder(empty.path)) { try QueryFile.load(path: empty.path) }

        let comments = dir.sub("c.txt")
        try "# only a comment\n\n".write(to: comments, atomically: true, encoding: .utf8)
        #expect(throws: QueryError.noTerms(comments.path)) { try QueryFile.load(path: comments.path) }

        let latin1 = dir.sub("Zoë.txt")
        try Data([0x5A, 0x6F, 0xEB, 0x0A]).write(to: latin1)
        #expect(throws: QueryError.notUTF8(latin1.path)) { try QueryFile.load(path: latin1.path) }

        let ftp = dir.sub("ftp.txt")
        try "ftp://example.org/x.jpg\n".write(to: ftp, atomically: true, encoding: .utf8)
        #expect(throws: QueryError.badURL(file: ftp.path, line: 1, text: "ftp://example.org/x.jpg")) {
            try QueryFile.load(path: ftp.path)
        }
    }

    @Test func shippedQueriesParse() throws {
        let people = try QueryFile.load(path: Paths.root.appendingPathComponent("queries").path)
        #expect(people.count == 7)
        for p in people {
            #expect(p.lines.count >= 4, "\(p.label) needs character and actor terms")
            // The main job uses the precise source by default: the actor's Commons category (issue 20).
            #expect(p.lines.contains { if case .category = $0 { true } else { false } }, "\(p.label) has no category: line")
        }
    }
}
