// The fixture the end-to-end tests of verdicts share: folders of photos a local test server serves, one person per
// folder, fetched (and processed) by the real binary into a workspace, then that workspace's `list --json` rows,
// found by the name the photo was served under.
import Foundation
import Testing
import TestServer
import TestSupport

/// JSON text, parsed.
func json(_ text: String) throws -> Any { try JSONSerialization.jsonObject(with: Data(text.utf8)) }

/// JSON text that must be an array of objects (`list --json`, `review --list --json`).
func jsonRows(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> [[String: Any]] {
    try #require(try json(text) as? [[String: Any]], "\(text.prefix(300))", sourceLocation: sourceLocation)
}

/// The folder a test's server serves: a folder per person under `root`, filled with copies of real photos or with
/// pictures made from them, each under the name ("person/file.jpg") it is served as.
struct ServedFolder {
    let root: URL

    init(_ dir: TempDir, people: [String]) throws {
        root = dir.sub("served")
        for person in people {
            try FileManager.default.createDirectory(at: root.appendingPathComponent(person), withIntermediateDirectories: true)
        }
    }

    /// A copy of the photo at `url`, served as `name`.
    func serve(_ url: URL, as name: String) throws { try FileManager.default.copyItem(at: url, to: root.appendingPathComponent(name)) }

    /// `bytes`, served as `name`.
    func write(_ bytes: Data, as name: String) throws { try bytes.write(to: root.appendingPathComponent(name)) }
}

struct ServedFetch {
    /// The workspace's path.
    let ws: String
    /// `curate list --json` of the workspace after the fetch.
    let rows: [[String: Any]]

    /// Serves `root` from a local server, writes a query file for each of `people` (a folder of `root`: every
    /// file in it, in name order), runs `curate fetch` (which processes) into `dir`/ws with `args` added, and lists
    /// the workspace. The fetch must succeed.
    static func run(_ root: URL, people: [String], in dir: TempDir, args: [String] = [], env: [String: String],
                    timeout: Double = 500, sourceLocation: SourceLocation = #_sourceLocation) async throws -> ServedFetch {
        let server = try await TestServer.start(dataRoot: root)
        let ws = dir.sub("ws").path
        let queries = dir.queries(Dictionary(uniqueKeysWithValues: people.map { person in
            (person, server.imagePaths(under: person).map { server.baseURL + $0 })
        }))
        let fetched = try await curate(["fetch", "--query", queries.path, "--n", "100", "--workspace", ws, "--quiet"] + args,
                                       env: env, timeout: timeout)
        await server.stop()
        #expect(fetched.status == 0, "\(fetched.stderr)", sourceLocation: sourceLocation)
        let listed = try await curate(["list", "--json", "--workspace", ws], env: env)
        #expect(listed.status == 0, "\(listed.stderr)", sourceLocation: sourceLocation)
        return ServedFetch(ws: ws, rows: try jsonRows(listed.stdout, sourceLocation: sourceLocation))
    }

    /// The row of the photo served as `name` ("person/file.jpg", or only the file's name).
    func row(_ name: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> [String: Any] {
        try #require(rows.first { ($0["source_url"] as? String)?.hasSuffix("/" + name) == true }, "\(name)", sourceLocation: sourceLocation)
    }
}
