// Pictures in a terminal: text mosaics in 24-bit colour (chafa's symbols, or Unicode half blocks; any modern
// terminal, tmux too), the kitty graphics protocol and sixel, and how to tell which one the terminal speaks.
import Foundation

/// How images are drawn.
public enum GraphicsMode: String, CaseIterable, Sendable {
    case kitty    // kitty graphics protocol (kitty, WezTerm, Ghostty, Konsole)
    case sixel    // DEC sixel (xterm -ti vt340, foot, mlterm, WezTerm, iTerm2)
    case symbols  // chafa's symbol mosaic in 24-bit colour: block and border symbols, 8 x 8 pixels matched per cell
    case blocks   // "▀" half blocks with 24-bit foreground/background colours: two pixels per cell

    /// Drawn with text in cells (and so passed through by tmux), rather than as an image.
    public var isText: Bool { self == .symbols || self == .blocks }

    /// The best text mode here: chafa's symbols where libchafa loads, else half blocks.
    public static var text: GraphicsMode { (try? ChafaRenderer.shared.get()) != nil ? .symbols : .blocks }
}

/// Packed 8-bit RGB pixels.
public struct RGBImage: Equatable, Sendable {
    public var width: Int
    public var height: Int
    public var pixels: [UInt8]

    public init(width: Int, height: Int, pixels: [UInt8]) {
        precondition(pixels.count == width * height * 3, "RGBImage: \(pixels.count) bytes for \(width)x\(height)")
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    @inline(__always) func rgb(_ x: Int, _ y: Int) -> (UInt8, UInt8, UInt8) {
        let i = (y * width + x) * 3
        return (pixels[i], pixels[i + 1], pixels[i + 2])
    }
}

extension DecodedImage {
    /// The pixels as RGB (the image bridge holds BGR).
    public func rgb() -> RGBImage {
        let w = width, h = height
        var out = [UInt8](repeating: 0, count: w * h * 3)
        withPixels { p, stride in
            out.withUnsafeMutableBufferPointer { o in
                for y in 0..<h {
                    let row = p + y * stride
                    for x in 0..<w {
                        let d = (y * w + x) * 3
                        o[d] = row[3 * x + 2]
                        o[d + 1] = row[3 * x + 1]
                        o[d + 2] = row[3 * x]
                    }
                }
            }
        }
        return RGBImage(width: w, height: h, pixels: out)
    }
}

/// The largest size with the image's aspect ratio inside a box (at least 1 x 1).
public func fitting(width: Int, height: Int, into maxWidth: Int, _ maxHeight: Int) -> (width: Int, height: Int) {
    guard width > 0, height > 0, maxWidth > 0, maxHeight > 0 else { return (1, 1) }
    let scale = min(Double(maxWidth) / Double(width), Double(maxHeight) / Double(height))
    return (max(1, min(maxWidth, Int((Double(width) * scale).rounded()))), max(1, min(maxHeight, Int((Double(height) * scale).rounded()))))
}

/// A colour of 8-bit red, green, blue.
public struct RGB: Equatable, Hashable, Sendable {
    public var r, g, b: UInt8
    public init(_ r: UInt8, _ g: UInt8, _ b: UInt8) { (self.r, self.g, self.b) = (r, g, b) }
}

/// A picture drawn with text: one symbol per cell, in a foreground colour over a background colour. Both cell
/// renderers (half blocks, chafa's symbols) produce one, and it is written to the terminal one way.
public struct Mosaic: Equatable, Sendable {
    public struct Cell: Equatable, Sendable {
        public var symbol: Unicode.Scalar
        public var fg: RGB
        /// nil: the terminal's own background.
        public var bg: RGB?
        public init(symbol: Unicode.Scalar, fg: RGB, bg: RGB?) { (self.symbol, self.fg, self.bg) = (symbol, fg, bg) }
    }

    public var columns: Int
    public var rows: Int
    /// Row by row.
    public var cells: [Cell]

    public init(columns: Int, rows: Int, cells: [Cell]) {
        precondition(cells.count == columns * rows, "Mosaic: \(cells.count) cells for \(columns)x\(rows)")
        (self.columns, self.rows, self.cells) = (columns, rows, cells)
    }

