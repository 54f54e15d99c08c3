// Provider emulations: Wikimedia Commons generator=search (formatversion 1) and Openverse /v1/images/.
import FlyingFox
import Foundation

/// Openverse's anonymous limits: page_size at most 20 and pagination at most 20 pages deep.
let openverseMaxPageSize = 20
let openverseMaxPages = 20

extension ServerCore {

    /// One-shot throttling shared by both providers: nil when this search request is answered as usual, else
    /// the 429's headers (its Retry-After as the test wrote it, or none).
    private func takeThrottle() -> HTTPHeaders? {
        state.withLock { s in
            guard s.throttleRemaining > 0 else { return nil }
            s.throttleRemaining -= 1
            return s.throttleRetryAfter.map { [HTTPHeader("Retry-After"): $0] } ?? [:]
        }
    }

    /// The result list for a search term. An exact match first; failing that, the term with
    /// CirrusSearch keywords (`filetype:bitmap`, `-fileres:0`, ...) removed, so a client that
    /// decorates its Commons query still meets the results a test set for the plain term.
    private func results(for term: String) -> [String] {
        state.withLock { s in
            if let exact = s.results[term] { return exact }
            let plain = term.split(separator: " ").filter { !$0.contains(":") }.joined(separator: " ")
            return s.results[plain] ?? []
        }
    }

    // MARK: Commons

    /// GET /commons/w/api.php?action=query&generator=search&gsrsearch=..&gsrlimit=..&gsroffset=..
    func commonsSearch(_ q: [String: String]) -> HTTPResponse {
        if let headers = takeThrottle() {
            // Real Commons answers overload from its front end with a short HTML page.
            return textResponse(.tooManyRequests,
                                "<html><body><h1>429 Too Many Requests</h1><p>Please slow down.</p></body></html>\n",
                                contentType: "text/html; charset=utf-8", headers: headers)
        }
        if let huge = takeHugeAnswer() { return huge }
        let rateLimited: Bool = state.withLock { s in
            guard s.commonsRateLimitedRemaining > 0 else { return false }
            s.commonsRateLimitedRemaining -= 1
            return true
        }
        if rateLimited {
            return jsonResponse(.ok, ["error": [
                "code": "ratelimited",
                "info": "You've exceeded your rate limit. Please wait some time and try again.",
            ]])
        }
        guard let term = q["gsrsearch"] else {
            return jsonResponse(.ok, ["error": [
                "code": "missingparam",
                "info": "The \"gsrsearch\" parameter must be set.",
            ]])
        }

        // gsrlimit: default 10, "max" or anything over 500 is 500 (the real API clamps too).
        var limit = 10
        if let raw = q["gsrlimit"] {
            limit = raw == "max" ? 500 : (Int(raw) ?? 10)
        }
        limit = min(max(limit, 1), 500)
        let offset = max(0, Int(q["gsroffset"] ?? "") ?? 0)
        let thumbWidth = q["iiurlwidth"].flatMap { Int($0) }

        let all = results(for: term)
        guard offset < all.count else {
            // What real Commons sends for no hits: no `query` key at all.
            return jsonResponse(.ok, ["batchcomplete": ""])
        }
        let end = min(all.count, offset + limit)
        var pages: [String: Any] = [:]
        for (i, path) in all[offset..<end].enumerated() {
            pages[String(commonsPageID(path))] = commonsFilePage(path, index: offset + i + 1, thumbWidth: thumbWidth)
        }
        var body: [String: Any] = ["batchcomplete": "", "query": ["pages": pages]]
        if end < all.count {
            body["continue"] = ["gsroffset": end, "continue": "gsroffset||"]
        }
        return jsonResponse(.ok, body)
    }

    /// One File-namespace page with its image info, as `prop=imageinfo` gives it (formatversion 1). `index` is
    /// the rank, which only search generators report.
    func commonsFilePage(_ path: String, index: Int?, thumbWidth: Int?) -> [String: Any] {
        let base = baseURL
        let pageID = commonsPageID(path)
        let name = (path as NSString).lastPathComponent
        var info: [String: Any] = [
            "url": base + path,
            "descriptionurl": base + "/wiki/File:" + name,
            "descriptionshorturl": base + "/w/index.php?curid=\(pageID)",
            "size": bodySize(forServerPath: path),
            // The server does not decode images; 0 says "unknown" to the client.
            "width": 0,
            "height": 0,
            "mime": contentType(forPath: path),
            "extmetadata": commonsExtMetadata,
        ]
        if let w = thumbWidth {
            // No scaling here: the "thumbnail" is the original, and its size is reported as asked.
            info["thumburl"] = base + path
            info["thumbwidth"] = w
            info["thumbheight"] = w
        }
        var page: [String: Any] = [
            "pageid": pageID,
            "ns": 6,
            "title": commonsFileTitle(path),
            "imagerepository": "local",
            "imageinfo": [info],
        ]
        if let index { page["index"] = index }
        return page
    }

