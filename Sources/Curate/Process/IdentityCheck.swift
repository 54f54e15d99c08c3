// The identity stage of processing: every person's identity from the catalog, and the verdicts it gives
// (wrong_person, a group photo's face, suspects); also what status and review ask about identities.
import Catalog
import Foundation

/// Every person's identity, found from the one-face photos filed under them and the faces reviewers kept.
public struct IdentityIndex {
    public struct Entry {
        public var personId: Int64
        public var label: String
        public var identity: Identity
        /// How many faces (one per image) the identity was found from.
        public var faces: Int
        public var anchors: Int
        /// Distance of each image's face (one-face and reviewer-kept images) to the identity.
        public var distances: [Int64: Float]
        /// The images the identity was found from.
        public var imageIds: [Int64]
        /// What is known about each one-face photo in the band (between `suspectDistance` and `wrongDistance`).
        var band: [Int64: BandEvidence] = [:]
        /// The face each of `imageIds` was measured by (its id), and which of them have their descriptor with a bar
        /// over the eyes (`SecondLook`), by their place in `imageIds`.
        var faceIds: [Int64] = []
        var masked: [Int: [Float]] = [:]
        /// The person's sure faces (`sureFaces`) and every face the identity was found from, where asked for
        /// (`entry(keepSure:)`): not held for every person.
        var known: (sure: Descriptors, all: Descriptors)?
    }

    public let options: IdentityOptions
    public private(set) var people: [Int64: Entry] = [:]
    /// The chosen face, with its descriptor, of every candidate whose distance is not the one identity measured
    /// (a group photo kept for one face, a reviewer's choice, an image identity did not measure); the others'
    /// faces are read when asked for: a million descriptors are not held for the few that are.
    private var chosenFaces: [Int64: (idx: Int, descriptor: [Float])] = [:]
    /// The centres of the clear identities, for `looksLike`.
    var centres = IdentityCentres()
    /// Identity's verdicts, when made for the stage (`judging`).
    private(set) var verdicts: [IdentityChange] = []
    /// Per person, how many kept images no reviewer looked at are suspects.
    private var suspects: [Int64: Int] = [:]
    /// How many times each person's rows had changed when they were read (see `Catalog.storeIdentities`).
    private(set) var changes: [Int64: Int64] = [:]

    /// Computes every person's identity from the catalog, one person at a time (a few milliseconds for hundreds
    /// of faces; a person with more than `IdentityOptions.sampleAbove` faces is clustered from a sample).
    public init(catalog: Catalog, options: IdentityOptions = IdentityOptions()) throws {
        try self.init(catalog: catalog, options: options, judging: false)
    }

    /// Every person's identity by the options the stages across people last judged the catalog by: what review,
    /// list and the gallery show.
    public init(asJudged catalog: Catalog) throws {
        try self.init(catalog: catalog, options: .judged(in: catalog))
    }

