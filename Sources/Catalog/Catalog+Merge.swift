// Merging finished shards into this workspace: the union of their records (by what each row is: a person by label,
// an image by person and content, ...) in one transaction per shard, by bulk SQL over the attached shard catalog,
// and their content-addressed files, hard-linked or copied. The stages that look across people run after it, from
// Curate.
import Foundation
import GRDB

/// A finished shard, checked and ready to merge (see `Catalog.checkShards`).
public struct ShardSource: Sendable {
    public let root: URL
    public let marker: ShardMarker
    /// The SHA-256 of its shard.json: the same marker merged twice is the same shard merged twice.
    public let markerSha256: String
    let markerText: String
    /// The catalog to attach: the shard's own, or an up-to-date copy in this workspace's tmp/ when it was made by
    /// an older curate.
    let catalogPath: String
    /// Its settings (the split's options...), without its shard.
    let settings: [String: String]
}

/// What merging one shard brought.
public struct ShardMergeOutcome: Codable, Sendable {
    public var path: String
    public var shard: String?
    /// The shard's marker was merged before: nothing was done.
    public var alreadyMerged: Bool
    public var people = 0
    public var images = 0
    public var faces = 0
    public var decisions = 0
    public var files = FilePlacer.Counts()
    public var seconds = 0.0
    /// Of `seconds`: placing the files, and the transaction that brings the rows (with its commit).
    public var filesSeconds = 0.0
    public var rowsSeconds = 0.0
}

/// How a merge brings a shard's own judgement of its people (Curate's terms, which the catalog does not read): the
/// options the stages across people judge by here (a shard judged by others is judged again) and those its
/// identities are stored with, and how a stored identity's face distances are renumbered with the shard's images.
public struct JudgementCarry: Sendable {
    public var options: String
    public var identityOptions: String
    /// `identityState.distances` with each image id mapped (shard -> here); nil where that cannot be done.
    public var renumber: @Sendable (Data, [Int64: Int64]) -> Data?

    public init(options: String, identityOptions: String, renumber: @escaping @Sendable (Data, [Int64: Int64]) -> Data?) {
        self.options = options
        self.identityOptions = identityOptions
        self.renumber = renumber
    }
}

public enum MergeError: BadInput {
    case notWorkspace(String)
    case unfinished(String)
    case badMarker(String, String)
    case newer(String, String)
    case settings(key: String, String, String, String, String)
    case shardCounts(String, String, String, String)
    case intoItself(String)

    public var description: String {
        switch self {
        case .notWorkspace(let path):
            return "\(path) is not a curate workspace (no catalog.sqlite in it)."
        case .unfinished(let path):
            return "shard \(path) is unfinished: it has no \(ShardMarker.fileName). A shard is finished when `curate shard-done` "
                + "publishes it (its job's last step); run that shard's job again (it resumes), then merge. Nothing was merged."
        case let .badMarker(path, why):
            return "\(path)/\(ShardMarker.fileName) cannot be read (\(why)); publish the shard again with `curate shard-done`."
        case let .newer(path, migration):
            return "shard \(path) was made by a newer curate (its catalog has the migration \"\(migration)\", which this curate does not know): "
                + "merge with that curate or a newer one. Nothing was merged."
        case let .settings(key, a, va, b, vb):
            return "\(a) and \(b) disagree on the setting \"\(key)\" (\(a): \(va); \(b): \(vb)): shards merged into one workspace "
                + "must be made with the same settings. Nothing was merged."
        case let .shardCounts(a, sa, b, sb):
            return "\(a) is shard \(sa) and \(b) is shard \(sb): the shards of one run are cut into the same number of shards. Nothing was merged."
        case .intoItself(let path):
            return "\(path) is the workspace being merged into; a shard is merged into another workspace."
        }
    }
}

