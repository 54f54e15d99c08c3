// Passwords in query URLs (issue 22) through the real binary: used for the download, never printed or kept.
import Foundation
import GRDB
import Testing
import TestServer
import TestSupport

extension NetworkLimitsTests {
    /// A direct URL's password reaches its server but never `fetch --json` nor the catalog: a URL queued by an
    /// earlier run is fetched with the password read from the query file again; a catalog that kept passwords
    /// (before this change) loses them when next opened.
    @Test func aQueryURLsPasswordIsUsedButNeitherPrintedNorKept() async throws {
        let server = try await TestServer.start(dataRoot: Paths.shared)
        let dir = TempDir()
        let ws = dir.sub("ws").path
        let paths = Array(server.imagePaths(under: WorkspaceSafetyTests.person).prefix(2))
        let urls = paths.map { server.baseURL.replacingOccurrences(of: "http://", with: "http://bob:s3cret@") + $0 }
        let queries = dir.queries(["madonna": urls])
        var r = try await curate(["fetch", "--query", queries.path, "--n", "1", "--workspace", ws, "--no-process", "--json"], env: env)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(!r.stdout.contains("s3cret") && r.stdout.contains("bob:***@"), "\(r.stdout)")
        let kept = try rows(ws, "SELECT text FROM term UNION ALL SELECT url FROM attempt")
        #expect(kept.count == 4 && kept.allSatisfy { $0[0]?.contains("bob:***@") == true }, "\(kept)")
        #expect(try rows(ws, "SELECT count(*) FROM attempt WHERE state = 'queued'") == [["1"]])

        // The queued URL, fetched by the next run, goes with its password (basic auth, bob:s3cret).
        r = try await curate(["fetch", "--query", queries.path, "--n", "2", "--workspace", ws, "--no-process", "--json"], env: env)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(!r.stdout.contains("s3cret"), "\(r.stdout)")
        let auth = server.requests.filter { paths.contains($0.path) }.map { $0.headers["authorization"] }
        #expect(auth.count == 2 && auth.allSatisfy { $0 == "Basic Ym9iOnMzY3JldA==" }, "\(auth)")

        // A catalog from before: passwords in clear, the migration not yet run.
        let queue = try DatabaseQueue(path: ws + "/catalog.sqlite")
        try await queue.write { db in
            try db.execute(sql: "UPDATE term SET text = replace(text, '***', 's3cret')")
            try db.execute(sql: "UPDATE attempt SET url = replace(url, '***', 's3cret')")
            try db.execute(sql: "DELETE FROM grdb_migrations WHERE identifier LIKE '%no password%'")
        }
        try queue.close()
        r = try await curate(["fetch", "--query", queries.path, "--n", "2", "--workspace", ws, "--no-process", "--quiet"], env: env)
        #expect(r.status == 0, "\(r.stderr)")
        let after = try rows(ws, "SELECT text FROM term UNION ALL SELECT url FROM attempt")
        #expect(after.count == 4 && after.allSatisfy { $0[0]?.contains("bob:***@") == true }, "\(after)")
    }
}