    /// With `judging`, also identity's verdict for every image it looks at that no reviewer decided (`verdicts`).
    /// With `only`, these people's identities alone (`looksLike` then knows only theirs and those of `others`: the
    /// centres of other people's clear identities, by person, as stored).
    init(catalog: Catalog, options: IdentityOptions, judging: Bool, only: [Int64]? = nil, others: [Int64: [Float]] = [:]) throws {
        self.options = options
        let everyone = try catalog.labels()
        var labels = everyone
        if let only {
            let wanted = Set(only)
            labels = labels.filter { wanted.contains($0.key) }
        }
        // Who a wrong_person face looks like needs every person's identity: those details are written at the end.
        var looks: [(verdict: Int, descriptor: [Float], personId: Int64)] = []
        // Band faces kept: another person's identity nearer than their own makes them that person's (at the end too).
        var bandKept: [(verdict: Int, evidence: BandEvidence, personId: Int64)] = []
        let cohort = try SecondLook.cohort(catalog)
        changes = try catalog.forEachPersonsIdentityCandidates(of: only) { personId, candidates in
            let entry = Self.entry(personId: personId, label: labels[personId] ?? "?", candidates: candidates, options: options, cohort: cohort)
            people[personId] = entry
            for c in candidates {
                if let chosen = Self.chosenFace(c.faces, counted: c.image.faces, measured: entry.distances[c.image.id] != nil) {
                    chosenFaces[c.image.id] = chosen
                }
            }
            for c in candidates where c.image.verdict == .kept && !c.image.reviewed {
                if isSuspect(id: c.image.id, personId: personId, reference: c.image.reference, counted: c.image.faces, faces: c.faces) {
                    suspects[personId, default: 0] += 1
                }
            }
            if judging {
                for (change, descriptor) in Self.judge(candidates, entry, options) {
                    if let descriptor { looks.append((verdicts.count, descriptor, personId)) }
                    if change.verdict.verdict == .kept, let evidence = entry.band[change.verdict.imageId] {
                        bandKept.append((verdicts.count, evidence, personId))
                    }
                    verdicts.append(change)
                }
            }
        }
        for (personId, label) in labels where people[personId] == nil {
            people[personId] = Self.entry(personId: personId, label: label, candidates: [], options: options)
        }
        for entry in people.values {
            guard let centre = entry.identity.centre else { continue }
            centres.append(entry.personId, entry.label, centre)
        }
        for (personId, centre) in others where people[personId] == nil {
            if let label = everyone[personId] { centres.append(personId, label, centre) }
        }
        for look in looks {
            verdicts[look.verdict].verdict.detail! += looksLike(look.descriptor, notPerson: look.personId)
                .map { String(format: "; looks like %@ (%.2f)", $0.label, $0.distance) }
                ?? String(format: "; matches no one in the workspace (no identity within %.2f)", options.suspectDistance)
        }
        // Those not nearer another identity by `otherMargin` but within `wrongDistance` of one: that person's sure faces
        // and the person's own, read again for these people alone, vote (`BandRule.otherFaceDecides`).
        var near: [(kept: Int, people: [(personId: Int64, label: String)])] = []
        for (k, kept) in bandKept.enumerated() {
            var evidence = kept.evidence
            if let other = nearestIdentity(evidence.descriptor, notPerson: kept.personId, within: evidence.distance - options.band.otherMargin) {
                evidence.other = other
                reject(kept.verdict, evidence)
                continue
            }
            let within = centres.within(evidence.descriptor, notPerson: kept.personId, distance: options.wrongDistance)
            if options.band.otherFaceDecides, !within.isEmpty { near.append((k, within)) }
        }
        guard !near.isEmpty else { return }
        let known = try Self.knownFaces(catalog, of: Set(near.flatMap { [bandKept[$0.kept].personId] + $0.people.map(\.personId) }),
                                        labels: everyone, options: options)
        for (k, people) in near {
            var evidence = bandKept[k].evidence
            guard let vote = Self.otherFaceVote(evidence.descriptor, personId: bandKept[k].personId, people: people, known: known) else { continue }
            evidence.otherFace = vote
            reject(bandKept[k].verdict, evidence)
        }
    }

    /// The vote of `BandRule.otherFaceDecides` about a face in the band of `personId`'s identity: the nearest sure face
    /// of `people` (those whose identity is within `wrongDistance` of it), when nearer than every sure face of the
    /// person's own. A person under whom the same face is filed too (one of their faces within `Dedupe.sameFace`, as
    /// dedupe tells one face from two) has no vote: the same picture under two people is a `label_conflict` for a
    /// reviewer, not the nearer label's.
    static func otherFaceVote(_ descriptor: [Float], personId: Int64, people: [(personId: Int64, label: String)],
                              known: [Int64: (sure: Descriptors, all: Descriptors)]) -> (label: String, distance: Float, own: Float)? {
        let own = known[personId]?.sure.nearest(to: descriptor) ?? .infinity
        let theirs = people.compactMap { p -> (String, Float)? in
            guard let k = known[p.personId], (k.all.nearest(to: descriptor) ?? .infinity) >= Dedupe.sameFace,
                  let d = k.sure.nearest(to: descriptor) else { return nil }
            return (p.label, d)
        }.min { $0.1 != $1.1 ? $0.1 < $1.1 : $0.0 < $1.0 }
        guard let theirs, theirs.1 < own else { return nil }
        return (theirs.0, theirs.1, own)
    }

