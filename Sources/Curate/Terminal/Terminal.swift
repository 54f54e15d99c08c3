// The interactive terminal: raw mode on the alternate screen, keys, size, and putting everything back however
// the program ends (quit, Ctrl-C, a signal, an error, a crash).
import Catalog
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A key press, as the review screens understand it.
public enum Key: Equatable, Sendable {
    case char(Character)
    case enter, escape, backspace, tab, up, down, left, right
    case interrupt   // Ctrl-C (raw mode delivers it as a byte, not a signal)
    case resize      // the window changed size
    case closed      // the terminal went away (hung up): nothing more will come
}

public enum TerminalError: BadInput {
    case notATerminal

    public var description: String {
        """
        `curate review` needs a terminal: standard input and output must be a TTY. Without one, use the scripting form:
          curate review --list [--json]          what waits for review
          curate review --accept ID...           keep images (overrides the verdict)
          curate review --reject ID...           confirm rejections
          curate review --face ID:N              face N of a group photo is the person
          curate review --relabel ID:PERSON      the image is another person's
          curate review --undo                   undo the latest decision
        """
    }
}

// What a signal handler needs to restore the terminal: C signal handlers cannot capture context. A Swift global is
// set up on its first use, behind a once: a handler that interrupts that setup and uses the same global waits on the
// once forever. So `Terminal.init` uses each of these before it installs a handler.
nonisolated(unsafe) private var savedTermios = termios()
nonisolated(unsafe) private var restoreFD: Int32 = -1
nonisolated(unsafe) private var windowChanged: sig_atomic_t = 0

/// Async-signal-safe: tcsetattr and write only, of globals set up before any handler, and a literal (a
/// `StaticString` is its bytes in the binary: nothing to set up or allocate). The bytes were a global array, first
/// made when the terminal went away: a hang-up arriving then ran this handler inside that setup, and `curate
/// review` spun on the once for good.
private func restoreTerminalNow() {
    guard restoreFD >= 0 else { return }
    let leaveScreen: StaticString = "\u{1B}[?2026l\u{1B}[0m\u{1B}[?25h\u{1B}[?1049l"
    _ = write(restoreFD, leaveScreen.utf8Start, leaveScreen.utf8CodeUnitCount)
    tcsetattr(restoreFD, TCSAFLUSH, &savedTermios)
    restoreFD = -1
}

public final class Terminal {
    public let input: Int32
    public let output: Int32
    private var active = false

    public static func isInteractive(input: Int32 = STDIN_FILENO, output: Int32 = STDOUT_FILENO) -> Bool {
        isatty(input) != 0 && isatty(output) != 0
    }

    /// Enters raw mode and the alternate screen, hides the cursor; `restore()` (or any exit) undoes it.
    public init(input: Int32 = STDIN_FILENO, output: Int32 = STDOUT_FILENO) throws {
        guard Self.isInteractive(input: input, output: output) else { throw TerminalError.notATerminal }
        self.input = input
        self.output = output
        var raw = termios()
        tcgetattr(input, &savedTermios)
        raw = savedTermios
        cfmakeraw(&raw)
        raw.c_oflag |= tcflag_t(OPOST | ONLCR)   // keep "\n" meaning a new line for what we print
        tcsetattr(input, TCSAFLUSH, &raw)
        restoreFD = input
        windowChanged = 0   // set up now, not first in its handler (see restoreTerminalNow)
        active = true
        atexit { restoreTerminalNow() }
        let handler: @convention(c) (Int32) -> Void = { sig in
            restoreTerminalNow()
            signal(sig, SIG_DFL)
            raise(sig)
        }
        // Termination and crashes (Swift traps raise SIGILL/SIGTRAP) put the terminal back first.
        for sig in [SIGTERM, SIGHUP, SIGINT, SIGQUIT, SIGABRT, SIGILL, SIGTRAP, SIGSEGV, SIGBUS] { signal(sig, handler) }
        signal(SIGWINCH, { _ in windowChanged = 1 })
        // A parent may have started us with signals blocked (the mask is inherited): unblock the ones handled here.
        var set = sigset_t()
        sigemptyset(&set)
        for sig in [SIGWINCH, SIGTERM, SIGHUP, SIGINT, SIGQUIT] { sigaddset(&set, sig) }
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
        write("\u{1B}[?1049h\u{1B}[?25l\u{1B}[2J")
    }

