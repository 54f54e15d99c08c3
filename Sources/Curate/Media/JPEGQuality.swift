// A JPEG's quality setting, read back from its quantisation tables: which of two same-sized copies is better.
import Foundation

extension ImageHeader {
    /// The IJG (libjpeg) luminance table at quality 50, which encoders scale for every other quality.
    static let standardLuminance: [Int] = [
        16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55,
        14, 13, 16, 24, 40, 57, 69, 56, 14, 17, 22, 29, 51, 87, 80, 62,
        18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
        49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99,
    ]

    /// The quality (1-100) a JPEG was saved at, estimated from its luminance quantisation table (table 0) as
    /// libjpeg scales it: the table's size against the standard one gives the scale factor S (in percent), and
    /// quality = (200 - S) / 2 for S <= 100, else 5000 / S. Encoders with tables of their own get the quality
    /// libjpeg would need for tables that coarse. Nil when the file has no table 0 before its first scan.
    public static func jpegQuality(_ b: [UInt8], layout: JPEGLayout) -> Int? {
        for segment in layout.segments {
            if segment.marker == 0xDA { return nil }   // the tables come before the first scan
            guard segment.marker == 0xDB else { continue }
            // One or more tables: a byte of precision (high nibble: 0 = 8-bit, 1 = 16-bit) and id, then 64 values.
            var t = segment.range.lowerBound + 4
            let end = segment.range.upperBound
            while t < end {
                let precision = b[t] >> 4, id = b[t] & 0x0F
                let size = precision == 0 ? 64 : 128
                guard t + 1 + size <= end else { return nil }
                if id == 0 {
                    var sum = 0
                    for k in 0..<64 {
                        sum += precision == 0 ? Int(b[t + 1 + k]) : Int(b[t + 1 + 2 * k]) << 8 | Int(b[t + 2 + 2 * k])
                    }
                    // The sums, not the entries, are compared: the file stores them in zig-zag order.
                    let scale = Double(sum) * 100 / Double(standardLuminance.reduce(0, +))
                    let quality = scale <= 100 ? (200 - scale) / 2 : 5000 / scale
                    return min(100, max(1, Int(quality.rounded())))
                }
                t += 1 + size
            }
        }
        return nil
    }
}
