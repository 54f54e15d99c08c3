// A workspace with its catalog in a temporary folder (or the one a CLI run made), and the checks that its files
// and rows agree: what the crawler and end-to-end tests look at after a fetch.
import Catalog
import Foundation
import GRDB
import Testing

public struct Fixture {
    public let dir = TempDir()
    public let workspace: Workspace
    public let catalog: Catalog

    /// A new workspace in a temporary folder, or the one at `path` (made by the CLI).
    public init(at path: String? = nil) throws {
        workspace = Workspace(path: path ?? dir.sub("ws").path)
        try workspace.prepare()
        catalog = try Catalog.open(workspace)
    }

    public func attempts() throws -> [Attempt] {
        try catalog.db.read { try Attempt.order(Attempt.Columns.id).fetchAll($0) }
    }

    public func images() throws -> [StoredImage] {
        try catalog.db.read { try StoredImage.order(StoredImage.Columns.id).fetchAll($0) }
    }

    /// Every stored file under images/, as workspace-relative paths.
    public func files() -> Set<String> {
        let fm = FileManager.default
        var out = Set<String>()
        for dir in (try? fm.contentsOfDirectory(atPath: workspace.imagesURL.path)) ?? [] {
            for name in (try? fm.contentsOfDirectory(atPath: workspace.imagesURL.appendingPathComponent(dir).path)) ?? [] {
                out.insert("images/\(dir)/\(name)")
            }
        }
        return out
    }

    public func tmpFiles() -> [String] {
        (try? FileManager.default.contentsOfDirectory(atPath: workspace.tmpURL.path)) ?? []
    }

    /// Each image row's file exists, its bytes hash to its sha256, and no file is without a row.
    public func expectFilesMatchRows(sourceLocation: SourceLocation = #_sourceLocation) throws {
        let rows = try images()
        for row in rows {
            let data = try Data(contentsOf: workspace.url(forRelativePath: row.path))
            #expect(SHA256.hex(data) == row.sha256, sourceLocation: sourceLocation)
            #expect(data.count == row.bytes, sourceLocation: sourceLocation)
        }
        let paths: Set<String> = Set(rows.map { $0.path })
        #expect(files() == paths, "orphan or missing files", sourceLocation: sourceLocation)
        #expect(tmpFiles().filter { $0.hasSuffix(".part") }.isEmpty, "partial downloads left behind", sourceLocation: sourceLocation)
    }
}