    deinit { restore() }

    /// Leaves the alternate screen, shows the cursor and restores the saved mode. Safe to call twice.
    public func restore() {
        guard active else { return }
        active = false
        restoreTerminalNow()
    }

    public func write(_ text: String) {
        let bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBufferPointer { Glibc.write(output, $0.baseAddress! + offset, $0.count - offset) }
            if n < 0 { if errno == EINTR { continue }; return }
            offset += n
        }
    }

    /// Columns, rows, and the pixel size of one cell (8 x 16 when the terminal does not say).
    public var size: (columns: Int, rows: Int, cellWidth: Int, cellHeight: Int) {
        var ws = winsize()
        guard ioctl(output, UInt(TIOCGWINSZ), &ws) == 0, ws.ws_col > 0, ws.ws_row > 0 else { return (80, 24, 8, 16) }
        let cw = ws.ws_xpixel > 0 ? Int(ws.ws_xpixel) / Int(ws.ws_col) : 8
        let ch = ws.ws_ypixel > 0 ? Int(ws.ws_ypixel) / Int(ws.ws_row) : 16
        return (Int(ws.ws_col), Int(ws.ws_row), max(1, cw), max(1, ch))
    }

    /// The next key, waiting at most `timeout` seconds (nil when none came). A window resize is a key too.
    public func readKey(timeout: Double) -> Key? {
        if gone { return .closed }
        if windowChanged != 0 { windowChanged = 0; return .resize }
        guard let byte = readByte(timeout: timeout) else {
            if gone { return .closed }
            if windowChanged != 0 { windowChanged = 0; return .resize }
            return nil
        }
        switch byte {
        case 0x03: return .interrupt
        case 0x0D, 0x0A: return .enter
        case 0x09: return .tab
        case 0x7F, 0x08: return .backspace
        case 0x1B:
            // A lone Escape, or the start of a sequence (arrows: ESC [ A..D or ESC O A..D).
            guard let next = readByte(timeout: 0.03) else { return .escape }
            guard next == UInt8(ascii: "[") || next == UInt8(ascii: "O") else { return .escape }
            var final: UInt8 = 0
            while let b = readByte(timeout: 0.03) {
                if (0x40...0x7E).contains(b) { final = b; break }
            }
            switch final {
            case UInt8(ascii: "A"): return .up
            case UInt8(ascii: "B"): return .down
            case UInt8(ascii: "C"): return .right
            case UInt8(ascii: "D"): return .left
            default: return nil
            }
        default:
            var bytes = [byte]
            let more = byte >= 0xF0 ? 3 : byte >= 0xE0 ? 2 : byte >= 0xC0 ? 1 : 0
            for _ in 0..<more { if let b = readByte(timeout: 0.03) { bytes.append(b) } }
            return String(decoding: bytes, as: UTF8.self).first.map { .char($0) }
        }
    }

    /// Set once the terminal hung up or reading failed: every later read answers `.closed` at once.
    private var gone = false

    private func readByte(timeout: Double) -> UInt8? {
        guard !gone else { return nil }
        var fds = pollfd(fd: input, events: Int16(POLLIN), revents: 0)
        guard poll(&fds, 1, Int32(timeout * 1000)) > 0 else { return nil }
        var b: UInt8 = 0
        let n = read(input, &b, 1)
        if n == 1 { return b }
        // End of input or an error other than an interruption: without this, a loop waiting for keys would spin.
        if n == 0 || (errno != EINTR && errno != EAGAIN) { gone = true }
        return nil
    }
}
