// Pictures by chafa (libchafa, loaded on first use): symbol mosaics, each cell one of Unicode's block elements with
// its own foreground and background chosen to match the cell's 8x8 pixels (half blocks can only split a cell in
// two), and sixel with a palette taken from the image.
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// libchafa's functions used here, resolved at run time. libchafa pulls in glib and pcre2 (dlopen 0.4 ms and 1 MB
/// when cached; linked, 5-10 ms more start-up measured for `--version`), so it is loaded only when a review screen
/// draws, not by every command; where it cannot be loaded, pictures fall back to half blocks and the fixed-cube
/// sixel. The types are C's (gint = Int32, enums = Int32, gunichar = UInt32): Debian's libchafa-dev needs glib's
/// headers, which are not installed, so this table is typed here instead of compiled from chafa.h.
struct ChafaLibrary {
    typealias Object = OpaquePointer
    let symbolMapNew: @convention(c) () -> Object?
    let symbolMapAddByTags: @convention(c) (Object?, Int32) -> Void
    let symbolMapRemoveByTags: @convention(c) (Object?, Int32) -> Void
    let symbolMapUnref: @convention(c) (Object?) -> Void
    let configNew: @convention(c) () -> Object?
    let configSetGeometry: @convention(c) (Object?, Int32, Int32) -> Void
    let configSetCanvasMode: @convention(c) (Object?, Int32) -> Void
    let configSetSymbolMap: @convention(c) (Object?, Object?) -> Void
    let configSetWorkFactor: @convention(c) (Object?, Float) -> Void
    let configSetPixelMode: @convention(c) (Object?, Int32) -> Void
    let configSetCellGeometry: @convention(c) (Object?, Int32, Int32) -> Void
    let configUnref: @convention(c) (Object?) -> Void
    let canvasNew: @convention(c) (Object?) -> Object?
    let canvasDrawAllPixels: @convention(c) (Object?, Int32, UnsafePointer<UInt8>?, Int32, Int32, Int32) -> Void
    let canvasGetCharAt: @convention(c) (Object?, Int32, Int32) -> UInt32
    let canvasGetColorsAt: @convention(c) (Object?, Int32, Int32, UnsafeMutablePointer<Int32>?, UnsafeMutablePointer<Int32>?) -> Void
    let canvasUnref: @convention(c) (Object?) -> Void
    let canvasPrint: @convention(c) (Object?, Object?) -> Object?   // a GString: { gchar *str; gsize len; gsize allocated_len; }
    let termDbGetDefault: @convention(c) () -> Object?
    let termDbGetFallbackInfo: @convention(c) (Object?) -> Object?
    let termInfoUnref: @convention(c) (Object?) -> Void
    let stringFree: @convention(c) (Object?, Int32) -> UnsafeMutablePointer<CChar>?   // glib's g_string_free

    // chafa's enums (chafa-common.h, chafa-symbol-map.h, chafa-canvas-config.h), stable since 1.0.
    static let pixelRGBA8Unassociated: Int32 = 4
    static let canvasTruecolor: Int32 = 0
    static let pixelModeSixels: Int32 = 1
    static let tagSpace: Int32 = 1 << 0, tagStipple: Int32 = 1 << 2, tagBlock: Int32 = 1 << 3
    static let tagInverted: Int32 = 1 << 10, tagWide: Int32 = 1 << 18

    static let name = "libchafa.so.0"

    /// Loaded once: from CURATE_CHAFA_LIBRARY when set (a path that does not load forces half blocks), else the
    /// loader's search path. Needs libchafa 1.8 or later (get_char_at, get_colors_at).
    static let shared: Result<ChafaLibrary, ChafaUnavailable> = load(ProcessInfo.processInfo.environment["CURATE_CHAFA_LIBRARY"] ?? name)

