// One way to call a bridge: each C function fills a curate_error (bridge_error.h), and a failure becomes a thrown
// error of the caller's type, with the bridge's message.
import CBridgeError

enum Bridge {
    /// Runs a call that returns a status: non-zero throws `failure(message)`.
    static func call(_ failure: (String) -> Error, _ body: (UnsafeMutablePointer<curate_error>) -> Int32) throws {
        var err = curate_error()
        guard body(&err) == 0 else { throw failure(message(err)) }
    }

    /// Runs a call that makes something (a handle, a buffer): nil throws `failure(message)`.
    static func value<T>(_ failure: (String) -> Error, _ body: (UnsafeMutablePointer<curate_error>) -> T?) throws -> T {
        var err = curate_error()
        guard let value = body(&err) else { throw failure(message(err)) }
        return value
    }

    static func message(_ err: curate_error) -> String {
        withUnsafeBytes(of: err.message) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
    }
}
