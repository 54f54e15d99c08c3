// A second look at a face in its person's band whose eyes are covered (sunglasses): compared with the person's sure
// faces with the same bar over the eyes of both, like with like (BandRule.maskedFor; docs/benchmarks.md, "A second
// look at faces in sunglasses").
import Catalog
import Foundation

/// With the eyes covered, a stranger's face sits as near the person's photos as the person's own photos in
/// sunglasses do (0.53-0.66 against 0.44-0.59 from the nearest of their photos, measured), so the band rule's
/// neighbour evidence cannot part them. With a bar over the eyes of both faces compared, the person's own come much
/// nearer their other photos (median 0.38) and strangers less so (0.55): `bench/identity/masked.sh`. For faces whose
/// eyes are visible it does not help, so only faces whose eyes are covered get the second look.
///
/// The stages across people look at each face of the band once (from its chip, stored with the face: whether its
/// eyes are covered), describe a covered face's chip with the bar, and the chips of its person's sure faces with the
/// same bar (stored with them, so status and review read the same evidence without the network). Without the
/// descriptor model (a merge on a machine without it) nothing is looked at, and the band rule reads what it has.
public final class SecondLook {
    /// The bar over a 150 px chip's eyes, [left, right) x [top, bottom): dlib's 5-point alignment puts the eye corners
    /// at x 37, 58, 90 and 111, y 46-48 (get_face_chip_details' template, padding 0.25); the bar reaches past them as
    /// a pair of sunglasses does, from the brows to below the eyes.
    static let bar = (left: 18, top: 28, right: 132, bottom: 66)
    /// The grey level it is painted in.
    static let barGrey: UInt8 = 30
    /// The crowd a covered face is measured against (`BandRule.cohortAgainst`): the sure faces described with the bar
    /// of every other person (those with a covered face in their own band: no face is described for the crowd alone,
    /// so a merge that judges some people finds the crowd judging every person would), up to this many of each, from
    /// at least `cohortPeople` people (one or two are not a crowd) and at most `cohortMaxPeople`.
    static let cohortPerPerson = 32
    static let cohortPeople = 3
    static let cohortMaxPeople = 64

    /// The crowd as stored: the barred sure faces of the first `cohortMaxPeople` + 1 people that have any
    /// (`cohortPerPerson` of each; a person's own are left out of their crowd).
    static func cohort(_ catalog: Catalog) throws -> [(personId: Int64, masked: [[Float]])] {
        try catalog.maskedCohort(perPerson: cohortPerPerson, people: cohortMaxPeople + 1)
    }

    private let files: ModelFiles
    private var loaded: FaceModels?

    /// Nil where the descriptor model is missing (nothing could be described).
    public init?(_ files: ModelFiles) {
        guard files.resnet != nil else { return nil }
        self.files = files
    }

    /// Whether a chip's eyes are covered: both eye patches (12 x 12 px around each eye's middle, from the template)
    /// dark beside the cheeks below them (at most `coveredDarkness` of their grey level) and flat (grey levels spread
    /// by under `coveredSpread`). An open eye is bright sclera beside a dark iris; a lens or a bar is an even dark patch.
    public static func eyesCovered(_ chip: DecodedImage) -> Bool {
        eyePatches(chip).map { $0.allSatisfy { $0.darkness <= coveredDarkness && $0.spread < coveredSpread } } ?? false
    }
    static let coveredDarkness = 0.6
    static let coveredSpread = 25.0

    /// Each eye patch's mean grey level over the cheeks' (`darkness`) and the spread of its grey levels (standard
    /// deviation), left eye first; nil for a chip that is not 150 px a side.
    public static func eyePatches(_ chip: DecodedImage) -> [(darkness: Double, spread: Double)]? {
        guard chip.width == 150, chip.height == 150 else { return nil }
        return chip.withPixels { p, stride in
            func stats(_ x0: Int, _ y0: Int, _ w: Int, _ h: Int) -> (mean: Double, spread: Double) {
                var sum = 0.0, sq = 0.0
                for y in y0..<(y0 + h) {
                    for x in x0..<(x0 + w) {
                        let px = p + y * stride + 3 * x
                        let g = 0.114 * Double(px[0]) + 0.587 * Double(px[1]) + 0.299 * Double(px[2])
                        sum += g
                        sq += g * g
                    }
                }
                let n = Double(w * h), mean = sum / n
                return (mean, max(0, sq / n - mean * mean).squareRoot())
            }
            let cheeks = max(1, (stats(38, 72, 20, 12).mean + stats(92, 72, 20, 12).mean) / 2)
            return [stats(41, 41, 12, 12), stats(94, 41, 12, 12)].map { ($0.mean / cheeks, $0.spread) }
        }
    }

