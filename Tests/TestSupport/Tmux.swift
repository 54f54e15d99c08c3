// A tmux server of the test's own, for driving the real `curate review` screen: start a command in a window, send
// keys, read the screen.
import Foundation
import Testing

/// A tmux server of our own (its own socket), running one command in a 120 x 40 window.
public final class Tmux {
    public static var available: Bool { FileManager.default.isExecutableFile(atPath: "/usr/bin/tmux") }
    public static let missing: Comment = "tmux is not installed (scripts/setup.sh installs it): the interactive review tests are skipped"
    public let socket = "curate-test-\(UUID().uuidString.prefix(8))"

    public init(_ command: String) throws {
        try run(["new-session", "-d", "-x", "120", "-y", "40", command])
    }

    deinit { _ = try? run(["kill-server"]) }

    /// Runs tmux and returns what it printed. posix_spawn, not Foundation's Process: Process learns that its
    /// child ended through a descriptor the child inherits, and the server that new-session forks keeps that
    /// descriptor open, so waiting on it would never end.
    @discardableResult
    public func run(_ args: [String], capture: Bool = false) throws -> String {
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { throw CancellationError() }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, fds[1], 1)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addclose(&actions, fds[0])
        posix_spawn_file_actions_addclose(&actions, fds[1])
        let argv = (["tmux", "-L", socket, "-f", "/dev/null"] + args).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        // The test runner's threads block most signals and the mask is inherited: tmux's server would then never
        // see its children end, and kill-server would leave it running. Start tmux with none blocked, defaults set.
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var none = sigset_t(), all = sigset_t()
        sigemptyset(&none)
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, "/usr/bin/tmux", &actions, &attributes, argv, environ)
        close(fds[1])
        defer { close(fds[0]) }
        guard rc == 0 else { throw CancellationError() }
        // new-session's server gets our pipe as its stdout only until it daemonizes (it then closes it).
        var output: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        if capture || args.first == "capture-pane" {
            while true {
                let n = read(fds[0], &buffer, buffer.count)
                if n <= 0 { break }
                output += buffer[0..<n]
            }
        }
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        return String(decoding: output, as: UTF8.self)
    }

    /// Sends keys as tmux names them ("a", "Enter", "Tab", "C-c").
    public func send(_ keys: String...) throws { try run(["send-keys", "-t", "0"] + keys) }

    public func screen() throws -> String { try run(["capture-pane", "-p", "-t", "0"]) }

    /// Waits until the screen shows every one of `texts`, and returns the screen. A frame reaches tmux in pieces:
    /// to look at a whole frame, name its first line and its last (review's key line).
    @discardableResult
    public func waitFor(_ texts: String..., timeout: Double = 90) throws -> String {
        let deadline = Date().addingTimeInterval(timeout)
        var last = ""
        while Date() < deadline {
            last = try screen()
            if texts.allSatisfy(last.contains) { return last }
            Thread.sleep(forTimeInterval: 0.1)
        }
        Issue.record("the screen never showed \(texts.map { "\"\($0)\"" }.joined(separator: " and ")); it shows:\n\(last)")
        throw CancellationError()
    }
}
