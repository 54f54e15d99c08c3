// libFuzzer harness: the pure-Swift readers of an image's first bytes (format sniffing, the header-size readers of
// every format, the JPEG layout walk, the quality read from its tables and its metadata-free copy), which run on
// every downloaded body before anything is decoded.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzHeader(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = [UInt8](UnsafeBufferPointer(start: data, count: size))
    _ = ImageFormat.sniff(bytes)
    for format in ImageFormat.allCases { _ = ImageHeader.size(bytes, format: format) }
    let (layout, integrity) = JPEGLayout.read(bytes)
    // A JPEG that walks whole to its end marker has a frame header. Its size is libjpeg's own header read, which
    // refuses more than the walk does (a marker it does not know, FFBA: fuzz/regressions); where libjpeg cannot
    // size a file, it is never decoded (ImageLimits), so the pixel limit still applies. What must hold: a whole
    // JPEG that libjpeg sizes has the size its frame header says.
    if integrity == .whole, let size = ImageHeader.size(bytes, format: .jpeg), let layout,
       let frame = layout.segments.first(where: { (0xC0...0xCF).contains($0.marker) && ![0xC4, 0xC8, 0xCC].contains($0.marker) }) {
        let f = frame.range.lowerBound
        let height = Int(bytes[f + 5]) << 8 | Int(bytes[f + 6]), width = Int(bytes[f + 7]) << 8 | Int(bytes[f + 8])
        if height != 0 && (width, height) != (size.width, size.height) {
            fatalError("libjpeg sizes a whole JPEG \(size.width)x\(size.height), its frame header \(width)x\(height)")
        }
    }
    if let layout {
        _ = ImageHeader.jpegQuality(bytes, layout: layout)
        // The metadata-free copy is itself a whole JPEG with the same frame, tables and scans.
        if let copy = layout.withoutMetadata(bytes) {
            let (again, _) = JPEGLayout.read(copy)
            let kept = { (l: JPEGLayout) in l.segments.map(\.marker).filter { !(0xE1...0xEF).contains($0) && $0 != 0xFE || $0 == 0xEE } }
            // libjpeg sizes the copy as it sizes the original (both, the same; or neither: a table it refuses).
            let size = ImageHeader.size(bytes, format: .jpeg), copied = ImageHeader.size(copy, format: .jpeg)
            guard let again, kept(again) == kept(layout), size?.width == copied?.width, size?.height == copied?.height else {
                fatalError("the metadata-free copy of a whole JPEG is not the same JPEG")
            }
        }
    }
    return 0
}
