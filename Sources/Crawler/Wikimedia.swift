// Sources people curated on Wikimedia: a Commons category's files and subcategories, one Commons file by name,
// and a Wikidata entity's Commons category (P373) and portrait (P18).
import Catalog
import Foundation

/// A Commons category (`Category:...`), read in two phases that the cursor tells apart: first its subcategories
/// (`list=categorymembers&cmtype=subcat`, cursor nil, then the `continue` object holding `cmcontinue`), then its
/// files (`generator=categorymembers&gcmtype=file` with the same image info as search, cursor `filesFromStart`,
/// then the `continue` object holding `gcmcontinue`). Listing subcategories first lets them join the round-robin
/// early; a category at the depth limit starts at its files.
struct CommonsCategoryReader: SearchProvider {
    let kind = ProviderKind.commons
    let endpoint: String
    var pageSize = 50
    var thumbWidth = 1280
    /// The cursor that starts the files phase.
    static let filesFromStart = "files"
    /// Subcategories asked for per request: the largest page the API gives lists them in one request.
    static let subcategoryLimit = 500
    /// A listing of subcategories (each well under 512 bytes) or a page of files.
    var maxAnswerBytes: Int { answerOverhead + max(Self.subcategoryLimit * 512, pageSize * bytesPerImageEntry) }

    func requestURL(term: String, cursor: String?) -> String {
        if cursor == nil || cursor?.contains("\"cmcontinue\"") == true {
            return mediaWikiURL(endpoint, [("action", "query"), ("format", "json"), ("list", "categorymembers"),
                                           ("cmtitle", term), ("cmtype", "subcat"), ("cmlimit", String(Self.subcategoryLimit))], cursor: cursor)
        }
        return mediaWikiURL(endpoint, [
            ("action", "query"), ("format", "json"), ("generator", "categorymembers"), ("gcmtitle", term),
            ("gcmtype", "file"), ("gcmlimit", String(pageSize)),
        ] + imageInfoParameters(thumbWidth: thumbWidth), cursor: cursor == Self.filesFromStart ? nil : cursor)
    }

    func read(status: Int, body: [UInt8], retryAfter: Int?) -> SearchAnswer {
        let object: [String: Any]
        switch mediaWikiResponse(status: status, body: body, retryAfter: retryAfter, site: "Commons") {
        case .answered(let answer): return answer
        case .object(let o): object = o
        }
        if let members = (object["query"] as? [String: Any])?["categorymembers"] as? [[String: Any]] {
            // Never more than the page asked for, whatever the answer holds.
            let subcategories = members.prefix(Self.subcategoryLimit).compactMap { member -> FoundSource? in
                guard member["ns"] as? Int == 14, let title = member["title"] as? String else { return nil }
                return FoundSource(text: title, kind: .category, provider: .commons)
            }
            return .found(subcategories, cursor: continuation(object) ?? Self.filesFromStart, note: nil)
        }
        // A list module answers an empty listing with an empty array; a generator with no pages leaves `query`
        // out altogether, which reads as an empty page of files.
        return .page(candidates: imageCandidates(object, limit: pageSize), cursor: continuation(object), total: nil)
    }
}

/// One Commons file by name (`File:...`): the person's reference portrait, with the same image info as search.
struct CommonsFileReader: SearchProvider {
    let kind = ProviderKind.commons
    let endpoint: String
    var thumbWidth = 1280
    var maxAnswerBytes: Int { answerOverhead + bytesPerImageEntry }

    func requestURL(term: String, cursor: String?) -> String {
        mediaWikiURL(endpoint, [("action", "query"), ("format", "json"), ("titles", term)]
                     + imageInfoParameters(thumbWidth: thumbWidth), cursor: cursor)
    }

    func read(status: Int, body: [UInt8], retryAfter: Int?) -> SearchAnswer {
        switch mediaWikiResponse(status: status, body: body, retryAfter: retryAfter, site: "Commons") {
        case .answered(let answer): return answer
        case .object(let object):
            // A file Commons does not have comes back as a page marked `missing`, without image info.
            return .page(candidates: imageCandidates(object, limit: 1), cursor: nil, total: nil)
        }
    }
}

/// Wikidata's API: `wbgetentities` reads an entity (`Q...`) for its Commons category (P373) and image (P18);
/// `wbsearchentities` looks a name up (`--wikidata auto`), taking an entity only when one matches exactly.
struct WikidataReader: SearchProvider {
    let kind = ProviderKind.wikidata
    let endpoint: String
    var language = "en"
    /// Candidates asked for when looking a name up: enough to see that a name is ambiguous.
    var searchLimit = 10
    /// An entity's statements: a famous person's run to a few hundred KiB.
    var maxAnswerBytes: Int { 4 * 1024 * 1024 }

