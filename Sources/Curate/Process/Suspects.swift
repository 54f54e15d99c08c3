// A face between --suspect-distance and --identity-distance settled by more evidence than its distance to the
// identity's centre: its nearest sure faces of the person, the person's usual spread, the reference portrait and
// the other people's identities.
import Catalog
import Foundation

/// How a one-face photo in the band (farther than `suspectDistance` from the person's identity, not farther than
/// `wrongDistance`) is settled. The distance to the centre alone cannot tell the person in a hard pose from an
/// intruder there (in a real scrape nine such faces were all the person; in an emulation three were all
/// intruders); what else is known can, in part. Each piece of evidence speaks for the person, against, or not at
/// all: for and nothing against, the face is the person and no suspect; against and nothing for, it is
/// `wrong_person`; both or neither, it stays a suspect for a reviewer. Another person's identity nearer than this
/// person's, by `otherMargin`, is decisive: the face is theirs.
///
/// Measured on the celebrities of ../shared/data with every photo also made hard (a 72 px thumbnail, sunglasses,
/// a soft upscaled copy), each person's identity from their other photos: 66 of the person's faces and 48 other
/// people's landed in the band (`curate-bench-identity describe-hard`; docs/benchmarks.md). No single measure
/// parts them: sunglasses and soft copies bring strangers as near the person's photos as the person's own hard
/// photos are. The constants below are where none of the 66 is rejected; they reject 23 of the 48 and settle 38
/// of the 66, and leave the rest suspects. They were chosen on those sets: treat them as a first measurement.
public struct BandRule: Sendable, Equatable {
    /// One of the person's sure faces (within `suspectDistance` of the centre) this near speaks for: the graph
    /// chinese whispers clusters joins faces this near (`graphDistance`), so the face is one of theirs in a pose
    /// or light they have been photographed in before. An intruder seen once rarely has such a neighbour.
    public var neighbourFor: Float = 0.55
    /// None of the person's sure faces this near speaks against: the face matches none of the photos that surely
    /// show them. Past dlib's 0.60 for two photos of one person, because the person's own hard photos (soft,
    /// small) sit farther from their sharp photos: the nearest was up to 0.64 (measured, above).
    public var neighbourAgainst: Float = 0.64
    /// The distance to the centre within this multiple of the median distance of the person's faces speaks for:
    /// within their usual variety (a person photographed in many settings has a wide identity, a set of
    /// passport-like crops a narrow one, and 0.55 means a different thing to each). The person's hard photos go
    /// up to 1.9 times, so the multiple speaks only for.
    public var spreadFor: Float = 1.3
    /// Another person's identity nearer than this person's by this much decides: the face is theirs. By less it
    /// says nothing (the person's own soft copies came up to 0.03 nearer someone else). Nor does it speak where
    /// nothing else does: among every celebrity photo made hard, the one face it would then decide is the person's
    /// own (0.003 nearer), on the plantings one intruder (`bench/identity/masked.sh`, docs/benchmarks.md).
    public var otherMargin: Float = 0.04
    /// The reference portrait (Wikidata's P18, where the photos agree it is the person) this near speaks for, as a
    /// sure neighbour does.
    public var portraitFor: Float = 0.55
    /// Farther than this from the portrait speaks against: the person's own faces in the band were up to 0.73
    /// from their most typical photo.
    public var portraitAgainst: Float = 0.75
    /// A photo of several faces kept for one in the band is settled as the person only when every other face is at
    /// least this far from the person: beyond `--identity-distance` (0.60) by the face margin (0.10), where no
    /// face of the person's own was measured (their hard photos reach 0.57 from their identity, the nearest
    /// strangers 0.63). A nearer one could be the person in a hard pose beside a companion who looks like them; then
    /// the photo stays a suspect, whatever the chosen face's evidence says for it (against still rejects: the other
    /// faces are farther than the chosen one).
    public var othersBeyond: Float = 0.70
    /// One of the person's faces that is surely not them (a one-face photo farther than `--identity-distance`) nearer
    /// than every sure face of theirs speaks against: the nearest-neighbour vote between what is surely the person
    /// and what surely is not, whichever is nearer (no constant to choose). The person's own band photos were all
    /// 0.09 or more nearer a sure photo of theirs than any such face (12 of 12 and 13 of 13,
    /// `bench/identity/crossval.sh`, docs/benchmarks.md); a stranger photographed twice, once clearly and once in
    /// sunglasses, is nearer their clear photo.
    public var farNearerAgainst = true
    /// One of another person's sure faces nearer than every sure face of the person's own decides, where that
    /// person's identity is within `--identity-distance` of the face: the face is theirs. The same nearest-neighbour
    /// vote, among the faces that surely are someone: the person's and those of the people it could be taken for (no
    /// constant to choose; the people looked at are those whose identity would keep the face). A softened copy of
    /// another person's photo sits as near the person's identity as their own soft copies do, and nearer that
    /// person's own photos than any of the person's (Elton John's train_9 softened, under Madonna: a sure photo of Mindy
    /// Kaling's at 0.589, Madonna's nearest 0.641; `bench/identity/crossval.sh`); each of the person's own band photos the vote looked at (3 of 12, 3 of 13) was
    /// 0.09 or more nearer a sure photo of theirs. A person under whom the same face is filed too has no vote
    /// (`IdentityIndex.otherFaceVote`): a picture under two people is a `label_conflict` for a reviewer.
    public var otherFaceDecides = true
    /// A face whose eyes are covered (sunglasses) is compared with the person's sure faces with the same bar over the
    /// eyes of both (`SecondLook`), and that comparison stands in for the sure-neighbour and spread evidence: with the
    /// eyes covered, strangers sit as near the person's photos as the person's own photos in sunglasses do, and with
    /// the eyes hidden on both they part. The nearest such sure face this near speaks for, farther than
    /// `maskedAgainst` against (`bench/identity/masked.sh`: the person's own 0.23-0.52, intruders 0.44-0.63; docs/benchmarks.md).
    public var maskedFor: Float = 0.44
    public var maskedAgainst: Float = 0.54
    /// Where other people's sure faces with the bar are known (the crowd: `SecondLook.cohortPerPerson` of each, from at
    /// least `SecondLook.cohortPeople` people), the nearest barred sure face of the person is also set against the
    /// face's distances to them: how many of their standard deviations it lies below their mean. A face in sunglasses
    /// is near many faces in sunglasses, so a stranger's nearest photo of the person is often only as near as the
    /// crowd's near end, while the person's own lie far below it. Less far below than this speaks against, however
    /// near the nearest is. Measured on the four plantings of `bench/identity/crossval.sh`: the person's own covered
    /// faces in the band lay 2.3 to 5.7 below, strangers from 4.6 below to 0.3 above (those the other evidence left:
    /// 1.8 to 2.0, and one at 2.9 to 3.2); chosen with one person held out at a time, it rejected no own photo on any
    /// (docs/benchmarks.md, "The crowd"). The margin is thin both ways (0.3 to the nearest own face): treat it as a
    /// first measurement.
    public var cohortAgainst: Float = -2.0

