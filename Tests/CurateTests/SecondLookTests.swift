// The second look at faces whose eyes are covered, on real photos of ../shared/data: which chips it takes for covered
// (real sunglasses, the planting's bar, not open eyes), and how the same bar over the eyes of both compares a person's
// own photo with a stranger's; and what the band rule makes of it.
import Catalog
import Foundation
import Testing
import TestSupport
@testable import Curate

@Suite(.enabled(if: Paths.hasShared && ProcessFixture.hasModels, "needs ../shared/data and the dlib model files"),
       .timeLimit(.minutes(10)))
struct SecondLookTests {
    let models: FaceModels
    init() throws { models = try FaceModels(ProcessFixture.models) }

    /// The chip of a photo's largest face; nil where the detector finds none.
    func chip(_ path: String) throws -> DecodedImage? {
        let image = try DecodedImage.decode(try Paths.bytes(path))
        return try models.find(in: image).max { $0.area < $1.area }.map { try models.chip(image, face: $0).chip }
    }

    @Test func realSunglassesAndTheBarAreCoveredEyesOpenEyesAreNot() throws {
        // Madonna's train_18 and Mindy Kaling's train_14 wear dark sunglasses.
        for path in ["madonna/train_18.jpg", "mindy_kaling/train_14.jpg"] {
            let c = try #require(try chip("\(ProcessFixture.celebs)/\(path)"))
            #expect(SecondLook.eyesCovered(c), "\(path): \(SecondLook.eyePatches(c) ?? [])")
        }
        // Ben Affleck's photos show his eyes; with the bar over them they do not.
        let chips = try ProcessFixture.photos("ben_afflek").compactMap { p in try chip(p).map { (p, $0) } }
        #expect(chips.count >= 10)
        for (path, c) in chips {
            #expect(!SecondLook.eyesCovered(c), "\(path): \(SecondLook.eyePatches(c) ?? [])")
            #expect(SecondLook.eyesCovered(try SecondLook.barred(c)), "\(path) barred")
        }
    }

    /// With the bar over the eyes of both, a photo of Madonna in sunglasses is nearer her other photos (with the bar)
    /// than Mindy Kaling's photo in sunglasses is: the one real pair of ../shared/data. And the chips are described
    /// as `chips` describes those it cuts.
    @Test func theBarOnBothPartsThePersonsOwnSunglassesFromAStrangers() throws {
        let own = try #require(try chip("\(ProcessFixture.celebs)/madonna/train_18.jpg"))
        let stranger = try #require(try chip("\(ProcessFixture.celebs)/mindy_kaling/train_14.jpg"))
        let sure = try ProcessFixture.photos("madonna").filter { !$0.hasSuffix("/train_18.jpg") }.compactMap(chip)
        let barredSure = Descriptors(try models.describe(chips: try sure.map(SecondLook.barred)))
        let d = try models.describe(chips: [try SecondLook.barred(own), try SecondLook.barred(stranger)])
        let (ownNearest, strangerNearest) = (try #require(barredSure.nearest(to: d[0])), try #require(barredSure.nearest(to: d[1])))
        #expect(ownNearest < strangerNearest, "own \(ownNearest), stranger \(strangerNearest)")
        #expect(strangerNearest > BandRule().maskedAgainst, "stranger \(strangerNearest)")

        // describe(chips:) of an unchanged chip is the descriptor chips() gave it.
        let image = try DecodedImage.decode(try Paths.bytes("\(ProcessFixture.celebs)/madonna/train_1.jpg"))
        let face = try #require(try models.find(in: image).max { $0.area < $1.area })
        let cut = try models.chip(image, face: face)
        let again = try models.describe(chips: [cut.chip])[0]
        #expect(descriptorDistance(again, try #require(cut.descriptor)) < 1e-4)
        #expect(throws: FaceError.self) { try models.describe(chips: [try image.resized(width: 100, height: 100)]) }
    }

    /// The rule: where the eyes are covered and the second look measured, it stands in for the sure-neighbour and
    /// spread evidence (a sure photo at 0.50, which alone speaks for, is not read); near speaks for, far against,
    /// between neither.
    @Test func theSecondLookStandsInForTheNeighbourEvidence() {
        let rule = BandRule()
        var e = BandEvidence(descriptor: [], distance: 0.55, nearest: 0.50, far: nil, spread: 1.2, portrait: nil, other: nil, group: nil)
        #expect(e.call(rule).call == .person)
        e.masked = 0.40
        #expect(e.call(rule).call == .person && e.call(rule).words.contains("eyes covered"), "\(e.call(rule).words)")
        e.masked = 0.60
        #expect(e.call(rule).call == .intruder, "\(e.call(rule).words)")
        e.masked = 0.50
        #expect(e.call(rule).call == .unsure && e.call(rule).words.contains("neither"), "\(e.call(rule).words)")

        // Set against other people's barred faces: a nearest photo of the person no nearer than the crowd's near end
        // speaks against, however near; far below it says what the distance says.
        e.masked = 0.40
        e.cohort = rule.cohortAgainst + 0.5
        #expect(e.call(rule).call == .intruder && e.call(rule).words.contains("standard deviations"), "\(e.call(rule).words)")
        e.cohort = rule.cohortAgainst - 1
        #expect(e.call(rule).call == .person, "\(e.call(rule).words)")
        e.masked = 0.50
        #expect(e.call(rule).call == .unsure, "\(e.call(rule).words)")
        e.masked = 0.60
        #expect(e.call(rule).call == .intruder, "\(e.call(rule).words)")
    }

    /// The crowd on real photos: Madonna's photo in sunglasses and Mindy Kaling's, each with the bar, against
    /// Madonna's other photos with the bar, and against the barred photos of Ben Affleck, Elton John and Jerry
    /// Seinfeld. Madonna's own lies far below the crowd's mean (-5.6 standard deviations), the stranger's nearest photo
    /// of Madonna much less far (-2.8): the crowd does not speak against Madonna's own. (Nor against this stranger:
    /// her nearest barred photo of Madonna, past `maskedAgainst`, does.)
    @Test func theCrowdPartsTheStrangerInSunglassesFromThePersonsOwn() throws {
        let own = try #require(try chip("\(ProcessFixture.celebs)/madonna/train_18.jpg"))
        let stranger = try #require(try chip("\(ProcessFixture.celebs)/mindy_kaling/train_14.jpg"))
        let sure = try ProcessFixture.photos("madonna").filter { !$0.hasSuffix("/train_18.jpg") }.compactMap(chip)
        let barredSure = Descriptors(try models.describe(chips: try sure.map(SecondLook.barred)))
        var crowd = Descriptors()
        for person in ["ben_afflek", "elton_john", "jerry_seinfeld"] {
            for d in try models.describe(chips: try ProcessFixture.photos(person).compactMap(chip).map(SecondLook.barred)) { crowd.append(d) }
        }
        let d = try models.describe(chips: [try SecondLook.barred(own), try SecondLook.barred(stranger)])
        let (ownNearest, strangerNearest) = (try #require(barredSure.nearest(to: d[0])), try #require(barredSure.nearest(to: d[1])))
        let ownScore = try #require(crowd.standardScore(ownNearest, from: d[0]))
        let strangerScore = try #require(crowd.standardScore(strangerNearest, from: d[1]))
        #expect(ownScore < BandRule().cohortAgainst - 2 && strangerScore > ownScore + 2, "own \(ownScore), stranger \(strangerScore)")
        #expect(Descriptors().standardScore(0.5, from: d[0]) == nil)
    }
}
