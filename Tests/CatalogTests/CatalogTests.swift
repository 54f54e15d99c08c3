// The catalog on a real SQLite file: people, terms with cursors, attempts and de-duplicated images.
import Foundation
import GRDB
import Testing
@testable import Catalog

@Suite struct CatalogTests {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("curate-catalog-\(UUID().uuidString)")

    func open() throws -> Catalog {
        let ws = Workspace(path: dir.path)
        try ws.prepare()
        return try Catalog.open(ws)
    }

    /// A merge killed before the new workspace's catalog had its first migration leaves an empty catalog and the
    /// migrated copy of an older shard in tmp/: running the merge again makes the workspace there. A file in tmp/
    /// that curate did not make still makes the folder someone else's.
    @Test func aKilledMergesCopyInTmpIsOursAndAnyOtherFileIsNot() throws {
        defer { try? FileManager.default.removeItem(at: dir) }
        let tmp = dir.appendingPathComponent("tmp")
        try FileManager.default.createDirectory(at: tmp, withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: dir.appendingPathComponent("catalog.sqlite").path, contents: Data())
        for name in ["merge-0123456789abcdef.sqlite", "merge-0123456789abcdef.sqlite-journal"] {
            FileManager.default.createFile(atPath: tmp.appendingPathComponent(name).path, contents: Data("x".utf8))
        }
        #expect(Workspace(path: dir.path).foreignEntries().isEmpty)
        FileManager.default.createFile(atPath: tmp.appendingPathComponent("merge-notes.sqlite").path, contents: Data("x".utf8))
        #expect(Workspace(path: dir.path).foreignEntries() == ["tmp"])
        try FileManager.default.removeItem(at: tmp.appendingPathComponent("merge-notes.sqlite"))
        _ = try open()
    }

    /// A command killed while SQLite made the catalog leaves its rollback journal beside an empty catalog (or
    /// none): the folder is still ours, and the next command makes the workspace there (MergeTests' kill of a
    /// merge at an unlucky moment then refused it: 'holds other things (catalog.sqlite-journal) and no catalog').
    @Test func aJournalLeftBesideAnEmptyCatalogIsOurs() throws {
        defer { try? FileManager.default.removeItem(at: dir) }
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let journal = dir.appendingPathComponent("catalog.sqlite-journal").path
        FileManager.default.createFile(atPath: journal, contents: Data(repeating: 0, count: 512))
        #expect(Workspace(path: dir.path).foreignEntries().isEmpty)
        FileManager.default.createFile(atPath: dir.appendingPathComponent("catalog.sqlite").path, contents: Data())
        #expect(Workspace(path: dir.path).foreignEntries().isEmpty)
        FileManager.default.createFile(atPath: dir.appendingPathComponent("notes.txt").path, contents: Data("x".utf8))
        #expect(Workspace(path: dir.path).foreignEntries() == ["notes.txt"])
        try FileManager.default.removeItem(at: dir.appendingPathComponent("notes.txt"))
        var catalog: Catalog? = try open()
        #expect(try catalog?.labels().isEmpty == true)
        catalog = nil
        #expect(try open().labels().isEmpty)
    }

    @Test func reopeningKeepsRowsAndTermCursors() throws {
        defer { try? FileManager.default.removeItem(at: dir) }
        var catalog = try open()
        let arya = try catalog.person(label: "Arya", queryFile: "queries/Arya.txt")
        var terms = try catalog.syncTerms(personId: arya.id!, lines: [("Maisie Williams", .search, .commons), ("Arya Stark", .search, .commons)])
        terms[0].cursor = #"{"gsroffset":50}"#
        terms[0].pages = 1
        _ = try catalog.recordPage(term: terms[0], candidates: [Attempt(personId: arya.id!, termId: terms[0].id, url: "http://x/1.jpg", provider: .commons)])

        catalog = try open()
        #expect(try catalog.person(label: "Arya", queryFile: nil).id == arya.id)
        // The file's order changed and a term was added: known terms keep their cursor.
        let again = try catalog.syncTerms(personId: arya.id!, lines: [("Arya Stark", .search, .commons), ("Maisie Williams", .search, .commons), ("Arya", .search, .commons)])
        #expect(again.map(\.text) == ["Arya Stark", "Maisie Williams", "Arya"])
        #expect(again[1].cursor == #"{"gsroffset":50}"#)
        #expect(again[1].pages == 1)
        #expect(try catalog.queuedAttempts(of: arya.id!).map(\.url) == ["http://x/1.jpg"])
    }