    public init() {}
}

/// What the evidence makes of a face in the band: the person (kept, no suspect), an intruder (`wrong_person`), or
/// unsure (kept, a suspect for a reviewer).
public enum BandCall: String, Sendable { case person, intruder, unsure }

/// What is known about one face in the band, and what it makes of the face.
struct BandEvidence: Sendable {
    typealias Call = BandCall

    var descriptor: [Float]
    var distance: Float
    /// The nearest sure face of the person found (the first within `neighbourFor`, else the nearest of all).
    var nearest: Float?
    /// The nearest of the person's faces that are surely not them (one-face photos farther than
    /// `--identity-distance`: a stranger the search brought, who is often brought again).
    var far: Float?
    /// `distance` over the median distance of the person's faces to their centre.
    var spread: Float?
    /// The distance to the person's reference portrait, where it is part of the identity.
    var portrait: Float?
    /// Another person's identity nearer than this person's by `otherMargin` (added once every identity is known).
    var other: (label: String, distance: Float)?
    /// One of another person's sure faces nearer than every sure face of this person's (`own`), that person's identity
    /// within `--identity-distance` (added once every identity is known; `BandRule.otherFaceDecides`).
    var otherFace: (label: String, distance: Float, own: Float)?
    /// For a photo of several faces, the face chosen (the one this evidence is about) and the next face's distance.
    struct Group: Sendable { var face: Int; var faces: Int; var next: Float }
    var group: Group?
    /// What a second look knows of the face (`SecondLook`): its id, whether its eyes are covered (nil: not looked
    /// at) and its descriptor with a bar over the eyes.
    struct Look: Sendable {
        var faceId: Int64
        var eyesCovered: Bool?
        var masked: [Float]?
        init(_ face: Face) { (faceId, eyesCovered, masked) = (face.id ?? 0, face.eyesCovered, face.maskedValues) }
    }
    var look: Look?
    /// For a face whose eyes are covered, the nearest of the person's sure faces with a bar over the eyes of both
    /// (nil: not looked at, or no sure face described so yet).
    var masked: Float?
    /// `masked` in standard deviations from the mean of the face's distances to other people's sure faces with the bar
    /// (negative: nearer than they are; nil: no crowd known). `BandRule.cohortAgainst`.
    var cohort: Float?

