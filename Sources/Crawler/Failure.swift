// Sorts a finished transfer into success or a failure code, and says whether trying again can help.
import CCurl
import Catalog
import Foundation

/// Why a URL did not give an image. `code` is what the catalog and reports show.
public struct Failure: Equatable, Sendable {
    public var code: FailureCode
    public var transient: Bool
    public var message: String
    public var retryAfter: Int?

    static func permanent(_ code: FailureCode, _ message: String) -> Failure {
        Failure(code: code, transient: false, message: message)
    }

    static func transient(_ code: FailureCode, _ message: String, retryAfter: Int? = nil) -> Failure {
        Failure(code: code, transient: true, message: message, retryAfter: retryAfter)
    }

    /// Nil when the transfer produced a whole image body.
    static func of(_ r: TransferResult) -> Failure? {
        let t = r.transfer
        switch t.abort {
        case .tooLarge?:
            return .permanent(.tooLarge, "body over \(t.limit / (1024 * 1024)) MiB")
        case .notImage?:
            return .permanent(.notImage, "body is not an image (\(r.contentType ?? "no content type"))")
        case let .io(path, code)?:
            return .transient(.io, "cannot write \(path): \(String(cString: strerror(code)))")
        case nil:
            break
        }
        if let address = t.refusedAddress {
            return .permanent(.localAddress, "led to the local address \(address), which a search result may not reach")
        }
        switch r.code {
        case CURLE_OK:
            break
        case CURLE_FILESIZE_EXCEEDED:
            return .permanent(.tooLarge, "declared size over \(t.limit / (1024 * 1024)) MiB")
        case CURLE_TOO_MANY_REDIRECTS:
            return .permanent(.redirects, "more than the allowed redirects (a loop?)")
        case CURLE_UNSUPPORTED_PROTOCOL:
            return .permanent(.badScheme, "redirected to a scheme other than http(s)")
        case CURLE_URL_MALFORMAT:
            return .permanent(.badURL, "malformed URL")
        case CURLE_OPERATION_TIMEDOUT:
            return .transient(.timeout, r.curlError ?? "timed out")
        case CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY, CURLE_COULDNT_CONNECT, CURLE_SEND_ERROR,
             CURLE_RECV_ERROR, CURLE_GOT_NOTHING, CURLE_PARTIAL_FILE, CURLE_HTTP2, CURLE_HTTP2_STREAM,
             CURLE_SSL_CONNECT_ERROR, CURLE_BAD_CONTENT_ENCODING:
            return .transient(.connection, r.curlError ?? "connection error")
        case CURLE_PEER_FAILED_VERIFICATION:
            return .permanent(.tls, r.curlError ?? "TLS certificate not trusted")
        default:
            return .permanent(.error, r.curlError ?? "transfer failed")
        }
        switch r.status {
        case 200..<300:
            if case .imageFile = t.sink, t.format == nil {
                return .permanent(.notImage, "empty or too short to be an image")
            }
            return nil
        case 429:
            return .transient(.http(429), "HTTP 429 Too Many Requests", retryAfter: r.retryAfter)
        case 408:
            return .transient(.http(408), "HTTP 408 Request Timeout")
        case 500..<600:
            return .transient(.http(r.status), "HTTP \(r.status)", retryAfter: r.retryAfter)
        default:
            return .permanent(.http(r.status), "HTTP \(r.status)")
        }
    }
}
