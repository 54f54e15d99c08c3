// The catalog: a GRDB DatabasePool (WAL) over catalog.sqlite, with every write the pipeline makes.
import Foundation
import GRDB

public final class Catalog: @unchecked Sendable {
    public let workspace: Workspace
    public let db: DatabasePool

    /// The catalog file, counted open in this process while this Catalog lives (see `OpenCatalogs`).
    private let file: OpenCatalogs.File?

    private init(workspace: Workspace, db: DatabasePool) {
        self.workspace = workspace
        self.db = db
        file = OpenCatalogs.opened(workspace.catalogURL.path)
    }

    deinit {
        if let file { OpenCatalogs.closed(file) }
    }

    /// Opens (creating when needed) the catalog of a prepared workspace and brings its schema up to date.
    /// A folder without a catalog is adopted only when it holds nothing curate did not make; a catalog that is
    /// empty or damaged next to stored files is refused, never made new over them.
    public static func open(_ workspace: Workspace) throws -> Catalog {
        try workspace.checkCatalog(creating: true)
        let catalog = try connect(workspace, readonly: false)
        let (curate, empty) = try catalog.db.read { db in
            (try db.tableExists("grdb_migrations"), try Int.fetchOne(db, sql: "SELECT count(*) FROM sqlite_master")! == 0)
        }
        if !curate {
            let files = workspace.storedFileCount()
            if files > 0 { throw WorkspaceError.damaged(workspace.root.path, "holds no curate tables", files: files) }
            if !empty { throw WorkspaceError.foreign(workspace.root.path, ["catalog.sqlite (an SQLite database, not a curate catalog)"]) }
        }
        try catalog.migrate()
        try catalog.restoreIndices()
        return catalog
    }

    /// Opens the catalog of a workspace that must already have one (for commands that review, split or train).
    public static func openExisting(_ workspace: Workspace) throws -> Catalog {
        try workspace.checkCatalog(creating: false)
        let catalog = try connect(workspace, readonly: false)
        try catalog.requireSchema()
        try catalog.migrate()
        try catalog.restoreIndices()
        return catalog
    }

    /// Opens an existing catalog for reading only (status, list, runs): it never creates or changes a catalog,
    /// and works in a workspace the user cannot write to. A catalog made by an older curate is brought up to
    /// date first when the folder is writable.
    public static func openForReading(_ workspace: Workspace) throws -> Catalog {
        try workspace.checkCatalog(creating: false)
        var catalog: Catalog
        do {
            catalog = try connect(workspace, readonly: true)
            try catalog.requireSchema()
        } catch let error as DatabaseError where error.extendedResultCode == .SQLITE_READONLY_ROLLBACK {
            // A merge killed in its rollback journal (`Catalog.merge`) left it hot: only a writable connection rolls it back.
            return try openExisting(workspace)
        } catch let error as DatabaseError where error.resultCode == .SQLITE_CANTOPEN || error.resultCode == .SQLITE_READONLY {
            // WAL needs catalog.sqlite-shm beside the catalog; in a folder we may not write, read the file as it is.
            catalog = try connect(workspace, readonly: true, immutable: true)
            try catalog.requireSchema()
        }
        if try catalog.db.read({ try !Schema.migrator.hasCompletedMigrations($0) }) { return try openExisting(workspace) }
        // A merge killed before it built the indices it dropped: build them where the folder is writable (else, or
        // while a merge holds the catalog, read it as it is: slower without them, never different).
        if try catalog.db.read({ db in try Bool.fetchOne(db, sql: "SELECT 1 FROM deferredIndex LIMIT 1") ?? false }) {
            return (try? openExisting(workspace)) ?? catalog
        }
        return catalog
    }

    private static func connect(_ workspace: Workspace, readonly: Bool, immutable: Bool = false) throws -> Catalog {
        var config = Configuration()
        config.busyMode = .timeout(10)
        config.readonly = readonly
        if !readonly {
            config.prepareDatabase { db in
                // WAL with synchronous=NORMAL: a commit survives a killed process; only power loss may drop the last ones.
                try db.execute(sql: "PRAGMA synchronous = NORMAL")
            }
        }
        let path = immutable ? "file:\(workspace.catalogURL.path)?immutable=1" : workspace.catalogURL.path
        do {
            return Catalog(workspace: workspace, db: try DatabasePool(path: path, configuration: config))
        } catch let error as DatabaseError where error.resultCode == .SQLITE_NOTADB || error.resultCode == .SQLITE_CORRUPT {
            throw WorkspaceError.damaged(workspace.root.path, "is damaged (\(error.message ?? "not a database"))",
                                         files: workspace.storedFileCount())
        }
    }

