// The workspace folder: where the catalog, the stored images and the model files live.
import Foundation

/// A workspace is one folder holding everything `curate` makes for one dataset:
///
///     catalog.sqlite     the SQLite catalog (WAL)
///     images/ab/<sha256>.<ext>   downloaded originals, content-addressed, never modified
///     tmp/               partial downloads (cleared at the start of each fetch)
///     models/            pretrained dlib model files
///
/// The folder is the user's: curate only makes a workspace in a new or empty folder (or one holding nothing but
/// what `scripts/setup.sh` and curate itself put there), and deletes only files it knows it made.
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

    /// How many stored originals (content-addressed files under images/) the folder holds: counted only when
    /// the catalog is missing or empty, to tell a damaged workspace from a new one and say what is at stake.
    public func storedFileCount() -> Int {
        let fm = FileManager.default
        var count = 0
        for dir in (try? fm.contentsOfDirectory(atPath: imagesURL.path)) ?? [] {
            for name in (try? fm.contentsOfDirectory(atPath: imagesURL.appendingPathComponent(dir).path)) ?? []
            where Self.isContentAddressed("images/\(dir)/\(name)") {
                count += 1
            }
        }
        return count
    }

    /// What in this folder curate did not make, for a folder without a catalog: anything but the model files,
    /// our own empty folders, the lock, download leftovers and `.gitkeep`. Empty when a workspace may be made here.
    public func foreignEntries() -> [String] {
        let fm = FileManager.default
        guard let names = try? fm.contentsOfDirectory(atPath: root.path) else { return [] }
        var foreign: [String] = []
        for name in names.sorted() {
            switch name {
            // catalog.sqlite-journal: a command killed while SQLite made the catalog (before it turned to WAL)
            // leaves the rollback journal beside an empty catalog; SQLite deletes it when it opens the catalog.
            case ".gitkeep", ".lock", "models", "catalog.sqlite", "catalog.sqlite-wal", "catalog.sqlite-shm", "catalog.sqlite-journal":
                continue
            case "tmp":
                let left = (try? fm.contentsOfDirectory(atPath: tmpURL.path)) ?? []
                if left.allSatisfy({ Self.isOurTemp($0) || Self.isMergeCopy($0) || $0 == Self.processEvidenceName }) { continue }
            case "images", "normalized", "faces", "runs", "export":
                if fm.enumerator(atPath: root.appendingPathComponent(name).path)?.allObjects.isEmpty ?? true { continue }
            default:
                break
            }
            foreign.append(name)
        }
        return foreign
    }

    /// In tmp/: what a processing run that died left for the next one (Curate's DeathEvidence). Not swept with
    /// the partial downloads: the next `process` reads it.
    public static let processEvidenceName = "process-evidence"

    /// The names curate gives its own files in tmp/: partial downloads (`<attempt id>.part`) and write probes.
    /// In tmp/: the migrated copy of an older shard's catalog that `curate merge` makes, and SQLite's files beside
    /// it (a merge killed before the workspace's catalog had its first migration leaves only these).
    public static func isMergeCopy(_ name: String) -> Bool {
        guard name.hasPrefix("merge-") else { return false }
        for suffix in [".sqlite", ".sqlite-wal", ".sqlite-shm", ".sqlite-journal"] where name.hasSuffix(suffix) {
            let stem = name.dropFirst(6).dropLast(suffix.count)
            return stem.count == 16 && stem.allSatisfy(\.isHexDigit)
        }
        return false
    }

    public static func isOurTemp(_ name: String) -> Bool {
        if name.hasPrefix(".write-probe-") { return true }
        guard name.hasSuffix(".part") else { return false }
        let stem = name.dropLast(5)
        return !stem.isEmpty && stem.allSatisfy(\.isASCII) && stem.allSatisfy(\.isNumber)
    }

    /// True for a workspace-relative path of the shape curate gives stored originals: images/ab/<sha256>.<ext>.
    public static func isContentAddressed(_ path: String) -> Bool {
        let parts = path.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0] == "images", parts[1].count == 2 else { return false }
        let name = parts[2].split(separator: ".", omittingEmptySubsequences: false)
        guard name.count == 2, name[0].count == 64, name[0].hasPrefix(parts[1]), !name[1].isEmpty else { return false }
        return name[0].allSatisfy { $0.isHexDigit && !$0.isUppercase }
    }

    /// Creates the workspace folders and proves they are writable, without touching the catalog; first makes
    /// sure the folder is a workspace of ours, or new (see `checkCatalog`).
    public func prepare() throws {
        try checkCatalog(creating: true)
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
            // Foundation says "NSCocoaErrorDomain error 512" for a path under a plain file: name the file.
            var parent = root.deletingLastPathComponent()
            while parent.path != "/" {
                if fm.fileExists(atPath: parent.path, isDirectory: &isDir) {
                    if !isDir.boolValue { throw WorkspaceError.notWritable(root.path, "\(parent.path) is a file, not a folder") }
                    break
                }
                parent = parent.deletingLastPathComponent()
            }
            throw WorkspaceError.notWritable(root.path, Self.reason(error))
        }
        let probe = tmpURL.appendingPathComponent(".write-probe-\(getpid())")
        guard fm.createFile(atPath: probe.path, contents: Data()) else {
            throw WorkspaceError.notWritable(root.path, "cannot create files in \(tmpURL.path)")
        }
        try? fm.removeItem(at: probe)
    }

    /// What can be told about the catalog file before SQLite opens it, and before anything is made here: a
    /// missing or empty catalog beside stored originals is damage; a folder holding things curate did not make
    /// is not ours to adopt (`creating`); without a catalog a reading command has nothing to read. It never opens
    /// a catalog this process has open through SQLite, which would cost that connection its locks (`OpenCatalogs`).
    public func checkCatalog(creating: Bool) throws {
        let workspace = self
        let path = workspace.catalogURL.path
        // SQLite would write through a link: the catalog and its journal files are the workspace's own.
        for name in ["catalog.sqlite", "catalog.sqlite-wal", "catalog.sqlite-shm"] {
            var info = stat()
            let file = root.appendingPathComponent(name).path
            if lstat(file, &info) == 0, (info.st_mode & S_IFMT) == S_IFLNK {
                throw WorkspaceError.unreadable(workspace.root.path, "\(file) is a symbolic link, which curate does not follow")
            }
        }
        let size = (try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int
        if size == nil, FileManager.default.fileExists(atPath: path) {
            throw WorkspaceError.unreadable(workspace.root.path, "\(path) cannot be read")
        }
        if size == nil || size == 0 {
            let files = workspace.storedFileCount()
            if files > 0 {
                let why = size == nil ? "is missing (no catalog.sqlite)" : "is an empty file (catalog.sqlite, 0 bytes)"
                throw WorkspaceError.damaged(workspace.root.path, why, files: files)
            }
            guard creating else { throw WorkspaceError.noCatalog(workspace.root.path) }
            let foreign = workspace.foreignEntries()
            if !foreign.isEmpty { throw WorkspaceError.foreign(workspace.root.path, foreign) }
            return
        }
        // Its header was read when this process opened it; a descriptor opened and closed now would drop the locks
        // SQLite holds on it (see `OpenCatalogs`).
        if OpenCatalogs.isOpen(path) { return }
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw WorkspaceError.unreadable(workspace.root.path, "\(path) cannot be read (\(String(cString: strerror(errno))))")
        }
        defer { try? handle.close() }
        let header = (try? handle.read(upToCount: 16)) ?? Data()
        guard header == Data("SQLite format 3\u{0}".utf8) else {
            throw WorkspaceError.damaged(workspace.root.path, "is not an SQLite database (catalog.sqlite starts with other bytes)",
                                         files: workspace.storedFileCount())
        }
    }

    private static func reason(_ error: Error) -> String {
        let ns = error as NSError
        if let underlying = ns.userInfo[NSUnderlyingErrorKey] as? NSError {
            return String(cString: strerror(Int32(underlying.code)))
        }
        return ns.localizedDescription
    }
}

