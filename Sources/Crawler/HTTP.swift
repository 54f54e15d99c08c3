// The one HTTP path of curate: libcurl's multi interface driving many transfers on one thread.
import CCurl
import Catalog
import Foundation

/// Transfer limits and politeness, shared by search requests and image downloads.
public struct HTTPOptions: Sendable {
    public var userAgent: String
    public var concurrency = 16
    public var perHost = 8
    public var connectTimeout: Double = 15
    public var timeout: Double = 120
    /// Abort a transfer slower than `lowSpeedLimit` bytes/s for `lowSpeedTime` seconds.
    public var lowSpeedLimit = 1_000
    public var lowSpeedTime: Double = 30
    public var maxRedirects = 5
    public var maxImageBytes = 20 * 1024 * 1024
    public var maxResponseBytes = 16 * 1024 * 1024

    public init(userAgent: String) { self.userAgent = userAgent }

    public static let defaultUserAgent: String = {
        let contact = ProcessInfo.processInfo.environment["CURATE_CONTACT"] ?? "set CURATE_CONTACT to your e-mail"
        let curl = String(cString: curate_version_info().pointee.version)
        return "curate/\(curateVersion) (face dataset workbench; \(contact)) libcurl/\(curl)"
    }()
}

/// Why a transfer stopped before its end on our side.
enum SinkAbort: Equatable {
    case tooLarge
    case notImage
    /// Writing the body to its file failed (the path and errno): the workspace's fault, not the URL's.
    case io(String, Int32)
}

/// The kinds of address a connection may go to that are not the open internet's. A provider's results and the
/// redirects they lead to must not reach them (169.254.169.254, 100.100.100.200 and fd00:ec2::254 answer cloud
/// credentials; loopback and private networks reach the user's own services), unless the user pointed curate
/// there (`--endpoint`, or a direct URL in a query file).
public enum LocalAddress: Sendable, Hashable, CaseIterable {
    case loopback, linkLocal
    /// Private networks (10/8, 172.16/12, 192.168/16, fc00::/7) and carrier-grade NAT (100.64/10).
    case privateNetwork

    /// The kind of a URL's host when it is an IP literal or `localhost`; nil for other names and public addresses.
    public static func of(url: String) -> LocalAddress? {
        guard var host = URL(string: url)?.host?.lowercased() else { return nil }
        if host.hasPrefix("[") { host = String(host.dropFirst().dropLast()) }
        if host == "localhost" || host.hasSuffix(".localhost") { return .loopback }
        var v4 = in_addr(), v6 = in6_addr()
        if inet_pton(AF_INET, host, &v4) == 1 { return withUnsafeBytes(of: &v4) { of(ipv4: Array($0)) } }
        if inet_pton(AF_INET6, host, &v6) == 1 { return withUnsafeBytes(of: &v6) { of(ipv6: Array($0)) } }
        return nil
    }

    static func of(ipv4 b: [UInt8]) -> LocalAddress? {
        if b[0] == 127 || b[0] == 0 { return .loopback }   // 0.0.0.0 connects to this host too
        if b[0] == 169 && b[1] == 254 { return .linkLocal }
        if b[0] == 10 || (b[0] == 172 && b[1] & 0xF0 == 16) || (b[0] == 192 && b[1] == 168)
            || (b[0] == 100 && b[1] & 0xC0 == 64) { return .privateNetwork }
        return nil
    }

    static func of(ipv6 b: [UInt8]) -> LocalAddress? {
        if b[0..<10].allSatisfy({ $0 == 0 }) && b[10] == 0xFF && b[11] == 0xFF { return of(ipv4: Array(b[12..<16])) }
        if b[0..<15].allSatisfy({ $0 == 0 }) && (b[15] == 1 || b[15] == 0) { return .loopback }
        if b[0] == 0xFE && b[1] & 0xC0 == 0x80 { return .linkLocal }
        if b[0] & 0xFE == 0xFC { return .privateNetwork }
        return nil
    }
}