    private func requireSchema() throws {
        guard try db.read({ try $0.tableExists("grdb_migrations") }) else {
            let files = workspace.storedFileCount()
            if files > 0 { throw WorkspaceError.damaged(workspace.root.path, "holds no curate tables", files: files) }
            throw WorkspaceError.noCatalog(workspace.root.path)
        }
    }

    private func migrate() throws {
        do { try Schema.migrator.migrate(db) } catch let error as DatabaseError where error.resultCode == .SQLITE_CORRUPT {
            throw WorkspaceError.damaged(workspace.root.path, "is damaged (\(error.message ?? "corrupt"))", files: workspace.storedFileCount())
        }
    }

    // MARK: People and terms

    /// The person with this label, created when new.
    public func person(label: String, queryFile: String?) throws -> Person {
        try db.write { db in
            if var existing = try Person.named(label).fetchOne(db) {
                if existing.queryFile != queryFile, let queryFile {
                    existing.queryFile = queryFile
                    try existing.update(db)
                }
                return existing
            }
            var person = Person(label: label, queryFile: queryFile)
            try person.insert(db)
            return person
        }
    }

    public func people() throws -> [Person] {
        try db.read { db in try Person.order(Person.Columns.label).fetchAll(db) }
    }

    /// Makes the catalog's terms of a person match a query file's lines, keeping the paging cursor of terms
    /// already known. Returns the person's terms for these providers, in file order.
    public func syncTerms(personId: Int64, lines: [(text: String, kind: TermKind, provider: Provider)]) throws -> [SearchTerm] {
        try db.write { db in
            var known: [String: SearchTerm] = [:]
            for term in try SearchTerm.of(personId).fetchAll(db) { known[term.provider.rawValue + "\u{0}" + term.text] = term }
            var result: [SearchTerm] = []
            for (position, line) in lines.enumerated() {
                if var term = known[line.provider.rawValue + "\u{0}" + line.text] {
                    if term.position != position {
                        term.position = position
                        try term.update(db)
                    }
                    result.append(term)
                } else {
                    var term = SearchTerm(personId: personId, text: line.text, kind: line.kind, provider: line.provider, position: position)
                    try term.insert(db)
                    result.append(term)
                }
            }
            return result
        }
    }

    /// Adds terms a fetch found (subcategories, what a Wikidata entity names) under the term that found them.
    /// A term the person has already (from any line or parent) is returned as it is: each source is taken once.
    public func foundTerms(parent: SearchTerm, _ found: [(text: String, kind: TermKind, provider: Provider)]) throws -> (added: [SearchTerm], known: [SearchTerm]) {
        try db.write { db in
            var added: [SearchTerm] = [], known: [SearchTerm] = []
            for item in found {
                if let existing = try SearchTerm.filter(SearchTerm.Columns.personId == parent.personId && SearchTerm.Columns.provider == item.provider
                                                        && SearchTerm.Columns.text == item.text).fetchOne(db) {
                    known.append(existing)
                    continue
                }
                var term = SearchTerm(personId: parent.personId, text: item.text, kind: item.kind, provider: item.provider,
                                      position: parent.position, parentId: parent.id)
                try term.insert(db)
                added.append(term)
            }
            return (added, known)
        }
    }

    public func terms(of personId: Int64) throws -> [SearchTerm] {
        try db.read { db in try SearchTerm.of(personId).fetchAll(db) }
    }

    /// Records one page of search results in one transaction: the term's new cursor and state, and the
    /// candidate URLs not seen before for this person. Returns the newly queued attempts.
    public func recordPage(term: SearchTerm, candidates: [Attempt]) throws -> [Attempt] {
        try recordPages([(term, candidates)])
    }

    /// `recordPage` for many terms in one transaction (a query file's direct URLs are thousands of one-URL pages).
    public func recordPages(_ pages: [(term: SearchTerm, candidates: [Attempt])]) throws -> [Attempt] {
        try db.write { db in
            var inserted: [Attempt] = []
            // Cached statements: this runs for every URL of every page, thousands of times in a fetch.
            let exists = try db.cachedStatement(sql: "SELECT 1 FROM attempt WHERE personId = ? AND url = ?")
            for (term, candidates) in pages {
                for var candidate in candidates {
                    if try Int.fetchOne(exists, arguments: [candidate.personId, candidate.url]) != nil { continue }
                    try candidate.insert(db)
                    inserted.append(candidate)
                }
                var term = term
                term.updatedAt = Date()
                try term.update(db)
            }
            return inserted
        }
    }

