// What a fetch reports: live figures while it runs (PersonProgress, FetchEvent) and, at the end, the summary per
// person and per term that `curate fetch --json` prints.
import Catalog
import Foundation

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
    /// Images of the person stored through this term (all runs), and how many of them processing kept.
    public var stored: Int
    public var kept: Int
}

/// What one kind of source (search, category, reference, url) gave a person: images stored, and kept by processing.
public struct SourceYield: Codable, Sendable, Equatable {
    public var stored: Int
    public var kept: Int
    public init(stored: Int, kept: Int) {
        self.stored = stored
        self.kept = kept
    }
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
    /// By kind of source (`search`, `category`, `reference`, `url`): the person's stored images (all runs) and
    /// how many processing kept, so a user sees which sources are worth keeping.
    public var sources: [String: SourceYield]
    /// Limits the person's fetch met (the most terms one person may have).
    public var notes: [String] = []
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

    /// Reads again what each term and kind of source gave (stored, kept): after processing, the kept figures
    /// are known.
    public mutating func recountSources(_ catalog: Catalog) throws {
        // Looked up by key, never by a scan: a person may have thousands of terms.
        let people = Dictionary(try catalog.people().map { ($0.label, $0) }, uniquingKeysWith: { first, _ in first })
        for i in self.people.indices {
            guard let person = people[self.people[i].label] else { continue }
            let yields = try catalog.yields(of: person.id!)
            let terms = try catalog.terms(of: person.id!)
            let kinds = Dictionary(terms.compactMap { t in t.id.map { ($0, t.kind.rawValue) } }, uniquingKeysWith: { first, _ in first })
            let byText = Dictionary(terms.map { ($0.provider.rawValue + "\u{0}" + $0.text, $0) }, uniquingKeysWith: { first, _ in first })
            var sources: [String: SourceYield] = [:]
            for term in terms { sources[term.kind.rawValue] = sources[term.kind.rawValue] ?? SourceYield(stored: 0, kept: 0) }
            for (termId, yield) in yields {
                let kind = termId.flatMap { kinds[$0] } ?? "unknown"
                sources[kind, default: SourceYield(stored: 0, kept: 0)].stored += yield.stored
                sources[kind, default: SourceYield(stored: 0, kept: 0)].kept += yield.kept
            }
            self.people[i].sources = sources
            for j in self.people[i].terms.indices {
                let summary = self.people[i].terms[j]
                let term = byText[summary.provider + "\u{0}" + summary.text]
                let yield = term.flatMap { yields[$0.id] } ?? TermYield()
                self.people[i].terms[j].stored = yield.stored
                self.people[i].terms[j].kept = yield.kept
            }
        }
    }
}
