// Dedupe keeps the best copy of each picture, on real photos: a JPEG quality-40 copy beside its LFW original, a
// too-small thumbnail, a shrunk copy of a group photo, a reviewer's choice, and copies that must not outvote a
// person's identity.
import Catalog
import Foundation
import GRDB
import Testing
import TestSupport
@testable import Curate

@Suite(.enabled(if: Paths.hasShared && ProcessFixture.hasModels,
                "needs ../shared/data and the dlib model files (scripts/setup.sh --tests): best-copy tests skipped"),
       .timeLimit(.minutes(10)))
struct BestCopyTests {
    /// An LFW photo (150×150 JPEG) with one face.
    static let lfw = "faces/dlib_johns/John_Simm/000300_00470148.jpg"

    @Test func aQuality40CopyIsTheDuplicateOfItsOriginalEvenWhenStoredFirst() async throws {
        try await offPool {
            let f = try ProcessFixture()
            let original = try Paths.bytes(Self.lfw)
            let q40 = [UInt8](try DecodedImage.decode(original).jpeg(quality: 40))
            #expect(q40.count < original.count / 2)
            // The copy first: "the earliest stored" must not decide between same-sized copies.
            let copyId = try #require(try f.add("simm", q40, name: "q40.jpg"))
            let originalId = try #require(try f.add("simm", original, name: "original.jpg"))
            _ = try f.process()

            let kept = try f.image(originalId), copy = try f.image(copyId)
            #expect(kept.width == copy.width && kept.height == copy.height)
            #expect(copy.jpegQuality == 40)
            let quality = try #require(kept.jpegQuality)
            #expect(quality > 80, "the original's quality read back from its tables: \(quality)")
            #expect(kept.verdict == .kept && kept.reason == nil, "\(kept.reason?.rawValue ?? "") \(kept.detail ?? "")")
            #expect(copy.verdict == .rejected && copy.reason == .duplicate && copy.related == [originalId])
            #expect(copy.detail == "a copy of #\(originalId) (150×150, JPEG quality \(quality)), the better copy, which is kept",
                    "\(copy.detail ?? "")")
            // On its own the copy would be kept: only the comparison makes it a duplicate.
            #expect(copy.ownVerdict == .kept && copy.ownReason == nil)

            // Processing everything again gives the same answer.
            _ = try f.process(all: true)
            #expect(try f.image(originalId).verdict == .kept)
            #expect(try f.image(copyId).reason == .duplicate)
        }
    }

    @Test func aReviewersKeepOfTheWorseCopyWins() async throws {
        try await offPool {
            let f = try ProcessFixture()
            let original = try Paths.bytes(Self.lfw)
            let originalId = try #require(try f.add("simm", original, name: "original.jpg"))
            let copyId = try #require(try f.add("simm", [UInt8](try DecodedImage.decode(original).jpeg(quality: 40)), name: "q40.jpg"))
            _ = try f.process()
            #expect(try f.image(copyId).reason == .duplicate)

            // A reviewer keeps the worse copy: it stands, and the original is now its duplicate.
            let reviewer = Reviewer(catalog: f.catalog, models: ProcessFixture.models)
            _ = try reviewer.apply([.accept(copyId)])
            _ = try f.process(all: true)
            let copy = try f.image(copyId), displaced = try f.image(originalId)
            #expect(copy.verdict == .kept && copy.reviewed)
            #expect(displaced.verdict == .rejected && displaced.reason == .duplicate && displaced.related == [copyId])
            #expect(displaced.detail?.hasSuffix("JPEG quality 40), the better copy, which a reviewer kept") == true, "\(displaced.detail ?? "")")

            // Undone, the decision leaves nothing behind: the original is the better copy again.
            _ = try reviewer.undo()
            _ = try f.process()
            #expect(try f.image(originalId).verdict == .kept)
            #expect(try f.image(copyId).reason == .duplicate)
        }
    }

    @Test func aTooSmallThumbnailIsADuplicateOfItsLargerOriginal() async throws {
        try await offPool {
            let f = try ProcessFixture()
            let original = try Paths.bytes(Self.lfw)
            // 48×48: under --min-side 64, stored before its original.
            let thumb = [UInt8](try DecodedImage.decode(original).resized(width: 48, height: 48).jpeg(quality: 92))
            let thumbId = try #require(try f.add("simm", thumb, name: "thumb.jpg"))
            let originalId = try #require(try f.add("simm", original, name: "original.jpg"))
            _ = try f.process()

            let small = try f.image(thumbId), large = try f.image(originalId)
            #expect(small.ownVerdict == .rejected && small.ownReason == .tooSmall)
            #expect(small.reason == .duplicate && small.related == [originalId], "\(small.reason?.rawValue ?? "") \(small.detail ?? "")")
            #expect(small.detail?.contains("#\(originalId) (150×150") == true && small.detail?.hasSuffix("which is kept") == true,
                    "\(small.detail ?? "")")
            #expect(large.verdict == .kept, "\(large.reason?.rawValue ?? "") \(large.detail ?? "")")
        }
    }

    @Test func aShrunkCopyOfAGroupPhotoIsADuplicateOfTheMultiFaceOriginal() async throws {
        try await offPool {
            // A group photo of seven people, and a half-size (or a little larger) copy of it in which the detector finds
            // only one face: on its own that copy would be kept.
            let file = "group/dlib_voc/2007_007763.jpg"
            let original = try DecodedImage.decode(try Paths.bytes(file))
            let models = try FaceModels(ProcessFixture.models)
            var found: (bytes: [UInt8], scale: Double)?
            for scale in [0.5, 0.55, 0.6, 0.65, 0.7, 0.75] where found == nil {
                let jpeg = [UInt8](try original.resized(width: Int(Double(original.width) * scale),
                                                        height: Int(Double(original.height) * scale)).jpeg(quality: 92))
                let faces = try models.find(in: try DecodedImage.decode(jpeg))
                let largest = faces.map(\.area).max() ?? 0
                if faces.filter({ $0.area >= 0.25 * largest }).count == 1 { found = (jpeg, scale) }
            }
            let shrunk = try #require(found, "no shrunk copy of \(file) shows exactly one face")
            let f = try ProcessFixture()
            let copyId = try #require(try f.add("voc", shrunk.bytes, name: "shrunk.jpg"))
            let originalId = try #require(try f.add("voc", file: file))
            _ = try f.process()

            let group = try f.image(originalId), copy = try f.image(copyId)
            #expect(group.verdict == .rejected && group.reason == .multiFace && group.faces == 7,
                    "\(group.reason?.rawValue ?? "kept") \(group.faces ?? -1)")
            #expect(copy.faces == 1 && copy.ownVerdict == .kept, "at scale \(shrunk.scale) the copy alone would be kept")
            #expect(copy.verdict == .rejected && copy.reason == .duplicate && copy.related == [originalId])
            #expect(copy.detail?.hasSuffix("the better copy, which is rejected (multi_face)") == true, "\(copy.detail ?? "")")

            // A reviewer who keeps the copy wins; processing again keeps that decision, and the group photo is now the
            // copy of the one a reviewer kept.
            _ = try Reviewer(catalog: f.catalog, models: ProcessFixture.models).apply([.accept(copyId)])
            _ = try f.process(all: true)
            #expect(try f.image(copyId).verdict == .kept)
            let after = try f.image(originalId)
            #expect(after.reason == .duplicate && after.related == [copyId] && after.ownReason == .multiFace)
        }
    }

    @Test func copiesOfAnIntrudersPhotoDoNotOutvoteThePerson() async throws {
        try await offPool {
            // Five of jerry's photos and eleven copies of one of elton's under jerry's name. Counted as eleven faces,
            // elton would be the clear majority and jerry's own photos wrong_person; they are one picture.
            let f = try ProcessFixture()
            let jerry = try ProcessFixture.photos("jerry_seinfeld"), elton = try ProcessFixture.photos("elton_john")
            let own = try jerry.prefix(5).map { try #require(try f.add("jerry", photo: $0)) }
            let photo = try f.photo(elton[0])
            var copies: [Int64] = [try #require(try f.add("jerry", photo: elton[0]))]
            for q in [30, 45, 60, 75, 90] {
                copies.append(try #require(try f.add("jerry", [UInt8](try photo.jpeg(quality: q)), name: "elton_q\(q).jpg")))
            }
            for scale in [0.9, 0.8, 0.7, 0.6, 0.5] {
                let smaller = try photo.resized(width: Int(Double(photo.width) * scale), height: Int(Double(photo.height) * scale))
                copies.append(try #require(try f.add("jerry", [UInt8](try smaller.jpeg(quality: 90)), name: "elton_\(scale).jpg")))
            }
            _ = try f.process()

            let summary = try #require(try IdentityIndex(catalog: f.catalog).summaries().first { $0.label == "jerry" })
            #expect(summary.clear && summary.faces == 6, "\(summary)")
            for id in own {
                let image = try f.image(id)
                #expect(image.verdict == .kept, "#\(id) of jerry's own photos: \(image.reason?.rawValue ?? "") \(image.detail ?? "")")
            }
            // One of them stands for the picture (full size, the higher JPEG quality), rejected as not jerry.
            let standing = try copies.filter { try f.image($0).reason != .duplicate }
            let bestId = try #require(standing.first)
            #expect(standing.count == 1)
            let best = try f.image(bestId)
            #expect(best.width == photo.width && best.reason == .wrongPerson, "\(best.reason?.rawValue ?? "kept") \(best.detail ?? "")")
            for id in copies where id != bestId {
                let image = try f.image(id)
                #expect(image.reason == .duplicate && image.related == [bestId], "#\(id): \(image.reason?.rawValue ?? "kept") \(image.detail ?? "")")
                #expect(image.detail?.hasSuffix("which is rejected (wrong_person)") == true, "\(image.detail ?? "")")
                // Judged alone, no copy would be kept: the stranger again, or (at low quality or size) no face found.
                #expect(image.ownReason == .wrongPerson || image.ownReason == .noFace, "#\(id): own \(image.ownReason?.rawValue ?? "kept")")
            }
        }
    }
}
