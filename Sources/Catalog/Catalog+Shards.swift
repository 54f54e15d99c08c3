// A shard's workspace: the shard it holds (a setting), and finishing it: its marker, shard.json, written last,
// after the workspace is published whole into a shared folder (copy, then rename, then the marker).
import Foundation
import GRDB

/// What a finished shard says about itself, in its shard.json (as img2dataset writes `_stats.json`). Merge refuses
/// a shard without one: the marker is written last, so a shard that has it is whole.
public struct ShardMarker: Codable, Sendable, Equatable {
    public static let fileName = "shard.json"
    /// K/N; nil for a workspace fetched whole.
    public var shard: String?
    public var curate: String
    /// The catalog's last migration.
    public var schema: String
    public var people: [String]
    public var images: Int
    /// Image rows by verdict.
    public var verdicts: [String: Int]
    public var faces: Int
    public var attempts: Int
    public var finishedAt: Date
    public var host: String
}

public enum ShardFinishError: BadInput {
    case unprocessed(String, Int)
    case notOurs(String)
    public var description: String {
        switch self {
        case let .unprocessed(path, n):
            return "workspace \(path) has \(n) image(s) not processed yet: run `curate process` (with the same --shard) first."
        case let .notOurs(path):
            return "\(path) exists and is not a published shard (no catalog.sqlite nor \(ShardMarker.fileName) in it); choose another destination. Nothing was changed."
        }
    }
}

extension Catalog {
    /// The shard this workspace holds (recorded by `fetch --shard`), if any.
    public func shard() throws -> Shard? {
        guard let text = try setting("shard") else { return nil }
        return try Shard.resolve(text, count: nil, environment: [:])
    }

    /// Records that this workspace holds `shard`; refused when it holds another (each shard is its own workspace).
    public func claim(_ shard: Shard) throws {
        if let has = try self.shard() {
            guard has == shard else { throw ShardError.otherShard(workspace.root.path, has, shard) }
            return
        }
        try db.write { db in
            try db.execute(sql: "INSERT INTO setting (key, value) VALUES ('shard', ?)", arguments: [shard.description])
        }
    }

    /// The marker of this workspace as it stands.
    public func marker() throws -> ShardMarker {
        try db.read { db in
            var verdicts: [String: Int] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT verdict, COUNT(*) FROM image GROUP BY 1") { verdicts[row[0]] = row[1] }
            return ShardMarker(
                shard: try String.fetchOne(db, sql: "SELECT value FROM setting WHERE key = 'shard'"),
                curate: curateVersion,
                schema: try String.fetchOne(db, sql: "SELECT identifier FROM grdb_migrations ORDER BY rowid DESC LIMIT 1") ?? "",
                people: try String.fetchAll(db, sql: "SELECT label FROM person ORDER BY label"),
                images: verdicts.values.reduce(0, +), verdicts: verdicts,
                faces: try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM face")!,
                attempts: try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM attempt")!,
                finishedAt: Date(), host: ProcessInfo.processInfo.hostName)
        }
    }

    /// Finishes this shard: every image must be processed. Without `destination`, writes the marker into the
    /// workspace itself. With one (a shared folder, while this workspace is on node-local scratch), publishes it
    /// there atomically: the catalog (a consistent copy, in rollback-journal mode so readers need no shared
    /// memory) and every file are copied beside the destination, renamed into place (replacing an earlier
    /// publication of the shard), and the marker is written last. Returns the marker.
    @discardableResult
    public func finishShard(into destination: URL? = nil) throws -> ShardMarker {
        let pending = try db.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM image WHERE processedAt IS NULL")! }
        guard pending == 0 else { throw ShardFinishError.unprocessed(workspace.root.path, pending) }
        let marker = try marker()
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        let json = try encoder.encode(marker) + Data("\n".utf8)
        guard let destination = destination?.standardizedFileURL else {
            _ = try db.writeWithoutTransaction { db in try db.checkpoint(.truncate) }
            try workspace.writeAtomically(json, to: ShardMarker.fileName)
            return marker
        }
        let fm = FileManager.default
        if fm.fileExists(atPath: destination.path) {
            let ours = ["catalog.sqlite", ShardMarker.fileName].contains { fm.fileExists(atPath: destination.appendingPathComponent($0).path) }
                || ((try? fm.contentsOfDirectory(atPath: destination.path))?.isEmpty ?? false)
            guard ours else { throw ShardFinishError.notOurs(destination.path) }
        }
        let parent = destination.deletingLastPathComponent()
        let staging = parent.appendingPathComponent(".\(destination.lastPathComponent).tmp-\(getpid())")
        do {
            try fm.createDirectory(at: parent, withIntermediateDirectories: true)
            try? fm.removeItem(at: staging)
            try fm.createDirectory(at: staging, withIntermediateDirectories: true)
        } catch {
            throw WorkspaceIOError(path: staging.path, operation: "create the folder", error: error)
        }
        do {
            // VACUUM INTO: a consistent, compact copy whatever is in the WAL.
            let copy = staging.appendingPathComponent("catalog.sqlite").path
            try db.writeWithoutTransaction { db in try db.execute(sql: "VACUUM INTO ?", arguments: [copy]) }
            let queue = try DatabaseQueue(path: copy)
            try queue.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA journal_mode = DELETE") }
            try queue.close()
            let placer = FilePlacer(from: workspace.root, to: staging, copyOnly: true)
            try placer.place(try fileList())
            let old = parent.appendingPathComponent(".\(destination.lastPathComponent).old-\(getpid())")
            if fm.fileExists(atPath: destination.path) { try fm.moveItem(at: destination, to: old) }
            try fm.moveItem(at: staging, to: destination)
            try? fm.removeItem(at: old)
            try Workspace(path: destination.path).writeAtomically(json, to: ShardMarker.fileName)
        } catch {
            try? fm.removeItem(at: staging)
            throw error
        }
        return marker
    }

    /// Every file the catalog names (originals, normalised copies, face chips) and the files of training runs,
    /// workspace-relative.
    func fileList() throws -> [String] {
        var paths = try db.read { db in
            try String.fetchAll(db, sql: """
                SELECT path FROM image UNION SELECT normalizedPath FROM image WHERE normalizedPath IS NOT NULL
                UNION SELECT chipPath FROM face WHERE chipPath IS NOT NULL
                """)
        }
        let fm = FileManager.default
        for folder in try db.read({ db in try String.fetchAll(db, sql: "SELECT folder FROM run") }) {
            let root = workspace.url(forRelativePath: folder)
            for case let name as String in fm.enumerator(atPath: root.path) ?? NSEnumerator() {
                var isDir: ObjCBool = false
                if fm.fileExists(atPath: root.appendingPathComponent(name).path, isDirectory: &isDir), !isDir.boolValue {
                    paths.append(folder + "/" + name)
                }
            }
        }
        return paths
    }
}