    /// Identity's verdict `k` made `wrong_person` by the evidence about its face in the band (kept before).
    private mutating func reject(_ k: Int, _ evidence: BandEvidence) {
        let change = verdicts[k].verdict
        verdicts[k].verdict = VerdictChange(imageId: change.imageId, verdict: .rejected, reason: .wrongPerson, detail: Self.bandDetail(evidence, options))
    }

    /// The sure faces (`sureFaces`) and all the identity's faces of these people, their rows read again (their
    /// identities found again, as the stage found them): a few people's faces, not every person's held while all are read.
    static func knownFaces(_ catalog: Catalog, of people: Set<Int64>, labels: [Int64: String],
                           options: IdentityOptions) throws -> [Int64: (sure: Descriptors, all: Descriptors)] {
        var out: [Int64: (sure: Descriptors, all: Descriptors)] = [:]
        _ = try catalog.forEachPersonsIdentityCandidates(of: people.sorted()) { personId, candidates in
            out[personId] = entry(personId: personId, label: labels[personId] ?? "?", candidates: candidates, options: options, keepSure: true).known
        }
        return out
    }

    /// One person's identity from their candidates.
    /// `cohort`: other people's sure faces with a bar over the eyes, by person (`SecondLook.cohort`), for the faces in the
    /// band whose eyes are covered.
    static func entry(personId: Int64, label: String, candidates: [IdentityCandidate], options: IdentityOptions, keepSure: Bool = false,
                      cohort: [(personId: Int64, masked: [[Float]])] = []) -> Entry {
        // One-face photos and reviewer-kept faces say who the person is; a group photo's faces are mixed.
        var descriptors = Descriptors()
        var imageIds: [Int64] = [], faceIds: [Int64] = []
        var masked: [Int: [Float]] = [:]
        // What a second look knows of each candidate's face the evidence is about, by image (SecondLook).
        var looks: [Int64: BandEvidence.Look] = [:]
        var anchors = Set<Int>(), portraits = Set<Int>()
        // In content order (not id order, which follows download order): the same photos give the same
        // clusters however a fetch went.
        for c in candidates.sorted(by: { $0.image.sha256 < $1.image.sha256 }) {
            let face = c.image.reviewed ? c.faces.first : c.faces.first(where: \.counted)
            // A worse copy of a picture (dedupe marks them before identity runs) is not another face of the
            // person: ten copies of one intruder's photo must not make a majority.
            guard !c.isWorseCopy, c.image.reviewed || c.image.faces == 1, let d = face?.descriptorValues else { continue }
            // The person's reference portrait (Wikidata's P18) is as sure as a reviewer's word, and decides alone
            // where the photos give no identity (see Identity.find).
            if c.image.reference { portraits.insert(imageIds.count) } else if c.image.reviewed { anchors.insert(imageIds.count) }
            if let m = face?.maskedValues { masked[imageIds.count] = m }
            if let face { looks[c.image.id] = BandEvidence.Look(face) }
            descriptors.append(d)
            imageIds.append(c.image.id)
            faceIds.append(face?.id ?? 0)
        }
        let identity = Identity.find(descriptors, anchors: anchors, portraits: portraits, options: options)
        var distances: [Int64: Float] = [:]
        var copies: [(id: Int64, descriptor: [Float])] = []
        if identity.isClear {
            for (i, id) in imageIds.enumerated() { distances[id] = identity.distance(of: i, in: descriptors) }
            // Worse copies are judged too (the verdict each would earn alone), measured against the identity.
            for c in candidates where c.isWorseCopy && c.image.faces == 1 {
                if let face = c.faces.first(where: \.counted), let d = face.descriptorValues {
                    distances[c.image.id] = identity.distance(to: d)
                    copies.append((c.image.id, d))
                    looks[c.image.id] = BandEvidence.Look(face)
                }
            }
        }
        // Group photos whose chosen face is in the band (the others farther by `margin`): their evidence is that
        // face's, with the next face's distance.
        var groups: [(id: Int64, descriptor: [Float], distance: Float, group: BandEvidence.Group)] = []
        for c in candidates where !c.image.reviewed && c.image.faces != 1 {
            guard let choice = groupChoice(c.faces, identity, options), choice.distance > options.suspectDistance, let next = choice.next,
                  let face = c.faces.first(where: { $0.idx == choice.face }), let d = face.descriptorValues else { continue }
            groups.append((c.image.id, d, choice.distance, BandEvidence.Group(face: choice.face, faces: c.faces.count, next: next)))
            looks[c.image.id] = BandEvidence.Look(face)
        }
        let reference = Set(candidates.filter { $0.image.reference || $0.image.reviewed }.map(\.image.id))
        // The crowd for a covered face: other people's barred sure faces, from enough people to be a crowd.
        var crowd = Descriptors()
        let others = cohort.filter { $0.personId != personId }
        if others.count >= SecondLook.cohortPeople, looks.values.contains(where: { $0.eyesCovered == true && $0.masked != nil }) {
            for d in others.flatMap(\.masked) { crowd.append(d) }
        }
        return Entry(personId: personId, label: label, identity: identity, faces: descriptors.count,
                     anchors: anchors.count + portraits.count, distances: distances, imageIds: imageIds,
                     band: bandEvidence(identity, descriptors, imageIds: imageIds, others: copies, groups: groups, distances: distances,
                                        portraits: portraits, reference: reference, looks: looks, masked: masked, cohort: crowd,
                                        options: options),
                     faceIds: faceIds, masked: masked,
                     known: keepSure && identity.isClear
                        ? (sureFaces(identity, descriptors, imageIds: imageIds, distances: distances, options: options), descriptors) : nil)
    }

