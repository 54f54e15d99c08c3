// The `curate` command line: parses arguments and prints; every decision lives in the library targets.
import ArgumentParser

CurateCommand.main(GlobalOptions.hoisted(Array(CommandLine.arguments.dropFirst())))