    /// The call, with the evidence in words for the image's detail (empty without `words`: a measurement trying
    /// thousands of rules on the same evidence asks only for the call).
    func call(_ rule: BandRule, words inWords: Bool = true) -> (call: Call, words: String) {
        func say(_ text: @autoclosure () -> String) -> String { inWords ? text() : "" }
        if let other {
            return (.intruder, say(String(format: "nearer %@'s identity (%.2f)", other.label, other.distance)))
        }
        if rule.otherFaceDecides, let f = otherFace {
            return (.intruder, say(String(format: "a sure photo of %@'s at %.2f, nearer than any sure photo of the person (%.2f)", f.label, f.distance, f.own)))
        }
        var pro: [String] = [], con: [String] = [], neither: [String] = []
        if let masked {
            // The eyes are covered: the same bar over the eyes of both stands in for the comparisons with eyes visible;
            // where other people's barred faces are known, how far below them the nearest lies decides.
            let crowd = cohort.map { say(String(format: ", %.1f standard deviations from other people's", $0)) } ?? ""
            if masked > rule.maskedAgainst {
                con.append(say(String(format: "eyes covered: with a bar over the eyes of both, no sure photo of the person within %.2f (nearest %.2f)",
                                  rule.maskedAgainst, masked)))
            } else if let cohort, cohort > rule.cohortAgainst {
                con.append(say(String(format: "eyes covered: with a bar over the eyes of both, the nearest sure photo of the person at %.2f%@, no nearer than a stranger's",
                                  masked, crowd)))
            } else if masked <= rule.maskedFor {
                pro.append(say(String(format: "eyes covered: with a bar over the eyes of both, a sure photo of the person at %.2f%@", masked, crowd)))
            } else {
                neither.append(say(String(format: "eyes covered: with a bar over the eyes of both, the nearest sure photo of the person at %.2f%@", masked, crowd)))
            }
        } else if let nearest {
            if nearest <= rule.neighbourFor { pro.append(say(String(format: "a sure photo of the person at %.2f", nearest))) }
            if nearest > rule.neighbourAgainst { con.append(say(String(format: "no sure photo of the person within %.2f (nearest %.2f)", rule.neighbourAgainst, nearest))) }
        }
        // Nearer a face that is surely not the person than any that surely is: the nearest-neighbour vote of the
        // person's own photos says someone else (a stranger seen clearly in another of the person's photos).
        if rule.farNearerAgainst, let far, far < (nearest ?? .infinity) {
            con.append(say(String(format: "a face not the person's (past the identity) at %.2f, nearer than any sure photo of the person", far)))
        }
        if masked == nil, let spread, spread <= rule.spreadFor { pro.append(say(String(format: "%.1f× the person's median distance", spread))) }
        if let portrait {
            if portrait <= rule.portraitFor { pro.append(say(String(format: "the reference portrait at %.2f", portrait))) }
            if portrait > rule.portraitAgainst { con.append(say(String(format: "the reference portrait at %.2f", portrait))) }
        }
        // Another face of the photo near enough to be the person leaves a photo the evidence speaks for unsettled.
        let doubt = group.flatMap { $0.next < rule.othersBeyond ? say(String(format: "another face at %.2f, within %.2f", $0.next, rule.othersBeyond)) : nil }
        var words = !inWords ? [] : (pro.isEmpty ? [] : ["for: " + pro.joined(separator: ", ")]) + (con.isEmpty ? [] : ["against: " + con.joined(separator: ", ")])
            + (neither.isEmpty ? [] : ["neither: " + neither.joined(separator: ", ")])
        if let doubt, !pro.isEmpty, con.isEmpty { words.append("unsure: " + doubt) }
        let said = words.isEmpty ? "no other evidence" : words.joined(separator: "; ")
        switch (pro.isEmpty, con.isEmpty) {
        case (false, true): return (doubt == nil ? .person : .unsure, said)
        case (true, false): return (.intruder, said)
        default: return (.unsure, said)
        }
    }
}