    /// A stable, positive page id per path (9 digits).
    func commonsPageID(_ path: String) -> Int {
        Int(stableHash(path) % 900_000_000) + 100_000_000
    }

    // MARK: Openverse

    /// GET /openverse/v1/images/?q=..&page=..&page_size=..
    func openverseSearch(_ q: [String: String]) -> HTTPResponse {
        if let headers = takeThrottle() {
            // DRF's throttle says the wait in its detail too, in whole seconds.
            let wait = headers[HTTPHeader("Retry-After")].flatMap { Int($0) }.map { " Expected available in \($0) seconds." } ?? ""
            return jsonResponse(.tooManyRequests, ["detail": "Request was throttled.\(wait)"], headers: headers)
        }
        let pageSize = q["page_size"].map { Int($0) ?? -1 } ?? 20
        guard pageSize >= 1 else {
            return jsonResponse(.badRequest, ["error": "InputError",
                                              "detail": "Invalid input given for fields. 'page_size' -> Ensure this value is greater than or equal to 1.",
                                              "fields": ["page_size"]])
        }
        guard pageSize <= openverseMaxPageSize else {
            // What anonymous clients get from the real API: a bigger page needs a registered key.
            return jsonResponse(.unauthorized,
                                ["detail": "Authentication credentials were not provided. To use a page size greater than 20, please register for access."])
        }
        let page = q["page"].map { Int($0) ?? 0 } ?? 1
        let all = results(for: q["q"] ?? "")
        let pageCount = min(openverseMaxPages, (all.count + pageSize - 1) / pageSize)
        // Page 1 of nothing is a valid empty answer (as recorded); anything past the end is 400.
        guard page >= 1, page <= max(pageCount, 1) else {
            return jsonResponse(.badRequest, ["detail": "Invalid page."])
        }
        let start = (page - 1) * pageSize
        let end = min(all.count, start + pageSize)
        let base = baseURL
        let results: [[String: Any]] = start < end ? all[start..<end].map { path in
            let name = (path as NSString).lastPathComponent
            var ext = (path as NSString).pathExtension.lowercased()
            if ext == "jpeg" { ext = "jpg" }
            return [
                "id": openverseID(path),
                "title": name,
                "foreign_landing_url": base + "/landing/" + name,
                "url": base + path,
                "creator": "Tester",
                "creator_url": "https://example.org/tester",
                "license": "by",
                "license_version": "2.0",
                "license_url": "https://creativecommons.org/licenses/by/2.0/",
                "provider": "flickr",
                "source": "flickr",
                "attribution": "\"\(name)\" by Tester is licensed under CC BY 2.0.",
                "filetype": ext.isEmpty ? NSNull() : ext,
                "width": NSNull(),
                "height": NSNull(),
                "tags": [Any](),
            ]
        } : []
        return jsonResponse(.ok, [
            "result_count": all.count,
            "page_count": pageCount,
            "page_size": pageSize,
            "page": page,
            "results": results,
        ])
    }

    /// A stable uuid-shaped id per path (8-4-4-4-12 hex).
    func openverseID(_ path: String) -> String {
        let hex = String(format: "%016llx%016llx", stableHash(path), stableHash("openverse:" + path))
        let c = Array(hex)
        return [c[0..<8], c[8..<12], c[12..<16], c[16..<20], c[20..<32]].map { String($0) }.joined(separator: "-")
    }
}

/// The File: title MediaWiki gives a path's file name (underscores read as spaces).
func commonsFileTitle(_ path: String) -> String {
    "File:" + (path as NSString).lastPathComponent.replacingOccurrences(of: "_", with: " ")
}

/// Licence metadata every emulated Commons file carries (shape of real `extmetadata`).
private var commonsExtMetadata: [String: Any] { [
    "Artist": ["value": "<a href=\"//commons.wikimedia.org/wiki/User:Tester\" title=\"User:Tester\">Tester</a>",
               "source": "commons-desc-page"],
    "LicenseShortName": ["value": "CC BY-SA 4.0", "source": "commons-desc-page", "hidden": ""],
    "LicenseUrl": ["value": "https://creativecommons.org/licenses/by-sa/4.0", "source": "commons-desc-page", "hidden": ""],
    "AttributionRequired": ["value": "true", "source": "commons-desc-page", "hidden": ""],
    "License": ["value": "cc-by-sa-4.0", "source": "commons-templates", "hidden": ""],
    "UsageTerms": ["value": "Creative Commons Attribution-Share Alike 4.0", "source": "commons-desc-page", "hidden": ""],
] }