    /// A copy of a chip with the bar over its eyes.
    public static func barred(_ chip: DecodedImage) throws -> DecodedImage {
        var bytes = [UInt8](repeating: 0, count: chip.width * chip.height * 3)
        chip.copyRows(into: &bytes, at: 0, rowStride: chip.width * 3)
        let copy = try DecodedImage.fromBGR(bytes, width: chip.width, height: chip.height)
        try copy.drawBox(left: bar.left, top: bar.top, right: bar.right - 1, bottom: bar.bottom - 1, thickness: -1,
                         bgr: (barGrey, barGrey, barGrey), label: nil)
        return copy
    }

    /// Looks at the faces of every person's band in `index` (a judging index) that were not looked at, and describes
    /// with the bar those whose eyes are covered and their people's sure faces not yet so described; writes what it
    /// found. Returns whether the band evidence could change (a covered face, or a barred descriptor written): then
    /// the index is built again to judge with it.
    func fill(_ index: IdentityIndex, catalog: Catalog) throws -> Bool {
        let band = index.people.values.flatMap { $0.band.values.compactMap(\.look) }.filter { $0.faceId != 0 }
        // The band's faces not looked at yet, and those covered but not described with the bar.
        let unlooked = band.filter { $0.eyesCovered == nil }
        let undescribed = band.filter { $0.eyesCovered == true && $0.masked == nil }
        let paths = try catalog.chipPaths(ofFaces: (unlooked + undescribed).map(\.faceId))
        var looks: [(faceId: Int64, eyesCovered: Bool?, masked: Data?)] = []
        var toDescribe: [(faceId: Int64, chip: DecodedImage)] = []
        var coveredNow = Set<Int64>()
        for look in unlooked {
            // A face without a chip to read (none cut, or its file gone) has nothing to look at: taken as uncovered, so
            // that it is not looked for again on every run.
            guard let chip = paths[look.faceId].flatMap({ try? Self.chip($0, catalog) }) else {
                looks.append((look.faceId, false, nil))
                continue
            }
            let covered = Self.eyesCovered(chip)
            looks.append((look.faceId, covered, nil))
            if covered {
                coveredNow.insert(look.faceId)
                toDescribe.append((look.faceId, chip))
            }
        }
        for look in undescribed {
            if let chip = paths[look.faceId].flatMap({ try? Self.chip($0, catalog) }) { toDescribe.append((look.faceId, chip)) }
        }
        // The sure faces of every person with a covered face in the band, not described with the bar yet.
        var sureIds: [Int64] = []
        for entry in index.people.values where entry.identity.isClear {
            let covered = entry.band.values.contains { e in e.look.map { $0.eyesCovered == true || coveredNow.contains($0.faceId) } ?? false }
            guard covered else { continue }
            for i in IdentityIndex.sureIndices(entry.identity, imageIds: entry.imageIds, distances: entry.distances, options: index.options)
            where entry.masked[i] == nil && entry.faceIds[i] != 0 {
                sureIds.append(entry.faceIds[i])
            }
        }
        for (id, path) in try catalog.chipPaths(ofFaces: sureIds) {
            if let chip = try? Self.chip(path, catalog) { toDescribe.append((id, chip)) }
        }
        if !toDescribe.isEmpty {
            let models = try loaded ?? FaceModels(files)
            loaded = models
            for batch in stride(from: 0, to: toDescribe.count, by: 32).map({ toDescribe[$0..<min($0 + 32, toDescribe.count)] }) {
                let described = try models.describe(chips: batch.map { try Self.barred($0.chip) })
                for (item, d) in zip(batch, described) { looks.append((item.faceId, nil, Face.pack(d))) }
            }
        }
        try catalog.setSecondLook(looks)
        // Every face found covered is among those described.
        return !toDescribe.isEmpty
    }

    /// A face's chip, decoded from its file.
    private static func chip(_ path: String, _ catalog: Catalog) throws -> DecodedImage {
        try DecodedImage.decode(try ImageLimits.read(catalog.workspace.url(forRelativePath: path).path))
    }
}

extension IdentityIndex {
    /// A judging index (see `init(catalog:options:judging:only:others:)`), after `look` has looked at the faces of
    /// its bands: built again where what it found can change a band face's evidence.
    static func judging(_ catalog: Catalog, options: IdentityOptions, look: SecondLook?, only: [Int64]? = nil,
                        others: [Int64: [Float]] = [:]) throws -> IdentityIndex {
        let index = try IdentityIndex(catalog: catalog, options: options, judging: true, only: only, others: others)
        guard let look, try look.fill(index, catalog: catalog) else { return index }
        return try IdentityIndex(catalog: catalog, options: options, judging: true, only: only, others: others)
    }
}