    /// One string per row, in 24-bit colour. Colour codes are written only when they change along a line (a
    /// space's foreground never matters), and each line ends with a reset, so lines can be placed anywhere.
    public func lines() -> [String] {
        enum Background: Equatable { case unset, terminal, colour(RGB) }
        var lines: [String] = []
        lines.reserveCapacity(rows)
        for y in 0..<rows {
            var line = ""
            var fg: RGB?
            var bg = Background.unset
            for cell in cells[(y * columns)..<((y + 1) * columns)] {
                var codes: [String] = []
                if cell.symbol != " ", fg != cell.fg {
                    codes.append("38;2;\(cell.fg.r);\(cell.fg.g);\(cell.fg.b)")
                    fg = cell.fg
                }
                if let colour = cell.bg {
                    if bg != .colour(colour) {
                        codes.append("48;2;\(colour.r);\(colour.g);\(colour.b)")
                        bg = .colour(colour)
                    }
                } else if bg != .terminal {
                    codes.append("49")
                    bg = .terminal
                }
                if !codes.isEmpty { line += "\u{1B}[" + codes.joined(separator: ";") + "m" }
                line.unicodeScalars.append(cell.symbol)
            }
            lines.append(line + "\u{1B}[0m")
        }
        return lines
    }

    /// The mosaic as a terminal would show it, at 8 x 8 pixels per cell: the foreground where `coverage` (a
    /// symbol's 64 pixels, row by row) says, the background elsewhere (black for the terminal's own). A cell is
    /// twice as tall as wide, so one of these pixels is 1 x 2 on screen: compare with a source resized to the
    /// same grid. A symbol without coverage counts as all background.
    public func rasterised(coverage: (Unicode.Scalar) -> [Bool]?) -> RGBImage {
        let w = columns * 8, h = rows * 8
        var pixels = [UInt8](repeating: 0, count: w * h * 3)
        for cy in 0..<rows {
            for cx in 0..<columns {
                let cell = cells[cy * columns + cx]
                let mask = coverage(cell.symbol)
                let bg = cell.bg ?? RGB(0, 0, 0)
                for i in 0..<64 {
                    let c = mask?[i] == true ? cell.fg : bg
                    let o = ((cy * 8 + i / 8) * w + cx * 8 + i % 8) * 3
                    pixels[o] = c.r
                    pixels[o + 1] = c.g
                    pixels[o + 2] = c.b
                }
            }
        }
        return RGBImage(width: w, height: h, pixels: pixels)
    }
}

/// Half blocks: each cell is "▀", its foreground the upper pixel and its background the lower one, so a cell
/// holds two square pixels. An odd last pixel row leaves the lower halves in the terminal's own background.
public enum HalfBlocks {
    public static func mosaic(_ image: RGBImage) -> Mosaic {
        var cells: [Mosaic.Cell] = []
        let rows = (image.height + 1) / 2
        cells.reserveCapacity(rows * image.width)
        for y in stride(from: 0, to: image.height, by: 2) {
            for x in 0..<image.width {
                let top = image.rgb(x, y)
                let bottom = y + 1 < image.height ? image.rgb(x, y + 1) : nil
                cells.append(Mosaic.Cell(symbol: "▀", fg: RGB(top.0, top.1, top.2), bg: bottom.map { RGB($0.0, $0.1, $0.2) }))
            }
        }
        return Mosaic(columns: image.width, rows: rows, cells: cells)
    }

    public static func render(_ image: RGBImage) -> [String] { mosaic(image).lines() }
}

/// Unicode's block elements (U+2580-U+259F, less the shades) and space, as 8 x 8 pixels: their shapes are defined
/// in eighths and quarters of the cell, so a mosaic of them can be rasterised exactly as a terminal shows it.
public enum BlockElements {
    /// Which of the symbol's 64 pixels (row by row) are foreground; nil for a symbol that is not one of them.
    public static func coverage(of symbol: Unicode.Scalar) -> [Bool]? {
        let v = symbol.value
        let inside: (Int, Int) -> Bool
        switch v {
        case 0x20: inside = { _, _ in false }
        case 0x2580: inside = { _, y in y < 4 }                                   // ▀ upper half
        case 0x2581...0x2588: inside = { _, y in y >= 8 - Int(v - 0x2580) }      // ▁ … █ lower eighths
        case 0x2589...0x258F: inside = { x, _ in x < 8 - Int(v - 0x2588) }       // ▉ … ▏ left eighths
        case 0x2590: inside = { x, _ in x >= 4 }                                  // ▐ right half
        case 0x2594: inside = { _, y in y < 1 }                                   // ▔ upper eighth
        case 0x2595: inside = { x, _ in x >= 7 }                                  // ▕ right eighth
        case 0x2596...0x259F:
            // Quadrants: upper left, upper right, lower left, lower right (bits 8, 4, 2, 1).
            let quads: [UInt32: Int] = [0x2596: 0b0010, 0x2597: 0b0001, 0x2598: 0b1000, 0x2599: 0b1011, 0x259A: 0b1001,
                                        0x259B: 0b1110, 0x259C: 0b1101, 0x259D: 0b0100, 0x259E: 0b0110, 0x259F: 0b0111]
            let q = quads[v]!
            inside = { x, y in q & (1 << (3 - ((y < 4 ? 0 : 2) + (x < 4 ? 0 : 1)))) != 0 }
        default: return nil
        }
        return (0..<64).map { inside($0 % 8, $0 / 8) }
    }
}

/// The kitty graphics protocol: raw RGB, base64 in chunks of 4096, shown in a box of `columns` x `rows` cells
/// at the cursor, which stays where it is.
public enum Kitty {
    public static func encode(_ image: RGBImage, columns: Int, rows: Int) -> String {
        let payload = Data(image.pixels).base64EncodedString()
        let chunk = 4096
        var out = ""
        var start = payload.startIndex
        var first = true
        while start < payload.endIndex {
            let end = payload.index(start, offsetBy: chunk, limitedBy: payload.endIndex) ?? payload.endIndex
            let more = end < payload.endIndex ? 1 : 0
            let keys = first ? "a=T,f=24,s=\(image.width),v=\(image.height),c=\(columns),r=\(rows),C=1,q=2,m=\(more)" : "m=\(more)"
            out += "\u{1B}_G\(keys);\(payload[start..<end])\u{1B}\\"
            start = end
            first = false
        }
        return out
    }

