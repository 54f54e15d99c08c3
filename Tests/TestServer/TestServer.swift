// TestServer: a real HTTP server on 127.0.0.1 (FlyingFox) that emulates Commons, Wikidata and Openverse and misbehaves on purpose.
import FlyingFox
import FlyingSocks
import Foundation

/// A real HTTP/1.1 server bound to 127.0.0.1 only, for tests and benchmarks.
///
/// It serves real files from `dataRoot`, emulates the Wikimedia Commons and Openverse
/// search APIs over a term → paths table that tests fill in, and answers the `/bad/...`
/// routes with the failures a crawler meets on the real web (see `Routes*.swift`).
/// Everything it receives is recorded so tests can assert on what the client sent.
public final class TestServer: @unchecked Sendable {

    /// One received request, recorded before it is answered.
    public struct Request: Sendable, Equatable {
        /// Upper-case method, e.g. "GET".
        public let method: String
        /// Percent-decoded path exactly as sent (not normalised; no query).
        public let path: String
        /// Percent-decoded query parameters (`+` read as a space); the last value wins on repeats.
        public let query: [String: String]
        /// Header values keyed by lower-cased header name.
        public let headers: [String: String]

        public init(method: String, path: String, query: [String: String], headers: [String: String]) {
            self.method = method
            self.path = path
            self.query = query
            self.headers = headers
        }
    }

    let core: ServerCore
    private let http: HTTPServer
    private let runTask: Task<Void, any Error>
    /// Port the kernel gave us (or the one asked for).
    public let port: UInt16

    private init(core: ServerCore, http: HTTPServer, runTask: Task<Void, any Error>, port: UInt16) {
        self.core = core
        self.http = http
        self.runTask = runTask
        self.port = port
    }

    /// Starts listening on 127.0.0.1. `port` 0 (the default) lets the kernel pick a free port.
    /// `dataRoot` is the folder files are served from (e.g. /work/shared/data); it is not
    /// required to exist (routes that need a file then answer 404).
    /// `latencyMs` is slept before every response, misbehaving ones included.
    public static func start(dataRoot: URL, latencyMs: Int = 0, port: UInt16 = 0) async throws -> TestServer {
        let core = ServerCore(dataRoot: dataRoot, latencyMs: latencyMs)
        let address = try sockaddr_in.inet(ip4: "127.0.0.1", port: port)
        // Logging off: the deliberate connection drops would otherwise print errors on every test.
        // The handler timeout only bounds the time to produce the response head (latency included),
        // not the streaming of a body, so drips and huge bodies are not cut short by it.
        let http = HTTPServer(address: address, timeout: 120,
                              pool: NoDelayPool(base: HTTPServer.defaultPool()),
                              logger: .disabled, handler: CoreHandler(core: core))
        let runEnded = Locked(false)
        let runTask = Task {
            defer { runEnded.withLock { $0 = true } }
            try await http.run()
        }
        // Poll rather than use waitUntilListening(): that would sit out its whole timeout when
        // run() has already failed (e.g. the port is taken) instead of reporting the failure.
        let deadline = Date().addingTimeInterval(10)
        while !(await http.isListening) {
            if runEnded.withLock({ $0 }) {
                if case .failure(let error) = await runTask.result { throw error }
                throw TestServerError("server stopped before it was listening")
            }
            guard Date() < deadline else {
                runTask.cancel()
                throw TestServerError("server was not listening after 10 s")
            }
            try? await Task.sleep(nanoseconds: 2_000_000)
        }
        guard case .ip4(_, let boundPort)? = await http.listeningAddress else {
            runTask.cancel()
            throw TestServerError("server did not report a listening IPv4 address")
        }
        core.setBaseURL("http://127.0.0.1:\(boundPort)")
        return TestServer(core: core, http: http, runTask: runTask, port: boundPort)
    }

    /// "http://127.0.0.1:PORT", no trailing slash.
    public var baseURL: String { core.baseURL }

    /// Closes the listening socket and every open connection (in-flight drips end early).
    public func stop() async {
        await http.stop(timeout: 0)
        runTask.cancel()
        _ = await runTask.result
    }

    /// Search results for both emulated providers: term -> server paths of images
    /// (e.g. "/files/faces/dlib_johns/John_Simm/x.jpg"), in rank order. Replaces any earlier list.
    public func setResults(term: String, paths: [String]) {
        core.state.withLock { $0.results[term] = paths }
    }

    /// The next `count` search requests (Commons or Openverse, shared counter) answer
    /// HTTP 429 with `Retry-After: retryAfterSeconds`.
    public func throttleSearches(count: Int, retryAfterSeconds: Int) {
        throttleSearches(count: count, retryAfter: String(retryAfterSeconds))
    }

    /// The next `count` search requests answer HTTP 429 with this `Retry-After` value as written, valid or not
    /// ("-1", "1.5", an HTTP-date); nil sends none.
    public func throttleSearches(count: Int, retryAfter: String?) {
        core.state.withLock {
            $0.throttleRemaining = max(0, count)
            $0.throttleRetryAfter = retryAfter
        }
    }

    /// The next `count` Commons search requests answer HTTP 200 with a `ratelimited` API error.
    public func commonsRateLimited(count: Int) {
        core.state.withLock { $0.commonsRateLimitedRemaining = max(0, count) }
    }

