// Pictures in the terminal: half blocks, chafa's symbols, kitty and sixel as the renderers write them, checked byte
// by byte and decoded (sixel) or rasterised (symbols, half blocks) back and compared with real photos.
import Foundation
import Testing
import TestSupport
@testable import Curate

/// libchafa, when it loads here.
enum Chafa {
    static let renderer = try? ChafaRenderer.shared.get()
    static var available: Bool { renderer != nil }
    static let missing: Comment = "libchafa does not load (scripts/setup.sh installs libchafa0): the symbol mosaic tests are skipped"
}

struct TerminalGraphicsTests {
    @Test func halfBlocksWriteTwoPixelsPerCellAndOnlyChangedColours() {
        let image = RGBImage(width: 2, height: 3, pixels: [
            255, 0, 0, 0, 255, 0,     // row 0: red, green
            0, 0, 255, 0, 0, 255,     // row 1: blue, blue
            1, 2, 3, 1, 2, 3,         // row 2 (odd, last): lower halves stay the terminal's background
        ])
        #expect(HalfBlocks.render(image) == [
            "\u{1B}[38;2;255;0;0;48;2;0;0;255m▀\u{1B}[38;2;0;255;0m▀\u{1B}[0m",
            "\u{1B}[38;2;1;2;3;49m▀▀\u{1B}[0m",
        ])
    }

    @Test func mosaicLinesWriteOnlyChangedColoursAndLeaveASpacesForegroundAlone() {
        let red = RGB(255, 0, 0), blue = RGB(0, 0, 255)
        let mosaic = Mosaic(columns: 4, rows: 1, cells: [
            .init(symbol: "▌", fg: red, bg: blue),
            .init(symbol: " ", fg: RGB(9, 9, 9), bg: blue),   // a space shows only its background
            .init(symbol: "▗", fg: red, bg: nil),             // the terminal's own background
            .init(symbol: "─", fg: blue, bg: nil),
        ])
        #expect(mosaic.lines() == ["\u{1B}[38;2;255;0;0;48;2;0;0;255m▌ \u{1B}[49m▗\u{1B}[38;2;0;0;255m─\u{1B}[0m"])
    }

    @Test func aRasterisedMosaicHasTheForegroundWhereTheSymbolCovers() {
        let image = RGBImage(width: 1, height: 2, pixels: [200, 100, 0, 0, 50, 250])
        let raster = HalfBlocks.mosaic(image).rasterised(coverage: BlockElements.coverage)
        #expect(raster.width == 8 && raster.height == 8)
        for y in 0..<8 {
            for x in 0..<8 { #expect(raster.rgb(x, y) == (y < 4 ? (200, 100, 0) : (0, 50, 250))) }
        }
    }

    @Test func blockElementsHaveTheShapesTheirNamesSay() {
        func shape(_ s: Unicode.Scalar) -> [String]? {
            BlockElements.coverage(of: s).map { c in (0..<8).map { y in String((0..<8).map { c[y * 8 + $0] ? "#" : "." }) } }
        }
        #expect(shape("▀") == Array(repeating: "########", count: 4) + Array(repeating: "........", count: 4))
        #expect(shape("▂") == Array(repeating: "........", count: 6) + Array(repeating: "########", count: 2))
        #expect(shape("▊") == Array(repeating: "######..", count: 8))
        #expect(shape("▕") == Array(repeating: ".......#", count: 8))
        #expect(shape("▚") == Array(repeating: "####....", count: 4) + Array(repeating: "....####", count: 4))
        #expect(shape("▟") == Array(repeating: "....####", count: 4) + Array(repeating: "########", count: 4))
        #expect(shape("█") == Array(repeating: "########", count: 8))
        #expect(shape(" ") == Array(repeating: "........", count: 8))
        #expect(shape("░") == nil && shape("─") == nil && shape("a") == nil)
    }

    @Test func withoutLibchafaTheTextModeIsHalfBlocks() {
        guard case .failure(let why) = ChafaRenderer.load("/nonexistent/libchafa.so.0") else {
            Issue.record("a library that does not exist loaded")
            return
        }
        #expect(why.description.contains("/nonexistent/libchafa.so.0"))
        #expect(why.description.contains("pictures are half blocks"))
        #expect(GraphicsDetection.mode(fromReply: Array("\u{1B}[?1;2c".utf8), text: .blocks) == .blocks)
        // A library without chafa's functions is refused, not called.
        guard case .failure(let wrong) = ChafaRenderer.load("libm.so.6") else {
            Issue.record("libm passed for libchafa")
            return
        }
        #expect(wrong.reason.contains("has no chafa_symbol_map_new"))
    }

    /// A photo drawn both ways into the same cells, each rasterised back and compared with the photo on that grid.
    func bothWays(_ file: String, columns: Int, rows: Int) throws -> (blocks: PictureFidelity, symbols: PictureFidelity, mosaic: Mosaic) {
        let chafa = try #require(Chafa.renderer)
        let photo = try DecodedImage.decode(try Paths.bytes(file))
        let size = fitting(width: photo.width, height: photo.height, into: columns, rows * 2)
        let c = size.width, r = (size.height + 1) / 2
        let grid = try photo.resized(width: c * 8, height: r * 8).rgb()
        let half = HalfBlocks.mosaic(try photo.resized(width: c, height: r * 2).rgb())
        let symbols = chafa.mosaic(grid, columns: c, rows: r)
        return (PictureFidelity(half.rasterised(coverage: BlockElements.coverage), against: grid),
                PictureFidelity(symbols.rasterised(coverage: BlockElements.coverage), against: grid), symbols)
    }

    @Test(.enabled(if: Paths.hasShared, Paths.sharedMissing), .enabled(if: Chafa.available, Chafa.missing))
    func chafasSymbolsAreCloserToRealPhotosThanHalfBlocksInTheSameCells() throws {
        for file in ["single_face/opencv_course_lady.jpg", "group/opencv_course/group_2.jpg"] {
            let (blocks, symbols, mosaic) = try bothWays(file, columns: 40, rows: 15)
            // Only block elements and space, so the rasterised mosaic is what a terminal shows.
            #expect(mosaic.cells.allSatisfy { BlockElements.coverage(of: $0.symbol) != nil })
            let lines = mosaic.lines()
            #expect(symbols.ssim > blocks.ssim + 0.05, "\(file): symbols \(symbols), half blocks \(blocks)")
            #expect(symbols.meanError < blocks.meanError, "\(file): symbols \(symbols), half blocks \(blocks)")
            // Every cell is one narrow symbol: each line is as wide as the picture.
            #expect(lines.allSatisfy { line in
                line.replacingOccurrences(of: "\u{1B}\\[[0-9;]*m", with: "", options: .regularExpression).unicodeScalars.count == mosaic.columns
            })
            #expect(lines.count == mosaic.rows && mosaic.rows <= 15 && mosaic.columns <= 40)
            let used = Set(mosaic.cells.map(\.symbol))
            #expect(used.count > 10, "a symbol mosaic uses many shapes, not one: \(used)")
        }
    }

    @Test func fittingKeepsTheAspectRatio() {
        #expect(fitting(width: 400, height: 200, into: 100, 100) == (100, 50))
        #expect(fitting(width: 200, height: 400, into: 100, 100) == (50, 100))
        #expect(fitting(width: 10, height: 10, into: 80, 40) == (40, 40))
    }

    @Test func kittyChunksCarryTheWholeImage() throws {
        let pixels = (0..<(64 * 48 * 3)).map { UInt8($0 % 251) }
        let out = Kitty.encode(RGBImage(width: 64, height: 48, pixels: pixels), columns: 8, rows: 3)
        let chunks = out.components(separatedBy: "\u{1B}\\").filter { !$0.isEmpty }
        #expect(chunks.count == Int((Double(pixels.count) * 4 / 3 / 4096).rounded(.up)))
        #expect(chunks[0].hasPrefix("\u{1B}_Ga=T,f=24,s=64,v=48,c=8,r=3,C=1,q=2,m=1;"))
        #expect(chunks.last!.hasPrefix("\u{1B}_Gm=0;"))
        let payload = chunks.map { String($0[$0.index(after: $0.firstIndex(of: ";")!)...]) }.joined()
        #expect(Data(base64Encoded: payload) == Data(pixels))
    }

    @Test func sixelHasRasterSizePaletteAndOneBandPerSixRows() {
        let w = 5, h = 13
        var pixels: [UInt8] = []
        for y in 0..<h { for _ in 0..<w { pixels += y < 6 ? [255, 255, 255] : [0, 0, 0] } }
        let out = Sixel.encode(RGBImage(width: w, height: h, pixels: pixels))
        #expect(out.hasPrefix("\u{1B}P0;1;0q\"1;1;5;13"))
        #expect(out.hasSuffix("-\u{1B}\\"))
        #expect(out.contains("#215;2;100;100;100"))   // white
        #expect(out.contains("#0;2;0;0;0"))           // black
        #expect(out.filter { $0 == "-" }.count == 3)  // 13 rows = 3 bands
        // Band 1: six white rows = "~" (63 + 0b111111) five times, run-length encoded.
        #expect(out.contains("#215!5~-"))
    }

    @Test(.enabled(if: Paths.hasShared, Paths.sharedMissing))
    func sixelOfARealPhotoDecodesBackToItWithinOneColourStep() throws {
        let photo = try DecodedImage.decode(try Paths.bytes("single_face/opencv_course_lady.jpg"))
        let small = try photo.resized(width: 97, height: 61).rgb()
        let decoded = try #require(Sixel.decode(Sixel.encode(small)))
        #expect(decoded.width == 97 && decoded.height == 61)
        // Each channel lands on a neighbouring level of the six (51 apart), and on average close to the source.
        var worst = 0, total = 0
        for (a, b) in zip(small.pixels, decoded.pixels) {
            let d = abs(Int(a) - Int(b))
            worst = max(worst, d)
            total += d
        }
        #expect(worst <= 51)
        #expect(Double(total) / Double(small.pixels.count) < 20)
    }

    @Test(.enabled(if: Paths.hasShared, Paths.sharedMissing), .enabled(if: Chafa.available, Chafa.missing))
    func chafasSixelOfRealPhotosDecodesBackCloserThanTheFixedCube() throws {
        let chafa = try #require(Chafa.renderer)
        for file in ["single_face/opencv_course_lady.jpg", "group/opencv_course/group_2.jpg"] {
            let photo = try DecodedImage.decode(try Paths.bytes(file))
            let small = try photo.resized(width: 97, height: 60).rgb()
            let text = try #require(chafa.sixel(small))
            #expect(text.hasPrefix("\u{1B}P0;1;0q\"1;1;97;60"))
            #expect(text.hasSuffix("\u{1B}\\"))
            let decoded = try #require(Sixel.decode(text))
            let cube = try #require(Sixel.decode(Sixel.encode(small)))
            let ours = PictureFidelity(decoded, against: small), fixed = PictureFidelity(cube, against: small)
            #expect(ours.meanError < fixed.meanError / 2, "\(file): chafa \(ours), fixed cube \(fixed)")
            #expect(ours.ssim > fixed.ssim + 0.2, "\(file): chafa \(ours), fixed cube \(fixed)")
        }
        // Sixel draws six rows at a time: under six there is nothing to draw, and the caller uses `Sixel`.
        #expect(chafa.sixel(RGBImage(width: 4, height: 5, pixels: Array(repeating: 128, count: 60))) == nil)
    }
}
