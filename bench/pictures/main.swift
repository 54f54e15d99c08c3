// Benchmark: terminal pictures side by side, chafa's symbol mosaic against half blocks in the same cell box, on
// real photos. Each is rasterised back at 8 x 8 pixels per cell (both use only Unicode block elements, whose shapes
// are exact) and compared with the photo resized to that grid (mean error per channel, luma SSIM).
// Then sixel: the fixed-cube encoder (`Sixel`) against chafa's, both decoded back and compared with the photo at
// the pixel size of the same box (8 x 16 pixels per cell), pixel by pixel and after 4 x 4 averaging (what the eye
// blends of dithering).
// Usage: swift run curate-bench-pictures [COLUMNSxROWS=80x30] [photo under ../shared/data ...]
import Curate
import Foundation

var arguments = Array(CommandLine.arguments.dropFirst())
var box = (80, 30)
if let first = arguments.first, case let p = first.lowercased().split(separator: "x").compactMap({ Int($0) }), p.count == 2 {
    box = (p[0], p[1])
    arguments.removeFirst()
}
let named = arguments
let photos = named.isEmpty ? [
    "single_face/opencv_course_lady.jpg", "single_face/dlib_Tom_Cruise_avp_2014_4.jpg",
    "faces/opencv_course_5celeb/ben_afflek/train_1.jpg", "faces/opencv_course_5celeb/madonna/train_1.jpg",
    "group/dlib_voc/2008_001009.jpg", "group/opencv_course/group_2.jpg", "nonface/dlib/dog.jpg",
] : named
let data = URL(fileURLWithPath: FileManager.default.currentDirectoryPath).appendingPathComponent("../shared/data").standardized

let chafa: ChafaRenderer
switch ChafaRenderer.shared {
case .success(let s): chafa = s
case .failure(let why): print("\(why)"); exit(1)
}

func milliseconds(_ body: () throws -> Void) rethrows -> Double {
    let t = DispatchTime.now().uptimeNanoseconds
    try body()
    return Double(DispatchTime.now().uptimeNanoseconds - t) / 1e6
}

print("box \(box.0)x\(box.1) cells; error: mean per channel (0-255, lower is closer); SSIM: luma, 8x8 windows (1 = identical)")
print("photo".padding(toLength: 48, withPad: " ", startingAt: 0) + "cells    half blocks: error  SSIM   KB    ms | chafa symbols: error  SSIM   KB    ms")
var sums = [0.0, 0.0, 0.0, 0.0]
for name in photos {
    let photo = try DecodedImage.decode([UInt8](try Data(contentsOf: data.appendingPathComponent(name))))
    // The same cell box for both: fitted in square half-cell pixels, as the review screen does.
    let size = fitting(width: photo.width, height: photo.height, into: box.0, box.1 * 2)
    let columns = size.width, rows = (size.height + 1) / 2
    let source = try photo.resized(width: columns * 8, height: rows * 8).rgb()
    var half: Mosaic!, symbols: Mosaic!
    var halfLines: [String] = [], symbolLines: [String] = []
    let halfMs = try milliseconds {
        half = HalfBlocks.mosaic(try photo.resized(width: columns, height: rows * 2).rgb())
        halfLines = half.lines()
    }
    let symbolMs = try milliseconds {
        symbols = chafa.mosaic(try photo.resized(width: columns * 8, height: rows * 8).rgb(), columns: columns, rows: rows)
        symbolLines = symbols.lines()
    }
    let h = PictureFidelity(half.rasterised(coverage: BlockElements.coverage), against: source)
    let s = PictureFidelity(symbols.rasterised(coverage: BlockElements.coverage), against: source)
    sums[0] += h.meanError; sums[1] += h.ssim; sums[2] += s.meanError; sums[3] += s.ssim
    func kb(_ lines: [String]) -> Double { Double(lines.reduce(0) { $0 + $1.utf8.count }) / 1024 }
    print(name.padding(toLength: 48, withPad: " ", startingAt: 0) + String(format: "%3dx%-3d  %18.2f %6.4f %5.0f %5.1f | %20.2f %6.4f %5.0f %5.1f",
          columns, rows, h.meanError, h.ssim, kb(halfLines), halfMs, s.meanError, s.ssim, kb(symbolLines), symbolMs))
}
let n = Double(photos.count)
print("mean".padding(toLength: 48, withPad: " ", startingAt: 0) + String(format: "         %18.2f %6.4f             | %20.2f %6.4f", sums[0] / n, sums[1] / n, sums[2] / n, sums[3] / n))

/// `image` averaged over k x k blocks.
func averaged(_ image: RGBImage, _ k: Int) -> RGBImage {
    let w = image.width / k, h = image.height / k
    var out = [UInt8](repeating: 0, count: w * h * 3)
    for y in 0..<h {
        for x in 0..<w {
            for c in 0..<3 {
                var sum = 0
                for dy in 0..<k { for dx in 0..<k { sum += Int(image.pixels[((y * k + dy) * image.width + x * k + dx) * 3 + c]) } }
                out[(y * w + x) * 3 + c] = UInt8(sum / (k * k))
            }
        }
    }
    return RGBImage(width: w, height: h, pixels: out)
}

print("\nsixel in \(box.0 * 8)x\(box.1 * 16) px: error and SSIM pixel by pixel, then after 4x4 averaging")
print("photo".padding(toLength: 48, withPad: " ", startingAt: 0) + "pixels   fixed cube: error  SSIM  avg error  SSIM   KB    ms | chafa: error  SSIM  avg error  SSIM   KB    ms")
for name in photos {
    let photo = try DecodedImage.decode([UInt8](try Data(contentsOf: data.appendingPathComponent(name))))
    var size = fitting(width: photo.width, height: photo.height, into: box.0 * 8, box.1 * 16)
    size.height -= size.height % 6   // chafa draws whole six-row bands: compare the same pixels
    let source = try photo.resized(width: size.width, height: size.height).rgb()
    var fixed = "", chafas: String?
    let fixedMs = milliseconds { fixed = Sixel.encode(source) }
    let chafaMs = milliseconds { chafas = chafa.sixel(source) }
    guard let a = Sixel.decode(fixed), let chafas, let b = Sixel.decode(chafas) else { print("\(name): a sixel did not decode"); continue }
    func scores(_ d: RGBImage) -> String {
        let p = PictureFidelity(d, against: source), q = PictureFidelity(averaged(d, 4), against: averaged(source, 4))
        return String(format: "%6.2f %6.4f %9.2f %6.4f", p.meanError, p.ssim, q.meanError, q.ssim)
    }
    print(name.padding(toLength: 48, withPad: " ", startingAt: 0) + String(format: "%3dx%-3d  ", size.width, size.height)
          + "      " + scores(a) + String(format: " %4.0f %5.1f", Double(fixed.utf8.count) / 1024, fixedMs)
          + " | " + scores(b) + String(format: " %4.0f %5.1f", Double(chafas.utf8.count) / 1024, chafaMs))
}
