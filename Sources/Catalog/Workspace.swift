// The workspace folder: where the catalog, the stored images and the model files live.
import Foundation

/// A workspace is one folder holding everything `curate` makes for one dataset:
///
///     catalog.sqlite     the SQLite catalog (WAL)
///     images/ab/<sha256>.<ext>   downloaded originals, content-addressed, never modified
///     tmp/               partial downloads (cleared at the start of each fetch)
///     models/            pretrained dlib model files
public struct Workspace: Sendable {
    public let root: URL

    public init(path: String) {
        self.root = URL(fileURLWithPath: path, isDirectory: true).standardizedFileURL
    }

    public var catalogURL: URL { root.appendingPathComponent("catalog.sqlite") }
    public var imagesURL: URL { root.appendingPathComponent("images", isDirectory: true) }
    public var tmpURL: URL { root.appendingPathComponent("tmp", isDirectory: true) }
    public var modelsURL: URL { root.appendingPathComponent("models", isDirectory: true) }
    public var lockURL: URL { root.appendingPathComponent(".lock") }

    /// The relative path (from the workspace root) of the stored original with these bytes.
    public static func imagePath(sha256: String, ext: String) -> String {
        "images/\(sha256.prefix(2))/\(sha256).\(ext)"
    }

    public func url(forRelativePath path: String) -> URL {
        root.appendingPathComponent(path)
    }

    /// True when a catalog already exists here.
    public var exists: Bool { FileManager.default.fileExists(atPath: catalogURL.path) }

    /// Creates the workspace folders and proves they are writable, without touching the catalog.
    public func prepare() throws {
        let fm = FileManager.default
        var isDir: ObjCBool = false
        if fm.fileExists(atPath: root.path, isDirectory: &isDir), !isDir.boolValue {
            throw WorkspaceError.notWritable(root.path, "it is a file, not a folder")
        }
        do {
            for dir in [root, imagesURL, tmpURL, modelsURL] {
                try fm.createDirectory(at: dir, withIntermediateDirectories: true)
            }
        } catch {
            throw WorkspaceError.notWritable(root.path, Self.reason(error))
        }
        let probe = tmpURL.appendingPathComponent(".write-probe-\(getpid())")
        guard fm.createFile(atPath: probe.path, contents: Data()) else {
            throw WorkspaceError.notWritable(root.path, "cannot create files in \(tmpURL.path)")
        }
        try? fm.removeItem(at: probe)
    }

    private static func reason(_ error: Error) -> String {
        let ns = error as NSError
        if let underlying = ns.userInfo[NSUnderlyingErrorKey] as? NSError {
            return String(cString: strerror(Int32(underlying.code)))
        }
        return ns.localizedDescription
    }
}

public enum WorkspaceError: BadInput {
    case notWritable(String, String)
    case noCatalog(String)
    case busy(String)

    public var description: String {
        switch self {
        case let .notWritable(path, why):
            return "workspace \(path) is not writable: \(why). Choose another with --workspace or CURATE_WORKSPACE."
        case let .noCatalog(path):
            return "no catalog in workspace \(path): run `curate fetch --query queries/` first, or point --workspace at an existing workspace."
        case let .busy(path):
            return "another curate fetch is running in workspace \(path); wait for it to finish or stop it first."
        }
    }
}

/// An exclusive lock on the workspace, held while a command writes to it.
/// flock(2) is released by the kernel when the process dies, even by SIGKILL, so a killed run never leaves a stale lock.
public final class WorkspaceLock {
    private let fd: Int32

    public init(_ workspace: Workspace) throws {
        fd = open(workspace.lockURL.path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw WorkspaceError.notWritable(workspace.root.path, String(cString: strerror(errno))) }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            close(fd)
            throw WorkspaceError.busy(workspace.root.path)
        }
    }

    deinit {
        flock(fd, LOCK_UN)
        close(fd)
    }
}
