// libFuzzer harness: answers from Wikimedia Commons and Openverse (status, Retry-After as curl hands it over, JSON
// body, Openverse's "available in N seconds"), and the next request built from what a page said.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzProviders(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size >= 3 else { return 0 }
    let bytes = [UInt8](UnsafeBufferPointer(start: data, count: size))
    // The first bytes pick the status and the Retry-After value (curl gives a non-negative count of seconds, or none).
    let statuses = [200, 200, 200, 429, 503, 500, 404, 400]
    let status = statuses[Int(bytes[0]) % statuses.count]
    let retryAfter: Int? = bytes[1] == 0 ? nil : (bytes[1] == 0xFF ? Int.max : Int(bytes[1]) * 997)
    let body = Array(bytes[2...])
    let providers: [SearchProvider] = [CommonsProvider(endpoint: "http://127.0.0.1/w/api.php"),
                                       OpenverseProvider(endpoint: "http://127.0.0.1")]
    for provider in providers {
        if case let .page(_, cursor, _) = provider.read(status: status, body: body, retryAfter: retryAfter) {
            _ = provider.requestURL(term: "fuzz", cursor: cursor)
        }
        _ = provider.requestURL(term: String(decoding: body.prefix(64), as: UTF8.self),
                                cursor: String(decoding: body, as: UTF8.self))
    }
    return 0
}