    static func load(_ path: String) -> Result<ChafaLibrary, ChafaUnavailable> {
        let lib: LoadedLibrary
        switch LoadedLibrary.open(path) {
        case .success(let loaded): lib = loaded
        case .failure(let failure): return .failure(ChafaUnavailable(reason: failure.reason))
        }
        do {
            // Each symbol's type is the field's it fills. The library's symbols include its dependencies':
            // g_string_free comes from its glib.
            return .success(ChafaLibrary(
                symbolMapNew: try lib.symbol("chafa_symbol_map_new"),
                symbolMapAddByTags: try lib.symbol("chafa_symbol_map_add_by_tags"),
                symbolMapRemoveByTags: try lib.symbol("chafa_symbol_map_remove_by_tags"),
                symbolMapUnref: try lib.symbol("chafa_symbol_map_unref"),
                configNew: try lib.symbol("chafa_canvas_config_new"),
                configSetGeometry: try lib.symbol("chafa_canvas_config_set_geometry"),
                configSetCanvasMode: try lib.symbol("chafa_canvas_config_set_canvas_mode"),
                configSetSymbolMap: try lib.symbol("chafa_canvas_config_set_symbol_map"),
                configSetWorkFactor: try lib.symbol("chafa_canvas_config_set_work_factor"),
                configSetPixelMode: try lib.symbol("chafa_canvas_config_set_pixel_mode"),
                configSetCellGeometry: try lib.symbol("chafa_canvas_config_set_cell_geometry"),
                configUnref: try lib.symbol("chafa_canvas_config_unref"),
                canvasNew: try lib.symbol("chafa_canvas_new"),
                canvasDrawAllPixels: try lib.symbol("chafa_canvas_draw_all_pixels"),
                canvasGetCharAt: try lib.symbol("chafa_canvas_get_char_at"),
                canvasGetColorsAt: try lib.symbol("chafa_canvas_get_colors_at"),
                canvasUnref: try lib.symbol("chafa_canvas_unref"),
                canvasPrint: try lib.symbol("chafa_canvas_print"),
                termDbGetDefault: try lib.symbol("chafa_term_db_get_default"),
                termDbGetFallbackInfo: try lib.symbol("chafa_term_db_get_fallback_info"),
                termInfoUnref: try lib.symbol("chafa_term_info_unref"),
                stringFree: try lib.symbol("g_string_free")))
        } catch {
            let reason = (error as? LoadedLibrary.Failure)?.reason ?? "\(error)"
            return .failure(ChafaUnavailable(reason: reason + " (libchafa 1.8 or later is needed)"))
        }
    }
}

/// Why symbol mosaics cannot be drawn here (pictures are then half blocks).
public struct ChafaUnavailable: Error, CustomStringConvertible {
    public let reason: String
    public var description: String {
        "libchafa cannot be loaded (\(reason)): pictures are half blocks; scripts/setup.sh installs libchafa0"
    }
}

/// chafa's pictures: the symbol mosaic in 24-bit colour at chafa's default work factor, with the block elements
/// (eighth blocks, halves, quadrants; `BlockElements`) and space: chafa's default set
/// ("block+border+space-wide-inverted") less the box-drawing lines, whose thickness and position differ from font
/// to font while the block elements' shapes are fixed by Unicode (many terminals draw them themselves,
/// pixel-exact), so what chafa matches is what is shown; and sixel with the image's own palette.
public final class ChafaRenderer: @unchecked Sendable {
    private let lib: ChafaLibrary
    private let symbols: OpaquePointer
    private let lock = NSLock()   // configurations copy the shared symbol map and print with one term info: one at a time

    /// The renderer over the shared libchafa, or why there is none.
    public static let shared: Result<ChafaRenderer, ChafaUnavailable> = ChafaLibrary.shared.flatMap { ChafaRenderer.make($0) }

    static func make(_ lib: ChafaLibrary) -> Result<ChafaRenderer, ChafaUnavailable> {
        guard let map = lib.symbolMapNew() else { return .failure(ChafaUnavailable(reason: "chafa_symbol_map_new failed")) }
        lib.symbolMapAddByTags(map, ChafaLibrary.tagBlock | ChafaLibrary.tagSpace)
        lib.symbolMapRemoveByTags(map, ChafaLibrary.tagWide | ChafaLibrary.tagInverted | ChafaLibrary.tagStipple)
        return .success(ChafaRenderer(lib: lib, symbols: map))
    }

    /// A renderer over the libchafa at `path`, or why it cannot load (for choosing a library explicitly).
    public static func load(_ path: String) -> Result<ChafaRenderer, ChafaUnavailable> {
        ChafaLibrary.load(path).flatMap { ChafaRenderer.make($0) }
    }

    /// The sequences chafa writes with: its fallback terminal, which knows sixel (the review screen has already
    /// chosen the protocol by asking the terminal).
    private let termInfo: OpaquePointer?

    private init(lib: ChafaLibrary, symbols: OpaquePointer) {
        self.lib = lib
        self.symbols = symbols
        termInfo = lib.termDbGetFallbackInfo(lib.termDbGetDefault())
    }

    deinit {
        lib.symbolMapUnref(symbols)
        if let termInfo { lib.termInfoUnref(termInfo) }
    }

