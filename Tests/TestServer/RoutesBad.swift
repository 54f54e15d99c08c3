// Misbehaving image routes under /bad/: errors, throttling, redirects, slow, huge, lying, dropped and cut-off bodies.
import FlyingFox
import Foundation

/// The real photo the stateful routes (flaky, throttle, truncated) eventually serve.
let realPhotoDir = "faces/dlib_johns/John_Simm"

/// Streaming chunk size for the generated huge bodies.
private let hugeChunkSize = 64 * 1024

extension ServerCore {

    /// Relative path of a fixed real photo: the first .jpg (by name) in faces/dlib_johns/John_Simm.
    func realPhotoRelpath() -> String? {
        let dir = dataRoot.appendingPathComponent(realPhotoDir)
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: dir.path) else { return nil }
        return names.filter { $0.lowercased().hasSuffix(".jpg") }.sorted().first.map { realPhotoDir + "/" + $0 }
    }

    func realPhoto() -> Data? {
        realPhotoRelpath().flatMap(fileData)
    }

    /// Increments and returns how many times this route key has been requested (1 on the first).
    private func count(_ key: String) -> Int {
        state.withLock { s in
            let n = (s.keyCounts[key] ?? 0) + 1
            s.keyCounts[key] = n
            return n
        }
    }

    /// `rest` is the path after "/bad/".
    func misbehave(_ rest: String) -> HTTPResponse {
        let parts = rest.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[1].isEmpty else { return notFound() }
        let kind = String(parts[0])
        let tail = String(parts[1])

        switch kind {
        case "404":
            return textResponse(.notFound,
                                "<html><head><title>404 Not Found</title></head><body><h1>Not Found</h1></body></html>\n",
                                contentType: "text/html; charset=utf-8")

        case "flaky":
            // flaky/<n>/<key>: 500 for the first n requests of this n+key, then the real photo.
            guard case let (n, key)? = numberAndRest(tail) else { return notFound() }
            if count("flaky/\(n)/\(key)") <= n {
                return textResponse(.internalServerError, "<html><body><h1>500 Internal Server Error</h1></body></html>\n",
                                    contentType: "text/html; charset=utf-8")
            }
            return photoResponse()

        case "throttle":
            if count("throttle/\(tail)") == 1 {
                return textResponse(.tooManyRequests, "<html><body><h1>429 Too Many Requests</h1></body></html>\n",
                                    contentType: "text/html; charset=utf-8",
                                    headers: [HTTPHeader("Retry-After"): "1"])
            }
            return photoResponse()

        case "redirect":
            // redirect/<n>/<relpath>: a chain of n 302s, then the file itself.
            guard case let (n, relpath)? = numberAndRest(tail), n >= 0 else { return notFound() }
            if n == 0 { return serveFile(relpath: relpath) }
            return redirect(to: encodePath("/bad/redirect/\(n - 1)/\(relpath)"))

        case "to":
            // to/<host[:port]>/<path>: one 302 to http://<host>/<path>, anywhere (e.g. a link-local address).
            return redirect(to: "http://" + tail)

        case "loop":
            return redirect(to: encodePath("/bad/loop/\(tail)"))

        case "scheme":
            return redirect(to: "ftp://127.0.0.1:1/x.jpg")

        case "filescheme":
            return redirect(to: "file:///etc/passwd")

        case "drip":
            // drip/<ms>/<relpath>: the full head (with Content-Length) now, then one byte per <ms>.
            guard case let (ms, relpath)? = numberAndRest(tail), ms >= 0, let data = fileData(relpath) else { return notFound() }
            return HTTPResponse(statusCode: .ok, headers: [.contentType: contentType(forPath: relpath)],
                                body: HTTPBodySequence(from: DripBytes(data: data, delayMs: ms), count: data.count,
                                                       suggestedBufferSize: 1))

        case "huge", "hugechunked":
            // huge/<mb>/<key>: mb MiB of JPEG-looking bytes, streamed; hugechunked omits Content-Length.
            guard case let (mb, _)? = numberAndRest(tail), mb >= 0 else { return notFound() }
            let bytes = FakeJPEGBytes(total: mb * 1024 * 1024)
            let body = kind == "huge"
                ? HTTPBodySequence(from: bytes, count: bytes.total, suggestedBufferSize: hugeChunkSize)
                : HTTPBodySequence(from: bytes, suggestedBufferSize: hugeChunkSize)   // chunked transfer encoding
            return HTTPResponse(statusCode: .ok, headers: [.contentType: "image/jpeg"], body: body)

        case "html":
            // A lying server: says image/jpeg, sends an HTML error page.
            guard let data = fileData("broken/html_403_named_as.jpg") else { return notFound() }
            return dataResponse(.ok, data, contentType: "image/jpeg")

        case "reset":
            return HTTPResponse(webSocket: DropConnectionHandler())

        case "truncated":
            // Announces the whole photo, sends the first half, then closes the connection.
            guard let photo = realPhoto() else { return notFound() }
            return HTTPResponse(statusCode: .ok, headers: [.contentType: "image/jpeg"],
                                body: HTTPBodySequence(from: CutOffBytes(data: photo.prefix(photo.count / 2)),
                                                       count: photo.count))

        default:
            return notFound()
        }
    }

    /// 200 with the fixed real photo (404 when the data folder lacks it).
    private func photoResponse() -> HTTPResponse {
        guard let photo = realPhoto() else { return notFound() }
        return dataResponse(.ok, photo, contentType: "image/jpeg")
    }

    private func redirect(to location: String) -> HTTPResponse {
        textResponse(.found, "<html><body>Found: <a href=\"\(location)\">here</a></body></html>\n",
                     contentType: "text/html; charset=utf-8", headers: [.location: location])
    }

    /// Splits "<int>/<rest>" into its number and non-empty rest.
    private func numberAndRest(_ s: String) -> (Int, String)? {
        let parts = s.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[1].isEmpty, let n = Int(parts[0]) else { return nil }
        return (n, String(parts[1]))
    }

    /// Re-encodes a decoded path for a Location header (recorded paths are percent-decoded).
    private func encodePath(_ path: String) -> String {
        path.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? path
    }
}
