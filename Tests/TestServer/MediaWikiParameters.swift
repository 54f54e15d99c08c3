// MediaWiki's typed parameter validation (ParamValidator), as the Action API documents it (API:Main_page,
// API:Errors_and_warnings, Special:ApiHelp/main, .../wbsearchentities, .../wbgetentities): every parameter of a
// module has a type; an integer that is not one (an empty value too) is the error `badinteger`, a value outside an
// enumeration `badvalue`, an integer out of range is clamped with a warning, a parameter no module declares is a
// warning, a required one missing is `missingparam`; every error carries the `MediaWiki-API-Error` header.
import FlyingFox
import Foundation

struct MediaWikiParameter {
    enum Kind {
        case string
        case integer(ClosedRange<Int>, max: Int?)   // `max`: what the value "max" stands for, where allowed
        case boolean                                // true when present, whatever its value
        case enumeration([String])
        case multi([String]?)                       // "|"-separated; nil: any values
    }
    var name: String
    var kind: Kind
    var required = false

    init(_ name: String, _ kind: Kind, required: Bool = false) {
        self.name = name
        self.kind = kind
        self.required = required
    }
}

enum MediaWikiModules {
    /// The main module's own parameters (Special:ApiHelp/main), which every request may carry.
    static let main: [MediaWikiParameter] = [
        .init("action", .string, required: true),
        .init("format", .enumeration(["json", "jsonfm", "none", "php", "phpfm", "rawfm", "xml", "xmlfm"])),
        .init("maxlag", .integer(0...Int.max, max: nil)),
        .init("smaxage", .integer(0...Int.max, max: nil)),
        .init("maxage", .integer(0...Int.max, max: nil)),
        .init("assert", .enumeration(["anon", "bot", "user"])),
        .init("assertuser", .string),
        .init("requestid", .string),
        .init("servedby", .boolean),
        .init("curtimestamp", .boolean),
        .init("responselanginfo", .boolean),
        .init("origin", .string),
        .init("uselang", .string),
        .init("variant", .string),
        .init("errorformat", .enumeration(["bc", "html", "none", "plaintext", "raw", "wikitext"])),
        .init("errorlang", .string),
        .init("errorsuppress", .boolean),
        // format=json's own.
        .init("callback", .string),
        .init("utf8", .boolean),
        .init("ascii", .boolean),
        .init("formatversion", .enumeration(["1", "2", "latest"])),
    ]

    /// Special:ApiHelp/wbsearchentities (Wikibase).
    static let wbsearchentities: [MediaWikiParameter] = [
        .init("search", .string, required: true),
        .init("language", .string, required: true),
        .init("strictlanguage", .boolean),
        .init("type", .enumeration(["item", "property", "lexeme", "form", "sense", "entity-schema"])),
        .init("limit", .integer(1...50, max: 50)),
        .init("continue", .integer(0...Int.max, max: nil)),
        .init("props", .multi(["url"])),
        .init("profile", .enumeration(["default", "language"])),
    ]

    /// Special:ApiHelp/wbgetentities (Wikibase).
    static let wbgetentities: [MediaWikiParameter] = [
        .init("ids", .multi(nil)),
        .init("sites", .multi(nil)),
        .init("titles", .multi(nil)),
        .init("redirects", .enumeration(["yes", "no"])),
        .init("props", .multi(["info", "sitelinks", "sitelinks/urls", "aliases", "labels", "descriptions", "claims", "datatype"])),
        .init("languages", .multi(nil)),
        .init("languagefallback", .boolean),
        .init("normalize", .boolean),
        .init("sitefilter", .multi(nil)),
    ]

    /// Checks a request against the main module's and `module`'s parameters: an error response, or the warnings
    /// the answer must carry (by module, as formatversion 1 writes them) and the values with integers clamped.
    static func validate(_ q: [String: String], module name: String, _ module: [MediaWikiParameter])
        -> (error: HTTPResponse?, warnings: [String: [String]], values: [String: String]) {
        var warnings: [String: [String]] = [:]
        var values = q
        for (params, owner) in [(main, "main"), (module, name)] {
            for p in params {
                guard let value = q[p.name] else {
                    if p.required { return (error("missingparam", "The \"\(p.name)\" parameter must be set."), [:], q) }
                    continue
                }
                switch p.kind {
                case .string, .boolean:
                    break
                case let .integer(range, max):
                    if value == "max", let max { values[p.name] = String(max); continue }
                    guard let n = Int(value) else {
                        return (error("badinteger", "Invalid value \"\(value)\" for integer parameter \"\(p.name)\"."), [:], q)
                    }
                    if n > range.upperBound {
                        warnings[owner, default: []].append("\"\(p.name)\" may not be over \(range.upperBound) (set to \(n)) for users.")
                        values[p.name] = String(range.upperBound)
                    } else if n < range.lowerBound {
                        warnings[owner, default: []].append("\"\(p.name)\" may not be less than \(range.lowerBound) (set to \(n)).")
                        values[p.name] = String(range.lowerBound)
                    }
                case let .enumeration(allowed):
                    guard allowed.contains(value) else {
                        return (error("badvalue", "Unrecognized value for parameter \"\(p.name)\": \(value)."), [:], q)
                    }
                case let .multi(allowed):
                    guard let allowed else { continue }
                    let parts = value.split(separator: "|", omittingEmptySubsequences: false).map(String.init)
                    let bad = parts.filter { !allowed.contains($0) }
                    if !bad.isEmpty {
                        warnings[owner, default: []].append("Unrecognized value\(bad.count > 1 ? "s" : "") for parameter \"\(p.name)\": \(bad.joined(separator: ", ")).")
                        values[p.name] = parts.filter(allowed.contains).joined(separator: "|")
                    }
                }
            }
        }
        let known = Set((main + module).map(\.name))
        let unknown = q.keys.filter { !known.contains($0) }.sorted()
        if !unknown.isEmpty {
            warnings["main", default: []].append("Unrecognized parameter\(unknown.count > 1 ? "s" : ""): \(unknown.joined(separator: ", ")).")
        }
        return (nil, warnings, values)
    }

    /// An error as the API answers it: HTTP 200, the error object, and the code in `MediaWiki-API-Error`.
    static func error(_ code: String, _ info: String) -> HTTPResponse {
        let body: [String: Any] = ["error": ["code": code, "info": info, "*": "See https://www.wikidata.org/w/api.php for API usage."],
                                   "servedby": "mw-test"]
        return HTTPResponse(statusCode: .ok, headers: [HTTPHeader("Content-Type"): "application/json; charset=utf-8",
                                                       HTTPHeader("MediaWiki-API-Error"): code],
                            body: (try? JSONSerialization.data(withJSONObject: body, options: [.sortedKeys])) ?? Data())
    }

    /// Warnings as formatversion 1 writes them: {"module": {"*": "one\ntwo"}}.
    static func warningsObject(_ warnings: [String: [String]]) -> [String: Any] {
        warnings.mapValues { ["*": $0.joined(separator: "\n")] }
    }
}