    /// Saves a term's state alone (a provider error, a throttle).
    public func update(_ term: SearchTerm) throws {
        var term = term
        term.updatedAt = Date()
        try db.write { db in try term.update(db) }
    }

    // MARK: Attempts and images

    public func queuedAttempts(of personId: Int64) throws -> [Attempt] {
        try db.read { db in try Attempt.queued(for: personId).fetchAll(db) }
    }

    public func imageCount(of personId: Int64) throws -> Int {
        try db.read { db in try StoredImage.of(personId).fetchCount(db) }
    }

    /// What became of a downloaded body.
    public enum StoreOutcome: Sendable {
        case stored(StoredImage)
        case duplicate(of: Int64)   // the person already has an image with these bytes
    }

    /// A finished download whose file is already in place at `path`.
    public struct Download: Sendable {
        public var attempt: Attempt
        public var term: String?
        public var sha256: String
        public var path: String
        public var bytes: Int
        public var format: ImageFormat
        public var httpStatus: Int
        public var ms: Int
        /// The person's reference portrait: the image is marked so (also when the person had these bytes already).
        public var reference: Bool

        public init(attempt: Attempt, term: String?, sha256: String, path: String, bytes: Int, format: ImageFormat,
                    httpStatus: Int, ms: Int, reference: Bool = false) {
            self.reference = reference
            self.attempt = attempt
            self.term = term
            self.sha256 = sha256
            self.path = path
            self.bytes = bytes
            self.format = format
            self.httpStatus = httpStatus
            self.ms = ms
        }
    }

    /// Records finished downloads in one transaction: for each, the image row (unless the person already has
    /// these bytes) and the attempt's outcome. Batching keeps a fast fetch from spending its time on commits.
    public func recordDownloads(_ downloads: [Download]) throws -> [StoreOutcome] {
        try db.write { db in
            let existing = try db.cachedStatement(sql: "SELECT id FROM image WHERE personId = ? AND sha256 = ?")
            let finish = try db.cachedStatement(sql: """
                UPDATE attempt SET state = ?, imageId = ?, httpStatus = ?, bytes = ?, ms = ?, tries = ?,
                    failure = NULL, error = NULL, transient = 0, updatedAt = ? WHERE id = ?
                """)
            let placed = try db.cachedStatement(sql: "DELETE FROM placing WHERE path = ?")
            return try downloads.map { d in
                var attempt = d.attempt
                attempt.httpStatus = d.httpStatus
                attempt.bytes = d.bytes
                attempt.ms = d.ms
                attempt.failure = nil
                attempt.error = nil
                attempt.transient = false
                attempt.updatedAt = Date()
                let outcome: StoreOutcome
                if let existingId = try Int64.fetchOne(existing, arguments: [attempt.personId, d.sha256]) {
                    attempt.state = .duplicate
                    attempt.imageId = existingId
                    outcome = .duplicate(of: existingId)
                } else {
                    var image = StoredImage(personId: attempt.personId, attempt: attempt, term: d.term,
                                            sha256: d.sha256, path: d.path, bytes: d.bytes, format: d.format)
                    try image.insert(db)
                    attempt.state = .stored
                    attempt.imageId = image.id
                    outcome = .stored(image)
                }
                if d.reference {
                    try db.execute(sql: "UPDATE image SET reference = 1 WHERE id = ?", arguments: [attempt.imageId])
                }
                try finish.execute(arguments: [attempt.state.rawValue, attempt.imageId, attempt.httpStatus, attempt.bytes,
                                               attempt.ms, attempt.tries, attempt.updatedAt, attempt.id])
                try placed.execute(arguments: [d.path])
                return outcome
            }
        }
    }

    /// Records a failed download (after its retries in this run).
    public func recordFailure(attempt: Attempt, failure: FailureCode, transient: Bool, httpStatus: Int?, error: String?, ms: Int?) throws {
        var attempt = attempt
        attempt.state = .failed
        attempt.failure = failure
        attempt.transient = transient
        attempt.httpStatus = httpStatus
        attempt.error = error
        attempt.ms = ms
        attempt.updatedAt = Date()
        try db.write { db in try attempt.update(db) }
    }