    /// The person (other than `personId`) whose identity this face is closest to, when within `suspectDistance`: where
    /// that person would keep the face without doubt. Nearer than `wrongDistance` is not enough: a stranger's face is
    /// often that near the centre of someone's identity (the nearest centre of 250 strangers' faces in ../shared/data
    /// was as near as 0.56; in a real scrape five spectators and team-mates were "named" at under 0.60, all wrongly).
    /// Every clear identity's centre is measured eight lanes at a time from one flat buffer (10,000 people for each
    /// of thousands of wrong_person faces); those within rounding of the distance are measured again as
    /// `Identity.distance(to:)` measures, which decides.
    public func looksLike(_ descriptor: [Float], notPerson personId: Int64) -> (label: String, distance: Float)? {
        nearestIdentity(descriptor, notPerson: personId, within: options.suspectDistance)
    }

    /// The person (other than `personId`) whose identity's centre is nearest this face, when within `limit`.
    func nearestIdentity(_ descriptor: [Float], notPerson personId: Int64, within distance: Float) -> (label: String, distance: Float)? {
        centres.nearest(descriptor, notPerson: personId, within: distance)
    }

    /// The face of a candidate whose distance is not the one identity measured from it (`distances`): its chosen face
    /// (with a descriptor) where the image is kept for a face other than its only counted one, or where identity did
    /// not measure it (`measured` false). `counted` is how many faces processing counted.
    static func chosenFace(_ faces: [Face], counted: Int?, measured: Bool) -> (idx: Int, descriptor: [Float])? {
        let own = counted == 1 ? faces.first(where: \.counted)?.idx : nil
        guard let f = faces.first(where: \.chosen), f.idx != own || !measured, let d = f.descriptorValues else { return nil }
        return (f.idx, d)
    }

    /// How far an image's chosen face (its only face, or the one kept) is from its person's identity.
    public func distance(of image: StoredImage) -> Float? {
        image.id.flatMap { distance(id: $0, personId: image.personId) }
    }

    func distance(id: Int64, personId: Int64) -> Float? {
        guard let entry = people[personId], entry.identity.isClear else { return nil }
        // The face identity was found from (leave-one-out), unless the image is kept for another of its faces.
        if let d = entry.distances[id], chosenFaces[id] == nil { return d }
        return chosenFaces[id].flatMap { entry.identity.distance(to: $0.descriptor) }
    }