    /// Hands `image` to chafa as RGBA: chafa 1.12 reads packed RGB wrongly when a row is not a multiple of 4 bytes
    /// (the picture comes out sheared: bench/pictures showed it on sixels 97 and 325 pixels wide); RGBA rows always are.
    private func draw(_ image: RGBImage, on canvas: OpaquePointer?) {
        let n = image.width * image.height
        var rgba = [UInt8](repeating: 255, count: n * 4)
        image.pixels.withUnsafeBufferPointer { rgb in
            rgba.withUnsafeMutableBufferPointer { out in
                for i in 0..<n {
                    out[4 * i] = rgb[3 * i]
                    out[4 * i + 1] = rgb[3 * i + 1]
                    out[4 * i + 2] = rgb[3 * i + 2]
                }
            }
        }
        rgba.withUnsafeBufferPointer {
            lib.canvasDrawAllPixels(canvas, ChafaLibrary.pixelRGBA8Unassociated, $0.baseAddress, Int32(image.width), Int32(image.height), Int32(image.width * 4))
        }
    }

    /// `image` as one sixel image (a DCS sequence) of its own size, its palette (up to 256 colours) chosen from the
    /// image, without dithering: on photos 2-4 per channel from the source where the fixed-cube `Sixel` is 16-18
    /// (bench/pictures). Sixel is drawn in bands of six rows: the last rows beyond a multiple of six are squeezed
    /// in, so an image under six rows high gets nil (use `Sixel`).
    public func sixel(_ image: RGBImage) -> String? {
        guard image.height >= 6, image.width >= 1 else { return nil }
        let config = lib.configNew()
        defer { lib.configUnref(config) }
        lib.configSetPixelMode(config, ChafaLibrary.pixelModeSixels)
        lib.configSetCellGeometry(config, 1, 1)   // one "cell" per pixel: the output is the image's own size
        lib.configSetGeometry(config, Int32(image.width), Int32(image.height))
        lib.configSetCanvasMode(config, ChafaLibrary.canvasTruecolor)
        lib.configSetWorkFactor(config, 0.5)
        let canvas = lib.canvasNew(config)
        defer { lib.canvasUnref(canvas) }
        draw(image, on: canvas)
        lock.lock()
        let printed = lib.canvasPrint(canvas, termInfo)
        lock.unlock()
        guard let text = printed else { return nil }
        defer { _ = lib.stringFree(text, 1) }
        let gstring = UnsafeRawPointer(text)
        guard let bytes = gstring.load(as: UnsafePointer<UInt8>?.self) else { return nil }
        let length = gstring.load(fromByteOffset: MemoryLayout<UnsafeRawPointer>.size, as: Int.self)
        let out = String(decoding: UnsafeBufferPointer(start: bytes, count: length), as: UTF8.self)
        return out.hasPrefix("\u{1B}P") ? out : nil
    }

    /// `image` drawn into `columns` x `rows` cells; chafa reads the image at 8 x 8 pixels per cell, so an image of
    /// exactly 8 * columns x 8 * rows pixels (one terminal cell is twice as tall as wide: resize anisotropically)
    /// is used as it is.
    public func mosaic(_ image: RGBImage, columns: Int, rows: Int) -> Mosaic {
        let config = lib.configNew()
        defer { lib.configUnref(config) }
        lib.configSetGeometry(config, Int32(columns), Int32(rows))
        lib.configSetCanvasMode(config, ChafaLibrary.canvasTruecolor)
        lock.lock()
        lib.configSetSymbolMap(config, symbols)
        lock.unlock()
        lib.configSetWorkFactor(config, 0.5)   // chafa's command line: --work 5 of 1-9
        let canvas = lib.canvasNew(config)
        defer { lib.canvasUnref(canvas) }
        draw(image, on: canvas)
        var cells: [Mosaic.Cell] = []
        cells.reserveCapacity(columns * rows)
        for y in 0..<rows {
            for x in 0..<columns {
                let c = lib.canvasGetCharAt(canvas, Int32(x), Int32(y))
                var fg: Int32 = 0, bg: Int32 = 0
                lib.canvasGetColorsAt(canvas, Int32(x), Int32(y), &fg, &bg)
                // Packed 0xRRGGBB; -1 would be transparent, which an opaque image never gives.
                func rgb(_ v: Int32) -> RGB { RGB(UInt8(truncatingIfNeeded: v >> 16), UInt8(truncatingIfNeeded: v >> 8), UInt8(truncatingIfNeeded: v)) }
                cells.append(Mosaic.Cell(symbol: Unicode.Scalar(c) ?? " ", fg: rgb(fg), bg: bg < 0 ? nil : rgb(bg)))
            }
        }
        return Mosaic(columns: columns, rows: rows, cells: cells)
    }
}
