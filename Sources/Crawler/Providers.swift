// Search providers: how to ask Wikimedia Commons and Openverse for image URLs, and how to read their answers.
// (Commons categories, Commons files by name and Wikidata entities are in Wikimedia.swift.)
import Catalog
import Foundation

/// One image URL found by a search, with its provenance.
public struct Candidate: Equatable, Sendable {
    public var url: String
    public var pageUrl: String?
    public var title: String?
    public var license: String?
    public var licenseUrl: String?
    public var creator: String?
    public var attribution: String?
    public var rank: Int?
}

/// What a provider said to one search request.
enum SearchAnswer: Equatable {
    /// A page of results; `cursor` continues the search, nil when this was the last page.
    case page(candidates: [Candidate], cursor: String?, total: Int?)
    /// Come back after this many seconds; nil when the server said no usable wait (then the fetcher backs off).
    case throttled(seconds: Int?, message: String)
    /// The provider reported an error it will report again (a bad request).
    case failed(String)
    /// The provider failed on its own side (MediaWiki's `internal_api_error_…`, answered with HTTP 200): asked
    /// again with backoff, as an HTTP 5xx is, then failed for this run.
    case faulted(String)
    /// Sources this answer names (subcategories, a Wikidata entity's category and portrait), to be taken as terms
    /// of their own; `cursor` continues this term, nil when it is done. `note` says what was found, for the user.
    case found([FoundSource], cursor: String?, note: String?)
    /// A lookup by name that matched several entities, or none exactly: the candidates, none taken.
    case ambiguous(String)
}

/// A source one answer names, e.g. `Category:Maisie Williams in 2019` or `File:Maisie Williams 2019.jpg`.
struct FoundSource: Equatable {
    var text: String
    var kind: TermKind
    var provider: ProviderKind
}

public enum ProviderKind: String, CaseIterable, Sendable {
    case commons, openverse, wikidata

    /// The providers `--provider` chooses between for full-text search (Wikidata is read, never searched for images).
    public static let searchable: [ProviderKind] = [.commons, .openverse]

    public var defaultEndpoint: String {
        switch self {
        case .commons: "https://commons.wikimedia.org/w/api.php"
        case .openverse: "https://api.openverse.org"
        case .wikidata: "https://www.wikidata.org/w/api.php"
        }
    }

    /// The environment variable that overrides the endpoint (tests point it at a local server).
    public var endpointVariable: String { "CURATE_\(rawValue.uppercased())_ENDPOINT" }

    /// The code the catalog stores for this provider's terms and URLs.
    public var code: Provider {
        switch self {
        case .commons: .commons
        case .openverse: .openverse
        case .wikidata: .wikidata
        }
    }
}

protocol SearchProvider {
    var kind: ProviderKind { get }
    var endpoint: String { get }
    /// The request for one page of a term; `cursor` is what the previous page returned.
    func requestURL(term: String, cursor: String?) -> String
    /// Reads a response (any status).
    func read(status: Int, body: [UInt8], retryAfter: Int?) -> SearchAnswer
    /// The most bytes an answer may have: a page of what is asked for, with room to spare. A longer one is
    /// refused before it is parsed (parsed JSON costs many times its bytes).
    var maxAnswerBytes: Int { get }
}

/// Room for an answer's own fields beside its entries.
let answerOverhead = 64 * 1024
/// Room for one image's page in an answer (its image info and licence metadata take 1-3 KiB).
let bytesPerImageEntry = 16 * 1024

func makeProvider(_ kind: ProviderKind, endpoint: String?, pageSize: Int? = nil) -> SearchProvider {
    let endpoint = endpoint ?? kind.defaultEndpoint
    switch kind {
    case .commons:
        var p = CommonsProvider(endpoint: endpoint)
        if let pageSize { p.pageSize = min(max(1, pageSize), 500) }
        return p
    case .openverse:
        var p = OpenverseProvider(endpoint: endpoint)
        if let pageSize { p.pageSize = min(max(1, pageSize), 20) }
        return p
    case .wikidata:
        return WikidataReader(endpoint: endpoint)
    }
}

