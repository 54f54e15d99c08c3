// Which picture protocol the terminal speaks: the reply to the query decides it, asked over a real pseudo-terminal,
// never inside tmux.
import Foundation
import Testing
@testable import Curate

struct GraphicsDetectionTests {
    @Test func theReplyToTheQueryDecidesTheMode() {
        func reply(_ s: String) -> [UInt8] { Array(s.utf8) }
        #expect(GraphicsDetection.mode(fromReply: reply("\u{1B}_Gi=31;OK\u{1B}\\\u{1B}[?62;22c")) == .kitty)
        #expect(GraphicsDetection.mode(fromReply: reply("\u{1B}[?62;4;6;22c")) == .sixel)
        // No image protocol: the best text mode here (chafa's symbols, or half blocks without libchafa).
        #expect(GraphicsDetection.mode(fromReply: reply("\u{1B}[?1;2c")) == GraphicsMode.text)
        #expect(GraphicsDetection.mode(fromReply: reply("\u{1B}[?1;2c"), text: .blocks) == .blocks)
        #expect(GraphicsDetection.mode(fromReply: reply("\u{1B}_Gi=31;ENOTSUPPORTED\u{1B}\\\u{1B}[?64;1;2c")) == GraphicsMode.text)
        #expect(GraphicsDetection.mode(fromReply: []) == GraphicsMode.text)
        #expect(GraphicsDetection.insideMultiplexer(["TMUX": "/tmp/tmux-0/default,1,0"]))
        #expect(GraphicsDetection.insideMultiplexer(["TERM": "screen-256color"]))
        #expect(!GraphicsDetection.insideMultiplexer(["TERM": "xterm-kitty"]))
    }

    /// Plays the terminal on the master side of a real pseudo-terminal.
    func detect(answer: String?, environment: [String: String] = [:], timeout: Double = 3) throws -> (mode: GraphicsMode, asked: String, seconds: Double) {
        // posix_openpt and friends are not in Swift's Glibc module: open the multiplexer and use its ioctls.
        let master = open("/dev/ptmx", O_RDWR | O_NOCTTY)
        #expect(master >= 0)
        defer { close(master) }
        var unlock: Int32 = 0
        var number: UInt32 = 0
        _ = ioctl(master, 0x4004_5431, &unlock)   // TIOCSPTLCK
        _ = ioctl(master, 0x8004_5430, &number)   // TIOCGPTN
        let slave = open("/dev/pts/\(number)", O_RDWR | O_NOCTTY)
        #expect(slave >= 0)
        defer { close(slave) }
        var raw = termios()
        tcgetattr(slave, &raw)
        cfmakeraw(&raw)
        tcsetattr(slave, TCSANOW, &raw)

        final class Box: @unchecked Sendable { var mode = GraphicsMode.blocks; var seconds = 0.0 }
        let box = Box()
        let done = DispatchSemaphore(value: 0)
        Thread {
            let start = Date()
            box.mode = GraphicsDetection.detect(input: slave, output: slave, environment: environment, timeout: timeout)
            box.seconds = Date().timeIntervalSince(start)
            done.signal()
        }.start()
        // Read what the program asked, then answer like a terminal would.
        var asked: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 256)
        let deadline = Date().addingTimeInterval(environment.isEmpty ? 20 : 0.5)
        while !String(decoding: asked, as: UTF8.self).contains("\u{1B}[c"), Date() < deadline {
            var fds = pollfd(fd: master, events: Int16(POLLIN), revents: 0)
            guard poll(&fds, 1, 50) > 0 else { continue }
            let n = read(master, &buffer, buffer.count)
            if n > 0 { asked += buffer[0..<n] }
        }
        if let answer { _ = Array(answer.utf8).withUnsafeBufferPointer { write(master, $0.baseAddress, $0.count) } }
        #expect(done.wait(timeout: .now() + 60) == .success)
        return (box.mode, String(decoding: asked, as: UTF8.self), box.seconds)
    }

    @Test func detectionAsksTheTerminalOverARealPTY() throws {
        let kitty = try detect(answer: "\u{1B}_Gi=31;OK\u{1B}\\\u{1B}[?62;c")
        #expect(kitty.mode == .kitty)
        #expect(kitty.asked == GraphicsDetection.query)
        #expect(try detect(answer: "\u{1B}[?63;1;2;4;6;9;15;22c").mode == .sixel)
        let plain = try detect(answer: "\u{1B}[?1;2c")
        #expect(plain.mode == GraphicsMode.text)
        #expect(plain.seconds < 2.5, "a DA1 answer ends the wait at once, long before the 3 s timeout")
        // A terminal that never answers costs the timeout, then a text mode.
        let silent = try detect(answer: nil, timeout: 0.4)
        #expect(silent.mode == GraphicsMode.text)
        #expect(silent.seconds >= 0.35 && silent.seconds < 30)
        // Inside tmux nothing is asked: tmux would swallow the answer.
        let tmux = try detect(answer: nil, environment: ["TMUX": "/tmp/tmux-1000/default,42,0"])
        #expect(tmux.mode == GraphicsMode.text)
        #expect(tmux.asked.isEmpty)
    }
}
