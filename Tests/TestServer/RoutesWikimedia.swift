// Wikimedia emulations beyond search: Commons categories (list= and generator=categorymembers), Commons files by
// title (prop=imageinfo), and Wikidata's wbgetentities and wbsearchentities, in the shapes the real APIs return.
//
// Built from the MediaWiki API documentation (API:Categorymembers, API:Imageinfo, API:Continue, API:Etiquette /
// maxlag) and Wikibase's (wbgetentities, wbsearchentities, the JSON data model): formatversion 1 answers, pages
// keyed by page id, `continue` objects with `cmcontinue`/`gcmcontinue` in "type|hex sortkey|page id" form,
// members sorted subcategories first, then files, each by sortkey (here the title); a missing entity as
// `{"id", "missing": ""}`; statements with `mainsnak.datavalue.value` and a rank.
import FlyingFox
import Foundation

/// A Commons category the server knows: files (server paths) and subcategories (titles).
struct EmulatedCategory {
    var files: [String] = []
    var subcategories: [String] = []
}

/// A Wikidata item the server knows.
struct EmulatedEntity {
    var label: String
    var description: String?
    var aliases: [String]
    /// P373, without the `Category:` prefix.
    var category: String?
    /// P18: a server path whose file name is the Commons file.
    var image: String?
}

/// MediaWiki's title normalisation for the namespaces used here: underscores are spaces, the first letter of
/// the name upper-case.
func normalizedTitle(_ title: String, namespace: String) -> String? {
    var name = title.replacingOccurrences(of: "_", with: " ").trimmingCharacters(in: .whitespaces)
    guard name.lowercased().hasPrefix(namespace.lowercased() + ":") else { return nil }
    name = String(name.dropFirst(namespace.count + 1)).trimmingCharacters(in: .whitespaces)
    guard let first = name.first else { return nil }
    return namespace + ":" + first.uppercased() + name.dropFirst()
}

extension TestServer {
    /// A Commons category (`name` with or without `Category:`): its files (server paths, listed in title order)
    /// and its subcategories (names, with or without the prefix). Replaces an earlier definition.
    public func setCategory(_ name: String, files: [String], subcategories: [String] = []) {
        let title = name.hasPrefix("Category:") ? name : "Category:" + name
        let key = normalizedTitle(title, namespace: "Category")!
        let subs = subcategories.map { normalizedTitle($0.hasPrefix("Category:") ? $0 : "Category:" + $0, namespace: "Category")! }
        core.state.withLock { $0.categories[key] = EmulatedCategory(files: files, subcategories: subs) }
    }

    /// A Wikidata item: its English label, description and aliases, its Commons category (P373, the name
    /// without prefix) and its image (P18, a server path: its file name is the Commons file, which
    /// `prop=imageinfo&titles=File:...` then finds).
    public func setEntity(_ id: String, label: String, description: String? = nil, aliases: [String] = [],
                          category: String? = nil, image: String? = nil) {
        core.state.withLock {
            $0.entities[id] = EmulatedEntity(label: label, description: description, aliases: aliases, category: category, image: image)
        }
    }

    /// The next `count` Wikidata requests answer HTTP 429 with `Retry-After: retryAfterSeconds`.
    public func throttleWikidata(count: Int, retryAfterSeconds: Int) {
        core.state.withLock {
            $0.wikidataThrottleRemaining = max(0, count)
            $0.wikidataThrottleRetryAfter = retryAfterSeconds
        }
    }

    /// The next `count` Wikidata requests answer as MediaWiki does when its replicas lag more than the `maxlag`
    /// the client sent: HTTP 200, a `maxlag` error and `Retry-After: retryAfterSeconds`.
    public func wikidataLagged(count: Int, retryAfterSeconds: Int) {
        core.state.withLock {
            $0.wikidataMaxlagRemaining = max(0, count)
            $0.wikidataMaxlagRetryAfter = retryAfterSeconds
        }
    }