    /// Puts URLs that failed with a transient error back in the queue, with fresh tries. Returns how many.
    public func requeueTransientFailures() throws -> Int {
        try db.write { db in
            try Attempt
                .filter(Attempt.Columns.state == AttemptState.failed && Attempt.Columns.transient == true)
                .updateAll(db, Attempt.Columns.state.set(to: AttemptState.queued), Attempt.Columns.tries.set(to: 0))
        }
    }

    /// Records, before a download is moved to `path`, that curate is putting a file there. Only such files are
    /// ever removed by `sweepPlacing` (a workspace may hold files curate did not make).
    public func willPlace(_ path: String) throws {
        try db.write { db in
            try db.execute(sql: "INSERT OR IGNORE INTO placing (path, createdAt) VALUES (?, ?)", arguments: [path, Date()])
        }
    }

    /// Finishes what a killed fetch or merge left: each file it was moving into place whose image row was never
    /// committed is removed (its URL is still queued, so it is fetched again). Returns how many files went.
    public func sweepPlacing() throws -> Int {
        let (orphans, merges): ([String], [String]) = try db.read { db in
            (try String.fetchAll(db, sql: "SELECT path FROM placing WHERE path NOT LIKE ? || '%' AND path NOT IN (SELECT path FROM image)",
                                 arguments: [Self.mergePlacing]),
             try String.fetchAll(db, sql: "SELECT substr(path, ?) FROM placing WHERE path LIKE ? || '%'",
                                 arguments: [Self.mergePlacing.count + 1, Self.mergePlacing]))
        }
        var removed = 0
        func remove(_ paths: [String]) {
            for path in paths where Workspace.isContentAddressed(path) {
                if unlink(workspace.url(forRelativePath: path).path) == 0 { removed += 1 }
            }
        }
        remove(orphans)
        for shard in merges { remove(try unrecordedOriginals(of: shard)) }
        try db.write { db in try db.execute(sql: "DELETE FROM placing") }
        return removed
    }

    /// What `placing` holds while a merge places a shard's files: this prefix and the shard's catalog (one row, not
    /// one per file: a shard of 100,000 images would be 100,000 rows written and deleted).
    static let mergePlacing = "merge:"

    /// The originals a shard's catalog names that no image row here names: those a merge that never finished
    /// placed. None when the shard is gone (its files are then left as they are).
    private func unrecordedOriginals(of shardCatalog: String) throws -> [String] {
        guard FileManager.default.fileExists(atPath: shardCatalog) else { return [] }
        var config = Configuration()
        config.readonly = true
        let shard = try DatabaseQueue(path: shardCatalog, configuration: config)
        defer { try? shard.close() }
        let named = try shard.read { db in try Row.fetchAll(db, sql: "SELECT sha256, path FROM image").map { ($0[0] as String, $0[1] as String) } }
        return try db.read { db in
            let here = try db.cachedStatement(sql: "SELECT 1 FROM image WHERE sha256 = ? AND path = ?")
            return try named.filter { try Bool.fetchOne(here, arguments: [$0.0, $0.1]) != true }.map(\.1)
        }
    }

    public func images(personId: Int64? = nil, reason: String? = nil) throws -> [StoredImage] {
        var out: [StoredImage] = []
        try forEachImage(personId: personId, reason: reason) { out.append($0) }
        return out
    }

    /// `images`, one at a time from a cursor: a million images never sit in memory together.
    public func forEachImage(personId: Int64? = nil, reason: String? = nil, _ body: (StoredImage) throws -> Void) throws {
        try db.read { db in
            var request = StoredImage.all()
            if let personId { request = request.filter(StoredImage.Columns.personId == personId) }
            if let reason { request = request.filter(StoredImage.Columns.reason == reason) }
            let cursor = try request.order(StoredImage.Columns.personId, StoredImage.Columns.id).fetchCursor(db)
            while let image = try cursor.next() { try body(image) }
        }
    }

