// `curate status` and `curate list`: what the catalog holds.
import ArgumentParser
import Catalog
import Curate
import Foundation

extension CurateCommand {
    struct Status: Subcommand {
        static let configuration = CommandConfiguration(abstract: "Show counts per person: stored, verdicts, failures, splits, reference photo.")

        @OptionGroup var global: GlobalOptions

        func execute() throws {
            let catalog = try Catalog.openForReading(global.ws)
            let counts = try catalog.counts()
            let identities = Dictionary(uniqueKeysWithValues: try IdentityIndex.summaries(catalog, options: .judged(in: catalog)).map { ($0.label, $0) })
            let ids = Dictionary(uniqueKeysWithValues: try catalog.people().map { ($0.label, $0.id!) })
            let qualities = try QualitySummary.perPerson(catalog)
            func quality(_ label: String) -> QualitySummary? { ids[label].flatMap { qualities[$0] } }
            if global.json {
                return try printJSON(counts.map { StatusRow(counts: $0, identity: identities[$0.label], quality: quality($0.label)) })
            }
            guard !global.quiet else { return }
            let width = max(6, counts.map(\.label.count).max() ?? 0)
            print("\("person".padding(toLength: width, withPad: " ", startingAt: 0))  stored  kept  rejected  pending  queued  failed  reference")
            for c in counts {
                let cols = [c.stored, c.images["kept"] ?? 0, c.images["rejected"] ?? 0, c.images["pending"] ?? 0,
                            c.attempts["queued"] ?? 0, c.attempts["failed"] ?? 0]
                let widths = [6, 4, 8, 7, 6, 6]
                print(c.label.padding(toLength: width, withPad: " ", startingAt: 0) + "  "
                      + zip(cols, widths).map { "\($0)".leftPad($1) }.joined(separator: "  ")
                      + "  " + (c.references > 0 ? "yes" : "no").leftPad(9))
                func detail(_ name: String, _ d: [String: Int]) {
                    guard !d.isEmpty else { return }
                    print("    \(name): " + d.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
                }
                detail("rejected", c.reasons)
                detail("failed", c.failures)
                detail("terms", c.terms)
                detail("split", c.splits)
                if let i = identities[c.label], i.faces > 0 { print("    identity: " + Self.describe(i)) }
                if let n = identities[c.label]?.suspects, n > 0 { print("    suspects: \(n) (curate review --suspects)") }
                if let q = quality(c.label) {
                    let hit = QualityFlag.allCases.compactMap { f in q.flags[f.rawValue].flatMap { $0 > 0 ? "\(f.rawValue) \($0)" : nil } }
                    print("    quality: " + (hit.isEmpty ? "no flags" : hit.joined(separator: ", ")) + " of \(q.measured) kept face(s) measured"
                          + (hit.isEmpty ? "" : " (curate review --quality)"))
                }
            }
            if counts.isEmpty { print("no people yet: run `curate fetch --query queries/`.") }
            print("face descriptors on \(BLAS.current.summary)")
        }
    }

    struct List: Subcommand {
        static let configuration = CommandConfiguration(abstract: "List stored images, one row each.")

        @OptionGroup var global: GlobalOptions

        @Option(name: .long, help: "Only this person's images.")
        var person: String?

        @Option(name: .long, help: "Only images rejected or flagged for this reason (e.g. no_face, multi_face).")
        var reason: String?

        func execute() throws {
            let catalog = try Catalog.openForReading(global.ws)
            if global.json {
                return try printJSONArray(of: ImageRow.self) { print in try Listing.forEach(catalog, person: person, reason: reason, print) }
            }
            guard !global.quiet else { return }
            try Listing.forEach(catalog, person: person, reason: reason) { r in
                let verdict = r.reason.map { "\(r.verdict) (\($0))" } ?? r.verdict.rawValue
                print(["\(r.id)", r.label, verdict, r.path, r.sourceUrl].map(printable).joined(separator: "\t"))
            }
        }
    }
}

extension CurateCommand.Status {
    /// One line on who the person looks like, or why nobody is sure (then no image is `wrong_person`).
    static func describe(_ i: IdentitySummary) -> String {
        let clusters = "clusters " + i.clusters.prefix(8).map(String.init).joined(separator: "/") + (i.clusters.count > 8 ? "/…" : "")
        if i.clear {
            if let disputed = i.disputed { return "disputed: \(disputed) (\(i.faces) faces; \(clusters))" }
            return i.anchored
                ? "anchored by \(i.anchors) reviewed face\(i.anchors == 1 ? "" : "s") (\(i.faces) faces; \(clusters))"
                : "clear (\(i.clusters.first ?? 0) of \(i.faces) faces; \(clusters))"
        }
        return "unclear: \(i.unclear ?? "?") (\(i.faces) faces; \(clusters)); no wrong_person verdicts until review "
            + "accepts a few of the person's images"
    }
}

/// A person's counts with their identity, as `curate status --json` prints them.
struct StatusRow: Encodable {
    var counts: PersonCounts
    var identity: IdentitySummary?
    /// How many kept faces each quality flag hits (null before any is measured).
    var quality: QualitySummary?

    enum CodingKeys: String, CodingKey { case identity, quality }

    func encode(to encoder: Encoder) throws {
        try counts.encode(to: encoder)
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(identity, forKey: .identity)
        try c.encode(quality, forKey: .quality)
    }
}
