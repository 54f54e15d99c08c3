// How good a face is as training data: the sharpness and exposure of its chip, its size in the photo and how far the
// head is turned; the flags a reviewer filters on, and the thresholds behind them (docs/process.md, "Quality").
import Catalog
import CImageBridge
import Foundation

/// What was measured of one face with a chip.
public struct FaceQuality: Sendable, Equatable, Codable {
    /// Variance of the 3x3 Laplacian of the grey levels over the face in its chip: every chip is 150 px a side,
    /// so faces of any size compare (a small face, enlarged into its chip, is soft too).
    public var sharpness: Double
    /// Mean grey level (0-255) of the face in its chip.
    public var brightness: Double
    /// Fractions of the face's pixels clipped dark (at or under 10) and bright (at or over 245).
    public var dark: Double
    public var bright: Double
    /// The shorter side of the face's box in the upright photo, in pixels.
    public var size: Int
    /// How far the head is turned, from the 5-point landmarks: where the nose falls between the eyes, 0 facing the
    /// camera, 1 the nose in line with an eye (more past it); nil where the landmarks cannot say (none, or the eyes
    /// closer together than a fifth of the box: the predictor has lost them).
    public var yaw: Double?

    enum CodingKeys: String, CodingKey { case sharpness, brightness, dark, bright, size, yaw }

    /// A chip's side (FaceModels.chip) and the part of it measured: the middle two thirds, where dlib's alignment
    /// (padding 0.25) puts the face; the rest is background, whose blur (a portrait's) or light says nothing of it.
    static let measured = (from: 25, side: 100)

    /// Measures a face's chip (150 px a side, as FaceModels cuts them) and its box and landmarks in the photo.
    public static func measure(chip: DecodedImage, face: DetectedFace) throws -> FaceQuality {
        let scale = Double(chip.width) / 150
        let q = try chip.quality(left: Int(Double(measured.from) * scale), top: Int(Double(measured.from) * scale),
                                 width: Int(Double(measured.side) * scale), height: Int(Double(measured.side) * scale))
        return FaceQuality(sharpness: q.sharpness, brightness: q.brightness, dark: q.dark, bright: q.bright,
                           size: Int(min(face.right - face.left, face.bottom - face.top).rounded()), yaw: yaw(face))
    }

    /// The turn of the head from dlib's 5 points (two corners of each eye, then the base of the nose).
    static func yaw(_ face: DetectedFace) -> Double? {
        guard let l = face.landmarks, l.count == 10 else { return nil }
        let a = ((l[0] + l[2]) / 2, (l[1] + l[3]) / 2), b = ((l[4] + l[6]) / 2, (l[5] + l[7]) / 2), nose = (l[8], l[9])
        let axis = (b.0 - a.0, b.1 - a.1)
        let length2 = axis.0 * axis.0 + axis.1 * axis.1
        guard length2.squareRoot() >= 0.2 * (face.right - face.left) else { return nil }
        let t = ((nose.0 - a.0) * axis.0 + (nose.1 - a.1) * axis.1) / length2
        return abs(2 * t - 1)
    }

    /// What the catalog holds of a face; nil until it is measured.
    public init?(_ face: Face) {
        guard let sharpness = face.sharpness, let brightness = face.brightness, let dark = face.darkFraction,
              let bright = face.brightFraction else { return nil }
        self.init(sharpness: sharpness, brightness: brightness, dark: dark, bright: bright,
                  size: Int(min(face.right - face.left, face.bottom - face.top).rounded()), yaw: face.yaw)
    }

    public init(sharpness: Double, brightness: Double, dark: Double, bright: Double, size: Int, yaw: Double?) {
        (self.sharpness, self.brightness, self.dark, self.bright, self.size, self.yaw) = (sharpness, brightness, dark, bright, size, yaw)
    }

    /// Measures every face with a chip that has no measure yet (faces processed before quality was measured, faces
    /// a reviewer chose), from its chip file and landmarks: what `curate process` does first. Returns how many.
    @discardableResult
    public static func fillIn(_ catalog: Catalog) throws -> Int {
        var after: Int64 = 0, measured = 0
        while true {
            let faces = try catalog.facesWithoutQuality(after: after, limit: 500)
            guard let last = faces.last?.id else { return measured }
            after = last
            var found: [(Int64, FaceQuality)] = []
            for face in faces {
                guard let path = face.chipPath,
                      let bytes = try? ImageLimits.read(catalog.workspace.url(forRelativePath: path).path),
                      let chip = try? DecodedImage.decode(bytes),
                      let q = try? measure(chip: chip, face: DetectedFace(face)) else { continue }   // its chip is gone: unmeasured
                found.append((face.id!, q))
            }
            try catalog.setQuality(found.map { ($0.0, $0.1.sharpness, $0.1.brightness, $0.1.dark, $0.1.bright, $0.1.yaw) })
            measured += found.count
        }
    }
}