/// The workspace's file system failed us (a disk full, a read-only folder, an I/O error): not the fault of an
/// image nor of the user's input. A run that meets one stops with this message and records nothing for the item
/// it was working on, so the same command, run again once the cause is fixed, does it again.
public struct WorkspaceIOError: Error, CustomStringConvertible {
    public let path: String
    public let operation: String
    public let code: Int32

    public init(path: String, operation: String, code: Int32) {
        self.path = path
        self.operation = operation
        self.code = code
    }

    /// From a thrown Foundation error, reading its POSIX code (never its NSError text).
    public init(path: String, operation: String, error: Error) {
        let ns = error as NSError
        let underlying = ns.userInfo[NSUnderlyingErrorKey] as? NSError
        let cocoa: [Int: Int32] = [CocoaError.fileWriteOutOfSpace.rawValue: ENOSPC, CocoaError.fileWriteNoPermission.rawValue: EACCES,
                                   CocoaError.fileReadNoPermission.rawValue: EACCES, CocoaError.fileWriteVolumeReadOnly.rawValue: EROFS,
                                   CocoaError.fileNoSuchFile.rawValue: ENOENT, CocoaError.fileReadNoSuchFile.rawValue: ENOENT,
                                   CocoaError.fileWriteFileExists.rawValue: EEXIST]
        let code = ns.domain == NSPOSIXErrorDomain ? Int32(ns.code)
            : underlying?.domain == NSPOSIXErrorDomain ? Int32(underlying!.code)
            : ns.domain == NSCocoaErrorDomain ? cocoa[ns.code] ?? EIO : EIO
        self.init(path: path, operation: operation, code: code)
    }