    /// The next `times` Wikidata requests that look `term` up (`search=term` or `ids=term`), well formed as they
    /// are, answer the API error `code` with `info` in the shape the Action API documents (API:Errors_and_warnings):
    /// HTTP 200, `{"error": {"code", "info", "*"}, "servedby"}` and the code in `MediaWiki-API-Error`; an internal
    /// error (`internal_api_error_<class>`) also carries its `errorclass`, as MediaWiki writes it.
    public func wikidataRefuses(_ term: String, code: String, info: String, times: Int = Int.max) {
        core.state.withLock { $0.wikidataRefusals[term] = (code, info, max(0, times)) }
    }

    /// The most requests that were ever being answered at once among those whose path is one of `paths`.
    public func maxConcurrent(paths: Set<String>) -> Int {
        core.state.withLock { state in
            var events: [(Double, Int)] = []
            for span in state.spans where paths.contains(span.path) {
                events.append((span.start, 1))
                events.append((span.end, -1))
            }
            // Ends before starts at the same instant: touching is not overlapping.
            events.sort { $0.0 != $1.0 ? $0.0 < $1.0 : $0.1 < $1.1 }
            var now = 0, most = 0
            for (_, delta) in events {
                now += delta
                most = max(most, now)
            }
            return most
        }
    }
}

extension ServerCore {

    // MARK: Commons: categories and files by title

    /// Routes a Commons API request that is not a search: nil when it is one (the caller searches).
    func commonsOther(_ q: [String: String]) -> HTTPResponse? {
        if q["generator"] == "categorymembers" { return categoryMembers(q, prefix: "gcm", generator: true) }
        if q["list"] == "categorymembers" { return categoryMembers(q, prefix: "cm", generator: false) }
        if q["titles"] != nil { return imageInfo(q) }
        return nil
    }

    private func apiError(_ code: String, _ info: String, headers: HTTPHeaders = [:]) -> HTTPResponse {
        var headers = headers
        headers[HTTPHeader("MediaWiki-API-Error")] = code
        return jsonResponse(.ok, ["error": ["code": code, "info": info,
                                            "*": "See \(baseURL)/w/api.php for API usage."],
                                  "servedby": "mw-test"], headers: headers)
    }

    /// `list=categorymembers` (cm…) or `generator=categorymembers` (gcm…, with prop=imageinfo on the pages).
    private func categoryMembers(_ q: [String: String], prefix p: String, generator: Bool) -> HTTPResponse {
        guard q["format"] == "json" else { return apiHelpPage() }
        guard let raw = q[p + "title"] else {
            return apiError("missingparam", "One of the parameters \"\(p)title\" and \"\(p)pageid\" is required.")
        }
        guard let title = normalizedTitle(raw, namespace: "Category") else {
            return apiError("invalidcategory", "The category name you entered is not valid.")
        }
        if let faulty = faultyListing(title, q, prefix: p, generator: generator) { return faulty }
        let types = (q[p + "type"] ?? "page|subcat|file").split(separator: "|").map(String.init)
        if let bad = types.first(where: { !["page", "subcat", "file"].contains($0) }) {
            return apiError("badvalue", "Unrecognized value for parameter \"\(p)type\": \(bad).")
        }
        var limit = 10
        if let rawLimit = q[p + "limit"] {
            guard rawLimit == "max" || Int(rawLimit) != nil else {
                return apiError("badinteger", "Invalid value \"\(rawLimit)\" for integer parameter \"\(p)limit\".")
            }
            limit = rawLimit == "max" ? 500 : Int(rawLimit)!
        }
        limit = min(max(limit, 1), 500)
        let category = state.withLock { $0.categories[title] } ?? EmulatedCategory()
        // Members in the order MediaWiki sorts them: subcategories, then pages, then files, each by sortkey.
        var members: [(type: String, title: String, path: String?, id: Int)] = []
        if types.contains("subcat") {
            members += category.subcategories.sorted().map { ("subcat", $0, nil, commonsPageID($0)) }
        }
        if types.contains("file") {
            members += category.files.map { ("file", commonsFileTitle($0), $0, commonsPageID($0)) }
                .sorted { $0.1 < $1.1 }
        }
        var start = 0
        if let cont = q[p + "continue"] {
            // "type|hex sortkey|page id", exactly as given out with the previous page.
            let parts = cont.split(separator: "|", omittingEmptySubsequences: false)
            guard parts.count == 3, let id = Int(parts[2]),
                  let at = members.firstIndex(where: { $0.type == parts[0] && $0.id == id && hexSortkey($0.title) == parts[1] }) else {
                return apiError("badcontinue", "Invalid continue param. You should pass the original value returned by the previous query.")
            }
            start = at
        }
        let end = min(members.count, start + limit)
        var body: [String: Any] = ["batchcomplete": ""]
        if end < members.count {
            let next = members[end]
            let token = "\(next.type)|\(hexSortkey(next.title))|\(next.id)"
            body["continue"] = [p + "continue": token, "continue": generator ? "\(p)continue||" : "-||"]
        }
        let page = members[start..<end]
        if generator {
            // A generator with no pages leaves `query` out altogether.
            guard !page.isEmpty else { return jsonResponse(.ok, body) }
            let thumbWidth = q["prop"]?.split(separator: "|").contains("imageinfo") == true ? q["iiurlwidth"].flatMap { Int($0) } : nil
            var pages: [String: Any] = [:]
            for m in page {
                if let path = m.path, q["prop"]?.contains("imageinfo") == true {
                    pages[String(m.id)] = commonsFilePage(path, index: nil, thumbWidth: thumbWidth)
                } else {
                    pages[String(m.id)] = ["pageid": m.id, "ns": m.path == nil ? 14 : 6, "title": m.title]
                }
            }
            body["query"] = ["pages": pages]
        } else {
            body["query"] = ["categorymembers": page.map { ["pageid": $0.id, "ns": $0.path == nil ? 14 : 6, "title": $0.title] }]
        }
        return jsonResponse(.ok, body)
    }