    static func isEntityId(_ text: String) -> Bool {
        text.range(of: #"^Q[1-9][0-9]*$"#, options: .regularExpression) != nil
    }

    func requestURL(term: String, cursor: String?) -> String {
        if Self.isEntityId(term) {
            return mediaWikiURL(endpoint, [("action", "wbgetentities"), ("format", "json"), ("ids", term),
                                           ("props", "claims")], cursor: nil)
        }
        return mediaWikiURL(endpoint, [("action", "wbsearchentities"), ("format", "json"), ("search", term),
                                       ("language", language), ("uselang", language), ("type", "item"),
                                       ("limit", String(searchLimit))], cursor: nil)
    }

    func read(status: Int, body: [UInt8], retryAfter: Int?) -> SearchAnswer {
        let object: [String: Any]
        switch mediaWikiResponse(status: status, body: body, retryAfter: retryAfter, site: "Wikidata") {
        case .answered(let answer): return answer
        case .object(let o): object = o
        }
        if let entities = object["entities"] as? [String: Any] { return readEntities(entities) }
        if let results = object["search"] as? [[String: Any]] {
            let name = (object["searchinfo"] as? [String: Any])?["search"] as? String ?? ""
            return readSearch(name: name, results)
        }
        return .failed("Wikidata answered without entities or search results")
    }

    private func readEntities(_ entities: [String: Any]) -> SearchAnswer {
        guard let (id, value) = entities.first, let entity = value as? [String: Any], entity["missing"] == nil else {
            return .page(candidates: [], cursor: nil, total: nil)   // no such entity
        }
        let claims = entity["claims"] as? [String: Any] ?? [:]
        var found: [FoundSource] = []
        var said: [String] = []
        if let category = Self.bestValue(claims["P373"]), let title = QueryFile.categoryTitle(category) {
            found.append(FoundSource(text: title, kind: .category, provider: .commons))
            said.append("Commons category \(title)")
        }
        if let image = Self.bestValue(claims["P18"]) {
            let title = "File:" + image.replacingOccurrences(of: "_", with: " ")
            found.append(FoundSource(text: title, kind: .reference, provider: .commons))
            said.append("portrait \(title)")
        }
        let note = found.isEmpty ? "\(id) has no Commons category (P373) or image (P18)" : "\(id): " + said.joined(separator: ", ")
        return .found(found, cursor: nil, note: note)
    }

    /// The value of a property's best statement: preferred rank before normal; deprecated ones never.
    static func bestValue(_ statements: Any?) -> String? {
        let list = statements as? [[String: Any]] ?? []
        let usable = list.filter { ($0["rank"] as? String) != "deprecated" }
        let ordered = usable.filter { ($0["rank"] as? String) == "preferred" } + usable.filter { ($0["rank"] as? String) != "preferred" }
        for statement in ordered {
            let snak = statement["mainsnak"] as? [String: Any]
            guard snak?["snaktype"] as? String == "value",
                  let value = (snak?["datavalue"] as? [String: Any])?["value"] as? String, !value.isEmpty else { continue }
            return value
        }
        return nil
    }

    /// Takes the one entity whose label or alias is the name (ignoring case), leaving out disambiguation pages;
    /// several such entities, or only inexact matches, are ambiguous: listed, none taken.
    private func readSearch(name: String, _ results: [[String: Any]]) -> SearchAnswer {
        guard !results.isEmpty else { return .page(candidates: [], cursor: nil, total: nil) }
        let results = Array(results.prefix(searchLimit))
        func describe(_ r: [String: Any]) -> String {
            let id = r["id"] as? String ?? "?"
            let label = r["label"] as? String ?? ""
            let description = r["description"] as? String
            return "\(id) (\(label)\(description.map { ", \($0)" } ?? ""))"
        }
        let wanted = name.lowercased()
        let exact = results.filter { r in
            let text = ((r["match"] as? [String: Any])?["text"] as? String ?? r["label"] as? String ?? "").lowercased()
            let description = (r["description"] as? String ?? "").lowercased()
            return text == wanted && !description.contains("disambiguation page")
        }
        if exact.count == 1, let id = exact[0]["id"] as? String, Self.isEntityId(id) {
            return .found([FoundSource(text: id, kind: .wikidata, provider: .wikidata)], cursor: nil,
                          note: "took \(describe(exact[0])) for \"\(name)\"")
        }
        let listed = (exact.isEmpty ? results : exact).map(describe).joined(separator: "; ")
        let why = exact.isEmpty ? "no entity is labelled exactly \"\(name)\"" : "\(exact.count) entities are labelled \"\(name)\""
        return .ambiguous("\(why), none taken: \(listed); add the right one as a wikidata:Q… line")
    }
}