    /// What `review --suspects` ranks by: `distance(of:)`, but where the person's identity is disputed, the distance
    /// to the photos' identity alone, so the faces kept only for the reviewer's group (or a portrait of someone
    /// else) come first. `faces` are the image's (its chosen face, or its only counted one, is measured).
    public func suspectDistance(of image: StoredImage, faces: [Face]) -> Float? {
        guard let id = image.id else { return nil }
        return suspectDistance(id: id, personId: image.personId, counted: image.faces, faces: faces)
    }

    func suspectDistance(id: Int64, personId: Int64, counted: Int?, faces: [Face]) -> Float? {
        guard let entry = people[personId], entry.identity.disputed != nil else { return distance(id: id, personId: personId) }
        let face = chosenFaces[id]?.descriptor ?? faces.first(where: \.chosen)?.descriptorValues
            ?? (counted == 1 ? faces.first(where: \.counted)?.descriptorValues : nil)
        return face.flatMap { entry.identity.photosDistance(to: $0) } ?? distance(id: id, personId: personId)
    }

    /// Whether a kept image no reviewer looked at is a suspect: its face (its only one, or the one a group photo is
    /// kept for) farther than `suspectDistance` from the person, as `suspectDistance(of:faces:)` measures it, and not
    /// settled as the person by more evidence (`isSettled`). The reference portrait is the person by definition: a
    /// suspect only where the photos disown it (`portraitDisowned`), whatever its distance. What `review --suspects`
    /// walks and `status` counts.
    public func isSuspect(_ image: StoredImage, faces: [Face]) -> Bool {
        guard image.verdict == .kept, !image.reviewed, let id = image.id else { return false }
        return isSuspect(id: id, personId: image.personId, reference: image.reference, counted: image.faces, faces: faces)
    }

    func isSuspect(id: Int64, personId: Int64, reference: Bool, counted: Int?, faces: [Face]) -> Bool {
        if reference { return portraitDisowned(id: id, personId: personId) }
        return (suspectDistance(id: id, personId: personId, counted: counted, faces: faces) ?? 0) > options.suspectDistance
            && !isSettled(id: id, personId: personId)
    }

    /// Whether the photos disown the person's reference portrait: they agree on someone else, and it is not among them
    /// (`Identity.disputed`); then it is the suspect, first in `review --suspects`.
    func portraitDisowned(id: Int64, personId: Int64) -> Bool {
        guard let e = people[personId], e.identity.disputed != nil, let i = e.imageIds.firstIndex(of: id) else { return false }
        return !e.identity.memberSet.contains(i)
    }

    /// How many of a person's kept images are suspects (`isSuspect`), counted as the index was read.
    public func suspectCount(_ personId: Int64) -> Int { suspects[personId] ?? 0 }

    /// Who an image's chosen face looks like, other than its own person; `faces` are the image's when the caller
    /// has them already (else they are read).
    public func looksLike(_ image: StoredImage, faces: [Face]? = nil, in catalog: Catalog) throws -> (label: String, distance: Float)? {
        guard let id = image.id,
              let d = try chosenFaces[id]?.descriptor ?? (faces ?? catalog.faces(of: id)).first(where: \.chosen)?.descriptorValues else { return nil }
        return looksLike(d, notPerson: image.personId)
    }

    /// The images of a person whose faces are nearest the identity's centre: what the person looks like.
    public func typical(_ personId: Int64, count: Int = 3) -> [Int64] {
        guard let entry = people[personId], entry.identity.isClear else { return [] }
        let members = Set(entry.imageIds)
        return entry.distances.filter { members.contains($0.key) }.sorted { $0.value != $1.value ? $0.value < $1.value : $0.key < $1.key }.prefix(count).map(\.key)
    }

