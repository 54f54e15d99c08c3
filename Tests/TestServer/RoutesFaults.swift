// Hostile answers of the Commons API emulation: listings whose continuation loops or never ends, a listing that
// ignores the limit asked for, and answers far larger than any page. Each is still a well-formed MediaWiki answer
// (API:Continue: a `continue` object the client sends back whole; a continuation the server never gave out is
// `badcontinue`), only one no real wiki should give.
import FlyingFox
import Foundation

/// How a category's listing misbehaves.
public enum ListingFault: Sendable, Equatable {
    /// The continuation goes round: A, B, A, B… (each page empty, which API:Continue allows).
    case continueLoop
    /// The listing never ends: each page a new continuation, and in the files phase a full page of file pages
    /// without images (PDFs).
    case endless
    /// One answer lists this many subcategories (`<name> 1`, `<name> 2`…) whatever `cmlimit` asked for.
    case ignoresLimit(Int)
}

/// What an oversized Commons answer is made of.
public enum HugeAnswer: Sendable {
    /// `{}` repeated (a `warnings` array of empty objects).
    case emptyObjects
    /// File pages with image info, far more than `gsrlimit` asked for.
    case fileEntries
}

/// After this many requests a faulty listing ends after all, so a client that does not stop is seen to have gone
/// on (its request count) instead of hanging the test.
let faultyListingPages = 300

extension TestServer {
    /// Makes the listing of a category (`name` with or without `Category:`) misbehave; nil makes it behave again.
    public func setListingFault(_ name: String, _ fault: ListingFault?) {
        let key = normalizedTitle(name.hasPrefix("Category:") ? name : "Category:" + name, namespace: "Category")!
        core.state.withLock { $0.listingFaults[key] = fault }
    }

    /// Every Commons search is answered HTTP 200 with a JSON body of about `bytes` bytes of `kind`; nil stops it.
    /// The body is built here, once, before the client asks: built per request (15 MB of file pages take tens of
    /// seconds in a debug build on a loaded machine), it kept the client waiting until its own timeout, and the
    /// test saw a timeout instead of the refusal it checks.
    public func answerHugely(_ kind: HugeAnswer?, bytes: Int = 0) {
        let body = kind.map { core.hugeBody($0, bytes: bytes) }
        core.state.withLock { $0.hugeAnswer = body }
    }
}

extension ServerCore {
    /// The oversized answer a search gets while `answerHugely` is on.
    func takeHugeAnswer() -> HTTPResponse? {
        guard let body = state.withLock({ $0.hugeAnswer }) else { return nil }
        return dataResponse(.ok, body, contentType: "application/json; charset=utf-8")
    }

    /// About `bytes` bytes of `kind`, a well-formed MediaWiki answer.
    func hugeBody(_ kind: HugeAnswer, bytes: Int) -> Data {
        var body = [UInt8]()
        body.reserveCapacity(bytes + 1024)
        switch kind {
        case .emptyObjects:
            body += Array(#"{"batchcomplete":"","warnings":["#.utf8)
            let item = Array("{},".utf8)
            while body.count < bytes { body += item }
            body.removeLast()
            body += Array("]}".utf8)
        case .fileEntries:
            body += Array(#"{"batchcomplete":"","query":{"pages":{"#.utf8)
            var n = 0
            while body.count < bytes {
                n += 1
                let path = "/files/many/\(n).jpg"
                let page = commonsFilePage(path, index: n, thumbWidth: 1280)
                body += Array("\"\(commonsPageID(path) + n)\":".utf8) + Array(jsonData(page)) + [UInt8(ascii: ",")]
            }
            body.removeLast()
            body += Array("}}}".utf8)
        }
        return Data(body)
    }

    /// A category listing under a fault; nil when the category has none.
    func faultyListing(_ title: String, _ q: [String: String], prefix p: String, generator: Bool) -> HTTPResponse? {
        guard let fault = state.withLock({ $0.listingFaults[title] }) else { return nil }
        let served = state.withLock { s in
            s.faultPages[title, default: 0] += 1
            return s.faultPages[title]!
        }
        let type = generator ? "file" : "subcat"
        let name = String(title.dropFirst("Category:".count))
        func token(_ k: Int) -> String {
            "\(type)|\(name.uppercased().utf8.map { String(format: "%02x", $0) }.joined())\(String(format: "%04x", k))|\(k)"
        }
        // The page number a continuation names: only those this listing gives out are accepted.
        var page = 0
        if let cont = q[p + "continue"] {
            guard let k = cont.split(separator: "|").last.flatMap({ Int($0) }), cont == token(k) else {
                return jsonResponse(.ok, ["error": ["code": "badcontinue",
                                                    "info": "Invalid continue param. You should pass the original value returned by the previous query."]])
            }
            page = k
        }
        var body: [String: Any] = ["batchcomplete": ""]
        func next(_ k: Int) {
            guard served < faultyListingPages else { return }
            body["continue"] = [p + "continue": token(k), "continue": generator ? "\(p)continue||" : "-||"]
        }
        switch fault {
        case .continueLoop:
            next(page == 1 ? 2 : 1)
            if !generator { body["query"] = ["categorymembers": [Any]()] }
        case .endless:
            next(page + 1)
            if generator {
                var limit = Int(q[p + "limit"] ?? "10") ?? 10
                limit = min(max(limit, 1), 500)
                var pages: [String: Any] = [:]
                for i in 0..<limit {
                    let id = 500_000_000 + page * 1000 + i
                    pages[String(id)] = ["pageid": id, "ns": 6, "title": "File:\(name) \(page)-\(i).pdf", "imagerepository": "local",
                                         "imageinfo": [["url": baseURL + "/files/none/\(page)-\(i).pdf", "mime": "application/pdf",
                                                        "descriptionurl": baseURL + "/wiki/File:\(page)-\(i).pdf"]]]
                }
                body["query"] = ["pages": pages]
            } else {
                body["query"] = ["categorymembers": [Any]()]
            }
        case .ignoresLimit(let count):
            guard !generator else { return nil }
            body["query"] = ["categorymembers": (1...max(1, count)).map { k -> [String: Any] in
                let sub = "Category:\(name) \(k)"
                return ["pageid": commonsPageID(sub), "ns": 14, "title": sub]
            }]
        }
        return jsonResponse(.ok, body)
    }
}
