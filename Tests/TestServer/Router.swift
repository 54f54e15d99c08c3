// Router: maps a recorded request's path to the route that answers it, plus shared response helpers.
import FlyingFox
import Foundation

extension ServerCore {

    /// Dispatches on the path prefix. Unknown paths are 404; only GET is served.
    func route(_ request: TestServer.Request) -> HTTPResponse {
        guard request.method == "GET" else {
            return textResponse(.methodNotAllowed, "method not allowed\n", headers: [HTTPHeader("Allow"): "GET"])
        }
        let path = request.path
        // Refuse any ".." segment outright (e.g. `curl --path-as-is /files/../x` or %2e%2e):
        // the server must never serve outside dataRoot.
        if path.split(separator: "/").contains("..") {
            return textResponse(.badRequest, "'..' is not allowed in paths\n")
        }

        if let rel = path.dropPrefix("/files/") {
            return serveFile(relpath: rel)
        }
        if let rest = path.dropPrefix("/unique/") {
            return serveUnique(rest)
        }
        if path == "/list" || path == "/list/" {
            return serveList(relDir: "")
        }
        if let rel = path.dropPrefix("/list/") {
            return serveList(relDir: rel)
        }
        if path == "/commons/w/api.php" {
            return commonsOther(request.query) ?? commonsSearch(request.query)
        }
        if path == "/wikidata/w/api.php" {
            return wikidataAPI(request.query, userAgent: request.headers["user-agent"])
        }
        if path == "/openverse/v1/images/" || path == "/openverse/v1/images" {
            return openverseSearch(request.query)
        }
        if let rest = path.dropPrefix("/bad/") {
            return misbehave(rest)
        }
        return notFound()
    }

    // MARK: Response helpers

    func notFound() -> HTTPResponse {
        textResponse(.notFound, "not found\n")
    }

    func textResponse(_ status: HTTPStatusCode, _ text: String,
                      contentType: String = "text/plain; charset=utf-8",
                      headers: HTTPHeaders = [:]) -> HTTPResponse {
        dataResponse(status, Data(text.utf8), contentType: contentType, headers: headers)
    }

    /// A whole-body response. The buffer size is the body size so FlyingFox writes it in one
    /// go instead of 4 KiB pieces (benchmarks fetch thousands of images).
    func dataResponse(_ status: HTTPStatusCode, _ data: Data, contentType: String,
                      headers: HTTPHeaders = [:]) -> HTTPResponse {
        var headers = headers
        headers[.contentType] = contentType
        return HTTPResponse(statusCode: status, headers: headers,
                            body: HTTPBodySequence(data: data, suggestedBufferSize: max(4096, data.count)))
    }

    func jsonResponse(_ status: HTTPStatusCode, _ object: Any, headers: HTTPHeaders = [:]) -> HTTPResponse {
        dataResponse(status, jsonData(object), contentType: "application/json", headers: headers)
    }
}

/// Serialises a JSON object tree ([String: Any], [Any], String, Int, NSNull).
/// Slashes stay unescaped so URLs read like the real APIs'; keys are sorted for stable output.
func jsonData(_ object: Any) -> Data {
    // The trees are built here from strings and numbers only, so serialisation cannot fail.
    (try? JSONSerialization.data(withJSONObject: object, options: [.withoutEscapingSlashes, .sortedKeys])) ?? Data("{}".utf8)
}

extension String {
    /// The rest of the string after `prefix`, or nil when it does not start with it.
    func dropPrefix(_ prefix: String) -> String? {
        hasPrefix(prefix) ? String(dropFirst(prefix.count)) : nil
    }
}

/// 64-bit FNV-1a: a stable hash (Swift's `hashValue` is seeded per process), used for page ids and uuids.
func stableHash(_ s: String) -> UInt64 {
    var h: UInt64 = 0xcbf2_9ce4_8422_2325
    for b in s.utf8 {
        h ^= UInt64(b)
        h = h &* 0x0000_0100_0000_01b3
    }
    return h
}
