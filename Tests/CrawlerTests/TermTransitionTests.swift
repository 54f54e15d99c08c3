// A search term's state machine on its own: each answer a source gives moves the term, with no HTTP and no catalog.
import Catalog
import Testing
@testable import Crawler

struct TermTransitionTests {
    func term(_ text: String, _ kind: TermKind) -> SearchTerm {
        SearchTerm(personId: 1, text: text, kind: kind, provider: kind == .wikidata ? .wikidata : .commons, position: 0)
    }

    @Test func pagesOfResultsEndTheTermWhenTheCursorRunsOut() {
        var t = term("Ada Lovelace", .search)
        t.foundPage(count: 3, cursor: "c1", walkedSubcategories: false)
        #expect(t.state == .open && t.pages == 1 && t.results == 3 && t.cursor == "c1")
        #expect(t.doneMessage(total: 5) == nil)
        t.foundPage(count: 2, cursor: nil, walkedSubcategories: false)
        #expect(t.state == .exhausted && t.pages == 2 && t.results == 5 && t.cursor == nil)
        #expect(t.doneMessage(total: 5) == "no more pages after 2 page(s), 5 result(s) of 5")
    }

    @Test func aSearchWithAnEmptyFirstPageHasNoResultsEvenWithACursor() {
        var t = term("Nobody", .search)
        t.foundPage(count: 0, cursor: "c1", walkedSubcategories: false)
        #expect(t.state == .noResults && t.lastError == nil)
        #expect(t.doneMessage(total: nil) == "no results")
    }

    @Test func aCategoryIsJudgedAtItsEndAndNamedWhenItHadNoFiles() {
        var empty = term("Category:Nobody", .category)
        // Its first page of files comes after its subcategories: an empty one with a cursor says nothing yet.
        empty.foundPage(count: 0, cursor: "c1", walkedSubcategories: false)
        #expect(empty.state == .open)
        empty.foundPage(count: 0, cursor: nil, walkedSubcategories: false)
        #expect(empty.state == .noResults)
        #expect(empty.lastError == "Commons has no files in Category:Nobody (no such category, or an empty one)")
        // One whose subcategories are being walked is simply done.
        var parent = term("Category:Ada Lovelace", .category)
        parent.foundPage(count: 0, cursor: nil, walkedSubcategories: true)
        #expect(parent.state == .exhausted && parent.lastError == nil)
    }

    @Test func pagesThatAddNothingNewEndAnOpenTermOnlyWhenSeveralInARow() {
        var t = term("Ada Lovelace", .search)
        t.foundPage(count: 4, cursor: "c1", walkedSubcategories: false)
        // Pages a category already covered are no end of the search.
        let endedAtOnce = t.recorded(candidates: 4, added: 0, inARow: 1)
        #expect(!endedAtOnce)
        #expect(t.isOpen)
        for page in 2...FetchLimits.barrenPages {
            t.foundPage(count: 4, cursor: "c\(page)", walkedSubcategories: false)
            let ended = t.recorded(candidates: 4, added: 0, inARow: page)
            #expect(ended == (page == FetchLimits.barrenPages))
        }
        #expect(t.state == .noNew)
        #expect(t.doneMessage(total: nil) == "5 pages in a row added nothing new after 5 page(s), 20 result(s)")
        var last = term("Ada Lovelace", .search)
        last.foundPage(count: 4, cursor: nil, walkedSubcategories: false)
        let changed = last.recorded(candidates: 4, added: 0, inARow: FetchLimits.barrenPages)
        #expect(!changed)
        #expect(last.state == .exhausted)
        var fresh = term("Ada Lovelace", .search)
        fresh.foundPage(count: 4, cursor: "c1", walkedSubcategories: false)
        let someNew = fresh.recorded(candidates: 4, added: 1, inARow: 0), emptyPage = fresh.recorded(candidates: 0, added: 0, inARow: 0)
        #expect(!someNew && !emptyPage)
        #expect(fresh.state == .open)
    }

    @Test func sourcesFoundEndTheTermWithoutACursorAndAnEmptyAnswerSaysWhy() {
        var t = term("Ada Lovelace", .wikidata)
        t.foundSources(count: 2, cursor: "more", note: nil)
        #expect(t.state == .open && t.pages == 1 && t.cursor == "more")
        t.foundSources(count: 1, cursor: nil, note: "note")
        #expect(t.state == .exhausted && t.lastError == nil)
        var none = term("Q0", .wikidata)
        none.foundSources(count: 0, cursor: nil, note: "Wikidata has no entity Q0")
        #expect(none.state == .noResults && none.lastError == "Wikidata has no entity Q0")
    }

    @Test func failuresAndAmbiguityAreRecordedWithTheirWords() {
        var t = term("Ada Lovelace", .search)
        t.fail("HTTP 429; run again later")
        #expect(t.state == .failed && t.lastError == "HTTP 429; run again later" && !t.state.isDone)
        var name = term("John Smith", .wikidata)
        name.ambiguous("several entities are called John Smith")
        #expect(name.state == .ambiguous && name.pages == 1 && name.state.isDone)
        #expect(name.doneMessage(total: nil) == nil)
    }
}