    public var description: String {
        let what = "cannot \(operation) \(path): \(String(cString: strerror(code)))"
        switch code {
        case ENOSPC, EDQUOT: return what + ". The disk is full: free some space, then run the same command again."
        case EROFS, EACCES, EPERM: return what + ". The folder cannot be written: make it writable (or choose another --workspace), then run the same command again."
        case EIO: return what + ". The disk reported an I/O error: check it, then run the same command again."
        default: return what + "; fix that, then run the same command again."
        }
    }
}

extension Workspace {
    /// Writes a file curate makes (a normalised copy, a face chip) atomically: to a temporary name beside it,
    /// then renamed. Any failure is the file system's, thrown as `WorkspaceIOError` with the path.
    public func writeAtomically(_ data: Data, to relative: String) throws {
        let url = url(forRelativePath: relative)
        let dir = url.deletingLastPathComponent()
        // mkdir(2) itself, for its errno: Foundation's errors do not always carry the POSIX cause. Below the
        // workspace's root a folder that is a symbolic link is not followed: curate writes only inside the workspace.
        var made = ""
        let rootDepth = root.path.split(separator: "/").count
        for (depth, part) in dir.path.split(separator: "/").enumerated() {
            made += "/" + part
            var info = stat()
            if depth >= rootDepth, lstat(made, &info) == 0, (info.st_mode & S_IFMT) == S_IFLNK {
                throw WorkspaceIOError(path: made, operation: "write into", code: ELOOP)
            }
            if stat(made, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR { continue }
            guard mkdir(made, 0o755) == 0 || errno == EEXIST else {
                throw WorkspaceIOError(path: made, operation: "create the folder", code: errno)
            }
        }
        let temp = dir.appendingPathComponent(".\(url.lastPathComponent).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        let fd = open(temp.path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw WorkspaceIOError(path: url.path, operation: "write", code: errno) }
        var failure: Int32 = 0
        data.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = Foundation.write(fd, raw.baseAddress! + offset, raw.count - offset)
                if n < 0 { if errno == EINTR { continue }; failure = errno; return }
                offset += n
            }
        }
        if close(fd) != 0 && failure == 0 { failure = errno }
        if failure == 0 && rename(temp.path, url.path) != 0 { failure = errno }
        if failure != 0 {
            unlink(temp.path)
            throw WorkspaceIOError(path: url.path, operation: "write", code: failure)
        }
    }
}