    /// Deletes every image placed on the screen.
    public static let clear = "\u{1B}_Ga=d,d=A,q=2\u{1B}\\"
}

/// Sixel with a fixed 6x6x6 colour cube (216 registers), ordered (4x4 Bayer) dithering so that six levels per
/// channel do not band, run-length encoded, one band of six pixel rows at a time.
public enum Sixel {
    static let bayer: [Int] = [0, 8, 2, 10, 12, 4, 14, 6, 3, 11, 1, 9, 15, 7, 13, 5]

    public static func encode(_ image: RGBImage) -> String {
        // One step of the cube is 51; the threshold map spreads values across it (-25 ... +22).
        func level(_ v: UInt8, _ d: Int) -> Int { min(5, max(0, (Int(v) + d) * 5 + 127) / 255) }
        var index = [UInt8](repeating: 0, count: image.width * image.height)
        var used = [Bool](repeating: false, count: 216)
        for y in 0..<image.height {
            for x in 0..<image.width {
                let i = y * image.width + x
                let d = (bayer[(y % 4) * 4 + x % 4] * 51) / 16 - 25
                let c = level(image.pixels[3 * i], d) * 36 + level(image.pixels[3 * i + 1], d) * 6 + level(image.pixels[3 * i + 2], d)
                index[i] = UInt8(c)
                used[c] = true
            }
        }
        var out = "\u{1B}P0;1;0q\"1;1;\(image.width);\(image.height)"
        for c in 0..<216 where used[c] {
            out += "#\(c);2;\(c / 36 * 20);\(c / 6 % 6 * 20);\(c % 6 * 20)"
        }
        var band = 0
        while band < image.height {
            var bits: [Int: [UInt8]] = [:]
            for dy in 0..<6 where band + dy < image.height {
                let row = (band + dy) * image.width
                for x in 0..<image.width {
                    let c = Int(index[row + x])
                    if bits[c] == nil { bits[c] = [UInt8](repeating: 0, count: image.width) }
                    bits[c]![x] |= 1 << dy
                }
            }
            var firstColour = true
            for (c, row) in bits.sorted(by: { $0.key < $1.key }) {
                if !firstColour { out += "$" }
                firstColour = false
                out += "#\(c)"
                var x = 0
                while x < row.count {
                    var run = 1
                    while x + run < row.count && row[x + run] == row[x] { run += 1 }
                    let ch = String(UnicodeScalar(63 + row[x]))
                    out += run > 3 ? "!\(run)\(ch)" : String(repeating: ch, count: run)
                    x += run
                }
            }
            out += "-"
            band += 6
        }
        return out + "\u{1B}\\"
    }

