// The root command and the options every subcommand shares.
import ArgumentParser
import Catalog
import Foundation

struct CurateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "curate",
        abstract: "Turn web image searches into a clean, labelled face dataset.",
        discussion: """
        A workspace (default ./dataset, or CURATE_WORKSPACE) holds the SQLite catalog and every stored file.
        Start with `curate fetch --query queries/ --n 300`.
        """,
        version: "0.1.0",
        subcommands: [Fetch.self, ProcessCommand.self, Review.self, SplitCommand.self, ExportCommand.self,
                      TrainCommand.self, RunsCommand.self, PredictCommand.self, Status.self, List.self]
    )
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

/// Exit codes, documented in the README.
enum Exit {
    static let nothingStored = ExitCode(1)
    static let noFace = ExitCode(1)
    static let badInput = ExitCode(2)
    static let interrupted = ExitCode(130)
}

/// Prints a user-facing error and exits with the bad-input code.
func fail(_ error: Error) -> ExitCode {
    FileHandle.standardError.write(Data("error: \(error)\n".utf8))
    return Exit.badInput
}

func printJSON<T: Encodable>(_ value: T) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    encoder.dateEncodingStrategy = .iso8601
    let data = try encoder.encode(value)
    FileHandle.standardOutput.write(data)
    FileHandle.standardOutput.write(Data("\n".utf8))
}

func eprint(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}