extension Descriptors {
    /// Calls `body` with the squared distance from `descriptor` to each of these, eight lanes at a time.
    private func eachSquaredDistance(to descriptor: [Float], _ body: (Float) -> Void) {
        descriptor.withUnsafeBytes { x in
            values.withUnsafeBytes { all in
                for k in 0..<count { body(squaredDistance(x.baseAddress!, all.baseAddress!.advanced(by: k * Descriptors.dimension * 4))) }
            }
        }
    }

    /// The distance from `descriptor` to the nearest of these (nil when there are none).
    func nearest(to descriptor: [Float]) -> Float? {
        guard count > 0 else { return nil }
        var best = Float.infinity
        eachSquaredDistance(to: descriptor) { best = min(best, $0) }
        return best.squareRoot()
    }

    /// How many standard deviations `distance` lies from the mean distance of `descriptor` to these (negative: nearer);
    /// nil for fewer than two of these or no spread.
    func standardScore(_ distance: Float, from descriptor: [Float]) -> Float? {
        guard count >= 2 else { return nil }
        var sum = 0.0, squares = 0.0
        eachSquaredDistance(to: descriptor) { s in
            let d = Double(s.squareRoot())
            sum += d
            squares += d * d
        }
        let mean = sum / Double(count), sd = max(0, squares / Double(count) - mean * mean).squareRoot()
        return sd > 0 ? Float((Double(distance) - mean) / sd) : nil
    }
}

extension IdentityIndex {
    /// A person's sure faces: members of the identity within `suspectDistance` of it, in one flat buffer.
    static func sureFaces(_ identity: Identity, _ descriptors: Descriptors, imageIds: [Int64], distances: [Int64: Float],
                          options o: IdentityOptions) -> Descriptors {
        var sure = Descriptors()
        for i in sureIndices(identity, imageIds: imageIds, distances: distances, options: o) { sure.append(descriptors[i]) }
        return sure
    }

    /// Where the person's sure faces are among `imageIds`: members of the identity within `suspectDistance` of it.
    static func sureIndices(_ identity: Identity, imageIds: [Int64], distances: [Int64: Float], options o: IdentityOptions) -> [Int] {
        imageIds.indices.filter { identity.memberSet.contains($0) && (distances[imageIds[$0]] ?? .infinity) <= o.suspectDistance }
    }