    /// Identity's verdict for every image of one person it looks at that no reviewer decided, with the face it is
    /// kept for; a wrong_person verdict comes with its face, whose look-alike the caller adds to the detail.
    static func judge(_ candidates: [IdentityCandidate], _ entry: Entry, _ o: IdentityOptions) -> [(IdentityChange, [Float]?)] {
        var out: [(IdentityChange, [Float]?)] = []
        for c in candidates where !c.image.reviewed {
            let id = c.image.id
            let counted = c.image.faces ?? 0
            let own = c.faces.first(where: \.counted)?.idx
            func kept(_ detail: String?, face: Int?) -> IdentityChange {
                IdentityChange(verdict: VerdictChange(imageId: id, verdict: .kept, reason: nil, detail: detail), chosenFace: face)
            }
            // The face that is the person: within the distance, and by a margin nearer than every other face; or,
            // where every face is within the identity beyond doubt (under `suspectDistance`), a collage of the
            // person, kept with the nearest. Only when every face was described, or a face not looked at could be
            // someone else. A face chosen between `suspectDistance` and `wrongDistance` is a suspect, as a one-face
            // photo there is: the person's own face may have been missed, and the one chosen be a companion's.
            func match() -> IdentityChange? {
                guard let choice = groupChoice(c.faces, entry.identity, o) else { return nil }
                var detail = String(format: "face %d of %d matches (%.2f", choice.face + 1, c.faces.count, choice.distance)
                detail += choice.next.map { String(format: "; next %.2f)", $0) } ?? ")"
                if choice.collage { detail += String(format: ": every face is within %.2f of the person, the nearest kept", o.suspectDistance) }
                if choice.distance > o.suspectDistance {
                    // In the band, settled by more evidence as a one-face photo is (`BandRule`), where it is the
                    // evidence about this face (a one-face photo kept for a smaller face has none).
                    if let evidence = entry.band[id], evidence.group?.face == choice.face { return kept(bandDetail(evidence, o), face: choice.face) }
                    detail += String(format: ", between %.2f and %.2f: a suspect (curate review --suspects)", o.suspectDistance, o.wrongDistance)
                }
                return kept(detail, face: choice.face)
            }
            if counted == 1 {
                // A one-face photo: kept unless identity is clear and its face is far from it, when a smaller face
                // that is the person (beside a stranger in front) keeps it, or it is wrong_person. In the band, more
                // evidence settles it (`BandRule`): the person, an intruder, or still a suspect.
                if let evidence = entry.band[id] {
                    let call = evidence.call(o.band).call
                    if call == .intruder, let m = match(), m.chosenFace != own { out.append((m, nil)); continue }
                    out.append(call == .intruder
                        ? (IdentityChange(verdict: VerdictChange(imageId: id, verdict: .rejected, reason: .wrongPerson, detail: bandDetail(evidence, o)),
                                          chosenFace: own), evidence.descriptor)
                        : (kept(bandDetail(evidence, o), face: own), nil))
                    continue
                }
                guard let d = entry.distances[id], d > o.wrongDistance, !c.image.reference else {
                    out.append((kept(nil, face: own), nil))
                    continue
                }
                if let m = match(), m.chosenFace != own { out.append((m, nil)); continue }
                var detail = String(format: "distance %.2f > %.2f", d, o.wrongDistance)
                if let face = c.faces.first(where: \.counted) { detail += " for " + judgedFace(face, detected: c.faces.count) }
                out.append((IdentityChange(verdict: VerdictChange(imageId: id, verdict: .rejected, reason: .wrongPerson, detail: detail),
                                           chosenFace: own), c.faces.first(where: \.counted)?.descriptorValues))
            } else {
                // A group photo: kept with the one face that is the person, else multi_face as before. Its face chosen
                // in the band, which more evidence says is not the person, is `wrong_person`: the other faces are
                // farther still, so none is the person.
                if let evidence = entry.band[id], evidence.group != nil, evidence.call(o.band).call == .intruder {
                    out.append((IdentityChange(verdict: VerdictChange(imageId: id, verdict: .rejected, reason: .wrongPerson, detail: bandDetail(evidence, o)),
                                               chosenFace: nil), evidence.descriptor))
                    continue
                }
                out.append((match() ?? IdentityChange(verdict: VerdictChange(imageId: id, verdict: .rejected, reason: .multiFace,
                                                                             detail: multiFaceDetail(counted: counted, detected: c.faces.count)),
                                                      chosenFace: nil), nil))
            }
        }
        return out
    }

