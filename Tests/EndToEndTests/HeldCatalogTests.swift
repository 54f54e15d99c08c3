// A catalog held open by one process while another curate process writes to it and exits: SQLite keeps them
// apart with POSIX locks, which a process drops on every file descriptor of the catalog when it closes ANY one
// (https://sqlite.org/howtocorrupt.html, 2.2). Opening a second Catalog of the same workspace reads the file's
// header through a descriptor of its own; that must not cost the first its locks.
import Catalog
import Foundation
import GRDB
import Testing
import TestSupport

@Suite(.timeLimit(.minutes(10)))
struct HeldCatalogTests {
    @Test func aCatalogHeldWhileAnotherIsOpenedKeepsItsLocksAndItsWrites() async throws {
        let dir = TempDir()
        let workspace = Workspace(path: dir.sub("ws").path)
        try workspace.prepare()
        let held = try Catalog.open(workspace)
        try held.storeAsFetched("ann", Array("not a picture, whatever its name says".utf8), name: "a.jpg")
        // Another Catalog of the same workspace, opened and dropped while `held` stays open.
        _ = try Catalog.openForReading(workspace).people()
        _ = try Catalog.open(workspace).people()

        // A curate process that writes, and on exit thinks itself the catalog's last user only if our locks are gone.
        let r = try await curate(["process", "--workspace", workspace.root.path, "--quiet"], timeout: 300)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(FileManager.default.fileExists(atPath: workspace.catalogURL.path + "-wal"),
                "the catalog's WAL was removed by a process that believed no other process had the catalog open")

        // What the held catalog writes now, the next curate process must see.
        _ = try held.person(label: "bea", queryFile: nil)
        let s = try await curate(["status", "--workspace", workspace.root.path])
        #expect(s.status == 0, "\(s.stderr)")
        #expect(s.stdout.contains("bea"), "a write through the held catalog was lost: \(s.stdout)")
        // And a catalog opened afresh in this process reads what curate wrote.
        let fresh = try Catalog.openForReading(workspace)
        #expect(try fresh.images().allSatisfy { $0.processedAt != nil })
        #expect(try await fresh.db.read { try String.fetchOne($0, sql: "PRAGMA integrity_check") } == "ok")
        withExtendedLifetime(held) {}
    }

    /// `curate status` (list, runs) on a catalog made by an older curate opens it read-only, then again to bring it up
    /// to date: the catalog it goes on with must hold its locks as any other.
    @Test func aCatalogBroughtUpToDateOnReadingKeepsItsLocks() async throws {
        let dir = TempDir()
        let workspace = Workspace(path: dir.sub("ws").path)
        try workspace.prepare()
        do {
            let catalog = try Catalog.open(workspace)
            try catalog.storeAsFetched("ann", Array("not a picture either".utf8), name: "a.jpg")
            try await catalog.db.write { db in   // as an older curate left it, before merges were recorded
                try db.execute(sql: "DELETE FROM grdb_migrations WHERE identifier = 'v11: merged shards'")
                try db.execute(sql: "DROP TABLE mergedShard")
            }
        }
        let held = try Catalog.openForReading(workspace)
        #expect(try await held.db.read { try $0.tableExists("mergedShard") })
        let r = try await curate(["process", "--workspace", workspace.root.path, "--quiet"], timeout: 300)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(FileManager.default.fileExists(atPath: workspace.catalogURL.path + "-wal"),
                "the catalog's WAL was removed by a process that believed no other process had the catalog open")
        #expect(try held.images().allSatisfy { $0.processedAt != nil })
        withExtendedLifetime(held) {}
    }
}