/// One request in flight: its easy handle and where its body goes.
final class Transfer {
    enum Sink {
        /// Keep the body in memory (search responses), up to a limit.
        case memory
        /// Stream the body to a file while hashing it; the first bytes must be an image signature.
        case imageFile(URL)
    }

    let id: Int
    let url: String
    let sink: Sink
    let handle: UnsafeMutableRawPointer
    let started = DispatchTime.now()
    var body: [UInt8] = []
    var head: [UInt8] = []
    var file: UnsafeMutablePointer<FILE>?
    var hasher = SHA256()
    var format: ImageFormat?
    var bytes = 0
    var abort: SinkAbort?
    let limit: Int
    var headers: UnsafeMutablePointer<curl_slist>?

    /// Local addresses this transfer may connect to (for a provider's result: only the kind its endpoint is).
    let allowedLocal: Set<LocalAddress>
    /// Set when a connection to a local address was refused (the address), so the failure says why.
    var refusedAddress: String?

    init(id: Int, url: String, sink: Sink, options: HTTPOptions, headers: [String],
         allowedLocal: Set<LocalAddress> = Set(LocalAddress.allCases), limit: Int? = nil) throws {
        self.allowedLocal = allowedLocal
        guard let handle = curl_easy_init() else { throw HTTPError.setup("curl_easy_init failed") }
        self.id = id
        self.url = url
        self.sink = sink
        self.handle = handle
        if case .imageFile = sink { self.limit = options.maxImageBytes } else { self.limit = min(limit ?? options.maxResponseBytes, options.maxResponseBytes) }
        for header in headers { self.headers = curl_slist_append(self.headers, header) }
        try configure(options)
    }

    deinit {
        curl_easy_cleanup(handle)
        if let headers { curl_slist_free_all(headers) }
        if let file { fclose(file) }
    }