    @Test func aURLIsQueuedOncePerPerson() throws {
        defer { try? FileManager.default.removeItem(at: dir) }
        let catalog = try open()
        let a = try catalog.person(label: "A", queryFile: nil)
        let b = try catalog.person(label: "B", queryFile: nil)
        let ta = try catalog.syncTerms(personId: a.id!, lines: [("t", .search, .commons)])[0]
        let tb = try catalog.syncTerms(personId: b.id!, lines: [("t", .search, .commons)])[0]
        let first = try catalog.recordPage(term: ta, candidates: [Attempt(personId: a.id!, termId: ta.id, url: "u1", provider: .commons),
                                                                 Attempt(personId: a.id!, termId: ta.id, url: "u2", provider: .commons)])
        let second = try catalog.recordPage(term: ta, candidates: [Attempt(personId: a.id!, termId: ta.id, url: "u2", provider: .commons)])
        let other = try catalog.recordPage(term: tb, candidates: [Attempt(personId: b.id!, termId: tb.id, url: "u2", provider: .commons)])
        #expect(first.count == 2)
        #expect(second.isEmpty)
        #expect(other.count == 1)   // the same URL under another person is that person's own attempt
    }

    @Test func sameBytesAreOneImagePerPersonAndOneRowPerPerson() throws {
        defer { try? FileManager.default.removeItem(at: dir) }
        let catalog = try open()
        let a = try catalog.person(label: "A", queryFile: nil)
        let b = try catalog.person(label: "B", queryFile: nil)
        let term = try catalog.syncTerms(personId: a.id!, lines: [("t", .search, .commons)])[0]
        let termB = try catalog.syncTerms(personId: b.id!, lines: [("t", .search, .commons)])[0]
        let attempts = try catalog.recordPage(term: term, candidates: [Attempt(personId: a.id!, termId: term.id, url: "u1", provider: .commons),
                                                                      Attempt(personId: a.id!, termId: term.id, url: "u2", provider: .commons)])
        let attemptB = try catalog.recordPage(term: termB, candidates: [Attempt(personId: b.id!, termId: termB.id, url: "u3", provider: .commons)])[0]
        let path = Workspace.imagePath(sha256: "ab12", ext: "jpg")
        func download(_ a: Attempt) -> Catalog.Download {
            Catalog.Download(attempt: a, term: "t", sha256: "ab12", path: path, bytes: 10, format: .jpeg, httpStatus: 200, ms: 5)
        }
        // One batch: the second copy of A's bytes is seen as a duplicate within the same transaction.
        let outcomes = try catalog.recordDownloads([download(attempts[0]), download(attempts[1]), download(attemptB)])
        guard outcomes.count == 3, case .stored = outcomes[0] else { Issue.record("first copy not stored"); return }
        guard case .duplicate = outcomes[1] else { Issue.record("second copy of the same bytes not recognised"); return }
        guard case .stored = outcomes[2] else {
            Issue.record("the same bytes under another person must be recorded for conflict checks"); return
        }
        #expect(try catalog.imageCount(of: a.id!) == 1)
        #expect(try catalog.imageCount(of: b.id!) == 1)
        #expect(try catalog.db.read { try String.fetchAll($0, sql: "SELECT DISTINCT path FROM image") } == [path])
        let counts = try catalog.counts()
        #expect(counts.map(\.label) == ["A", "B"])
        #expect(counts[0].attempts == ["stored": 1, "duplicate": 1])
        #expect(counts[0].images == ["pending": 1])
    }

