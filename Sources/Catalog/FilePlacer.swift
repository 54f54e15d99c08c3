// Putting a workspace's files into another: a hard link where the file system allows it, else a copy verified by
// SHA-256; what `curate merge` and `curate shard-done --into` move.
import Foundation

/// Places files from one folder tree into another under the same relative paths. A file already at its place
/// is left as it is: the paths are content-addressed (an original's name is its SHA-256, a normalised copy's and a
/// chip's that of their original), so what is there is the same file. Each file appears whole or not at all (a
/// link is atomic; a copy is written to a temporary name, read back, checked and renamed).
public final class FilePlacer: @unchecked Sendable {   // counters guarded by `lock`
    public struct Counts: Codable, Sendable, Equatable {
        public var linked = 0
        public var copied = 0
        /// Already in place.
        public var present = 0
        /// Named by the source's catalog but not in the source folder.
        public var missing = 0
        public init() {}
    }

    let from: URL
    let to: URL
    /// Copy, never link (a node-local scratch folder published to a shared one: the link would tie them).
    let copyOnly: Bool
    private let lock = NSLock()
    private var made = Set<String>()
    public private(set) var counts = Counts()

    private let fromPath: String
    private let toPath: String

    public init(from: URL, to: URL, copyOnly: Bool = false) {
        self.from = from
        self.to = to
        fromPath = from.path
        toPath = to.path
        self.copyOnly = copyOnly
    }

    /// Places every path, on `threads` threads (a link is a system call each; a copy reads and writes). The paths
    /// are taken folder by folder: each folder is made once, and its files are linked by name between the two
    /// folders held open (`linkat`), so the kernel does not walk two whole paths for each. A path given twice is
    /// placed once.
    public func place(_ paths: [String], threads: Int = max(2, ProcessInfo.processInfo.activeProcessorCount)) throws {
        var byFolder: [Substring: [Substring]] = [:]
        for path in paths {
            if let slash = path.utf8.lastIndex(of: UInt8(ascii: "/")) {
                byFolder[path[..<slash], default: []].append(path[path.utf8.index(after: slash)...])
            } else {
                byFolder["", default: []].append(path[...])
            }
        }
        let folders = byFolder.sorted { $0.key < $1.key }
        var failure: Error?
        DispatchQueue.concurrentPerform(iterations: min(threads, max(folders.count, 1))) { worker in
            var local = Counts()
            var f = worker
            while f < folders.count {
                do { try place(folder: String(folders[f].key), names: folders[f].value, &local) } catch {
                    lock.lock(); if failure == nil { failure = error }; lock.unlock()
                    break
                }
                f += threads
            }
            lock.lock()
            counts.linked += local.linked; counts.copied += local.copied; counts.present += local.present; counts.missing += local.missing
            lock.unlock()
        }
        if let failure { throw failure }
    }

    /// The files `names` of one folder (relative to both roots).
    private func place(folder: String, names: [Substring], _ counts: inout Counts) throws {
        try makeFolder(folder)
        let names = Array(Set(names))
        func relative(_ name: Substring) -> String { folder.isEmpty ? String(name) : folder + "/" + name }
        guard !copyOnly else {
            for name in names { try copy(relative(name), &counts) }
            return
        }
        let src = open(folder.isEmpty ? fromPath : fromPath + "/" + folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard src >= 0 else {
            // No such folder in the source: none of its files are there (anything else: each file says why).
            if errno == ENOENT { counts.missing += names.count; return }
            for name in names { try copy(relative(name), &counts) }
            return
        }
        defer { close(src) }
        let dst = open(folder.isEmpty ? toPath : toPath + "/" + folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard dst >= 0 else { throw WorkspaceIOError(path: toPath + "/" + folder, operation: "open the folder", code: errno) }
        defer { close(dst) }
        for name in names {
            let file = String(name)
            if linkat(src, file, dst, file, 0) == 0 { counts.linked += 1; continue }
            switch errno {
            case EEXIST: counts.present += 1
            case ENOENT: counts.missing += 1
            default: try copy(relative(name), &counts)   // another file system (EXDEV), or links not allowed
            }
        }
    }

    /// Copies one file: written under a temporary name, read back, checked by SHA-256, renamed into place.
    private func copy(_ relative: String, _ counts: inout Counts) throws {
        // Plain strings: Foundation's URL and NSString path calls cost tens of microseconds each on Linux.
        let src = fromPath + "/" + relative
        let dst = toPath + "/" + relative
        if access(dst, F_OK) == 0 {
            counts.present += 1
            return
        }
        guard let data = FileManager.default.contents(atPath: src) else {
            if access(src, F_OK) != 0 { counts.missing += 1; return }
            throw WorkspaceIOError(path: src, operation: "read", code: EIO)
        }
        let expected = Self.namedSHA256(relative) ?? SHA256.hex(data)
        guard SHA256.hex(data) == expected else { throw FilePlacerError.damaged(src) }
        let slash = dst.lastIndex(of: "/")!
        let temp = String(dst[..<slash]) + "/." + String(dst[dst.index(after: slash)...]) + ".tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        do {
            try data.write(to: URL(fileURLWithPath: temp))
        } catch {
            unlink(temp)
            throw WorkspaceIOError(path: dst, operation: "write", error: error)
        }
        // Read back what was written: the copy must hash as its source did.
        guard let back = FileManager.default.contents(atPath: temp), SHA256.hex(back) == expected else {
            unlink(temp)
            throw WorkspaceIOError(path: dst, operation: "verify the copy of", code: EIO)
        }
        guard rename(temp, dst) == 0 else {
            let code = errno
            unlink(temp)
            throw WorkspaceIOError(path: dst, operation: "write", code: code)
        }
        counts.copied += 1
    }

    /// An original's SHA-256, from its content-addressed name (images/ab/<sha256>.<ext>); nil for other files.
    static func namedSHA256(_ relative: String) -> String? {
        guard Workspace.isContentAddressed(relative) else { return nil }
        return String((relative as NSString).lastPathComponent.prefix(64))
    }

    /// Makes a folder (and those above it) under the destination, once.
    private func makeFolder(_ dir: String) throws {
        guard !dir.isEmpty else { return }
        lock.lock()
        let known = made.contains(dir)
        lock.unlock()
        if known { return }
        var made = toPath
        for part in dir.split(separator: "/") {
            made += "/" + part
            guard mkdir(made, 0o755) == 0 || errno == EEXIST else {
                throw WorkspaceIOError(path: made, operation: "create the folder", code: errno)
            }
        }
        lock.lock()
        self.made.insert(dir)
        lock.unlock()
    }
}

public enum FilePlacerError: BadInput {
    case damaged(String)
    public var description: String {
        switch self {
        case .damaged(let path):
            return "\(path) does not match its SHA-256 (its name): the shard holding it is damaged; publish it again from its workspace."
        }
    }
}
