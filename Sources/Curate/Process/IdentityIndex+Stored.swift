// The identities `status` shows: stored after the stages across people, found again only for the people whose rows changed.
import Catalog
import Foundation

extension IdentityOptions {
    /// What a stored identity was found with: every option (and this curate's version, whose rules found it).
    public var storeKey: String { "\(curateVersion) \(self)" }
}

extension IdentityIndex {
    /// Every person's identity summary, by label, as `summaries()` of a fresh index gives them: read where the
    /// stages across people stored it (the catalog clears a stored one when a row it was found from changes), found again
    /// from their own rows for the people with none. A catalog of a million images is a read of 10,000 rows, not of
    /// a million descriptors.
    public static func summaries(_ catalog: Catalog, options: IdentityOptions = IdentityOptions()) throws -> [IdentitySummary] {
        let (stored, missing) = try catalog.storedIdentities(options: options.storeKey)
        let labels = try catalog.labels()
        var out: [IdentitySummary] = []
        var again = missing
        let decoder = JSONDecoder()
        for (personId, json) in stored {
            guard let label = labels[personId] else { continue }
            guard var summary = try? decoder.decode(IdentitySummary.self, from: Data(json.utf8)) else { again.append(personId); continue }
            summary.label = label
            out.append(summary)
        }
        if !again.isEmpty {
            // A few people are read alone; many (a catalog identity never ran on) in the one ordered pass.
            let index = try IdentityIndex(catalog: catalog, options: options, judging: false, only: again.count <= 1_000 ? again : nil)
            out += again.compactMap { index.people[$0] }.map(index.summary)
        }
        return out.sorted { $0.label < $1.label }
    }

    /// Finds every person's identity from the rows as they are now and stores it: the last of the stages across
    /// people (after dedupe has given the verdicts, which the suspects counted depend on). Found while no row
    /// changes, it is stored; a person whose rows changed meanwhile (a reviewer deciding) is found again by status.
    static func store(_ catalog: Catalog, options: IdentityOptions) throws {
        try catalog.storeIdentities(IdentityIndex(catalog: catalog, options: options).stored)
    }

    /// Every person's identity as the catalog stores it, against the changes counted when their rows were read.
    var stored: [StoredIdentity] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return people.values.compactMap { entry in
            guard let json = try? encoder.encode(summary(entry)) else { return nil }
            return StoredIdentity(personId: entry.personId, changes: changes[entry.personId] ?? 0, options: options.storeKey,
                                  summary: String(decoding: json, as: UTF8.self))
        }
    }
}