    /// The evidence about every face of one person in the band (`distances` beyond `suspectDistance`, not beyond
    /// `wrongDistance`), by image id. `descriptors` are those the identity was found from, `imageIds` their images;
    /// `others` the faces measured beside them (worse copies), not members, so they never vouch for anyone.
    /// A band face is compared with the sure faces until one is within `neighbourFor` (most of the person's own
    /// faces find one among the first few), so a person of 20,000 faces costs their intruders' scans, not all pairs.
    /// `groups` are photos of several faces kept for one in the band: that face, its distance, and the next face's.
    static func bandEvidence(_ identity: Identity, _ descriptors: Descriptors, imageIds: [Int64], others: [(id: Int64, descriptor: [Float])],
                             groups: [(id: Int64, descriptor: [Float], distance: Float, group: BandEvidence.Group)] = [],
                             distances: [Int64: Float], portraits: Set<Int>, reference: Set<Int64>,
                             looks: [Int64: BandEvidence.Look] = [:], masked: [Int: [Float]] = [:], cohort: Descriptors = Descriptors(),
                             options o: IdentityOptions) -> [Int64: BandEvidence] {
        guard identity.isClear else { return [:] }
        func inBand(_ id: Int64) -> Bool { distances[id].map { $0 > o.suspectDistance && $0 <= o.wrongDistance } ?? false && !reference.contains(id) }
        var band: [(id: Int64, descriptor: [Float], distance: Float, group: BandEvidence.Group?)] = imageIds.enumerated().filter { inBand($0.element) }
            .map { ($0.element, descriptors[$0.offset], distances[$0.element]!, nil) }
        band += others.filter { inBand($0.id) }.map { ($0.id, $0.descriptor, distances[$0.id]!, nil) }
        band += groups.filter { $0.distance > o.suspectDistance && $0.distance <= o.wrongDistance && !reference.contains($0.id) }
            .map { ($0.id, $0.descriptor, $0.distance, $0.group) }
        guard !band.isEmpty else { return [:] }

        // The person's sure faces in one flat buffer, and the median of every member's distance.
        let sure = sureFaces(identity, descriptors, imageIds: imageIds, distances: distances, options: o)
        // The faces surely not the person: one-face photos past `wrongDistance` (no reviewer's or portrait).
        var farFaces = Descriptors()
        for (i, id) in imageIds.enumerated() where (distances[id] ?? 0) > o.wrongDistance && !reference.contains(id) {
            farFaces.append(descriptors[i])
        }
        let memberDistances = imageIds.enumerated().compactMap { identity.memberSet.contains($0.offset) ? distances[$0.element] : nil }.sorted()
        let median = memberDistances.isEmpty ? nil : memberDistances[memberDistances.count / 2]
        // Portraits the photos agree with (members of the identity); one the photos disown says nothing.
        let portraitFaces = portraits.filter { identity.memberSet.contains($0) }.map { descriptors[$0] }

        // The sure faces described with a bar over the eyes, for faces whose eyes are covered (SecondLook).
        var sureMasked = Descriptors()
        for i in sureIndices(identity, imageIds: imageIds, distances: distances, options: o) {
            if let m = masked[i] { sureMasked.append(m) }
        }

        let stop = o.band.neighbourFor * o.band.neighbourFor
        var out: [Int64: BandEvidence] = [:]
        sure.values.withUnsafeBytes { all in
            for face in band {
                var nearest = Float.infinity
                face.descriptor.withUnsafeBytes { x in
                    for k in 0..<sure.count {
                        let s = squaredDistance(x.baseAddress!, all.baseAddress!.advanced(by: k * Descriptors.dimension * 4))
                        if s < nearest { nearest = s }
                        if s <= stop { break }
                    }
                }
                let d = face.distance
                let far = (0..<farFaces.count).map { descriptorDistance(face.descriptor, farFaces[$0]) }.min()
                out[face.id] = BandEvidence(descriptor: face.descriptor, distance: d, nearest: sure.count > 0 ? nearest.squareRoot() : nil, far: far,
                                            spread: median.flatMap { $0 > 0 ? d / $0 : nil },
                                            portrait: portraitFaces.map { descriptorDistance(face.descriptor, $0) }.min(), other: nil,
                                            group: face.group, look: looks[face.id])
                if looks[face.id]?.eyesCovered == true, let m = looks[face.id]?.masked, let nearest = sureMasked.nearest(to: m) {
                    out[face.id]!.masked = nearest
                    out[face.id]!.cohort = cohort.standardScore(nearest, from: m)
                }
            }
        }
        return out
    }
}