    /// The face of a photo with several faces that is the person: within `wrongDistance`, and nearer than every other
    /// face by `margin`; or, where every face is within `suspectDistance` (a collage of the person), the nearest. Nil
    /// when none is, when the identity is unclear, or when a face was not described (it could be someone else).
    static func groupChoice(_ faces: [Face], _ identity: Identity, _ o: IdentityOptions) -> (face: Int, distance: Float, next: Float?, collage: Bool)? {
        guard identity.isClear, faces.allSatisfy({ $0.descriptor != nil }) else { return nil }
        let ranked = faces.compactMap { f in f.descriptorValues.flatMap(identity.distance(to:)).map { (f.idx, $0) } }
            .sorted { $0.1 != $1.1 ? $0.1 < $1.1 : $0.0 < $1.0 }
        guard let best = ranked.first, best.1 <= o.wrongDistance else { return nil }
        let collage = ranked.count > 1 && ranked.allSatisfy { $0.1 <= o.suspectDistance }
        guard ranked.count < 2 || ranked[1].1 - best.1 >= o.margin || collage else { return nil }
        return (best.0, best.1, ranked.count > 1 ? ranked[1].1 : nil, collage)
    }

    /// Which face a verdict judged, so a reviewer can tell when the person's own face was missed: its size, and
    /// whether it was the only face found (else the one counted: the others were too small beside it, `smallFaceRatio`).
    static func judgedFace(_ face: Face, detected: Int) -> String {
        let size = "\(Int((face.right - face.left).rounded()))×\(Int((face.bottom - face.top).rounded())) px"
        return detected == 1 ? "its only face found (\(size))"
            : "the largest of \(detected) faces found (\(size); the others too small to count)"
    }
}

/// The centres of the clear identities in one flat buffer, with their people: who a face looks like.
struct IdentityCentres {
    private(set) var personIds: [Int64] = []
    private(set) var labels: [String] = []
    private(set) var values = Descriptors()

    mutating func append(_ personId: Int64, _ label: String, _ centre: [Float]) {
        personIds.append(personId)
        labels.append(label)
        values.append(centre)
    }

    /// Every person (other than `personId`) whose centre is within `distance` of this face, measured as `nearest`
    /// measures.
    func within(_ descriptor: [Float], notPerson personId: Int64, distance: Float) -> [(personId: Int64, label: String)] {
        guard descriptor.count == Descriptors.dimension else { return [] }
        let limit = distance * distance * (1 + 1e-3)
        var out: [(personId: Int64, label: String)] = []
        descriptor.withUnsafeBytes { x in
            values.values.withUnsafeBytes { all in
                for k in personIds.indices where personIds[k] != personId {
                    guard squaredDistance(x.baseAddress!, all.baseAddress!.advanced(by: k * Descriptors.dimension * 4)) <= limit,
                          descriptorDistance(descriptor, values[k]) <= distance else { continue }
                    out.append((personIds[k], labels[k]))
                }
            }
        }
        return out
    }

    /// The person (other than `personId`) whose centre is nearest this face, when within `distance`; ties to the
    /// smaller label. Every centre is measured eight lanes at a time; those within rounding of the distance are
    /// measured again as `Identity.distance(to:)` measures, which decides.
    func nearest(_ descriptor: [Float], notPerson personId: Int64, within distance: Float) -> (label: String, distance: Float)? {
        guard descriptor.count == Descriptors.dimension else { return nil }
        var best: (String, Float)?
        let limit = distance * distance * (1 + 1e-3)
        descriptor.withUnsafeBytes { x in
            values.values.withUnsafeBytes { all in
                for k in personIds.indices where personIds[k] != personId {
                    guard squaredDistance(x.baseAddress!, all.baseAddress!.advanced(by: k * Descriptors.dimension * 4)) <= limit else { continue }
                    let d = descriptorDistance(descriptor, values[k])
                    guard d <= distance else { continue }
                    let label = labels[k]
                    if best == nil || d < best!.1 || (d == best!.1 && label < best!.0) { best = (label, d) }
                }
            }
        }
        return best
    }
}