extension Catalog {
    /// Checks every shard before anything changes: a workspace, finished (its marker), made by this curate or an
    /// older one (an older catalog is migrated as a copy in tmp/; the shard is left as it is), and of the same
    /// settings as the others and as this workspace.
    public func checkShards(_ roots: [URL]) throws -> [ShardSource] {
        var sources: [ShardSource] = []
        var seen = Set<String>()
        let known = Set(Schema.migrator.migrations)
        for root in roots.map(\.standardizedFileURL) where seen.insert(root.path).inserted {
            guard root.path != workspace.root.path else { throw MergeError.intoItself(root.path) }
            let catalogURL = root.appendingPathComponent("catalog.sqlite")
            guard FileManager.default.fileExists(atPath: catalogURL.path) else { throw MergeError.notWorkspace(root.path) }
            let markerURL = root.appendingPathComponent(ShardMarker.fileName)
            guard let markerData = FileManager.default.contents(atPath: markerURL.path) else { throw MergeError.unfinished(root.path) }
            let decoder = JSONDecoder()
            decoder.dateDecodingStrategy = .iso8601
            let marker: ShardMarker
            do { marker = try decoder.decode(ShardMarker.self, from: markerData) } catch {
                throw MergeError.badMarker(root.path, "\(error)")
            }
            var catalogPath = catalogURL.path
            let (applied, settings) = try Self.readShard(catalogPath)
            if let unknown = applied.first(where: { !known.contains($0) }) { throw MergeError.newer(root.path, unknown) }
            if applied.count < known.count {
                // Made by an older curate: migrate a copy, never the shard itself.
                catalogPath = workspace.tmpURL.appendingPathComponent("merge-\(SHA256.hex(Array(root.path.utf8)).prefix(16)).sqlite").path
                try Self.migratedCopy(of: catalogURL.path, to: catalogPath)
            }
            sources.append(ShardSource(root: root, marker: marker, markerSha256: SHA256.hex(markerData),
                                       markerText: String(decoding: markerData, as: UTF8.self), catalogPath: catalogPath,
                                       settings: settings.filter { $0.key != "shard" }))
        }
        // Settings: every shard and this workspace agree on every setting they both have.
        var own = try db.read { db in
            Dictionary(try Row.fetchAll(db, sql: "SELECT key, value FROM setting WHERE key != 'shard'").map { ($0[0] as String, $0[1] as String) },
                       uniquingKeysWith: { a, _ in a })
        }
        var owner: [String: String] = own.mapValues { _ in workspace.root.path }
        var count: (String, String)?
        for s in sources {
            for (key, value) in s.settings.sorted(by: { $0.key < $1.key }) {
                if let have = own[key], !Self.sameSetting(have, value) {
                    throw MergeError.settings(key: key, owner[key]!, have, s.root.path, value)
                }
                own[key] = value
                owner[key] = s.root.path
            }
            if let shard = s.marker.shard, let n = shard.split(separator: "/").last {
                if let (path, other) = count, other.split(separator: "/").last != n {
                    throw MergeError.shardCounts(path, other, s.root.path, shard)
                }
                count = count ?? (s.root.path, shard)
            }
        }
        return sources
    }