func query(_ pairs: [(String, String)]) -> String {
    var allowed = CharacterSet.alphanumerics
    allowed.insert(charactersIn: "-._~")
    return pairs.map { k, v in
        "\(k)=\(v.addingPercentEncoding(withAllowedCharacters: allowed) ?? v)"
    }.joined(separator: "&")
}

/// An answer holding far more JSON objects and arrays than its bytes can hold in any real answer.
struct DenseAnswer: Error {
    var containers: Int
    var bytes: Int

    func refused(by site: String) -> SearchAnswer {
        .failed("\(site) answered \(containers) JSON objects and arrays in \(bytes) bytes, which no page of results holds: refused")
    }
}

/// Bytes per JSON object or array at the least: real answers have one in every 30 bytes or more, while each costs
/// a few hundred bytes once parsed, so `{}` repeated would cost a hundred times its size.
let bytesPerContainer = 16

/// The answer's JSON object (nil when it is not one); a `DenseAnswer` before any parsing when it is too dense.
func json(_ body: [UInt8]) throws(DenseAnswer) -> [String: Any]? {
    var containers = 0, inString = false, escaped = false
    for byte in body {
        if inString {
            if escaped { escaped = false } else if byte == 0x5C { escaped = true } else if byte == 0x22 { inString = false }
        } else if byte == 0x22 {
            inString = true
        } else if byte == 0x7B || byte == 0x5B {
            containers += 1
        }
    }
    guard containers <= body.count / bytesPerContainer + 16 else { throw DenseAnswer(containers: containers, bytes: body.count) }
    return (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any]
}

/// Wikimedia Commons' MediaWiki API: a search in the File namespace with image info, formatversion 1.
struct CommonsProvider: SearchProvider {
    let kind = ProviderKind.commons
    let endpoint: String
    /// Results per page (the API allows up to 500; 50 keeps each answer small).
    var pageSize = 50
    /// Ask for a thumbnail this wide: enough for face crops, far lighter than originals of 20+ megapixels.
    var thumbWidth = 1280
    var maxAnswerBytes: Int { answerOverhead + pageSize * bytesPerImageEntry }

    func requestURL(term: String, cursor: String?) -> String {
        mediaWikiURL(endpoint, [
            ("action", "query"), ("format", "json"), ("generator", "search"), ("gsrsearch", term),
            ("gsrnamespace", "6"), ("gsrlimit", String(pageSize)),
        ] + imageInfoParameters(thumbWidth: thumbWidth), cursor: cursor)
    }

    func read(status: Int, body: [UInt8], retryAfter: Int?) -> SearchAnswer {
        let object: [String: Any]
        switch mediaWikiResponse(status: status, body: body, retryAfter: retryAfter, site: "Commons") {
        case .answered(let answer): return answer
        case .object(let o): object = o
        }
        return .page(candidates: imageCandidates(object, limit: pageSize), cursor: continuation(object), total: nil)
    }
}

// MARK: The MediaWiki API, shared by Commons (search, categories, files) and Wikidata

/// What every Commons request for image pages asks for: each file's URL, a thumbnail and its licence metadata.
func imageInfoParameters(thumbWidth: Int) -> [(String, String)] {
    [("prop", "imageinfo"), ("iiprop", "url|size|mime|extmetadata"),
     ("iiextmetadatafilter", "Artist|LicenseShortName|LicenseUrl|AttributionRequired|Attribution|Credit"),
     ("iiurlwidth", String(thumbWidth))]
}