    private func configure(_ o: HTTPOptions) throws {
        func check(_ rc: CURLcode, _ what: String) throws {
            guard rc == CURLE_OK else { throw HTTPError.setup("\(what): \(String(cString: curl_easy_strerror(rc)))") }
        }
        let h = handle
        try check(curate_easy_set_string(h, CURLOPT_URL, url), "URL \(url)")
        try check(curate_easy_set_string(h, CURLOPT_PROTOCOLS_STR, "http,https"), "protocols")
        try check(curate_easy_set_string(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https"), "redirect protocols")
        try check(curate_easy_set_long(h, CURLOPT_FOLLOWLOCATION, 1), "follow")
        try check(curate_easy_set_long(h, CURLOPT_MAXREDIRS, o.maxRedirects), "max redirects")
        try check(curate_easy_set_string(h, CURLOPT_USERAGENT, o.userAgent), "user agent")
        try check(curate_easy_set_long(h, CURLOPT_CONNECTTIMEOUT_MS, Int(o.connectTimeout * 1000)), "connect timeout")
        try check(curate_easy_set_long(h, CURLOPT_TIMEOUT_MS, Int(o.timeout * 1000)), "timeout")
        try check(curate_easy_set_long(h, CURLOPT_LOW_SPEED_LIMIT, o.lowSpeedLimit), "low speed limit")
        try check(curate_easy_set_long(h, CURLOPT_LOW_SPEED_TIME, max(1, Int(o.lowSpeedTime.rounded(.up)))), "low speed time")
        try check(curate_easy_set_long(h, CURLOPT_SSL_VERIFYPEER, 1), "verify peer")
        try check(curate_easy_set_long(h, CURLOPT_SSL_VERIFYHOST, 2), "verify host")
        try check(curate_easy_set_long(h, CURLOPT_HTTP_VERSION, Int(CURL_HTTP_VERSION_2TLS)), "http version")
        // Over TLS, wait for a connection that can multiplex (HTTP/2) rather than open a new one. Plain http
        // is HTTP/1.1 only, where waiting would just serialise transfers.
        if url.lowercased().hasPrefix("https:") {
            try check(curate_easy_set_long(h, CURLOPT_PIPEWAIT, 1), "pipewait")
        }
        try check(curate_easy_set_string(h, CURLOPT_ACCEPT_ENCODING, ""), "accept encoding")
        try check(curate_easy_set_long(h, CURLOPT_NOSIGNAL, 1), "nosignal")
        try check(curate_easy_set_off(h, CURLOPT_MAXFILESIZE_LARGE, curl_off_t(limit)), "max size")
        if let headers { try check(curate_easy_set_slist(h, CURLOPT_HTTPHEADER, headers), "headers") }
        let me = Unmanaged.passUnretained(self).toOpaque()
        try check(curate_easy_set_write(h, transferWrite, me), "write callback")
        try check(curate_easy_set_pointer(h, CURLOPT_PRIVATE, me), "private")
        if allowedLocal != Set(LocalAddress.allCases) {
            try check(curate_easy_set_opensocket(h, transferOpenSocket, me), "open socket callback")
        }
    }

    var responseCode: Int {
        var code = 0
        _ = curate_easy_get_long(handle, CURLINFO_RESPONSE_CODE, &code)
        return code
    }

    /// Receives body bytes from libcurl. Returning less than `count` makes libcurl abort with CURLE_WRITE_ERROR.
    func receive(_ data: UnsafeRawBufferPointer) -> Int {
        let count = data.count
        if abort != nil { return 0 }
        bytes += count
        if bytes > limit {
            abort = .tooLarge
            return 0
        }
        switch sink {
        case .memory:
            body.append(contentsOf: data)
        case .imageFile(let url):
            // The body of an error status is not an image and not kept: the status tells the story.
            let status = responseCode
            guard (200..<300).contains(status) else {
                if body.count < 4096 { body.append(contentsOf: data.prefix(4096 - body.count)) }
                return count
            }
            if format == nil {
                head.append(contentsOf: data)
                guard head.count >= ImageFormat.sniffLength else { return count }
                guard let sniffed = ImageFormat.sniff(head) else {
                    abort = .notImage
                    return 0
                }
                format = sniffed
                // Not through a link planted at the .part's name.
                let fd = open(url.path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0o644)
                guard fd >= 0, let f = fdopen(fd, "wb") else {
                    abort = .io(url.path, errno)
                    if fd >= 0 { close(fd) }
                    return 0
                }
                file = f
                let ok = head.withUnsafeBytes { write($0) }
                head = []
                return ok ? count : 0
            }
            return write(data) ? count : 0
        }
        return count
    }

    private var fileURL: URL? {
        if case .imageFile(let url) = sink { return url }
        return nil
    }

    private func write(_ data: UnsafeRawBufferPointer) -> Bool {
        hasher.update(data)
        guard let base = data.baseAddress, fwrite(base, 1, data.count, file) == data.count else {
            abort = .io(fileURL?.path ?? "tmp/", errno)
            return false
        }
        return true
    }

    /// Called once the transfer is over: closes the file. (A body too short to sniff is judged by `Failure.of`.)
    func finishSink() {
        if let f = file {
            file = nil
            // No fsync: the crash to survive is a killed process, after which the page cache still holds the
            // data; SQLite's WAL with synchronous=NORMAL makes the same trade for the rows.
            if fflush(f) != 0 {
                abort = .io(fileURL?.path ?? "tmp/", errno)
            }
            fclose(f)
        }
    }
}

/// `Retry-After` as RFC 9110 (10.2.3) defines it: a non-negative whole number of seconds, or an HTTP-date (the
/// seconds until then, 0 when it is past). Anything else (-1, 1.5, 1e309, abc) is nil: the caller backs off on
/// its own. A number too long for an Int is as long as an Int can say, which no caller waits for.
public enum RetryAfter {
    public static func seconds(_ raw: String, now: Date = Date()) -> Int? {
        let value = raw.trimmingCharacters(in: .whitespaces)
        if !value.isEmpty, value.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) { return Int(value) ?? Int.max }
        for format in dateFormats {
            let formatter = DateFormatter()
            formatter.locale = Locale(identifier: "en_US_POSIX")
            formatter.timeZone = TimeZone(identifier: "GMT")
            formatter.dateFormat = format
            if let date = formatter.date(from: value) {
                let seconds = date.timeIntervalSince(now).rounded(.up)
                return seconds <= 0 ? 0 : seconds < Double(Int.max) ? Int(seconds) : Int.max
            }
        }
        return nil
    }

    /// IMF-fixdate, then the obsolete RFC 850 and asctime forms a recipient must also read.
    private static let dateFormats = ["EEE, dd MMM yyyy HH:mm:ss 'GMT'", "EEEE, dd-MMM-yy HH:mm:ss 'GMT'", "EEE MMM d HH:mm:ss yyyy"]
}

/// Called by libcurl before each connection (also after a redirect), with the resolved address: a local
/// address the transfer may not reach gets no socket, so nothing is sent to it.
private let transferOpenSocket: curl_opensocket_callback = { clientp, _, address in
    guard let clientp, let address else { return -1 }
    let transfer = Unmanaged<Transfer>.fromOpaque(clientp).takeUnretainedValue()
    let a = address.pointee
    let raw = UnsafeRawPointer(address) + MemoryLayout<curl_sockaddr>.offset(of: \curl_sockaddr.addr)!
    var kind: LocalAddress?
    var shown = ""
    if a.family == AF_INET {
        let bytes = Array(UnsafeRawBufferPointer(start: raw + 4, count: 4))
        kind = LocalAddress.of(ipv4: bytes)
        shown = bytes.map(String.init).joined(separator: ".")
    } else if a.family == AF_INET6 {
        let bytes = Array(UnsafeRawBufferPointer(start: raw + 8, count: 16))
        kind = LocalAddress.of(ipv6: bytes)
        shown = stride(from: 0, to: 16, by: 2).map { String(format: "%x", Int(bytes[$0]) << 8 | Int(bytes[$0 + 1])) }.joined(separator: ":")
    }
    if let kind, !transfer.allowedLocal.contains(kind) {
        transfer.refusedAddress = shown
        return -1
    }
    return socket(a.family, a.socktype, a.protocol)
}

private let transferWrite: curate_data_cb = { ptr, size, nmemb, userdata in
    guard let userdata, let ptr else { return 0 }
    let transfer = Unmanaged<Transfer>.fromOpaque(userdata).takeUnretainedValue()
    return transfer.receive(UnsafeRawBufferPointer(start: ptr, count: size * nmemb))
}

public enum HTTPError: BadInput {
    case setup(String)
    case unreachable(String, String)