    /// Sorted `/files/...` server paths of every image (jpg, jpeg, png, gif, webp) under
    /// `relDir` of dataRoot, recursively ("" for all); [] when the folder does not exist.
    /// Handy for `setResults` (the same list `GET /list/<relDir>` returns).
    public func imagePaths(under relDir: String) -> [String] {
        core.imagePaths(underRelDir: relDir) ?? []
    }

    /// Every request received so far, in arrival order.
    public var requests: [Request] {
        core.state.withLock { $0.requests }
    }

    /// How many requests had exactly this (percent-decoded) path.
    public func hits(path: String) -> Int {
        core.state.withLock { state in state.requests.reduce(0) { $0 + ($1.path == path ? 1 : 0) } }
    }
}

/// Errors the server itself raises (not the deliberate HTTP failures).
public struct TestServerError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}

/// FlyingFox entry point: every request, any method and path, goes to the core's router.
struct CoreHandler: HTTPHandler {
    let core: ServerCore

    func handleRequest(_ request: HTTPRequest) async throws -> HTTPResponse {
        await core.handle(request)
    }
}

/// Mutable server state. Only touched through `ServerCore.state.withLock`, because test
/// code reads it from other threads while connection tasks write it.
struct ServerState {
    var baseURL = ""
    var requests: [TestServer.Request] = []
    var results: [String: [String]] = [:]
    var throttleRemaining = 0
    var throttleRetryAfter: String? = "1"
    var commonsRateLimitedRemaining = 0
    /// Commons categories by normalised title (`Category:Name`) and Wikidata items by id.
    var categories: [String: EmulatedCategory] = [:]
    var entities: [String: EmulatedEntity] = [:]
    var wikidataThrottleRemaining = 0
    var wikidataThrottleRetryAfter = 1
    var wikidataMaxlagRemaining = 0
    var wikidataMaxlagRetryAfter = 1
    /// Wikidata lookups (a `search` or `ids` value) answered with an API error, and how many more times.
    var wikidataRefusals: [String: (code: String, info: String, times: Int)] = [:]
    /// Commons categories (normalised title) whose listing misbehaves, and how many of their requests it answered.
    var listingFaults: [String: ListingFault] = [:]
    var faultPages: [String: Int] = [:]
    /// The body every Commons API answer is replaced by (see `answerHugely`).
    var hugeAnswer: Data?
    /// When each request was being answered (seconds since the server started), to check clients' pacing.
    var spans: [(path: String, start: Double, end: Double)] = []
    /// Per-key request counters for the stateful `/bad/...` routes (flaky, throttle).
    var keyCounts: [String: Int] = [:]
    /// Bytes of files already read, keyed by relative path: the data is read-only, and
    /// benchmarks fetch the same ~200 photos thousands of times.
    var fileCache: [String: Data] = [:]
}

/// A value guarded by an NSLock.
final class Locked<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value

    init(_ value: Value) { self.value = value }

    func withLock<R>(_ body: (inout Value) throws -> R) rethrows -> R {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}

/// Everything the routes need: configuration and the locked state. Kept apart from
/// `TestServer` so FlyingFox's handler does not hold the public object (no retain cycle).
final class ServerCore: @unchecked Sendable {
    let dataRoot: URL
    let latencyMs: Int
    let state = Locked(ServerState())
    let started = Date()

    init(dataRoot: URL, latencyMs: Int) {
        self.dataRoot = dataRoot.standardizedFileURL
        self.latencyMs = latencyMs
    }

    var baseURL: String { state.withLock { $0.baseURL } }

    func setBaseURL(_ url: String) { state.withLock { $0.baseURL = url } }

    /// Records the request, waits the configured latency, then routes it.
    func handle(_ request: HTTPRequest) async -> HTTPResponse {
        let recorded = TestServer.Request(
            method: request.method.rawValue.uppercased(),
            // The raw target, decoded but not normalised: FlyingFox's `request.path` drops a
            // trailing slash and resolves "..", which would hide what the client really sent.
            path: request.target.path(percentEncoded: false),
            query: parseQuery(request.target.query(percentEncoded: true)),
            headers: Dictionary(request.headers.map { ($0.key.rawValue.lowercased(), $0.value) },
                                uniquingKeysWith: { _, last in last })
        )
        state.withLock { $0.requests.append(recorded) }
        let start = Date().timeIntervalSince(started)
        if latencyMs > 0 {
            try? await Task.sleep(nanoseconds: UInt64(latencyMs) * 1_000_000)
        }
        let response = route(recorded)
        let end = Date().timeIntervalSince(started)
        state.withLock { $0.spans.append((recorded.path, start, end)) }
        return response
    }
}

/// Parses a raw query string the way form-encoded web APIs read it: `+` is a space,
/// `%XX` is decoded; a key without `=` maps to "".
func parseQuery(_ raw: String) -> [String: String] {
    var out: [String: String] = [:]
    for pair in raw.split(separator: "&", omittingEmptySubsequences: true) {
        let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
        func decode(_ s: Substring) -> String {
            let spaced = s.replacingOccurrences(of: "+", with: " ")
            return spaced.removingPercentEncoding ?? spaced
        }
        out[decode(parts[0])] = parts.count > 1 ? decode(parts[1]) : ""
    }
    return out
}
