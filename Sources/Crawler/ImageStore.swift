// The content-addressed store a fetch writes: a download runs into tmp/<attempt>.part, then moves by rename to
// images/<aa>/<sha256>.<ext>, recorded as being placed first so that the next run's sweep can finish what a killed
// run left, and remove nothing else.
import Catalog
import Foundation

struct ImageStore {
    let workspace: Workspace
    let catalog: Catalog

    /// Where the download of this attempt is written while it runs.
    func tempURL(_ attempt: Attempt) -> URL {
        workspace.tmpURL.appendingPathComponent("\(attempt.id!).part")
    }

    /// Drops a transfer's partial file.
    func removeTemp(_ transfer: Transfer) {
        if case .imageFile(let url) = transfer.sink { try? FileManager.default.removeItem(at: url) }
    }

    /// Moves a finished download into place under its content address and returns that workspace-relative path.
    /// When the same bytes are stored already (another URL or person), the download is dropped instead.
    func place(_ attempt: Attempt, sha256: String, format: ImageFormat) throws -> String {
        let path = Workspace.imagePath(sha256: sha256, ext: format.fileExtension)
        let dest = workspace.url(forRelativePath: path)
        let temp = tempURL(attempt)
        let fm = FileManager.default
        if fm.fileExists(atPath: dest.path) {
            try? fm.removeItem(at: temp)
        } else {
            let folder = dest.deletingLastPathComponent()
            guard mkdir(folder.path, 0o755) == 0 || errno == EEXIST else {
                let code = errno
                try? fm.removeItem(at: temp)
                throw WorkspaceIOError(path: folder.path, operation: "create the folder", code: code)
            }
            try catalog.willPlace(path)   // before the move: the sweep after a kill removes only such files
            guard rename(temp.path, dest.path) == 0 else {
                let code = errno
                try? fm.removeItem(at: temp)
                throw WorkspaceIOError(path: dest.path, operation: "move the download to", code: code)
            }
        }
        return path
    }

    /// Finishes what a killed run left: our partial downloads in tmp/, and the files this fetch was moving into
    /// place whose catalog row was never committed (their URLs are still queued, so they will be fetched again).
    /// Nothing else in the workspace is touched: a file curate did not record as its own is never removed.
    func sweep() throws -> Int {
        let fm = FileManager.default
        for name in (try? fm.contentsOfDirectory(atPath: workspace.tmpURL.path)) ?? [] where Workspace.isOurTemp(name) {
            try? fm.removeItem(at: workspace.tmpURL.appendingPathComponent(name))
        }
        return try catalog.sweepPlacing()
    }
}