    /// The sortkey part of a continuation: the upper-cased title's UTF-8 bytes in hex (like the uppercase
    /// collation's sortkeys).
    private func hexSortkey(_ title: String) -> String {
        let name = title.split(separator: ":", maxSplits: 1).last.map(String.init) ?? title
        return name.uppercased().utf8.map { String(format: "%02x", $0) }.joined()
    }

    /// `prop=imageinfo&titles=File:…`: the pages asked for; a file the server does not know, or whose path is
    /// not in dataRoot, as `missing`.
    private func imageInfo(_ q: [String: String]) -> HTTPResponse {
        guard q["format"] == "json" else { return apiHelpPage() }
        let known: [String: String] = state.withLock { state in
            var out: [String: String] = [:]
            for category in state.categories.values { for path in category.files { out[commonsFileTitle(path)] = path } }
            for entity in state.entities.values { if let path = entity.image { out[commonsFileTitle(path)] = path } }
            return out
        }
        var pages: [String: Any] = [:]
        var normalized: [[String: String]] = []
        var missing = 0
        for raw in (q["titles"] ?? "").split(separator: "|").map(String.init) {
            guard let title = normalizedTitle(raw, namespace: "File") else {
                pages[String(-(missing + 1))] = ["title": raw, "invalidreason": "The requested page title is invalid.", "invalid": ""]
                missing += 1
                continue
            }
            if title != raw { normalized.append(["from": raw, "to": title]) }
            if let path = known[title], bodySize(forServerPath: path) > 0 {
                let thumbWidth = q["prop"]?.contains("imageinfo") == true ? q["iiurlwidth"].flatMap { Int($0) } : nil
                pages[String(commonsPageID(path))] = commonsFilePage(path, index: nil, thumbWidth: thumbWidth)
            } else {
                missing += 1
                pages[String(-missing)] = ["ns": 6, "title": title, "missing": "", "known": "", "imagerepository": ""]
            }
        }
        var query: [String: Any] = ["pages": pages]
        if !normalized.isEmpty { query["normalized"] = normalized }
        return jsonResponse(.ok, ["batchcomplete": "", "query": query])
    }

    /// What api.php answers without `format=json`: its HTML help page.
    private func apiHelpPage() -> HTTPResponse {
        textResponse(.ok, "<!DOCTYPE html><html><body><h1>MediaWiki API help</h1></body></html>\n", contentType: "text/html; charset=utf-8")
    }