    /// Two values of a setting mean the same: equal text, or equal JSON (the same keys in another order).
    static func sameSetting(_ a: String, _ b: String) -> Bool {
        if a == b { return true }
        func normal(_ text: String) -> Data? {
            guard let value = try? JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed]) else { return nil }
            return try? JSONSerialization.data(withJSONObject: value, options: [.sortedKeys, .fragmentsAllowed])
        }
        guard let x = normal(a), let y = normal(b) else { return false }
        return x == y
    }

    /// The migrations a shard's catalog has and its settings, read without changing it.
    private static func readShard(_ path: String) throws -> (migrations: [String], settings: [String: String]) {
        var config = Configuration()
        config.readonly = true
        let queue = try DatabaseQueue(path: path, configuration: config)
        defer { try? queue.close() }
        return try queue.read { db in
            let migrations = try db.tableExists("grdb_migrations") ? try String.fetchAll(db, sql: "SELECT identifier FROM grdb_migrations") : []
            let settings = try db.tableExists("setting")
                ? Dictionary(try Row.fetchAll(db, sql: "SELECT key, value FROM setting").map { ($0[0] as String, $0[1] as String) }, uniquingKeysWith: { a, _ in a })
                : [:]
            return (migrations, settings)
        }
    }

    private static func migratedCopy(of path: String, to copy: String) throws {
        var config = Configuration()
        config.readonly = true
        let source = try DatabaseQueue(path: path, configuration: config)
        defer { try? source.close() }
        try? FileManager.default.removeItem(atPath: copy)
        try source.writeWithoutTransaction { db in try db.execute(sql: "VACUUM INTO ?", arguments: [copy]) }
        let queue = try DatabaseQueue(path: copy)
        try Schema.migrator.migrate(queue)
        try queue.close()
    }

    /// Merged shards whose cross-people stages have not run yet.
    public func unsettledMerges() throws -> Int {
        try db.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM mergedShard WHERE settled = 0")! }
    }

    public func settleMerges() throws {
        try db.write { db in try db.execute(sql: "UPDATE mergedShard SET settled = 1 WHERE settled = 0") }
    }

    /// Merges checked shards one after the other (`merge(_:)`), with what many rows need around them: the
    /// non-unique indices built once after the last shard (`deferIndices`), and the catalog in a rollback journal
    /// while the shards and indices are written (`rollbackJournal`), so that each new page is written once, into the
    /// catalog. Where another connection has the catalog open (it stays in WAL), the WAL is copied into the catalog
    /// (checkpointed) by a second connection on another thread while the next shard is written, instead of by the
    /// writer after each commit. `onShard` is told of each shard as it is merged. With `carrying`, each shard's own
    /// judgement comes with its people where it finished with those options (`carryJudgement`).
    public func merge(_ sources: [ShardSource], carrying carry: JudgementCarry? = nil,
                      onShard: (ShardMergeOutcome) -> Void = { _ in }) throws -> [ShardMergeOutcome] {
        try deferIndices(for: sources)
        let rollback = rollbackJournal()
        defer { if rollback { backToWAL() } }
        // The catalog's pages read through a map of its file too (the indices' builds scan whole tables).
        let map = try db.writeWithoutTransaction { db in try Int.fetchOne(db, sql: "PRAGMA main.mmap_size")! }
        try db.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA main.mmap_size = \(Self.mergeMap)") }
        defer { try? db.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA main.mmap_size = \(map)") } }
        var outcomes: [ShardMergeOutcome] = []
        do {
            if rollback {
                for source in sources {
                    let outcome = try merge(source, carrying: carry)
                    outcomes.append(outcome)
                    onShard(outcome)
                }
            } else {
                let checkpointer = try Checkpointer(path: workspace.catalogURL.path)
                let walPath = workspace.catalogURL.path + "-wal"
                let automatic = try db.writeWithoutTransaction { db in try Int.fetchOne(db, sql: "PRAGMA wal_autocheckpoint")! }
                try db.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA wal_autocheckpoint = 0") }
                defer {
                    checkpointer.close()
                    try? db.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA wal_autocheckpoint = \(automatic)") }
                }
                for source in sources {
                    // The WAL starts again from its beginning only when all of it is in the catalog as a write begins:
                    // past 1 GiB, wait for the copy, so that it does not grow with every shard.
                    let wal = (try? FileManager.default.attributesOfItem(atPath: walPath))?[.size] as? Int ?? 0
                    if wal > 1 << 30 { checkpointer.wait() }
                    let outcome = try merge(source, carrying: carry)
                    if !outcome.alreadyMerged { checkpointer.request() }
                    outcomes.append(outcome)
                    onShard(outcome)
                }
                checkpointer.wait()
            }
        } catch {
            try? restoreIndices()
            throw error
        }
        try restoreIndices()
        return outcomes
    }

    /// How much of a catalog a merge reads through a map of its file (SQLite caps it at its own limit).
    static let mergeMap = 1 << 40

    /// Puts the catalog in a rollback journal (`journal_mode = DELETE`) for the union, when no other connection has
    /// it open (this process's idle readers are closed first; another process's keep it in WAL: false, and nothing
    /// changes). In WAL every page a shard writes is written twice, into the WAL and then into the catalog; a
    /// rollback journal keeps only the pages a transaction changes that the catalog had before, and the pages a
    /// union adds past its end (nearly all of them) are written once. Killed at any moment, the journal left beside
    /// the catalog is hot: the next connection that opens the catalog rolls the shard back (`openForReading` opens
    /// it writable for that), and `Catalog.open` puts it back in WAL.
    private func rollbackJournal() -> Bool {
        db.invalidateReadOnlyConnections()
        return (try? db.writeWithoutTransaction { db -> Bool in
            let timeout = try Int.fetchOne(db, sql: "PRAGMA busy_timeout")!
            try db.execute(sql: "PRAGMA busy_timeout = 0")
            defer { try? db.execute(sql: "PRAGMA busy_timeout = \(timeout)") }
            return try String.fetchOne(db, sql: "PRAGMA journal_mode = DELETE") == "delete"
        }) ?? false
    }

    private func backToWAL() {
        db.invalidateReadOnlyConnections()
        _ = try? db.writeWithoutTransaction { db in try String.fetchOne(db, sql: "PRAGMA journal_mode = WAL") }
    }

    /// A connection of its own that checkpoints the catalog's WAL on a thread of its own, once per request (requests
    /// made while one runs make one more). A checkpoint never waits for the writer (PASSIVE): it copies what is
    /// committed.
    private final class Checkpointer: @unchecked Sendable {   // `pending` guarded by `lock`
        private let queue: DatabaseQueue
        private let thread = DispatchQueue(label: "curate.merge.checkpoint")
        private let lock = NSLock()
        private var pending = false

        init(path: String) throws {
            var config = Configuration()
            config.busyMode = .timeout(10)
            queue = try DatabaseQueue(path: path, configuration: config)
        }

        func request() {
            let start = lock.withLock { () -> Bool in
                defer { pending = true }
                return !pending
            }
            guard start else { return }
            thread.async { [self] in
                lock.withLock { pending = false }
                _ = try? queue.writeWithoutTransaction { db in try db.checkpoint(.passive) }
            }
        }

        /// Until every requested checkpoint has run.
        func wait() { thread.sync {} }

        func close() {
            wait()
            try? queue.close()
        }
    }

    /// Drops the non-unique indices of the tables a merge fills (terms, URLs, images, faces, decisions), so that
    /// its shards' rows go into their tables and UNIQUE indices alone, when the shards not merged yet bring at least
    /// as many images as the workspace holds: each index is then built once by `restoreIndices` after the last shard
    /// (a scan and a sort of the whole table). Measured on 10 shards of 100,000 images: kept up row by row, the
    /// indices cost about 19 s of CPU (the writes of their pages at each commit growing with the catalog, the SHA-256
    /// index's random pages most), built once about 9 s; so for fewer new images than the workspace holds they
    /// stay. Each index is recorded in `deferredIndex` in the transaction that drops it: a merge killed before it
    /// built them leaves them to the next command that opens the catalog (`Catalog.open`). Nothing the merge reads
    /// by (the UNIQUE constraints it finds rows already here with) is dropped. Returns the indices dropped.
    @discardableResult
    public func deferIndices(for sources: [ShardSource]) throws -> [String] {
        try db.write { db in
            let merged = Set(try String.fetchAll(db, sql: "SELECT markerSha256 FROM mergedShard"))
            let incoming = sources.filter { !merged.contains($0.markerSha256) }.map(\.marker.images).reduce(0, +)
            let have = try Int.fetchOne(db, sql: "SELECT COALESCE(MAX(id), 0) FROM image")!
            guard incoming > 0, incoming >= have else { return [] }
            let indices = try Row.fetchAll(db, sql: """
                SELECT m.name, m.sql FROM sqlite_master m
                WHERE m.type = 'index' AND m.sql IS NOT NULL AND m.tbl_name IN ('term', 'attempt', 'image', 'face', 'decision')
                AND NOT EXISTS (SELECT 1 FROM pragma_index_list(m.tbl_name) l WHERE l.name = m.name AND l."unique")
                ORDER BY m.rowid
                """).map { ($0[0] as String, $0[1] as String) }
            for (name, sql) in indices {
                try db.execute(sql: "INSERT OR REPLACE INTO deferredIndex (name, sql) VALUES (?, ?)", arguments: [name, sql])
                try db.execute(sql: "DROP INDEX \"\(name)\"")
            }
            return indices.map(\.0)
        }
    }

    /// Builds every index `deferIndices` dropped, in one transaction with the removal of their records: after it
    /// the catalog has all of them, or (killed) still records the missing ones. Returns how many it built.
    @discardableResult
    public func restoreIndices() throws -> Int {
        guard try db.read({ db in try Bool.fetchOne(db, sql: "SELECT 1 FROM deferredIndex LIMIT 1") ?? false }) else { return 0 }
        return try db.writeWithoutTransaction { db in
            // The sorts of a whole table: a page cache to hold them, and SQLite's sorter threads.
            let cache = try Int.fetchOne(db, sql: "PRAGMA cache_size")!
            try db.execute(sql: "PRAGMA cache_size = -262144; PRAGMA temp_store = MEMORY; PRAGMA threads = 2")
            defer { try? db.execute(sql: "PRAGMA cache_size = \(cache); PRAGMA threads = 0") }
            var built = 0
            try db.inTransaction(.immediate) {
                for row in try Row.fetchAll(db, sql: "SELECT name, sql FROM deferredIndex ORDER BY rowid") {
                    let name: String = row[0]
                    if try Bool.fetchOne(db, sql: "SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = ?", arguments: [name]) == true {
                        continue
                    }
                    try db.execute(sql: row[1])
                    built += 1
                }
                try db.execute(sql: "DELETE FROM deferredIndex")
                return .commit
            }
            return built
        }
    }

    /// Merges one checked shard: its files first (each whole, in place or not at all), then all its rows in one
    /// transaction with the record that it was merged. Rows this workspace has already (the same person, term,
    /// URL, image, face) keep what they hold; the shard's new ones come with their ids renumbered. A shard whose
    /// marker was merged before is skipped. Killed at any moment, nothing is half-merged: run it again.
    public func merge(_ source: ShardSource, carrying carry: JudgementCarry? = nil) throws -> ShardMergeOutcome {
        let started = Date()
        var outcome = ShardMergeOutcome(path: source.root.path, shard: source.marker.shard, alreadyMerged: false)
        let done = try db.read { db in
            try Bool.fetchOne(db, sql: "SELECT 1 FROM mergedShard WHERE markerSha256 = ?", arguments: [source.markerSha256]) ?? false
        }
        if done {
            outcome.alreadyMerged = true
            return outcome
        }
        try db.writeWithoutTransaction { db in
            // Read-only, and without locks or shared memory (immutable) unless it has a WAL to read: a published shard
            // lives on a shared file system.
            let wal = (try? FileManager.default.attributesOfItem(atPath: source.catalogPath + "-wal"))?[.size] as? Int ?? 0
            let uri = "file:" + source.catalogPath.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed)! + (wal > 0 ? "?mode=ro" : "?immutable=1")
            try db.execute(sql: "ATTACH DATABASE ? AS shard", arguments: [uri])
            defer { try? db.execute(sql: "DETACH DATABASE shard") }
            guard try Bool.fetchOne(db, sql: "SELECT 1 FROM shard.sqlite_master WHERE name = 'image'") == true else {
                throw MergeError.notWorkspace(source.root.path)
            }

            // Large writes: a page cache to match (SQLite's default is 2 MB; random keys such as SHA-256s thrash it),
            // the id maps in memory.
            // The shard's pages are read through a map of its file rather than copied out of it page by page.
            let cache = try Int.fetchOne(db, sql: "PRAGMA cache_size")!
            try db.execute(sql: "PRAGMA cache_size = -262144; PRAGMA temp_store = MEMORY; PRAGMA shard.mmap_size = \(Self.mergeMap)")
            defer { try? db.execute(sql: "PRAGMA cache_size = \(cache)") }

            // Files first. The shard is recorded as being placed (one row naming its catalog, `Catalog.mergePlacing`),
            // so that if this merge is never finished, the next fetch's sweep removes the originals it placed that no
            // image row names.
            try db.execute(sql: "INSERT OR IGNORE INTO placing (path, createdAt) VALUES (?, ?)",
                           arguments: [Self.mergePlacing + source.root.appendingPathComponent("catalog.sqlite").path, Date()])
            // A path named twice (the same bytes under two people) is placed once (FilePlacer).
            let paths = try String.fetchAll(db, sql: """
                SELECT path FROM shard.image UNION ALL SELECT normalizedPath FROM shard.image WHERE normalizedPath IS NOT NULL
                UNION ALL SELECT chipPath FROM shard.face WHERE chipPath IS NOT NULL
                """)
            let placer = FilePlacer(from: source.root, to: workspace.root)
            try placer.place(paths)
            outcome.files = placer.counts
            outcome.filesSeconds = Date().timeIntervalSince(started)

            // One large transaction: no foreign-key lookups per row (every id the rows get comes from the maps of
            // rows just written).
            try db.execute(sql: "PRAGMA foreign_keys = OFF")
            defer { try? db.execute(sql: "PRAGMA foreign_keys = ON") }
            let rowsStarted = Date()
            try db.inTransaction(.immediate) {
                try unionRows(db, source, carry, &outcome)
                try mergeRuns(db, source, &outcome)
                // Every original of the shard has its image row now (this shard's, or the same bytes already here).
                try db.execute(sql: "DELETE FROM placing WHERE path = ?",
                               arguments: [Self.mergePlacing + source.root.appendingPathComponent("catalog.sqlite").path])
                try db.execute(sql: """
                    INSERT INTO mergedShard (path, shard, markerSha256, marker, images, mergedAt, settled) VALUES (?, ?, ?, ?, ?, ?, 0)
                    """, arguments: [source.root.path, source.marker.shard, source.markerSha256, source.markerText, outcome.images, Date()])
                return .commit
            }
            outcome.rowsSeconds = Date().timeIntervalSince(rowsStarted)
        }
        if source.catalogPath != source.root.appendingPathComponent("catalog.sqlite").path {
            try? FileManager.default.removeItem(atPath: source.catalogPath)
        }
        outcome.seconds = Date().timeIntervalSince(started)
        return outcome
    }

    /// The union of the shard's rows into this catalog, by bulk INSERT ... SELECT: the shard's ids shifted when
    /// every row is new, else through maps of the shard's ids to this catalog's (temporary tables). Column lists come from this catalog's schema, so a column a later
    /// migration adds is carried without a change here.
    private func unionRows(_ db: Database, _ source: ShardSource, _ carry: JudgementCarry?, _ outcome: inout ShardMergeOutcome) throws {
        func columns(_ table: String) throws -> [String] {
            try Row.fetchAll(db, sql: "PRAGMA main.table_info(\(table))").map { $0["name"] as String }.filter { $0 != "id" }
        }
        func maxId(_ table: String) throws -> Int64 { try Int64.fetchOne(db, sql: "SELECT COALESCE(MAX(id), 0) FROM main.\(table)")! }
        /// INSERT INTO main.table (cols) SELECT (cols, some replaced by expressions) FROM shard.table s <joins>.
        func insert(_ table: String, replacing: [String: String], joins: String, conflict: String? = "") throws {
            let cols = try columns(table) + (replacing["id"] != nil ? ["id"] : [])
            let values = cols.map { replacing[$0] ?? "s.\"\($0)\"" }
            try db.execute(sql: """
                INSERT INTO main.\(table) (\(cols.map { "\"\($0)\"" }.joined(separator: ", ")))
                SELECT \(values.joined(separator: ", ")) FROM shard.\(table) s \(joins) WHERE true
                \(conflict.map { "ON CONFLICT\($0) DO NOTHING" } ?? "")
                """)
        }
        /// The id a new row of `table` gets after `n` others: past every id it ever gave (AUTOINCREMENT's).
        func nextId(_ table: String) throws -> Int64 {
            try Int64.fetchOne(db, sql: """
                SELECT MAX(COALESCE((SELECT MAX(id) FROM main.\(table)), 0), COALESCE((SELECT seq FROM main.sqlite_sequence WHERE name = ?), 0))
                """, arguments: [table])!
        }
        /// Maps every shard row of `table` (by `person`, the people map's join) to its id here: the row this
        /// workspace has already (`same`, a condition on main.table m; only people it had before can have one), or
        /// the next free id, in the shard's order. The maps come before the rows, so each row is written once with
        /// every id it refers to.
        func map(_ map: String, _ table: String, same: String) throws {
            let person = "JOIN temp.pmap pm ON pm.old = s.personId"
            try db.execute(sql: """
                INSERT INTO temp.\(map) SELECT s.id, m.id FROM shard.\(table) s \(person) AND pm.new <= \(person0) JOIN main.\(table) m ON \(same)
                """)
            try db.execute(sql: """
                INSERT INTO temp.\(map) SELECT s.id, \(try nextId(table)) + row_number() OVER (ORDER BY s.id) FROM shard.\(table) s \(person)
                WHERE s.id NOT IN (SELECT old FROM temp.\(map))
                """)
        }
        // The identity triggers touch each person's `identityState` once per image and face inserted (two statements
        // each, a third of the cost of the inserts); here each person is touched once, after their rows are in. The
        // triggers are dropped and made again inside this transaction, so no other writer ever finds them missing.
        let triggers = try Row.fetchAll(db, sql: """
            SELECT name, sql FROM main.sqlite_master WHERE type = 'trigger' AND name IN ('identity_image_insert', 'identity_face_insert')
            """).map { ($0[0] as String, $0[1] as String) }
        for (name, _) in triggers { try db.execute(sql: "DROP TRIGGER main.\(name)") }
        let (person0, term0, attempt0, image0, face0, decision0) = (try maxId("person"), try maxId("term"), try maxId("attempt"),
                                                                    try maxId("image"), try maxId("face"), try maxId("decision"))
        let batch0 = try Int64.fetchOne(db, sql: "SELECT COALESCE(MAX(batch), 0) FROM main.decision")!
        // A shard none of whose people this workspace has (every shard of a first merge) brings only new rows: each
        // id is the shard's shifted past what this workspace gave (people, terms, attempts, images), with no maps to
        // make or look up. Otherwise the rows this workspace has already are found by what they are (`map`).
        let fresh = try Bool.fetchOne(db, sql: "SELECT 1 FROM shard.person s JOIN main.person m ON m.label = s.label LIMIT 1") == nil
        for map in ["pmap", "tmap", "amap", "imap"] {
            try db.execute(sql: "DROP TABLE IF EXISTS temp.\(map)")
            try db.execute(sql: "CREATE TEMP TABLE \(map) (old INTEGER PRIMARY KEY, new INTEGER NOT NULL)")
        }
        defer { for map in ["pmap", "tmap", "amap", "imap"] { try? db.execute(sql: "DROP TABLE IF EXISTS temp.\(map)") } }
        // The shard's people and images with their ids here, as (old, new) rows.
        var (personMap, imageMap) = ("temp.pmap", "temp.imap")
        if fresh {
            let (p, t, a, i) = (try nextId("person"), try nextId("term"), try nextId("attempt"), try nextId("image"))
            (personMap, imageMap) = ("(SELECT id AS old, id + \(p) AS new FROM shard.person)", "(SELECT id AS old, id + \(i) AS new FROM shard.image)")
            try insert("person", replacing: ["id": "s.id + \(p)"], joins: "", conflict: nil)
            try insert("term", replacing: ["id": "s.id + \(t)", "personId": "s.personId + \(p)", "parentId": "s.parentId + \(t)"],
                       joins: "", conflict: nil)
            try insert("attempt", replacing: ["id": "s.id + \(a)", "personId": "s.personId + \(p)", "termId": "s.termId + \(t)",
                                              "imageId": "s.imageId + \(i)"], joins: "", conflict: nil)
            try insert("image", replacing: [
                "id": "s.id + \(i)", "personId": "s.personId + \(p)", "attemptId": "s.attemptId + \(a)",
                "related": "CASE WHEN s.related IS NOT NULL THEN (SELECT json_group_array(j.value + \(i)) FROM json_each(s.related) j) END",
            ], joins: "", conflict: nil)
            try insert("face", replacing: ["imageId": "s.imageId + \(i)"], joins: "", conflict: nil)
            try insert("decision", replacing: [
                "imageId": "s.imageId + \(i)", "batch": "s.batch + \(batch0)", "personId": "s.personId + \(p)",
                "before": "json_set(s.before, '$.personId', json_extract(s.before, '$.personId') + \(p))",
            ], joins: "", conflict: nil)
            try db.execute(sql: """
                INSERT OR IGNORE INTO main.processing (imageId, state, since) SELECT s.imageId + ?, s.state, s.since FROM shard.processing s
                WHERE s.state = 'crashed'
                """, arguments: [i])
        } else {
            // People, by label (case-insensitive, as the catalog compares labels).
            try insert("person", replacing: [:], joins: "", conflict: "(label)")
            try db.execute(sql: "INSERT INTO temp.pmap SELECT s.id, m.id FROM shard.person s JOIN main.person m ON m.label = s.label")
            // Terms by person, provider and text; attempts by person and URL; images by person and content. Only the
            // rows new here are written (their maps' new ids are past what this workspace had), with the term that
            // found a term, the attempt an image came from, the image an attempt stored and the images an image points
            // at (`related`, a JSON list) renumbered.
            try map("tmap", "term", same: "m.personId = pm.new AND m.provider = s.provider AND m.text = s.text")
            try map("amap", "attempt", same: "m.personId = pm.new AND m.url = s.url")
            try map("imap", "image", same: "m.personId = pm.new AND m.sha256 = s.sha256")
            try insert("term", replacing: ["id": "tm.new", "personId": "pm.new", "parentId": "(SELECT new FROM temp.tmap WHERE old = s.parentId)"],
                       joins: "JOIN temp.tmap tm ON tm.old = s.id AND tm.new > \(term0) JOIN temp.pmap pm ON pm.old = s.personId", conflict: nil)
            try insert("attempt", replacing: ["id": "am.new", "personId": "pm.new", "termId": "(SELECT new FROM temp.tmap WHERE old = s.termId)",
                                              "imageId": "(SELECT new FROM temp.imap WHERE old = s.imageId)"],
                       joins: "JOIN temp.amap am ON am.old = s.id AND am.new > \(attempt0) JOIN temp.pmap pm ON pm.old = s.personId", conflict: nil)
            try insert("image", replacing: [
                "id": "im.new", "personId": "pm.new", "attemptId": "(SELECT new FROM temp.amap WHERE old = s.attemptId)",
                "related": "CASE WHEN s.related IS NOT NULL THEN (SELECT json_group_array(r.new) FROM json_each(s.related) j JOIN temp.imap r ON r.old = j.value) END",
            ], joins: "JOIN temp.imap im ON im.old = s.id AND im.new > \(image0) JOIN temp.pmap pm ON pm.old = s.personId", conflict: nil)
            // The faces and descriptors, the decisions and the marks of images new here (an image this workspace had
            // keeps its own). Decisions keep their batches (undone together), after this workspace's own; the person
            // a relabel moved an image to, and the one its state before names, are renumbered.
            try insert("face", replacing: ["imageId": "im.new"], joins: "JOIN temp.imap im ON im.old = s.imageId AND im.new > \(image0)",
                       conflict: "(imageId, idx)")
            try insert("decision", replacing: [
                "imageId": "im.new", "batch": "s.batch + \(batch0)",
                "personId": "(SELECT new FROM temp.pmap WHERE old = s.personId)",
                "before": "json_set(s.before, '$.personId', (SELECT new FROM temp.pmap WHERE old = json_extract(s.before, '$.personId')))",
            ], joins: "JOIN temp.imap im ON im.old = s.imageId AND im.new > \(image0)", conflict: "")
            try db.execute(sql: """
                INSERT OR IGNORE INTO main.processing (imageId, state, since)
                SELECT im.new, s.state, s.since FROM shard.processing s JOIN temp.imap im ON im.old = s.imageId AND im.new > ?
                WHERE s.state = 'crashed'
                """, arguments: [image0])
        }
        outcome.people = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM main.person WHERE id > ?", arguments: [person0])!
        outcome.images = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM main.image WHERE id > ?", arguments: [image0])!
        outcome.faces = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM main.face WHERE id > ?", arguments: [face0])!
        outcome.decisions = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM main.decision WHERE id > ?", arguments: [decision0])!
        // What the triggers would have done: the people of the images new here (the faces brought are theirs), but
        // for the people new here whose identity the shard's own judgement brings (`carryJudgement`). The shard's
        // `mergedShard` row is written last in this transaction: its id is the next one.
        let carried = try carryJudgement(db, carry, people: personMap, images: imageMap, person0: person0, image0: image0,
                                         shardId: try nextId("mergedShard") + 1)
        try db.execute(sql: """
            INSERT OR IGNORE INTO main.identityState (personId) SELECT DISTINCT personId FROM main.image WHERE id > ?;
            UPDATE main.identityState SET changes = changes + 1, summary = NULL
            WHERE personId IN (SELECT DISTINCT personId FROM main.image WHERE id > ?) AND (? IS NULL OR judgedIn IS NOT ?);
            """, arguments: [image0, image0, carried, carried])
        for (_, sql) in triggers { try db.execute(sql: sql) }
        // Settings (checked to agree before) this workspace does not have yet.
        try db.execute(sql: "INSERT OR IGNORE INTO main.setting (key, value) SELECT key, value FROM shard.setting WHERE key != 'shard'")
    }

    /// Brings the shard's own judgement, where it finished (`judgement`) with the options this merge judges by: each
    /// person new here keeps the identity the shard stored for them (its image ids renumbered), marked as judged in
    /// this shard (`judgedIn`), and for every person it brings, the centres it measured its faces against are kept
    /// (`shardCentre`). The stages after the merge then judge again only what crossing shards can change. Returns the
    /// shard's id here when it brought them (nil: its people are judged again).
    /// `people` and `images` give the shard's ids with their ids here (old, new).
    private func carryJudgement(_ db: Database, _ carry: JudgementCarry?, people: String, images: String, person0: Int64, image0: Int64,
                                shardId: Int64) throws -> Int64? {
        guard let carry, try Bool.fetchOne(db, sql: "SELECT 1 FROM shard.sqlite_master WHERE name = 'judgement'") == true,
              try String.fetchOne(db, sql: "SELECT options FROM shard.judgement WHERE id = 1") == carry.options else { return nil }
        let ids = try Dictionary(Row.fetchAll(db, sql: "SELECT old, new FROM \(images) WHERE new > ?", arguments: [image0])
            .map { ($0[0] as Int64, $0[1] as Int64) }, uniquingKeysWith: { a, _ in a })
        let renumber = DatabaseFunction("curate_renumbered_distances", argumentCount: 1, pure: true) { values in
            Data.fromDatabaseValue(values[0]).flatMap { carry.renumber($0, ids) }
        }
        db.add(function: renumber)
        defer { db.remove(function: renumber) }
        try db.execute(sql: """
            INSERT OR IGNORE INTO main.identityState (personId, options, summary, centres, distances, judgedIn)
            SELECT personId, options, summary, centres, distances, ? FROM (
                SELECT pm.new AS personId, s.options, s.summary, s.centres, curate_renumbered_distances(s.distances) AS distances
                FROM shard.identityState s JOIN \(people) pm ON pm.old = s.personId AND pm.new > ?
                WHERE s.options = ? AND s.summary IS NOT NULL AND s.distances IS NOT NULL)
            WHERE distances IS NOT NULL
            """, arguments: [shardId, person0, carry.identityOptions])
        try db.execute(sql: """
            INSERT OR REPLACE INTO main.shardCentre (shardId, personId, centres)
            SELECT ?, pm.new, s.centres FROM shard.identityState s JOIN \(people) pm ON pm.old = s.personId WHERE s.options = ?
            """, arguments: [shardId, carry.identityOptions])
        return shardId
    }

    /// Training runs the shard made (rare: training is its own job), each with its folder, under new numbers.
    private func mergeRuns(_ db: Database, _ source: ShardSource, _ outcome: inout ShardMergeOutcome) throws {
        let runs = try TrainingRun.fetchAll(db, sql: "SELECT * FROM shard.run ORDER BY id")
        for var run in runs {
            let exists = try Bool.fetchOne(db, sql: "SELECT 1 FROM main.run WHERE createdAt = ? AND model = ? AND options = ?",
                                           arguments: [run.createdAt, run.model, run.options]) ?? false
            if exists { continue }
            let from = run.folder
            run.id = nil
            try run.insert(db)
            run.folder = "runs/\(run.id!)"
            try run.update(db)
            let src = source.root.appendingPathComponent(from)
            var files: [String] = []
            for case let name as String in FileManager.default.enumerator(atPath: src.path) ?? NSEnumerator() {
                var isDir: ObjCBool = false
                if FileManager.default.fileExists(atPath: src.appendingPathComponent(name).path, isDirectory: &isDir), !isDir.boolValue {
                    files.append(name)
                }
            }
            try FilePlacer(from: src, to: workspace.url(forRelativePath: run.folder)).place(files)
        }
    }
}