/// What a reviewer can filter on: a face that is poor training data, and why.
public enum QualityFlag: String, CaseIterable, Codable, Sendable, Comparable {
    case small, blurry, dark, overexposed, turned

    public static func < (a: QualityFlag, b: QualityFlag) -> Bool { allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)! }
}

/// The thresholds of the flags, calibrated on the 168 faces with chips of ../shared/data (its web photos and dlib's
/// Johns), looked at sorted by each measure (docs/process.md, "Quality"). None of them is unusable: the softest
/// chips (sharpness 14 and 15, faces of 36-43 px) are still plainly the person, so quality flags and never rejects.
public struct QualityOptions: Sendable, Equatable {
    /// Faces smaller than this (the shorter side of the box, px) are `small`: the recogniser's chips are 150 px,
    /// and a face of 36-44 px enlarged into one is blocky (10 of 168; the next size found is 52).
    public var minSize = 50
    /// Sharpness under this is `blurry`: the six chips under 25 are visibly soft (median 158, 5th percentile 27).
    public var minSharpness = 25.0
    /// Mean grey level under this, or more than `maxDark` of the face at or under 10, is `dark`. Not the mean alone:
    /// well-exposed dark skin is 62-89 (John Salley); sunglasses clip up to 16% of a face black.
    public var minBrightness = 40.0
    public var maxDark = 0.25
    /// Mean grey level over this, or more than `maxBright` of the face at or over 245, is `overexposed`: a
    /// blown-out black-and-white portrait clips 45% white, a washed-out stage photo 18%; fair skin well lit is
    /// 176-197 with at most 10% clipped.
    public var maxBrightness = 215.0
    public var maxBright = 0.15
    /// A turn (see `FaceQuality.yaw`) over this is `turned`: 0.66-1.11 are profiles and strong three-quarter views,
    /// 0.5-0.6 mild turns. (On a full profile the 5 points are unreliable: one scored 0.55.)
    public var maxYaw = 0.6

    public init() {}

    public func flags(_ q: FaceQuality) -> [QualityFlag] {
        var out: [QualityFlag] = []
        if q.size < minSize { out.append(.small) }
        if q.sharpness < minSharpness { out.append(.blurry) }
        if q.brightness < minBrightness || q.dark > maxDark { out.append(.dark) }
        if q.brightness > maxBrightness || q.bright > maxBright { out.append(.overexposed) }
        if let yaw = q.yaw, yaw > maxYaw { out.append(.turned) }
        return out
    }

    /// The flags with the figures behind each: `blurry (sharpness 21 < 60), small (48 px < 60)`.
    public func describe(_ q: FaceQuality) -> String {
        flags(q).map { flag -> String in
            switch flag {
            case .small: return "small (\(q.size) px < \(minSize))"
            case .blurry: return String(format: "blurry (sharpness %.0f < %.0f)", q.sharpness, minSharpness)
            case .dark:
                return q.brightness < minBrightness ? String(format: "dark (mean %.0f < %.0f)", q.brightness, minBrightness)
                    : String(format: "dark (%.0f%% clipped black)", q.dark * 100)
            case .overexposed:
                return q.brightness > maxBrightness ? String(format: "overexposed (mean %.0f > %.0f)", q.brightness, maxBrightness)
                    : String(format: "overexposed (%.0f%% clipped white)", q.bright * 100)
            case .turned: return String(format: "turned (%.2f > %.2f)", q.yaw ?? 0, maxYaw)
            }
        }.joined(separator: ", ")
    }
}

extension Face {
    /// The measures as stored in the catalog's columns.
    public var quality: FaceQuality? {
        get { FaceQuality(self) }
        set {
            (sharpness, brightness, darkFraction, brightFraction, yaw) = (newValue?.sharpness, newValue?.brightness, newValue?.dark,
                                                                          newValue?.bright, newValue?.yaw)
        }
    }
}

/// Per person, how many kept faces each quality flag hits: what `curate status` reports.
public struct QualitySummary: Codable, Sendable, Equatable {
    /// Kept faces measured (those not measured yet are measured by the next `curate process`).
    public var measured: Int
    /// Faces per flag (every flag present, 0 when none).
    public var flags: [String: Int]

    public static func perPerson(_ catalog: Catalog, options: QualityOptions = QualityOptions()) throws -> [Int64: QualitySummary] {
        var out: [Int64: QualitySummary] = [:]
        try catalog.forEachKeptFace { personId, _, face in
            guard let q = face.quality else { return }
            var s = out[personId] ?? QualitySummary(measured: 0, flags: Dictionary(uniqueKeysWithValues: QualityFlag.allCases.map { ($0.rawValue, 0) }))
            s.measured += 1
            for flag in options.flags(q) { s.flags[flag.rawValue, default: 0] += 1 }
            out[personId] = s
        }
        return out
    }
}
