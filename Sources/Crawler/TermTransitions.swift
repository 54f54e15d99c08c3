// How a search term's state moves with each answer its source gives: pure transitions on the term, which the
// fetcher applies and then writes to the catalog (testable without HTTP).
import Catalog

extension SearchTerm {
    /// The source answered with an error it will give again, or a throttle longer than the run waits: searched
    /// again on the next run.
    mutating func fail(_ message: String) {
        state = .failed
        lastError = message
    }

    /// A name that matches more than one thing (a Wikidata label): the user must say which.
    mutating func ambiguous(_ message: String) {
        pages += 1
        state = .ambiguous
        lastError = message
    }

    /// A page of sources (subcategories, entities, portraits), not of images. With no cursor the term is done:
    /// exhausted, or without results (`note` says why).
    mutating func foundSources(count: Int, cursor: String?, note: String?) {
        pages += 1
        self.cursor = cursor
        lastError = nil
        if cursor == nil {
            state = count == 0 ? .noResults : .exhausted
            if count == 0 { lastError = note }
        }
    }

    /// A page of `count` image results. `walkedSubcategories`: the term is a category whose subcategories are
    /// being walked (then finding no files of its own is no failure).
    mutating func foundPage(count: Int, cursor: String?, walkedSubcategories: Bool) {
        pages += 1
        results += count
        self.cursor = cursor
        lastError = nil
        // A category's first page of files comes after its subcategories: only its end says it had none.
        let firstPage = kind != .category && pages == 1
        if results == 0 && (cursor == nil || firstPage) {
            state = walkedSubcategories ? .exhausted : .noResults
            if kind != .search && !walkedSubcategories { lastError = notFoundMessage }
        } else if cursor == nil {
            state = .exhausted
        }
    }

    /// After a page's URLs are recorded; `inARow`: the pages in a row, this one included, that added nothing the
    /// catalog did not have. `FetchLimits.barrenPages` of them end the term: pages another source already covered
    /// (a person's categories, another term) are no end of a search, many in a row are. Returns whether the state
    /// changed.
    mutating func recorded(candidates: Int, added: Int, inARow: Int) -> Bool {
        guard added == 0, candidates > 0, inARow >= FetchLimits.barrenPages, !state.isDone else { return false }
        state = .noNew
        return true
    }

    /// Paging on would not end: the source answered a continuation it gave before (A, B, A…), or pages in a
    /// row brought nothing usable. The term is done; `why` says which.
    mutating func stopPaging(_ why: String) {
        state = .exhausted
        cursor = nil
        lastError = why
    }

    /// Why a source that is not a search gave nothing, naming it.
    var notFoundMessage: String {
        switch kind {
        case .category: "Commons has no files in \(text) (no such category, or an empty one)"
        case .reference: "Commons has no file \(text)"
        case .wikidata: "Wikidata has no entity \(text)"
        case .search, .url: "no results"
        }
    }

    /// The line a finished term gets (nil while it goes on). `total`: how many results the source said it has.
    func doneMessage(total: Int?) -> String? {
        switch state {
        case .noResults:
            return lastError ?? "no results"
        case .exhausted, .noNew:
            let why = state == .noNew ? "\(FetchLimits.barrenPages) pages in a row added nothing new" : lastError ?? "no more pages"
            return "\(why) after \(pages) page(s), \(results) result(s)\(total.map { " of \($0)" } ?? "")"
        default:
            return nil
        }
    }
}