    public var description: String {
        switch self {
        case .setup(let what): return "libcurl set-up failed: \(what)"
        case let .unreachable(url, why): return "cannot reach \(url): \(why). Check the address (--endpoint) and your network."
        }
    }
}

/// What happened to one transfer.
struct TransferResult {
    let transfer: Transfer
    let code: CURLcode
    let status: Int
    let retryAfter: Int?
    let contentType: String?
    let effectiveURL: String?
    let ms: Int

    var curlError: String? {
        code == CURLE_OK ? nil : String(cString: curl_easy_strerror(code))
    }
}

/// The multi handle: adds transfers, drives them and hands back the finished ones.
final class HTTPEngine {
    private let multi: UnsafeMutableRawPointer
    private var active: [Int: Transfer] = [:]
    let options: HTTPOptions

    static let globalInit: Void = { curl_global_init(Int(CURL_GLOBAL_DEFAULT)) }()

    init(options: HTTPOptions) throws {
        _ = Self.globalInit
        guard let multi = curl_multi_init() else { throw HTTPError.setup("curl_multi_init failed") }
        self.multi = multi
        self.options = options
        _ = curate_multi_set_long(multi, CURLMOPT_MAX_HOST_CONNECTIONS, options.perHost)
        _ = curate_multi_set_long(multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, options.concurrency)
        _ = curate_multi_set_long(multi, CURLMOPT_MAXCONNECTS, options.concurrency * 2)
    }

    deinit {
        for t in active.values { curl_multi_remove_handle(multi, t.handle) }
        active.removeAll()
        curl_multi_cleanup(multi)
    }

    var count: Int { active.count }