    @Test func transientFailuresAreRequeuedOnlyWhenAsked() throws {
        defer { try? FileManager.default.removeItem(at: dir) }
        let catalog = try open()
        let a = try catalog.person(label: "A", queryFile: nil)
        let term = try catalog.syncTerms(personId: a.id!, lines: [("t", .search, .commons)])[0]
        let attempts = try catalog.recordPage(term: term, candidates: [Attempt(personId: a.id!, termId: term.id, url: "u1", provider: .commons),
                                                                      Attempt(personId: a.id!, termId: term.id, url: "u2", provider: .commons)])
        try catalog.recordFailure(attempt: attempts[0], failure: .http(503), transient: true, httpStatus: 503, error: "HTTP 503", ms: 3)
        try catalog.recordFailure(attempt: attempts[1], failure: .http(404), transient: false, httpStatus: 404, error: "HTTP 404", ms: 3)
        #expect(try catalog.queuedAttempts(of: a.id!).isEmpty)
        #expect(try catalog.requeueTransientFailures() == 1)
        #expect(try catalog.queuedAttempts(of: a.id!).map(\.url) == ["u1"])
    }

    @Test func aWorkspaceUnderAFileIsNotWritable() throws {
        defer { try? FileManager.default.removeItem(at: dir) }
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let file = dir.appendingPathComponent("plain-file")
        try Data("x".utf8).write(to: file)
        #expect(throws: WorkspaceError.self) { try Workspace(path: file.appendingPathComponent("ws").path).prepare() }
        #expect(throws: WorkspaceError.self) { try Workspace(path: file.path).prepare() }
    }

    @Test func oneFetchAtATimePerWorkspace() throws {
        defer { try? FileManager.default.removeItem(at: dir) }
        let ws = Workspace(path: dir.path)
        try ws.prepare()
        let lock = try WorkspaceLock(ws, command: "fetch")
        #expect(throws: WorkspaceError.self) { try WorkspaceLock(ws, command: "fetch") }
        withExtendedLifetime(lock) {}
    }

