// curate-test-server: runs TestServer on 127.0.0.1 for benchmarks and manual checks, until killed.
import Foundation
import TestServer

let usage = """
usage: curate-test-server --data DIR [--port N] [--latency-ms MS] [--url-file FILE]
                          [--results TERM=DIR]... [--unique-results TERM=N:DIR]...
  --data DIR        folder served under /files/ (e.g. /work/shared/data)
  --port N          port on 127.0.0.1 (default 0: the kernel picks a free one)
  --latency-ms MS   delay before every response (default 0)
  --url-file FILE   also write the base URL to FILE
  --results TERM=DIR          search results for TERM (Commons and Openverse emulations):
                              every image under DIR (relative to --data), sorted
  --unique-results TERM=N:DIR search results for TERM: N distinct /unique/<i>/... paths
                              cycling over the images under DIR (i = 1...N)
Prints the base URL (http://127.0.0.1:PORT) on one line, then serves until killed.
"""

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("curate-test-server: \(message)\n\(usage)\n".utf8))
    exit(2)
}

// Plain manual parsing: this tool must not pull ArgumentParser into the server's build.
var dataDir: String?
var port: UInt16 = 0
var latencyMs = 0
var urlFile: String?
/// (term, count or nil for "all files once", folder), applied in order once the server runs.
var resultSpecs: [(term: String, count: Int?, dir: String)] = []

/// Splits "TERM=REST" at the last "=": a search term may hold "=", the data folders never do.
func splitSpec(_ s: String, _ flag: String) -> (String, String) {
    guard let eq = s.lastIndex(of: "=") else { fail("\(flag) wants TERM=..., got \(s)") }
    return (String(s[..<eq]), String(s[s.index(after: eq)...]))
}

var args = CommandLine.arguments.dropFirst()
while let arg = args.popFirst() {
    func value() -> String {
        guard let v = args.popFirst() else { fail("\(arg) needs a value") }
        return v
    }
    switch arg {
    case "--data": dataDir = value()
    case "--port":
        let v = value()
        guard let p = UInt16(v) else { fail("bad --port \(v)") }
        port = p
    case "--latency-ms":
        let v = value()
        guard let ms = Int(v), ms >= 0 else { fail("bad --latency-ms \(v)") }
        latencyMs = ms
    case "--url-file": urlFile = value()
    case "--results":
        let (term, dir) = splitSpec(value(), arg)
        resultSpecs.append((term, nil, dir))
    case "--unique-results":
        let (term, rest) = splitSpec(value(), arg)
        guard let colon = rest.firstIndex(of: ":"), let n = Int(rest[..<colon]), n >= 0 else {
            fail("--unique-results wants TERM=N:DIR, got \(term)=\(rest)")
        }
        resultSpecs.append((term, n, String(rest[rest.index(after: colon)...])))
    case "-h", "--help":
        print(usage)
        exit(0)
    default: fail("unknown argument \(arg)")
    }
}
guard let dataDir else { fail("--data is required") }
var isDir: ObjCBool = false
guard FileManager.default.fileExists(atPath: dataDir, isDirectory: &isDir), isDir.boolValue else {
    fail("--data \(dataDir) is not a folder")
}

let server: TestServer
do {
    server = try await TestServer.start(dataRoot: URL(fileURLWithPath: dataDir), latencyMs: latencyMs, port: port)
} catch {
    FileHandle.standardError.write(Data("curate-test-server: cannot start: \(error)\n".utf8))
    exit(1)
}

for spec in resultSpecs {
    let files = server.imagePaths(under: spec.dir)
    guard !files.isEmpty else { fail("no images under \(spec.dir) in \(dataDir)") }
    if let n = spec.count {
        // /unique/<i>/<relpath>: distinct bytes per i, so N results are N distinct images.
        let paths = (0..<n).map { i in "/unique/\(i + 1)/" + files[i % files.count].dropFirst("/files/".count) }
        server.setResults(term: spec.term, paths: paths)
    } else {
        server.setResults(term: spec.term, paths: files)
    }
}

if let urlFile {
    do {
        // Written whole in one call so a watcher never reads a partial URL.
        try Data((server.baseURL + "\n").utf8).write(to: URL(fileURLWithPath: urlFile), options: .atomic)
    } catch {
        FileHandle.standardError.write(Data("curate-test-server: cannot write \(urlFile): \(error)\n".utf8))
        exit(1)
    }
}
print(server.baseURL)
fflush(stdout)

// Serve until a signal ends the process (default SIGTERM/SIGINT/SIGKILL actions are what we want).
while true {
    try? await Task.sleep(nanoseconds: 3_600 * 1_000_000_000)
}