extension IdentityIndex {
    /// The detail of a one-face photo in the band: its distance, what more evidence made of it, and the evidence.
    /// A photo of several faces says which face was judged, and the next face's distance.
    static func bandDetail(_ evidence: BandEvidence, _ o: IdentityOptions) -> String {
        let (call, words) = evidence.call(o.band)
        var band = String(format: "distance %.2f, between %.2f and %.2f", evidence.distance, o.suspectDistance, o.wrongDistance)
        if let g = evidence.group {
            band = String(format: "face %d of %d %@ (%.2f; next %.2f), between %.2f and %.2f", g.face + 1, g.faces,
                          call == .intruder ? "is the nearest" : "matches", evidence.distance, g.next, o.suspectDistance, o.wrongDistance)
        }
        switch call {
        case .person: return band + ", the person by more evidence (\(words))"
        case .intruder: return band + ", not the person by more evidence (\(words))"
        case .unsure: return band + ": a suspect (curate review --suspects); \(words)"
        }
    }

    /// Whether a kept image's face, in the band, was settled as the person by more evidence (`BandRule`): then it
    /// is no suspect (`isSuspect`).
    func isSettled(id: Int64, personId: Int64) -> Bool {
        guard let evidence = people[personId]?.band[id] else { return false }
        // The evidence must be about the face the image is kept for: a one-face photo's own face, or the face a
        // group photo is kept for (a one-face photo kept for a smaller face, or a reviewer's choice, is not settled).
        if let chosen = chosenFaces[id], evidence.group?.face != chosen.idx { return false }
        if chosenFaces[id] == nil, evidence.group != nil { return false }
        return evidence.call(options.band).call == .person
    }
}

/// What `curate status` says about a person's identity.
public struct IdentitySummary: Codable, Sendable, Equatable {
    public var label: String
    public var clear: Bool
    /// One-face photos and reviewer-kept faces the identity was found from.
    public var faces: Int
    public var anchors: Int
    /// Whether the anchors decided who the person is.
    public var anchored: Bool
    /// Cluster sizes, largest first.
    public var clusters: [Int]
    /// Why there is no identity (null when clear).
    public var unclear: String?
    /// Where reviewer-kept faces or the reference portrait disagree with the photos, and what is kept (null when not).
    public var disputed: String?
    /// Kept images no reviewer looked at whose face is farther than `--suspect-distance` (`review --suspects`).
    public var suspects: Int
}

extension IdentityIndex {
    /// Per person, by label.
    public func summaries() -> [IdentitySummary] {
        people.values.sorted { $0.label < $1.label }.map(summary)
    }

    func summary(_ e: Entry) -> IdentitySummary {
        IdentitySummary(label: e.label, clear: e.identity.isClear, faces: e.faces, anchors: e.anchors, anchored: e.identity.anchored,
                        clusters: e.identity.clusterSizes, unclear: e.identity.unclear, disputed: e.identity.disputed,
                        suspects: suspectCount(e.personId))
    }
}

extension IdentityCandidate {
    /// A copy of a picture that dedupe found a better copy of, under the same person (see `Dedupe.markCopies`).
    var isWorseCopy: Bool { !image.reviewed && image.reason == .duplicate }
}

/// The stage: recomputes identity verdicts over every undecided image, so running it again (after more images
/// arrive) gives the same answer as running it once. Its verdict is the image's own (see `StoredImage.ownVerdict`):
/// dedupe then gives it to the best copy of each picture.
struct IdentityCheck {
    let catalog: Catalog
    let options: IdentityOptions
    /// The second look at band faces whose eyes are covered (nil without the descriptor model).
    var look: SecondLook?

    func run() throws {
        try catalog.applyIdentity(IdentityIndex.judging(catalog, options: options, look: look).verdicts)
    }
}