/// A request to a MediaWiki API. `maxlag=5` asks the servers to refuse when their replicas lag (Wikimedia's
/// etiquette for non-interactive clients); continuation sends the whole `continue` object back (the API's
/// documented way), and the first page sends an empty `continue` to ask for that style.
///
/// Each module gets only the parameters it declares: the empty `continue=` that asks `action=query` for its
/// continuation object is a query-module parameter; Wikibase's modules declare `continue` as an integer offset,
/// which MediaWiki's validation refuses empty (`badinteger`), so they send one only where the service gave it.
func mediaWikiURL(_ endpoint: String, _ pairs: [(String, String)], cursor: String?) -> String {
    var pairs = pairs + [("maxlag", "5")]
    if let cursor, let data = cursor.data(using: .utf8),
       let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] {
        for key in object.keys.sorted() { pairs.append((key, "\(object[key]!)")) }
    } else if pairs.contains(where: { $0 == ("action", "query") }) {
        pairs.append(("continue", ""))
    }
    return endpoint + (endpoint.contains("?") ? "&" : "?") + query(pairs)
}

/// A MediaWiki response read as far as every module reads it alike: an error or a throttle, or the JSON object
/// for the module to read.
enum MediaWikiResponse {
    case answered(SearchAnswer)
    case object([String: Any])
}

func mediaWikiResponse(status: Int, body: [UInt8], retryAfter: Int?, site: String) -> MediaWikiResponse {
    let object: [String: Any]?
    do { object = try json(body) } catch { return .answered(error.refused(by: site)) }
    if let error = object?["error"] as? [String: Any] {
        let code = error["code"] as? String ?? "error"
        let info = error["info"] as? String ?? code
        if code == "ratelimited" || code == "maxlag" {
            return .answered(.throttled(seconds: retryAfter, message: "\(site): \(info)"))
        }
        // An exception inside MediaWiki (API:Errors_and_warnings: `internal_api_error_<class>`), not a refusal of
        // the request: the same request may well succeed later.
        if code.hasPrefix("internal_api_error_") { return .answered(.faulted("\(site) error \(code): \(info)")) }
        return .answered(.failed("\(site) error \(code): \(info)"))
    }
    if status == 429 || status == 503 && retryAfter != nil {
        return .answered(.throttled(seconds: retryAfter, message: "\(site) answered HTTP \(status)"))
    }
    guard (200..<300).contains(status) else { return .answered(.failed("\(site) answered HTTP \(status)")) }
    guard let object else { return .answered(.failed("\(site) answered with something that is not JSON")) }
    return .object(object)
}

/// The `continue` object of an answer as the cursor to send back, nil on the last page.
func continuation(_ object: [String: Any]) -> String? {
    guard let cont = object["continue"] as? [String: Any],
          let data = try? JSONSerialization.data(withJSONObject: cont, options: [.sortedKeys]) else { return nil }
    return String(data: data, encoding: .utf8)
}

/// The image files among an answer's pages, with their provenance, in rank order (`index`, which search sets;
/// other generators have none, and then title order keeps the order stable). At most `limit`, the page asked for.
func imageCandidates(_ object: [String: Any], limit: Int) -> [Candidate] {
    let pages = (object["query"] as? [String: Any])?["pages"] as? [String: Any] ?? [:]
    let ranked = pages.values.compactMap { $0 as? [String: Any] }.sorted {
        let (a, b) = ($0["index"] as? Int ?? Int.max, $1["index"] as? Int ?? Int.max)
        return a != b ? a < b : ($0["title"] as? String ?? "") < ($1["title"] as? String ?? "")
    }.prefix(limit)
    var candidates: [Candidate] = []
    for page in ranked {
        guard let info = (page["imageinfo"] as? [[String: Any]])?.first else { continue }
        if let mime = info["mime"] as? String, !mime.hasPrefix("image/") { continue }
        guard let url = (info["thumburl"] as? String) ?? (info["url"] as? String) else { continue }
        let meta = info["extmetadata"] as? [String: Any] ?? [:]
        func field(_ name: String) -> String? {
            guard let value = (meta[name] as? [String: Any])?["value"] else { return nil }
            let text = plainText("\(value)")
            return text.isEmpty ? nil : text
        }
        var title = page["title"] as? String
        if let t = title, t.hasPrefix("File:") { title = String(t.dropFirst(5)) }
        candidates.append(Candidate(
            url: url, pageUrl: info["descriptionurl"] as? String, title: title,
            license: field("LicenseShortName"), licenseUrl: field("LicenseUrl"),
            creator: field("Artist"), attribution: field("Attribution") ?? field("Credit"),
            rank: page["index"] as? Int))
    }
    return candidates
}