    // MARK: Wikidata

    /// GET /wikidata/w/api.php?action=wbgetentities|wbsearchentities, its parameters validated as MediaWiki does
    /// (see MediaWikiParameters.swift); without a User-Agent, 403 as Wikimedia's User-Agent policy answers.
    func wikidataAPI(_ q: [String: String], userAgent: String?) -> HTTPResponse {
        guard let userAgent, !userAgent.isEmpty else {
            return textResponse(.forbidden, "Please set a user-agent and respect our robot policy https://w.wiki/4wJS. "
                                + "See also T400119.\n")
        }
        let (throttle, lag): (Int?, Int?) = state.withLock { s in
            if s.wikidataThrottleRemaining > 0 {
                s.wikidataThrottleRemaining -= 1
                return (s.wikidataThrottleRetryAfter, nil)
            }
            if s.wikidataMaxlagRemaining > 0, q["maxlag"] != nil {
                s.wikidataMaxlagRemaining -= 1
                return (nil, s.wikidataMaxlagRetryAfter)
            }
            return (nil, nil)
        }
        if let throttle {
            return textResponse(.tooManyRequests, "<html><body><h1>429 Too Many Requests</h1></body></html>\n",
                                contentType: "text/html; charset=utf-8", headers: [HTTPHeader("Retry-After"): String(throttle)])
        }
        if let lag {
            return jsonResponse(.ok, ["error": ["code": "maxlag", "info": "Waiting for 10.64.16.8: \(lag + 5) seconds lagged.",
                                                "host": "10.64.16.8", "lag": lag + 5, "type": "db"],
                                      "servedby": "mw-test"],
                                headers: [HTTPHeader("Retry-After"): String(lag), HTTPHeader("X-Database-Lag"): String(lag + 5)])
        }
        guard q["format"] == "json" else { return apiHelpPage() }
        let module: [MediaWikiParameter]
        switch q["action"] {
        case "wbgetentities": module = MediaWikiModules.wbgetentities
        case "wbsearchentities": module = MediaWikiModules.wbsearchentities
        default:
            return MediaWikiModules.error("badvalue", "Unrecognized value for parameter \"action\": \(q["action"] ?? "").")
        }
        let checked = MediaWikiModules.validate(q, module: q["action"]!, module)
        if let error = checked.error { return error }
        let refused: (code: String, info: String)? = state.withLock { s in
            guard let term = q["search"] ?? q["ids"], let r = s.wikidataRefusals[term], r.times > 0 else { return nil }
            s.wikidataRefusals[term]!.times -= 1
            return (r.code, r.info)
        }
        if let refused {
            var error: [String: Any] = ["code": refused.code, "info": refused.info,
                                        "*": "See https://www.wikidata.org/w/api.php for API usage."]
            if refused.code.hasPrefix("internal_api_error_") { error["errorclass"] = String(refused.code.dropFirst("internal_api_error_".count)) }
            return jsonResponse(.ok, ["error": error, "servedby": "mw-test"], headers: [HTTPHeader("MediaWiki-API-Error"): refused.code])
        }
        var body = q["action"] == "wbgetentities" ? getEntities(checked.values) : searchEntities(checked.values)
        if !checked.warnings.isEmpty { body["warnings"] = MediaWikiModules.warningsObject(checked.warnings) }
        if let error = body["error"] as? [String: Any], let code = error["code"] as? String {
            return jsonResponse(.ok, body, headers: [HTTPHeader("MediaWiki-API-Error"): code])
        }
        return jsonResponse(.ok, body)
    }

    private func wikidataError(_ code: String, _ info: String) -> [String: Any] {
        ["error": ["code": code, "info": info, "*": "See https://www.wikidata.org/w/api.php for API usage."], "servedby": "mw-test"]
    }