    /// After a kill, the sweep removes a file only when it was recorded as being moved into place and its image
    /// row never came; a recorded image's file and every file curate did not record stay.
    @Test func theSweepRemovesOnlyFilesRecordedAsBeingPlaced() throws {
        defer { try? FileManager.default.removeItem(at: dir) }
        let catalog = try open()
        let a = try catalog.person(label: "A", queryFile: nil)
        let term = try catalog.syncTerms(personId: a.id!, lines: [("t", .search, .commons)])[0]
        let attempt = try catalog.recordPage(term: term, candidates: [Attempt(personId: a.id!, termId: term.id, url: "u1", provider: .commons)])[0]
        func place(_ sha: String) throws -> (String, URL) {
            let path = Workspace.imagePath(sha256: sha, ext: "jpg")
            let url = catalog.workspace.url(forRelativePath: path)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data("x".utf8).write(to: url)
            return (path, url)
        }
        let (recorded, recordedURL) = try place("ab" + String(repeating: "1", count: 62))
        try catalog.willPlace(recorded)
        _ = try catalog.recordDownloads([Catalog.Download(attempt: attempt, term: "t", sha256: "ab" + String(repeating: "1", count: 62),
                                                          path: recorded, bytes: 1, format: .jpeg, httpStatus: 200, ms: 1)])
        let (killed, killedURL) = try place("cd" + String(repeating: "2", count: 62))
        try catalog.willPlace(killed)                        // moved into place, then killed before its row
        let (_, unrecordedURL) = try place("ef" + String(repeating: "3", count: 62))   // never recorded as ours
        let theirs = catalog.workspace.imagesURL.appendingPathComponent("holiday/p.jpg")
        try FileManager.default.createDirectory(at: theirs.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data("mine".utf8).write(to: theirs)

        #expect(try catalog.sweepPlacing() == 1)
        #expect(!FileManager.default.fileExists(atPath: killedURL.path))
        for kept in [recordedURL, unrecordedURL, theirs] { #expect(FileManager.default.fileExists(atPath: kept.path), "\(kept.path)") }
        #expect(try catalog.sweepPlacing() == 0, "the record is cleared")
    }

    /// The crowd a covered face is measured against: per person, in content order, the first `perPerson` barred
    /// descriptors of kept images' faces that are no covered face themselves, of the first `people` people that have
    /// any; read through the partial index, not by visiting every kept image.
    @Test func theCrowdIsTheFirstBarredSureFacesOfTheFirstPeople() throws {
        defer { try? FileManager.default.removeItem(at: dir) }
        let catalog = try open()
        let people = try ["A", "B", "C"].map { try catalog.person(label: $0, queryFile: nil).id! }
        func masked(_ v: Float) -> Data { Face.pack([Float](repeating: v, count: 128)) }
        // Per person: sha256 k (in content order 0...4), kept, a barred face of value 10 * person + k; image 3 of A
        // also a covered face of its own, image 4 of A rejected; C has no barred face at all.
        try catalog.db.write { db in
            for (p, person) in people.enumerated() {
                for k in 0..<5 {
                    let sha = String(repeating: "\(k)", count: 63) + "\(p)"
                    let verdict = p == 0 && k == 4 ? "rejected" : "kept"
                    try db.execute(sql: """
                        INSERT INTO image (personId, sha256, path, bytes, format, verdict, sourceUrl, provider, createdAt)
                        VALUES (?, ?, ?, 1, 'jpeg', ?, 'u', 'commons', ?)
                        """, arguments: [person, sha, "images/\(sha).jpg", verdict, Date()])
                    let image = db.lastInsertedRowID
                    let barred: Data? = p == 2 ? nil : masked(Float(10 * p + k))
                    try db.execute(sql: """
                        INSERT INTO face (imageId, idx, left, top, right, bottom, score, counted, chosen, eyesCovered, maskedDescriptor)
                        VALUES (?, 0, 0, 0, 10, 10, 1, 1, 1, ?, ?)
                        """, arguments: [image, p == 0 && k == 3 ? true : nil, barred])
                }
            }
        }
        let all = try catalog.maskedCohort(perPerson: 32, people: 10)
        #expect(all.map(\.personId) == [people[0], people[1]])
        #expect(all[0].masked.map { $0[0] } == [0, 1, 2] && all[1].masked.map { $0[0] } == [10, 11, 12, 13, 14])
        let few = try catalog.maskedCohort(perPerson: 2, people: 1)
        #expect(few.count == 1 && few[0].masked.map { $0[0] } == [0, 1])
        let plan = try catalog.db.read { db in
            try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN SELECT f.id FROM face f CROSS JOIN image i ON i.id = f.imageId WHERE f.maskedDescriptor IS NOT NULL AND f.eyesCovered IS NOT 1")
                .map { $0["detail"] as String }
        }
        #expect(plan.contains { $0.contains("face_barred") }, "\(plan)")
        #expect(try catalog.peopleWithCoveredFaces() == [people[0]])
    }

    /// Every index of the catalog with its definition (a UNIQUE constraint's by its columns).
    static func indices(_ catalog: Catalog) throws -> [String: String] {
        try catalog.db.read { db in
            var all: [String: String] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT name, tbl_name, sql FROM sqlite_master WHERE type = 'index'") {
                let name: String = row[0], table: String = row[1], sql: String? = row[2]
                let columns = try String.fetchAll(db, sql: "SELECT name FROM pragma_index_info(?) ORDER BY seqno", arguments: [name])
                all[name] = sql ?? "\(table)(\(columns.joined(separator: ", ")))"
            }
            return all
        }
    }

    /// A merge of many rows drops the non-unique indices before its first shard and builds them after its last.
    /// Killed in between (or while it built them: that transaction is rolled back to the same state), the catalog
    /// records what it dropped, and the next command that opens it (to write, or to read where it may write) has
    /// every index back; the UNIQUE constraints were never dropped. Few rows into a large catalog drop nothing.
    @Test func indicesAMergeDroppedAreBuiltAgainWhenTheCatalogOpensAfterAKill() throws {
        defer { try? FileManager.default.removeItem(at: dir) }
        var catalog: Catalog? = try open()
        let all = try Self.indices(catalog!)
        // What a merge drops: every index of the tables it fills but their UNIQUE constraints (SQLite's own).
        let expected = Set(try catalog!.db.read { db in
            try String.fetchAll(db, sql: """
                SELECT name FROM sqlite_master WHERE type = 'index' AND name NOT LIKE 'sqlite_autoindex%'
                AND tbl_name IN ('term', 'attempt', 'image', 'face', 'decision')
                """)
        })
        #expect(all.keys.contains("image_on_sha256") && all.keys.contains("image_counts") && all.keys.contains("attempt_counts"))
        let shardWorkspace = Workspace(path: dir.appendingPathComponent("shard").path)
        try shardWorkspace.prepare()
        let shard = try Catalog.open(shardWorkspace)
        let person = try shard.person(label: "A", queryFile: nil)
        let term = try shard.syncTerms(personId: person.id!, lines: [("t", .search, .commons)])[0]
        var downloads: [Catalog.Download] = []
        for k in 0..<3 {
            let sha = String(repeating: "\(k)", count: 64)
            let attempt = try shard.recordPage(term: term, candidates: [Attempt(personId: person.id!, termId: term.id, url: "u\(k)", provider: .commons)])[0]
            downloads.append(Catalog.Download(attempt: attempt, term: "t", sha256: sha, path: Workspace.imagePath(sha256: sha, ext: "jpg"),
                                              bytes: 1, format: .jpeg, httpStatus: 200, ms: 1))
        }
        _ = try shard.recordDownloads(downloads)
        try shard.db.write { db in try db.execute(sql: "UPDATE image SET processedAt = ?", arguments: [Date()]) }
        try shard.finishShard()
        let sources = try catalog!.checkShards([shardWorkspace.root])

        for reopen in ["open", "openForReading", "openExisting"] {
            let dropped = try catalog!.deferIndices(for: sources)
            #expect(Set(dropped) == expected)
            #expect(dropped.contains("image_on_sha256") && dropped.contains("image_review"))
            let left = try Self.indices(catalog!)
            #expect(left.keys.contains { $0.hasPrefix("sqlite_autoindex_image") } && left.keys.contains { $0.hasPrefix("sqlite_autoindex_person") })
            #expect(!left.keys.contains("image_on_sha256"))
            // Killed here: nothing else happens before the next command opens the catalog.
            catalog = nil
            let ws = Workspace(path: dir.path)
            catalog = try reopen == "open" ? Catalog.open(ws) : reopen == "openExisting" ? Catalog.openExisting(ws) : Catalog.openForReading(ws)
            #expect(try Self.indices(catalog!) == all, "opened with \(reopen)")
            #expect(try catalog!.db.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM deferredIndex")! } == 0)
            if reopen == "openForReading" { catalog = try open() }
        }

        // The merge itself builds them again, and a second merge of the shard (nothing new) drops nothing.
        let dropped = try catalog!.deferIndices(for: sources)
        #expect(try catalog!.merge(sources[0]).images == 3)
        #expect(try catalog!.restoreIndices() == dropped.count)
        #expect(try Self.indices(catalog!) == all)
        #expect(try catalog!.deferIndices(for: sources).isEmpty)
        // A shard of 3 images into a catalog of 7 drops nothing: building the indices again would cost more.
        let moreWorkspace = Workspace(path: dir.appendingPathComponent("more").path)
        try moreWorkspace.prepare()
        let more = try Catalog.open(moreWorkspace)
        let b = try more.person(label: "B", queryFile: nil)
        let bTerm = try more.syncTerms(personId: b.id!, lines: [("t", .search, .commons)])[0]
        for k in 3..<10 {
            let sha = String(repeating: "\(k)", count: 64)
            let attempt = try more.recordPage(term: bTerm, candidates: [Attempt(personId: b.id!, termId: bTerm.id, url: "u\(k)", provider: .commons)])[0]
            _ = try more.recordDownloads([Catalog.Download(attempt: attempt, term: "t", sha256: sha, path: Workspace.imagePath(sha256: sha, ext: "jpg"),
                                                           bytes: 1, format: .jpeg, httpStatus: 200, ms: 1)])
        }
        let moreSources = try more.checkShards([shardWorkspace.root])
        #expect(try more.deferIndices(for: moreSources).isEmpty)
        #expect(try Self.indices(more) == all)
    }

    /// The union writes in a rollback journal when nothing else has the catalog open (each new page written once),
    /// and stays in WAL when another connection has it open: the same rows either way (a shard of new people, whose
    /// ids are shifted, and one with a person the workspace has, whose rows go through the maps), and the catalog is
    /// in WAL after.
    @Test func aMergeGivesTheSameRowsWhetherOrNotAnotherConnectionHasTheCatalogOpen() throws {
        defer { try? FileManager.default.removeItem(at: dir) }
        func shard(_ name: String, labels: [String]) throws -> URL {
            let ws = Workspace(path: dir.appendingPathComponent(name).path)
            try ws.prepare()
            let catalog = try Catalog.open(ws)
            for label in labels {
                let person = try catalog.person(label: label, queryFile: nil)
                let term = try catalog.syncTerms(personId: person.id!, lines: [("t", .search, .commons)])[0]
                for k in 0..<3 {
                    let sha = SHA256.hex(Array("\(name) \(label) \(k)".utf8))
                    let attempt = try catalog.recordPage(term: term, candidates: [Attempt(personId: person.id!, termId: term.id, url: "u\(sha)",
                                                                                          provider: .commons)])[0]
                    _ = try catalog.recordDownloads([Catalog.Download(attempt: attempt, term: "t", sha256: sha, path: Workspace.imagePath(sha256: sha, ext: "jpg"),
                                                                      bytes: 1, format: .jpeg, httpStatus: 200, ms: 1)])
                }
            }
            try catalog.db.write { db in try db.execute(sql: "UPDATE image SET processedAt = ?", arguments: [Date()]) }
            try catalog.finishShard()
            return ws.root
        }
        let shards = [try shard("a", labels: ["A", "B"]), try shard("b", labels: ["B", "C"])]
        var dumps: [[String: [String]]] = []
        for held in [false, true] {
            let ws = Workspace(path: dir.appendingPathComponent(held ? "held" : "alone").path)
            try ws.prepare()
            let catalog = try Catalog.open(ws)
            let other = held ? try DatabaseQueue(path: ws.catalogURL.path) : nil
            _ = try other?.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM image") }
            #expect(try catalog.merge(try catalog.checkShards(shards)).map(\.images) == [6, 6])
            try catalog.db.read { db in
                #expect(try String.fetchOne(db, sql: "PRAGMA journal_mode") == "wal")
                var dump: [String: [String]] = [:]
                for table in ["person", "term", "attempt", "image", "face", "identityState"] {
                    dump[table] = try Row.fetchAll(db, sql: "SELECT * FROM \(table) ORDER BY rowid").map(\.description)
                }
                #expect(dump["image"]?.count == 12 && dump["person"]?.count == 3)
                dumps.append(dump)
            }
            try other?.close()
        }
        #expect(dumps[0] == dumps[1])
    }

    /// A merge writes its union in a rollback journal: killed in the middle of a transaction, the catalog file may
    /// hold some of its pages and the journal beside it the pages they replaced. Opened to read, it is read as it was
    /// before the transaction (the journal rolled back by a connection that may write), never as the file holds it.
    @Test func aCatalogKilledInItsRollbackJournalIsReadAsItWasBeforeTheTransaction() throws {
        defer { try? FileManager.default.removeItem(at: dir) }
        var catalog: Catalog? = try open()
        try catalog!.db.write { db in
            try db.execute(sql: """
                WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 1999)
                INSERT INTO setting (key, value) SELECT 'k' || i, 'before' FROM n
                """)
        }
        catalog = nil
        // The moment of the kill: a transaction that has written part of itself into the file (a small page cache
        // spills), copied with its journal, as a killed process leaves them.
        let killed = Workspace(path: dir.appendingPathComponent("killed").path)
        try killed.prepare()
        let queue = try DatabaseQueue(path: dir.appendingPathComponent("catalog.sqlite").path)
        try queue.writeWithoutTransaction { db in
            #expect(try String.fetchOne(db, sql: "PRAGMA journal_mode = DELETE") == "delete")
            try db.execute(sql: "PRAGMA cache_size = 5; BEGIN IMMEDIATE")
            try db.execute(sql: "UPDATE setting SET value = hex(randomblob(200))")
            for name in ["catalog.sqlite", "catalog.sqlite-journal"] {
                try FileManager.default.copyItem(at: dir.appendingPathComponent(name), to: killed.root.appendingPathComponent(name))
            }
            try db.execute(sql: "ROLLBACK")
        }
        try queue.close()
        let read = try Catalog.openForReading(killed)
        #expect(try read.db.read { db in try String.fetchAll(db, sql: "SELECT DISTINCT value FROM setting WHERE key LIKE 'k%'") } == ["before"])
    }

    /// A merge records its shard as being placed (one row naming the shard's catalog) before it links the shard's
    /// files; killed before its rows commit, the next sweep removes the shard's originals no image row here names,
    /// and keeps those one does and every file the shard does not name.
    @Test func theSweepAfterAKilledMergeRemovesOnlyTheShardsUnrecordedOriginals() throws {
        defer { try? FileManager.default.removeItem(at: dir) }
        let catalog = try open()
        let shardWorkspace = Workspace(path: dir.appendingPathComponent("shard").path)
        try shardWorkspace.prepare()
        let shard = try Catalog.open(shardWorkspace)
        func store(_ catalog: Catalog, _ sha: String) throws -> String {
            let a = try catalog.person(label: "A", queryFile: nil)
            let term = try catalog.syncTerms(personId: a.id!, lines: [("t", .search, .commons)])[0]
            let attempt = try catalog.recordPage(term: term, candidates: [Attempt(personId: a.id!, termId: term.id, url: "u-" + sha, provider: .commons)])[0]
            let path = Workspace.imagePath(sha256: sha, ext: "jpg")
            _ = try catalog.recordDownloads([Catalog.Download(attempt: attempt, term: "t", sha256: sha, path: path, bytes: 1, format: .jpeg,
                                                              httpStatus: 200, ms: 1)])
            return path
        }
        let ours = try store(catalog, "ab" + String(repeating: "1", count: 62))
        let both = try store(shard, "ab" + String(repeating: "1", count: 62))
        let onlyShards = try store(shard, "cd" + String(repeating: "2", count: 62))
        #expect(ours == both)
        let unnamed = Workspace.imagePath(sha256: "ef" + String(repeating: "3", count: 62), ext: "jpg")
        for path in [ours, onlyShards, unnamed] {
            let url = catalog.workspace.url(forRelativePath: path)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data("x".utf8).write(to: url)
        }
        try catalog.db.write { db in
            try db.execute(sql: "INSERT INTO placing (path, createdAt) VALUES (?, ?)",
                           arguments: [Catalog.mergePlacing + shardWorkspace.root.appendingPathComponent("catalog.sqlite").path, Date()])
        }
        #expect(try catalog.sweepPlacing() == 1)
        #expect(!FileManager.default.fileExists(atPath: catalog.workspace.url(forRelativePath: onlyShards).path))
        for kept in [ours, unnamed] { #expect(FileManager.default.fileExists(atPath: catalog.workspace.url(forRelativePath: kept).path), "\(kept)") }
        #expect(try catalog.sweepPlacing() == 0, "the record is cleared")
    }
}
