// libFuzzer harness: the pure-Swift readers of an image's first bytes (format sniffing, the header-size readers of
// every format, the JPEG integrity walk), which run on every downloaded body before anything is decoded.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzHeader(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = [UInt8](UnsafeBufferPointer(start: data, count: size))
    _ = ImageFormat.sniff(bytes)
    for format in ImageFormat.allCases { _ = ImageHeader.size(bytes, format: format) }
    let integrity = ImageHeader.jpegIntegrity(bytes)
    // A JPEG that walks whole to its end marker has a frame header, so its size is known before decoding.
    if integrity == .whole && ImageHeader.size(bytes, format: .jpeg) == nil {
        fatalError("a whole JPEG without a size: the pixel limit would not apply")
    }
    return 0
}
