// A JPEG's structure, walked once: its segments from the start marker to the end marker, which the integrity
// check, the quality estimate and the metadata-free copy all read.
import Foundation

public struct JPEGLayout {
    /// One marker and what belongs to it: `range` runs from the marker's 0xFF through its payload, and for a
    /// start of scan (0xDA) through the entropy-coded data after it.
    public struct Segment: Equatable {
        public var marker: UInt8
        public var range: Range<Int>
    }

    /// Every segment after the start marker (FFD8), the end marker (FFD9) last.
    public var segments: [Segment]

    /// Walks a JPEG's markers and entropy-coded data to its end marker. A file cut short has no EOI (OpenCV
    /// would hand back a partly grey image without complaint); random bytes in the scan data show up as markers
    /// that cannot be there. Bytes after EOI are ignored. The layout comes only with a whole file.
    public static func read(_ b: [UInt8]) -> (layout: JPEGLayout?, integrity: ImageHeader.Integrity) {
        let n = b.count
        guard n >= 4, b[0] == 0xFF, b[1] == 0xD8 else { return (nil, .corrupt("no JPEG start marker")) }
        var segments: [Segment] = []
        var i = 2
        var sawFrame = false
        while true {
            guard i + 1 < n else { return (nil, .truncated) }
            guard b[i] == 0xFF else { return (nil, .corrupt("expected a marker at byte \(i)")) }
            while i < n && b[i] == 0xFF { i += 1 }
            guard i < n else { return (nil, .truncated) }
            let start = i - 1   // the last 0xFF before the marker (fill bytes before it are left out)
            let marker = b[i]
            i += 1
            switch marker {
            case 0xD9:
                guard sawFrame else { return (nil, .corrupt("end marker before any image data")) }
                segments.append(Segment(marker: marker, range: start..<i))
                return (JPEGLayout(segments: segments), .whole)
            case 0xD0...0xD7, 0x01:
                segments.append(Segment(marker: marker, range: start..<i))
                continue
            case 0x00, 0xD8:
                return (nil, .corrupt(String(format: "unexpected marker FF%02X at byte %d", marker, i - 2)))
            default:
                guard i + 1 < n else { return (nil, .truncated) }
                let length = Int(b[i]) << 8 | Int(b[i + 1])
                guard length >= 2 else { return (nil, .corrupt("segment length \(length) at byte \(i)")) }
                if (0xC0...0xCF).contains(marker) && ![0xC4, 0xC8, 0xCC].contains(marker) {
                    // Precision, height, width, a component count and at least one component's 3 bytes.
                    guard length >= 11 else { return (nil, .corrupt("a frame header of \(length) bytes at byte \(i - 2)")) }
                    sawFrame = true
                }
                i += length
                guard i <= n else { return (nil, .truncated) }
                if marker == 0xDA {
                    // Entropy-coded data: runs until a marker other than stuffing (FF00) or a restart (FFD0-D7).
                    while true {
                        guard i + 1 < n else { return (nil, .truncated) }
                        if b[i] == 0xFF {
                            let next = b[i + 1]
                            if next == 0x00 || (0xD0...0xD7).contains(next) { i += 2; continue }
                            if next == 0xFF { i += 1; continue }
                            break
                        }
                        i += 1
                    }
                    guard sawFrame else { return (nil, .corrupt("scan before frame header")) }
                    // What may follow a scan: another table, another scan (progressive), or the end.
                    let next = b[i + 1]
                    let allowed: Set<UInt8> = [0xD9, 0xDA, 0xC4, 0xDB, 0xDD, 0xCC, 0xFE]
                    if !allowed.contains(next) && !(0xE0...0xEF).contains(next) {
                        return (nil, .corrupt(String(format: "marker FF%02X inside the image data at byte %d", next, i)))
                    }
                }
                segments.append(Segment(marker: marker, range: start..<i))
            }
        }
    }

    /// The same JPEG without its metadata: EXIF, XMP, ICC, IPTC and the other application segments but JFIF
    /// (APP0) and Adobe's colour transform (APP14), comments, and any bytes after the end marker. Only for the
    /// JPEGs every decoder reads alike (a Huffman-coded baseline, extended or progressive frame of 8-bit samples
    /// with 1 or 3 components); nil for the others, which are re-encoded instead. The pixels do not change: the
    /// tables and the entropy-coded data are the original's, byte for byte.
    public func withoutMetadata(_ b: [UInt8]) -> [UInt8]? {
        guard let frame = segments.first(where: { (0xC0...0xCF).contains($0.marker) && ![0xC4, 0xC8, 0xCC].contains($0.marker) }),
              [0xC0, 0xC1, 0xC2].contains(frame.marker),
              frame.range.count >= 10,
              b[frame.range.lowerBound + 4] == 8,
              [1, 3].contains(b[frame.range.lowerBound + 9]) else { return nil }
        var out: [UInt8] = [0xFF, 0xD8]
        out.reserveCapacity(b.count)
        for s in segments {
            let metadata = ((0xE1...0xEF).contains(s.marker) && s.marker != 0xEE) || s.marker == 0xFE
            if metadata { continue }
            // Only the markers of a plain JPEG (tables, frame, scans, restart interval, JFIF, Adobe, the end); a
            // file with others is re-encoded.
            guard [0xC0, 0xC1, 0xC2, 0xC4, 0xDA, 0xDB, 0xDD, 0xD9, 0xE0, 0xEE].contains(s.marker) else { return nil }
            out.append(contentsOf: b[s.range])
        }
        // What followed a scan may have been a comment or metadata: the copy must still read whole, as a JPEG
        // whose segments follow each other as the standard allows.
        return JPEGLayout.read(out).integrity == .whole ? out : nil
    }
}

extension ImageHeader {
    /// Whether a JPEG is whole: see `JPEGLayout.read`.
    public static func jpegIntegrity(_ b: [UInt8]) -> Integrity { JPEGLayout.read(b).integrity }
}