/// Openverse's image search: numbered pages of at most 20 results, at most 20 pages for anonymous use.
struct OpenverseProvider: SearchProvider {
    let kind = ProviderKind.openverse
    let endpoint: String
    var pageSize = 20
    var maxPages = 20
    var maxAnswerBytes: Int { answerOverhead + pageSize * bytesPerImageEntry }

    func requestURL(term: String, cursor: String?) -> String {
        let page = Int(cursor ?? "") ?? 1
        let base = endpoint.hasSuffix("/") ? String(endpoint.dropLast()) : endpoint
        return "\(base)/v1/images/?" + query([("q", term), ("page", String(page)), ("page_size", String(pageSize))])
    }

    func read(status: Int, body: [UInt8], retryAfter: Int?) -> SearchAnswer {
        let object: [String: Any]?
        do { object = try json(body) } catch { return error.refused(by: "Openverse") }
        let detail = object?["detail"] as? String
        if status == 429 {
            // "Request was throttled. Expected available in 3600 seconds."
            var seconds = retryAfter
            if seconds == nil, let detail,
               let range = detail.range(of: #"available in (\d+)"#, options: .regularExpression) {
                seconds = Int(detail[range].split(separator: " ").last ?? "")
            }
            return .throttled(seconds: seconds, message: "Openverse: \(detail ?? "HTTP 429")")
        }
        guard (200..<300).contains(status) else {
            return .failed("Openverse answered HTTP \(status)\(detail.map { ": \($0)" } ?? "")")
        }
        guard let object else { return .failed("Openverse answered with something that is not JSON") }
        let page = object["page"] as? Int ?? 1
        // We never ask beyond maxPages; any other number is a wrong answer (and would overflow the ranks).
        guard (1...maxPages).contains(page) else { return .failed("Openverse answered page \(page), not one of 1–\(maxPages)") }
        let pageCount = object["page_count"] as? Int ?? 0
        // Never more than the page asked for.
        let results = (object["results"] as? [[String: Any]] ?? []).prefix(pageSize)
        var candidates: [Candidate] = []
        for (i, r) in results.enumerated() {
            guard let url = r["url"] as? String else { continue }
            var license: String?
            if let code = r["license"] as? String {
                let version = r["license_version"] as? String
                switch code.lowercased() {
                case "cc0": license = "CC0 \(version ?? "1.0")"
                case "pdm": license = "Public Domain Mark \(version ?? "1.0")"
                default: license = "CC \(code.uppercased())\(version.map { " \($0)" } ?? "")"
                }
            }
            candidates.append(Candidate(
                url: url, pageUrl: r["foreign_landing_url"] as? String, title: r["title"] as? String,
                license: license, licenseUrl: r["license_url"] as? String, creator: r["creator"] as? String,
                attribution: r["attribution"] as? String, rank: (page - 1) * pageSize + i + 1))
        }
        let last = results.isEmpty || page >= min(pageCount, maxPages)
        return .page(candidates: candidates, cursor: last ? nil : String(page + 1), total: object["result_count"] as? Int)
    }
}

/// Commons' extmetadata values are HTML fragments; keep the text.
func plainText(_ html: String) -> String {
    var text = html.replacingOccurrences(of: #"<[^>]*>"#, with: "", options: .regularExpression)
    for (entity, char) in [("&amp;", "&"), ("&lt;", "<"), ("&gt;", ">"), ("&quot;", "\""), ("&#039;", "'"), ("&#39;", "'"), ("&nbsp;", " ")] {
        text = text.replacingOccurrences(of: entity, with: char)
    }
    return text.split(whereSeparator: \.isWhitespace).joined(separator: " ")
}
