// The catalog: a GRDB DatabasePool (WAL) over catalog.sqlite, with every write the pipeline makes.
import Foundation
import GRDB

public final class Catalog: @unchecked Sendable {
    public let workspace: Workspace
    public let db: DatabasePool

    private init(workspace: Workspace, db: DatabasePool) {
        self.workspace = workspace
        self.db = db
    }

    /// Opens (creating when needed) the catalog of a prepared workspace and brings its schema up to date.
    public static func open(_ workspace: Workspace) throws -> Catalog {
        var config = Configuration()
        config.busyMode = .timeout(10)
        config.prepareDatabase { db in
            // WAL with synchronous=NORMAL: a commit survives a killed process; only power loss may drop the last ones.
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
        }
        let pool = try DatabasePool(path: workspace.catalogURL.path, configuration: config)
        try Schema.migrator.migrate(pool)
        return Catalog(workspace: workspace, db: pool)
    }

    /// Opens the catalog of a workspace that must already have one (for commands that only read or review).
    public static func openExisting(_ workspace: Workspace) throws -> Catalog {
        guard workspace.exists else { throw WorkspaceError.noCatalog(workspace.root.path) }
        return try open(workspace)
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
        try db.read { db in try Person.order(Column("label")).fetchAll(db) }
    }

    /// Makes the catalog's terms of a person match a query file's lines, keeping the paging cursor of terms
    /// already known. Returns the person's terms for these providers, in file order.
    public func syncTerms(personId: Int64, lines: [(text: String, kind: TermKind, provider: String)]) throws -> [SearchTerm] {
        try db.write { db in
            var result: [SearchTerm] = []
            for (position, line) in lines.enumerated() {
                if var term = try SearchTerm
                    .filter(Column("personId") == personId && Column("provider") == line.provider && Column("text") == line.text)
                    .fetchOne(db) {
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

    public func terms(of personId: Int64) throws -> [SearchTerm] {
        try db.read { db in try SearchTerm.of(personId).fetchAll(db) }
    }

    /// Records one page of search results in one transaction: the term's new cursor and state, and the
    /// candidate URLs not seen before for this person. Returns the newly queued attempts.
    public func recordPage(term: SearchTerm, candidates: [Attempt]) throws -> [Attempt] {
        try db.write { db in
            var inserted: [Attempt] = []
            for var candidate in candidates {
                let known = try Attempt
                    .filter(Column("personId") == candidate.personId && Column("url") == candidate.url)
                    .fetchCount(db) > 0
                if known { continue }
                try candidate.insert(db)
                inserted.append(candidate)
            }
            var term = term
            term.updatedAt = Date()
            try term.update(db)
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

    /// Records a finished download whose file is already in place at `path`. One transaction: the image row
    /// (unless the person already has these bytes) and the attempt's outcome.
    public func recordDownload(attempt: Attempt, term: String?, sha256: String, path: String, bytes: Int,
                               format: String, httpStatus: Int, ms: Int) throws -> StoreOutcome {
        try db.write { db in
            var attempt = attempt
            attempt.httpStatus = httpStatus
            attempt.bytes = bytes
            attempt.ms = ms
            attempt.failure = nil
            attempt.error = nil
            attempt.transient = false
            attempt.updatedAt = Date()
            let outcome: StoreOutcome
            if let existing = try StoredImage
                .filter(Column("personId") == attempt.personId && Column("sha256") == sha256)
                .fetchOne(db) {
                attempt.state = .duplicate
                attempt.imageId = existing.id
                outcome = .duplicate(of: existing.id!)
            } else {
                var image = StoredImage(personId: attempt.personId, attempt: attempt, term: term,
                                  sha256: sha256, path: path, bytes: bytes, format: format)
                try image.insert(db)
                attempt.state = .stored
                attempt.imageId = image.id
                outcome = .stored(image)
            }
            try attempt.update(db)
            return outcome
        }
    }

    /// Records a failed download (after its retries in this run).
    public func recordFailure(attempt: Attempt, failure: String, transient: Bool, httpStatus: Int?, error: String?, ms: Int?) throws {
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
                .filter(Column("state") == AttemptState.failed.rawValue && Column("transient") == true)
                .updateAll(db, Column("state").set(to: AttemptState.queued.rawValue), Column("tries").set(to: 0))
        }
    }

    /// The workspace-relative paths of every stored file the catalog knows.
    public func storedPaths() throws -> Set<String> {
        try db.read { db in Set(try String.fetchAll(db, sql: "SELECT DISTINCT path FROM image")) }
    }

    public func images(personId: Int64? = nil, reason: String? = nil) throws -> [StoredImage] {
        try db.read { db in
            var request = StoredImage.all()
            if let personId { request = request.filter(Column("personId") == personId) }
            if let reason { request = request.filter(Column("reason") == reason) }
            return try request.order(Column("personId"), Column("id")).fetchAll(db)
        }
    }
}