    func add(_ transfer: Transfer) throws {
        let rc = curl_multi_add_handle(multi, transfer.handle)
        guard rc == CURLM_OK else { throw HTTPError.setup(String(cString: curl_multi_strerror(rc))) }
        active[transfer.id] = transfer
    }

    /// Drops every transfer in flight (Ctrl-C), closing their files.
    func abandonAll() -> [Transfer] {
        let dropped = Array(active.values)
        for t in dropped {
            curl_multi_remove_handle(multi, t.handle)
            t.finishSink()
        }
        active.removeAll()
        return dropped
    }

    /// Runs transfers for up to `timeoutMs` and returns those that finished.
    func run(timeoutMs: Int) -> [TransferResult] {
        var running: Int32 = 0
        curl_multi_perform(multi, &running)
        var done = collect()
        if done.isEmpty && !active.isEmpty {
            curl_multi_poll(multi, nil, 0, Int32(timeoutMs), nil)
            curl_multi_perform(multi, &running)
            done = collect()
        } else if active.isEmpty && timeoutMs > 0 {
            usleep(useconds_t(min(timeoutMs, 1000) * 1000))
        }
        return done
    }

    private func collect() -> [TransferResult] {
        var results: [TransferResult] = []
        var left: Int32 = 0
        while let msg = curl_multi_info_read(multi, &left) {
            guard curate_msg_done(msg) != 0 else { continue }
            let easy = curate_msg_easy(msg)
            let code = curate_msg_result(msg)
            var priv: UnsafeMutableRawPointer?
            _ = curate_easy_get_pointer(easy, CURLINFO_PRIVATE, &priv)
            guard let priv else { continue }
            let transfer = Unmanaged<Transfer>.fromOpaque(priv).takeUnretainedValue()
            curl_multi_remove_handle(multi, easy)
            active[transfer.id] = nil
            // The header as the server sent it, read by RFC 9110's rules (libcurl's own reading takes "1.5" or
            // "1e309" as 1 s).
            var header: UnsafeMutablePointer<curl_header>?
            let retry = curl_easy_header(easy, "Retry-After", 0, UInt32(CURLH_HEADER), -1, &header) == CURLHE_OK
                ? header.flatMap { $0.pointee.value.map { RetryAfter.seconds(String(cString: $0)) } } ?? nil : nil
            var ctype: UnsafeMutablePointer<CChar>?
            _ = curate_easy_get_string(easy, CURLINFO_CONTENT_TYPE, &ctype)
            var eff: UnsafeMutablePointer<CChar>?
            _ = curate_easy_get_string(easy, CURLINFO_EFFECTIVE_URL, &eff)
            let ms = Int((DispatchTime.now().uptimeNanoseconds - transfer.started.uptimeNanoseconds) / 1_000_000)
            transfer.finishSink()
            results.append(TransferResult(transfer: transfer, code: code, status: transfer.responseCode,
                                          retryAfter: retry,
                                          contentType: ctype.map { String(cString: $0) },
                                          effectiveURL: eff.map { String(cString: $0) }, ms: ms))
        }
        return results
    }

    /// Checks that a TCP (and TLS) connection to the URL's host can be made, without sending a request.
    static func checkReachable(_ url: String, options: HTTPOptions) throws {
        _ = globalInit
        guard let h = curl_easy_init() else { throw HTTPError.setup("curl_easy_init failed") }
        defer { curl_easy_cleanup(h) }
        _ = curate_easy_set_string(h, CURLOPT_URL, url)
        _ = curate_easy_set_string(h, CURLOPT_PROTOCOLS_STR, "http,https")
        _ = curate_easy_set_long(h, CURLOPT_CONNECT_ONLY, 1)
        _ = curate_easy_set_long(h, CURLOPT_NOSIGNAL, 1)
        _ = curate_easy_set_long(h, CURLOPT_CONNECTTIMEOUT_MS, Int(options.connectTimeout * 1000))
        let rc = curl_easy_perform(h)
        guard rc == CURLE_OK else { throw HTTPError.unreachable(url, String(cString: curl_easy_strerror(rc))) }
    }
}
