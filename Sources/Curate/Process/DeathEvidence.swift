// What a dead processing run left as evidence of why it died: the image whose thread crashed, or that the user
// ended it. Read by the next run before it blames anything (see Processor.run).
import CBridgeError
import Catalog
import Foundation

public final class DeathEvidence {
    /// What the last run that died wrote: the images its crashing threads were working on, and whether the user
    /// ended it.
    public struct Last: Equatable {
        public var crashed: Set<Int64> = []
        public var interrupted = false
    }

    let url: URL
    private var fd: Int32 = -1

    public init(workspace: Workspace) {
        url = workspace.tmpURL.appendingPathComponent(Workspace.processEvidenceName)
    }

    /// Reads and removes what the last run left (nothing when it ended normally).
    public func takeLast() -> Last {
        var last = Last()
        // Not through a link, and a few bytes at most: one line an image.
        let fd = open(url.path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { return last }
        var bytes = [UInt8](repeating: 0, count: 64 << 10)
        let n = read(fd, &bytes, bytes.count)
        close(fd)
        unlink(url.path)
        for line in String(decoding: bytes.prefix(max(0, n)), as: UTF8.self).split(separator: "\n") {
            if line == "interrupted" { last.interrupted = true } else if let id = Int64(line), id > 0 { last.crashed.insert(id) }
        }
        return last
    }

    /// From now until `stop`, a fatal signal writes the image its thread works on here, and a user's ending says so.
    public func start() throws {
        fd = open(url.path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0o644)
        // Without the file a death leaves no evidence: the images in flight are then only counted against.
        if fd >= 0 { curate_evidence_open(fd) }
    }

    /// The run ended on its own: nothing to tell the next one.
    public func stop() {
        guard fd >= 0 else { return }
        curate_evidence_open(-1)
        close(fd)
        fd = -1
        unlink(url.path)
    }

    /// Called from the interrupt handler just before a second Ctrl-C or a hang-up ends the process: async-signal-safe.
    public static func interrupted() { curate_evidence_interrupted() }
}