public enum WorkspaceError: BadInput {
    case notWritable(String, String)
    case noCatalog(String)
    /// Another command holds the workspace: its path and the holder, as the lock file names it.
    case busy(String, holder: String?)
    /// A folder without a catalog that holds things curate did not make.
    case foreign(String, [String])
    /// The catalog is missing, empty or unreadable while the workspace holds stored files: path, what is wrong, files.
    case damaged(String, String, files: Int)
    /// The catalog cannot be read (a read-only folder, a permission): path and why.
    case unreadable(String, String)

    public var description: String {
        switch self {
        case let .notWritable(path, why):
            return "workspace \(path) is not writable: \(why). Choose another with --workspace or CURATE_WORKSPACE."
        case let .noCatalog(path):
            return "no catalog in workspace \(path): run `curate fetch --query queries/` first, or point --workspace at an existing workspace."
        case let .busy(path, holder):
            return "\(holder ?? "another curate fetch or process") is running in workspace \(path); wait for it to finish or "
                + "stop it first (review, split, export, train, status and list may run beside it)."
        case let .foreign(path, names):
            let shown = names.prefix(5).joined(separator: ", ") + (names.count > 5 ? ", ..." : "")
            return "\(path) holds other things (\(shown)) and no catalog: curate makes a workspace only in a new or empty "
                + "folder, and changed nothing. Choose another --workspace (or CURATE_WORKSPACE)."
        case let .damaged(path, why, files):
            return "the catalog of workspace \(path) \(why), but the workspace holds \(files) stored file(s): nothing was changed. "
                + "Restore catalog.sqlite (with its -wal file) from a backup; or, to start afresh, move the workspace "
                + "away and fetch into a new one. curate will not treat this folder as a new workspace."
        case let .unreadable(path, why):
            return "cannot read the catalog of workspace \(path): \(why)."
        }
    }
}

/// An exclusive lock on the workspace, held while a command writes to it.
/// flock(2) is released by the kernel when the process dies, even by SIGKILL, so a killed run never leaves a stale lock.
/// Held by the commands that change many images at once, `fetch` and `process`, which therefore never run beside
/// each other. Review, split, export and train take no lock: each writes only the columns it owns, in its own
/// transactions, so they may run while a fetch or process is going on.
/// The lock file names its holder (`curate process (pid 123)`), so the busy message can say which command it is.
public final class WorkspaceLock {
    private let fd: Int32

    /// `command` is the holder's name as the user typed it (`fetch`, `process`).
    public init(_ workspace: Workspace, command: String) throws {
        // Never through a link: a .lock pointing elsewhere would have the file it points at truncated and written.
        // O_NONBLOCK: a FIFO planted as .lock must not hang the open (it is then refused as not a plain file).
        let path = workspace.lockURL.path
        let opened = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0o644)
        guard opened >= 0 else {
            let code = errno
            throw WorkspaceError.notWritable(workspace.root.path, code == ELOOP
                ? "\(path) is a symbolic link, which curate does not follow; remove it (curate makes its own)"
                : String(cString: strerror(code)))
        }
        var info = stat()
        guard fstat(opened, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else {
            close(opened)
            throw WorkspaceError.notWritable(workspace.root.path, "\(path) is not a plain file; remove it (curate makes its own)")
        }
        fd = opened
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            var buffer = [UInt8](repeating: 0, count: 200)
            let n = pread(fd, &buffer, buffer.count, 0)
            close(fd)
            let holder = n > 0 ? String(decoding: buffer.prefix(n), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) : ""
            throw WorkspaceError.busy(workspace.root.path, holder: holder.hasPrefix("curate ") ? holder : nil)
        }
        let name = Array("curate \(command) (pid \(getpid()))\n".utf8)
        _ = ftruncate(fd, 0)
        _ = pwrite(fd, name, name.count, 0)
    }

    deinit {
        flock(fd, LOCK_UN)
        close(fd)
    }
}