    private func getEntities(_ q: [String: String]) -> [String: Any] {
        guard let ids = q["ids"], !ids.isEmpty else {
            return wikidataError("param-missing", "Either provide the item \"ids\" or pairs of \"sites\" and \"titles\" for corresponding pages")
        }
        let props = Set((q["props"] ?? "info|sitelinks|aliases|labels|descriptions|claims|datatype").split(separator: "|").map(String.init))
        var entities: [String: Any] = [:]
        for id in ids.split(separator: "|").map(String.init) {
            guard id.range(of: #"^[QPL][1-9][0-9]*$"#, options: .regularExpression) != nil else {
                return wikidataError("no-such-entity", "Could not find an entity with the ID \"\(id)\".")
            }
            guard let e = state.withLock({ $0.entities[id] }) else {
                entities[id] = ["id": id, "missing": ""]
                continue
            }
            var entity: [String: Any] = ["type": "item", "id": id]
            if props.contains("labels") { entity["labels"] = ["en": ["language": "en", "value": e.label]] }
            if props.contains("descriptions") {
                entity["descriptions"] = e.description.map { ["en": ["language": "en", "value": $0]] } ?? [String: Any]()
            }
            if props.contains("aliases") {
                entity["aliases"] = e.aliases.isEmpty ? [String: Any]() : ["en": e.aliases.map { ["language": "en", "value": $0] }]
            }
            if props.contains("claims") {
                var claims: [String: Any] = [:]
                if let category = e.category { claims["P373"] = [statement(id, "P373", category, datatype: "string")] }
                if let image = e.image {
                    let name = (image as NSString).lastPathComponent.replacingOccurrences(of: "_", with: " ")
                    claims["P18"] = [statement(id, "P18", name, datatype: "commonsMedia")]
                }
                entity["claims"] = claims
            }
            entities[id] = entity
        }
        return ["entities": entities, "success": 1]
    }

    /// One statement of the Wikibase JSON model with a string value.
    private func statement(_ id: String, _ property: String, _ value: String, datatype: String) -> [String: Any] {
        ["mainsnak": ["snaktype": "value", "property": property, "hash": String(format: "%016llx", stableHash(id + property + value)),
                      "datavalue": ["value": value, "type": "string"], "datatype": datatype],
         "type": "statement", "id": "\(id)$\(openverseID(id + property))", "rank": "normal"]
    }

    /// Prefix search over labels and aliases (ignoring case), labels first, as wbsearchentities does.
    /// `q` is validated (MediaWikiModules): search and language present, limit and continue integers in range.
    private func searchEntities(_ q: [String: String]) -> [String: Any] {
        let search = q["search"]!, language = q["language"]!
        if let type = q["type"], type != "item" { return ["search": [Any](), "searchinfo": ["search": search], "success": 1] }
        let limit = Int(q["limit"] ?? "7")!
        let offset = Int(q["continue"] ?? "0")!
        let wanted = search.lowercased()
        let all = state.withLock { $0.entities }.sorted { Int($0.key.dropFirst())! < Int($1.key.dropFirst())! }
        var matches: [[String: Any]] = []
        for (id, e) in all {
            let match: (String, String)?
            if e.label.lowercased().hasPrefix(wanted) { match = ("label", e.label) }
            else if let alias = e.aliases.first(where: { $0.lowercased().hasPrefix(wanted) }) { match = ("alias", alias) }
            else { match = nil }
            guard let (type, text) = match else { continue }
            var result: [String: Any] = [
                "id": id, "title": id, "pageid": commonsPageID(id), "repository": "wikidata",
                "concepturi": "http://www.wikidata.org/entity/\(id)", "url": "//www.wikidata.org/wiki/\(id)",
                "display": ["label": ["value": e.label, "language": language]],
                "label": e.label, "match": ["type": type, "language": language, "text": text],
            ]
            if let d = e.description {
                result["description"] = d
                result["display"] = ["label": ["value": e.label, "language": language],
                                     "description": ["value": d, "language": language]]
            }
            if type == "alias" { result["aliases"] = [text] }
            matches.append(result)
        }
        var body: [String: Any] = ["searchinfo": ["search": search], "success": 1]
        let end = min(matches.count, offset + limit)
        body["search"] = offset < end ? Array(matches[offset..<end]) : []
        if end < matches.count { body["search-continue"] = end }
        return body
    }
}