    /// `forEachImage`, each image with the faces found in it (without landmarks, chip and descriptor), read beside
    /// the images from a second cursor in the same order: still a million images in constant memory.
    public func forEachImageWithFaces(personId: Int64? = nil, reason: String? = nil,
                                      _ body: (StoredImage, [Face]) throws -> Void) throws {
        try db.read { db in
            var request = StoredImage.all()
            var filter = "1"
            var arguments: StatementArguments = []
            if let personId {
                request = request.filter(StoredImage.Columns.personId == personId)
                filter += " AND i.personId = ?"
                arguments += [personId]
            }
            if let reason {
                request = request.filter(StoredImage.Columns.reason == reason)
                filter += " AND i.reason = ?"
                arguments += [reason]
            }
            let images = try request.order(StoredImage.Columns.personId, StoredImage.Columns.id).fetchCursor(db)
            let faces = try Row.fetchCursor(db, sql: """
                SELECT f.id, f.imageId, f.idx, f.left, f.top, f.right, f.bottom, f.score, f.counted, f.chosen,
                       f.sharpness, f.brightness, f.darkFraction, f.brightFraction, f.yaw
                FROM face f JOIN image i ON i.id = f.imageId WHERE \(filter) ORDER BY i.personId, i.id, f.idx
                """, arguments: arguments)
            var next: Face?
            func read() throws {
                next = try faces.next().map { row in
                    var face = Face(imageId: row[1], idx: row[2], left: row[3], top: row[4], right: row[5], bottom: row[6], score: row[7],
                                    landmarks: nil, counted: row[8], chosen: row[9])
                    face.id = row[0]
                    (face.sharpness, face.brightness, face.darkFraction, face.brightFraction, face.yaw) = (row[10], row[11], row[12], row[13], row[14])
                    return face
                }
            }
            try read()
            var own: [Face] = []
            while let image = try images.next() {
                own.removeAll(keepingCapacity: true)
                while let face = next, face.imageId == image.id {
                    own.append(face)
                    try read()
                }
                try body(image, own)
            }
        }
    }
}

/// An SQLite error said in words: what failed and what to do, with SQLite's own text only as the detail.
public struct CatalogFailure: Error, CustomStringConvertible {
    public let description: String
    /// The file system's fault (disk full, read-only, I/O), not the catalog's.
    public let isWorkspaceIO: Bool

    /// Nil when `error` is not an SQLite error.
    public init?(_ error: Error) {
        guard let error = error as? DatabaseError else { return nil }
        let catalog = "the catalog (catalog.sqlite)"
        let detail = error.message ?? "\(error.resultCode)"
        switch error.resultCode {
        case .SQLITE_FULL:
            description = "cannot write \(catalog): the disk is full. Free some space, then run the same command again."
            isWorkspaceIO = true
        case .SQLITE_READONLY, .SQLITE_CANTOPEN, .SQLITE_PERM, .SQLITE_IOERR:
            description = "cannot use \(catalog) (\(detail)): check that the workspace folder and its files can be written "
                + "and the disk is sound, then run the same command again."
            isWorkspaceIO = true
        case .SQLITE_CORRUPT, .SQLITE_NOTADB:
            description = "\(catalog) is damaged (\(detail)): restore it from a backup."
            isWorkspaceIO = false
        case .SQLITE_BUSY, .SQLITE_LOCKED:
            description = "\(catalog) stayed locked by another curate command for 10 s; wait for it, then run this again."
            isWorkspaceIO = false
        default:
            description = "the catalog failed (\(detail)); nothing more was written."
            isWorkspaceIO = false
        }
    }
}

/// The catalog files this process has open through SQLite, each with how many Catalogs hold it.
/// SQLite keeps processes apart with POSIX advisory locks, and a process drops all of its locks on a file when it
/// closes ANY descriptor of that file (https://sqlite.org/howtocorrupt.html, 2.2). A catalog that lost its locks is
/// taken by the next curate process to close for unused: that process checkpoints it and deletes catalog.sqlite-wal
/// and -shm, while this one goes on reading and writing the deleted files, so what it writes next is lost to every
/// other process and a catalog opened afresh here reads pages of both as malformed. `Workspace.checkCatalog` opens
/// the file to read its header; it asks here first, and leaves a catalog open in this process alone.
enum OpenCatalogs {
    struct File: Hashable {
        var device: UInt64
        var inode: UInt64
    }

    nonisolated(unsafe) private static var counts: [File: Int] = [:]
    private static let lock = NSLock()

    static func file(_ path: String) -> File? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return File(device: UInt64(info.st_dev), inode: UInt64(info.st_ino))
    }

    static func opened(_ path: String) -> File? {
        guard let file = file(path) else { return nil }
        lock.withLock { counts[file, default: 0] += 1 }
        return file
    }

    static func closed(_ file: File) {
        lock.withLock {
            counts[file, default: 1] -= 1
            if counts[file] == 0 { counts[file] = nil }
        }
    }

    static func isOpen(_ path: String) -> Bool {
        guard let file = file(path) else { return false }
        return lock.withLock { counts[file] != nil }
    }
}