    /// A minimal decoder (raster size, colour registers, "#", "!", "$", "-"), for checking what an encoder wrote
    /// (tests, bench/pictures); nil when the text is not a sixel image that gives its size first.
    public static func decode(_ text: String) -> RGBImage? {
        let chars = Array(text.unicodeScalars)
        guard let q = chars.firstIndex(of: "q") else { return nil }
        var i = q + 1
        func at(_ k: Int) -> Unicode.Scalar? { k < chars.count ? chars[k] : nil }
        func number() -> Int {
            var n = 0
            while let c = at(i), let d = Int(String(c)), n < 1 << 20 { n = n * 10 + d; i += 1 }
            return n
        }
        guard at(i) == "\"" else { return nil }
        i += 1
        var params: [Int] = []
        while true { params.append(number()); if at(i) == ";" { i += 1 } else { break } }
        guard params.count == 4, params[2] > 0, params[3] > 0, params[2] * params[3] <= 1 << 24 else { return nil }
        let (w, h) = (params[2], params[3])
        var pixels = [UInt8](repeating: 0, count: w * h * 3)
        var palette: [Int: (Int, Int, Int)] = [:]
        var colour = 0, x = 0, band = 0
        while let c = at(i), c != "\u{1B}" {
            switch c {
            case "#":
                i += 1
                colour = number()
                if at(i) == ";" {
                    i += 1; _ = number(); i += 1
                    let r = number(); i += 1
                    let g = number(); i += 1
                    let b = number()
                    palette[colour] = (min(255, r * 255 / 100), min(255, g * 255 / 100), min(255, b * 255 / 100))
                }
            case "$": x = 0; i += 1
            case "-": x = 0; band += 6; i += 1
            default:
                var run = 1
                if c == "!" { i += 1; run = number() }
                guard let s = at(i), (63...126).contains(s.value), let p = palette[colour] else { return nil }
                let bits = Int(s.value) - 63
                for _ in 0..<run {
                    for b in 0..<6 where bits >> b & 1 == 1 && band + b < h && x < w {
                        let o = ((band + b) * w + x) * 3
                        pixels[o] = UInt8(p.0); pixels[o + 1] = UInt8(p.1); pixels[o + 2] = UInt8(p.2)
                    }
                    x += 1
                }
                i += 1
            }
        }
        return RGBImage(width: w, height: h, pixels: pixels)
    }
}

/// Telling which graphics a terminal speaks: a kitty graphics query (answered only by terminals that implement
/// it) followed by Primary Device Attributes, which every terminal answers (attribute 4 = sixel). The DA reply
/// ends the wait, so a terminal that answers is not kept waiting for the timeout.
public enum GraphicsDetection {
    public static let query = "\u{1B}_Gi=31,s=1,v=1,a=q,t=d,f=24;AAAA\u{1B}\\\u{1B}[c"

    /// The mode a reply to `query` implies: an image protocol, else `text` (a text mode).
    public static func mode(fromReply reply: [UInt8], text: GraphicsMode = .text) -> GraphicsMode {
        let answer = String(decoding: reply, as: UTF8.self)
        if answer.contains("\u{1B}_Gi=31;OK") { return .kitty }
        if let attributes = deviceAttributes(reply), attributes.contains(4) { return .sixel }
        return text
    }

    /// The parameters of a DA1 reply (ESC [ ? p ; p ... c), nil until one has arrived.
    public static func deviceAttributes(_ reply: [UInt8]) -> [Int]? {
        let text = String(decoding: reply, as: UTF8.self)
        guard let start = text.range(of: "\u{1B}[?") else { return nil }
        let rest = text[start.upperBound...]
        guard let end = rest.firstIndex(of: "c") else { return nil }
        return rest[..<end].split(separator: ";").compactMap { Int($0) }
    }

    /// Whether to ask the terminal at all: tmux and screen pass neither protocol through, so inside them the
    /// answer is a text mode without a query.
    public static func insideMultiplexer(_ environment: [String: String]) -> Bool {
        environment["TMUX"] != nil || environment["STY"] != nil
            || (environment["TERM"].map { $0.hasPrefix("screen") || $0.hasPrefix("tmux") } ?? false)
    }

    /// Queries the terminal on `output` and reads its answer from `input` (which must be in raw mode), waiting at
    /// most `timeout` seconds. Anything that goes wrong means `text` (chafa's symbols where libchafa loads, else
    /// half blocks).
    public static func detect(input: Int32, output: Int32, environment: [String: String] = ProcessInfo.processInfo.environment,
                              timeout: Double = 0.5, text: GraphicsMode = .text) -> GraphicsMode {
        if insideMultiplexer(environment) { return text }
        let bytes = Array(query.utf8)
        guard bytes.withUnsafeBufferPointer({ write(output, $0.baseAddress, $0.count) }) == bytes.count else { return text }
        var reply: [UInt8] = []
        let deadline = Date().addingTimeInterval(timeout)
        var buffer = [UInt8](repeating: 0, count: 256)
        while deviceAttributes(reply) == nil {
            let left = deadline.timeIntervalSinceNow
            guard left > 0 else { break }
            var fds = pollfd(fd: input, events: Int16(POLLIN), revents: 0)
            guard poll(&fds, 1, Int32(left * 1000) + 1) > 0 else { break }
            let n = read(input, &buffer, buffer.count)
            guard n > 0 else { break }
            reply += buffer[0..<n]
        }
        return mode(fromReply: reply, text: text)
    }
}
