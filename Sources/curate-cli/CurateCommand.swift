// The root command and the options every subcommand shares.
import ArgumentParser
import Catalog
import Curate
import Foundation

struct CurateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "curate",
        abstract: "Turn web image searches into a clean, labelled face dataset.",
        discussion: """
        A workspace (default ./dataset, or CURATE_WORKSPACE) holds the SQLite catalog and every stored file.
        Start with `curate fetch --query queries/ --n 300`.
        """,
        // The BLAS is the one thing about the build that changes speed several times over, and it is chosen by
        // the system (Debian's libblas.so.3 alternative), not by curate: say which one this process loaded.
        version: "\(curateVersion)\nface descriptors on \(BLAS.current.summary)",
        subcommands: [Fetch.self, Process.self, Review.self, Split.self, Export.self,
                      Train.self, Runs.self, Predict.self, Status.self, List.self, Gallery.self, ShardDone.self, Merge.self]
    )
}

/// A subcommand: its `execute()` does the work, and every error it throws ends in `Exit.status(for:)`.
/// (ArgumentParser's own errors, usage and --help, are handled by ArgumentParser before a command runs.)
protocol Subcommand: ParsableCommand {
    func execute() throws
}

extension Subcommand {
    func run() throws {
        do { try execute() } catch { throw Exit.status(for: error) }
    }
}

/// Options shared by every subcommand.
struct GlobalOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The workspace folder (catalog and files).", valueName: "dir"))
    var workspace: String = ProcessInfo.processInfo.environment["CURATE_WORKSPACE"] ?? "dataset"

    @Flag(name: .long, help: "Print machine-readable JSON on standard output.")
    var json = false

    @Flag(name: .long, help: "Print nothing but errors.")
    var quiet = false

    var ws: Workspace { Workspace(path: workspace) }

    /// Lets the shared options come before the subcommand too (`curate --workspace w status`), by moving them
    /// after it, where ArgumentParser reads them.
    static func hoisted(_ args: [String]) -> [String] {
        let names = CurateCommand.configuration.subcommands.map { $0._commandName }
        guard let sub = args.firstIndex(where: { names.contains($0) }), sub > 0 else { return args }
        var before: [String] = []
        var moved: [String] = []
        var i = 0
        while i < sub {
            let arg = args[i]
            if arg == "--workspace", i + 1 < sub {
                moved += [arg, args[i + 1]]
                i += 2
                continue
            }
            if arg.hasPrefix("--workspace=") || arg == "--json" || arg == "--quiet" { moved.append(arg) } else { before.append(arg) }
            i += 1
        }
        return before + [args[sub]] + moved + args[(sub + 1)...]
    }
}

/// Exit codes, documented in docs/fetch.md, and the one place that maps an error to one.
enum Exit {
    static let nothingStored = ExitCode(1)
    static let noFace = ExitCode(1)
    static let failed = ExitCode(1)
    static let badInput = ExitCode(2)
    /// The workspace's file system failed (disk full, read-only, I/O error); run again once it is fixed.
    static let workspaceIO = ExitCode(74)
    static let interrupted = ExitCode(130)

    /// What a thrown error ends `curate` with: an interrupted run 130 (whatever the interruption made fail), bad
    /// input 2 (nothing changed), the workspace's file system failing 74 (disk full, read-only, I/O error: what
    /// was done is kept, run again once fixed), any other failure 1; each printed once as `error: ...`, SQLite's
    /// errors in words, control characters escaped (a message can hold a file name or a provider's text). An exit code a command
    /// chose, and ArgumentParser's own (a usage error 64), pass through.
    static func status(for error: Error) -> Error {
        switch error {
        case is ExitCode, is CleanExit, is ValidationError:
            return error
        case _ where Signals.interrupted:
            eprint("interrupted")
            return interrupted
        case let error as BadInput:
            eprint("error: " + printable("\(error)"))
            return badInput
        case let error as WorkspaceIOError:
            eprint("error: " + printable("\(error)"))
            return workspaceIO
        case let error as NSError where error.domain == NSCocoaErrorDomain || error.domain == NSPOSIXErrorDomain:
            // A file operation Foundation reports: say which file and why in words, not the NSError dump.
            let path = error.userInfo[NSFilePathErrorKey] as? String ?? (error.userInfo[NSURLErrorKey] as? URL)?.path ?? "a file"
            let io = WorkspaceIOError(path: path, operation: (256..<512).contains(error.code) ? "read" : "write", error: error)
            eprint("error: " + printable("\(io)"))
            return workspaceIO
        case _ where CatalogFailure(error) != nil:
            let failure = CatalogFailure(error)!
            eprint("error: " + printable("\(failure)"))
            return failure.isWorkspaceIO ? workspaceIO : failed
        default:
            eprint("error: " + printable("\(error)"))
            return failed
        }
    }
}

func jsonEncoder() -> JSONEncoder {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    encoder.dateEncodingStrategy = .iso8601
    return encoder
}

func printJSON<T: Encodable>(_ value: T) throws {
    let data = try jsonEncoder().encode(value)
    FileHandle.standardOutput.write(data)
    FileHandle.standardOutput.write(Data("\n".utf8))
}

/// Prints a JSON array as its elements come: byte for byte what `printJSON` prints for the whole array, in memory
/// that does not grow with it (`curate list --json` over a million images). `body` is given the function to print
/// each element with. Elements are encoded a thousand at a time, as an array whose brackets are cut off: inside
/// the brackets, a chunk's bytes are those of the same elements in the whole array.
func printJSONArray<T: Encodable>(of _: T.Type, _ body: ((T) throws -> Void) throws -> Void) throws {
    let encoder = jsonEncoder()
    var chunk: [T] = [], printed = 0
    func flush() throws {
        guard !chunk.isEmpty else { return }
        let data = try encoder.encode(chunk)   // "[\n" elements "\n]"
        var out = Data((printed == 0 ? "[\n" : ",\n").utf8)
        out.append(data[(data.startIndex + 2)..<(data.endIndex - 2)])
        FileHandle.standardOutput.write(out)
        printed += chunk.count
        chunk.removeAll(keepingCapacity: true)
    }
    try body { element in
        chunk.append(element)
        if chunk.count == 1_000 { try flush() }
    }
    try flush()
    if printed == 0 { return try printJSON([T]()) }
    FileHandle.standardOutput.write(Data("\n]\n".utf8))
}

func eprint(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}

/// Checks a number option in `validate()`: a value outside `range` is a usage error (exit 64) that names the
/// option and the range; a negative number says it is negative; NaN and infinity are not numbers here.
func check<T: BinaryFloatingPoint>(_ name: String, _ value: T?, in range: ClosedRange<T>, unit: String = "") throws {
    guard let value else { return }
    guard value.isFinite else { throw ValidationError("\(name) must be a number between \(range.lowerBound) and \(range.upperBound)\(unit).") }
    try check(name, value, range, shown: "\(value)", unit: unit)
}

func check<T: BinaryInteger>(_ name: String, _ value: T?, in range: ClosedRange<T>, unit: String = "") throws {
    guard let value else { return }
    try check(name, value, range, shown: "\(value)", unit: unit)
}

private func check<T: Comparable & Numeric>(_ name: String, _ value: T, _ range: ClosedRange<T>, shown: String, unit: String) throws {
    guard !range.contains(value) else { return }
    let wanted = "between \(range.lowerBound) and \(range.upperBound)\(unit)"
    if value < 0 && range.lowerBound >= 0 { throw ValidationError("\(name) \(shown) is negative: it must be \(wanted).") }
    throw ValidationError("\(name) \(shown) is out of range: it must be \(wanted).")
}
