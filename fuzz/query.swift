// libFuzzer harness: query files (a person's label from the file name, one term or URL a line).
import Foundation

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzQuery(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = [UInt8](UnsafeBufferPointer(start: data, count: size))
    // The first line doubles as a file name, so the label rules see the same hostile text.
    let name = String(decoding: bytes.prefix { $0 != 0x0A }, as: UTF8.self)
    if let label = QueryFile.safeLabel(name) {
        precondition(!label.contains("/") && label != "." && label != ".." && !label.hasPrefix("."), "unsafe label \(label)")
    }
    _ = try? QueryFile.parse(Data(bytes), file: "fuzz.txt")
    return 0
}
