// libFuzzer harness: the pure-Swift readers of an image's first bytes (format sniffing, the header-size readers of
// every format, the JPEG layout walk, the quality read from its tables and its metadata-free copy), which run on
// every downloaded body before anything is decoded.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzHeader(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = [UInt8](UnsafeBufferPointer(start: data, count: size))
    _ = ImageFormat.sniff(bytes)
    for format in ImageFormat.allCases { _ = ImageHeader.size(bytes, format: format) }
    let (layout, integrity) = JPEGLayout.read(bytes)
    // A JPEG that walks whole to its end marker has a frame header, so its size is known before decoding.
    if integrity == .whole && ImageHeader.size(bytes, format: .jpeg) == nil {
        fatalError("a whole JPEG without a size: the pixel limit would not apply")
    }
    if let layout {
        _ = ImageHeader.jpegQuality(bytes, layout: layout)
        // The metadata-free copy is itself a whole JPEG with the same frame, tables and scans.
        if let copy = layout.withoutMetadata(bytes) {
            let (again, _) = JPEGLayout.read(copy)
            let kept = { (l: JPEGLayout) in l.segments.map(\.marker).filter { !(0xE1...0xEF).contains($0) && $0 != 0xFE || $0 == 0xEE } }
            guard let again, kept(again) == kept(layout), ImageHeader.size(copy, format: .jpeg) != nil else {
                fatalError("the metadata-free copy of a whole JPEG is not the same JPEG")
            }
        }
    }
    return 0
}
