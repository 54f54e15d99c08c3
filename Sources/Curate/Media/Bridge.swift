// One way to call a bridge: each C function fills a curate_error (bridge_error.h), and a failure becomes a thrown
// error of the caller's type, with the bridge's message; and one way to load a library at run time.
import CBridgeError
#if canImport(Glibc)
import Glibc
#endif

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

    static func message(_ err: curate_error) -> String { string(err.message) }

    /// A C `char[N]` field of a bridge's struct (Swift sees a tuple), up to its terminating NUL.
    static func string<T>(_ chars: T) -> String {
        withUnsafeBytes(of: chars) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
    }
}

/// A shared library loaded at run time instead of linked (the torch bridge, libchafa): libraries that would cost
/// every command start-up time but only some commands use.
struct LoadedLibrary {
    let path: String
    private let handle: UnsafeMutableRawPointer

    /// Why a library or one of its symbols cannot be had.
    struct Failure: Error { let reason: String }

    /// Loads `path` (a file, or a name for the loader's search path), resolving every symbol now.
    static func open(_ path: String) -> Result<LoadedLibrary, Failure> {
        guard let handle = dlopen(path, RTLD_NOW | RTLD_LOCAL) else {
            return .failure(Failure(reason: dlerror().map { String(cString: $0) } ?? "cannot load \(path)"))
        }
        return .success(LoadedLibrary(path: path, handle: handle))
    }

    /// A function of the library (or of its dependencies), as the type the caller's field has: a table of them
    /// is typed once, by its fields.
    func symbol<T>(_ name: String) throws -> T {
        guard let p = dlsym(handle, name) else { throw Failure(reason: "\(path) has no \(name)") }
        return unsafeBitCast(p, to: T.self)
    }
}
