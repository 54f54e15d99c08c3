// How close a terminal picture, rasterised back (`Mosaic.rasterised`), is to its source on the same pixel grid: the
// measure behind choosing chafa's symbols over half blocks (bench/pictures, TerminalGraphicsTests).
import Foundation

public struct PictureFidelity: Sendable, CustomStringConvertible {
    /// Mean absolute difference per channel, 0 (identical) to 255.
    public var meanError: Double
    /// Mean SSIM of luma over 8 x 8 windows (stride 4): 1 identical, near 0 unrelated structure.
    public var ssim: Double

    public var description: String { String(format: "error %.2f, SSIM %.4f", meanError, ssim) }

    public init(_ rendered: RGBImage, against source: RGBImage) {
        precondition(rendered.width == source.width && rendered.height == source.height, "PictureFidelity: different sizes")
        var total = 0
        for (a, b) in zip(rendered.pixels, source.pixels) { total += abs(Int(a) - Int(b)) }
        meanError = Double(total) / Double(max(1, source.pixels.count))
        ssim = Self.meanSSIM(Self.luma(rendered), Self.luma(source), width: source.width, height: source.height)
    }

    static func luma(_ image: RGBImage) -> [Double] {
        (0..<(image.width * image.height)).map { (i: Int) -> Double in
            let r = Double(image.pixels[3 * i]), g = Double(image.pixels[3 * i + 1]), b = Double(image.pixels[3 * i + 2])
            return 0.299 * r + 0.587 * g + 0.114 * b
        }
    }

    static func meanSSIM(_ x: [Double], _ y: [Double], width: Int, height: Int) -> Double {
        let c1: Double = 2.55 * 2.55, c2: Double = 7.65 * 7.65   // (0.01 * 255)^2, (0.03 * 255)^2
        var sum = 0.0, count = 0
        for top in stride(from: 0, through: height - 8, by: 4) {
            for left in stride(from: 0, through: width - 8, by: 4) {
                var mx = 0.0, my = 0.0
                for dy in 0..<8 { for dx in 0..<8 { let i = (top + dy) * width + left + dx; mx += x[i]; my += y[i] } }
                mx /= 64; my /= 64
                var vx = 0.0, vy = 0.0, cov = 0.0
                for dy in 0..<8 {
                    for dx in 0..<8 {
                        let i = (top + dy) * width + left + dx
                        let a = x[i] - mx, b = y[i] - my
                        vx += a * a; vy += b * b; cov += a * b
                    }
                }
                vx /= 63; vy /= 63; cov /= 63
                let numerator: Double = (2 * mx * my + c1) * (2 * cov + c2)
                let denominator: Double = (mx * mx + my * my + c1) * (vx + vy + c2)
                sum += numerator / denominator
                count += 1
            }
        }
        return count == 0 ? 1 : sum / Double(count)
    }
}