/// One face in the band with its evidence as numbers, whatever a rule makes of it: what bench/identity measures the
/// rule on (`curate-bench-identity evidence`, `crossval`), settled by the same `call` processing makes.
public struct BandFacts: Sendable {
    public var imageId: Int64
    public var label: String
    public var distance: Float
    /// The nearest of the person's sure faces (the first within `neighbourFor`, else the nearest of all).
    public var nearest: Float?
    public var spread: Float?
    public var portrait: Float?
    /// The distance to the nearest other person's identity, however far.
    public var nearestOther: Float?
    /// For a photo of several faces kept for this one, the next face's distance to the person.
    public var next: Float?
    /// The nearest of the person's faces past `--identity-distance`.
    public var far: Float?
    /// The nearest sure face of the people whose identity is within `--identity-distance` of the face (nil: none is),
    /// and the nearest sure face of the person's own, both measured to the end (`BandRule.otherFaceDecides`).
    public var otherFace: Float?
    public var ownFace: Float?
    /// For a face whose eyes are covered, the nearest sure face of the person's with a bar over the eyes of both
    /// (`BandRule.maskedFor`).
    public var masked: Float?
    /// `masked` set against other people's barred sure faces, in their standard deviations (`BandRule.cohortAgainst`).
    public var cohort: Float?

    public init(imageId: Int64, label: String, distance: Float, nearest: Float?, spread: Float?, portrait: Float?, nearestOther: Float?,
                next: Float? = nil, far: Float? = nil, otherFace: Float? = nil, ownFace: Float? = nil, masked: Float? = nil, cohort: Float? = nil) {
        (self.imageId, self.label, self.distance, self.nearest) = (imageId, label, distance, nearest)
        (self.spread, self.portrait, self.nearestOther, self.next, self.far) = (spread, portrait, nearestOther, next, far)
        (self.otherFace, self.ownFace, self.masked, self.cohort) = (otherFace, ownFace, masked, cohort)
    }

    /// What `rule` makes of the face: as processing settles it, another identity nearer by `otherMargin` first.
    public func call(_ rule: BandRule) -> BandCall {
        var evidence = BandEvidence(descriptor: [], distance: distance, nearest: nearest, far: far, spread: spread, portrait: portrait, other: nil,
                                    group: next.map { BandEvidence.Group(face: 0, faces: 2, next: $0) })
        (evidence.masked, evidence.cohort) = (masked, cohort)
        if let nearestOther, nearestOther <= distance - rule.otherMargin { evidence.other = ("", nearestOther) }
        if let otherFace, otherFace < (ownFace ?? .infinity) { evidence.otherFace = ("", otherFace, ownFace ?? .infinity) }
        return evidence.call(rule, words: false).call
    }
}

extension IdentityIndex {
    /// Every photo in the band of its person's identity (a one-face photo, or one of several faces kept for a face
    /// there), with its evidence (see `BandFacts`).
    /// `catalog` is the one the index was read from: the sure faces of the people a face could be taken for are read
    /// again from it, as the stage reads them.
    public func bandFacts(catalog: Catalog) throws -> [BandFacts] {
        let entries = people.values.sorted { $0.personId < $1.personId }
        var near: [Int64: [Int64]] = [:]
        for e in entries {
            for (id, evidence) in e.band {
                near[id] = centres.within(evidence.descriptor, notPerson: e.personId, distance: options.wrongDistance).map(\.personId)
            }
        }
        let wanted = Set(entries.filter { e in e.band.keys.contains { near[$0]?.isEmpty == false } }.map(\.personId) + near.values.joined())
        let known = try Self.knownFaces(catalog, of: wanted, labels: Dictionary(uniqueKeysWithValues: people.values.map { ($0.personId, $0.label) }),
                                        options: options)
        return entries.flatMap { e in
            e.band.sorted { $0.key < $1.key }.map { id, evidence in
                let others = near[id] ?? []
                // As the stage measures them: the people under whom the same face is filed too have no vote.
                let voters = others.filter { p in (known[p]?.all.nearest(to: evidence.descriptor) ?? .infinity) >= Dedupe.sameFace }
                return BandFacts(imageId: id, label: e.label, distance: evidence.distance, nearest: evidence.nearest, spread: evidence.spread,
                                 portrait: evidence.portrait,
                                 nearestOther: nearestIdentity(evidence.descriptor, notPerson: e.personId, within: .infinity)?.distance,
                                 next: evidence.group?.next, far: evidence.far,
                                 otherFace: voters.compactMap { known[$0]?.sure.nearest(to: evidence.descriptor) }.min(),
                                 ownFace: others.isEmpty ? nil : known[e.personId]?.sure.nearest(to: evidence.descriptor),
                                 masked: evidence.masked, cohort: evidence.cohort)
            }
        }
    }
}
