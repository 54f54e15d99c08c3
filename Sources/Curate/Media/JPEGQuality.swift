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
    public static func jpegQuality(_ b: [UInt8]) -> Int? {
        let n = b.count
        guard n >= 4, b[0] == 0xFF, b[1] == 0xD8 else { return nil }
        var i = 2
        while i + 3 < n {
            guard b[i] == 0xFF else { return nil }
            let marker = b[i + 1]
            if marker == 0xFF { i += 1; continue }
            if marker == 0xD8 || (0xD0...0xD7).contains(marker) || marker == 0x01 { i += 2; continue }
            if marker == 0xDA || marker == 0xD9 { return nil }   // the tables come before the first scan
            let length = Int(b[i + 2]) << 8 | Int(b[i + 3])
            guard length >= 2, i + 2 + length <= n else { return nil }
            if marker == 0xDB {
                // One or more tables: a byte of precision (high nibble: 0 = 8-bit, 1 = 16-bit) and id, then 64 values.
                var t = i + 4
                let end = i + 2 + length
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
            i += 2 + length
        }
        return nil
    }
}
