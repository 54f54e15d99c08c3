// Review's decisions in the catalog, without a terminal: the queue, accept/reject/face/relabel, undo, all-or-nothing
// batches, and decisions that outlive processing again.
import Catalog
import Foundation
import Testing
import TestSupport
@testable import Curate

/// The review photos (TestSupport's `ReviewPhotos`), processed in this process.
final class ReviewFixture {
    let fixture: ProcessFixture
    let ids: [String: Int64]

    init() throws {
        fixture = try ProcessFixture()
        ids = try ReviewPhotos.store(in: fixture.catalog)
        _ = try fixture.process()
    }

    var catalog: Catalog { fixture.catalog }
    func image(_ key: String) throws -> StoredImage { try fixture.image(ids[key]!) }
    func label(_ image: StoredImage) throws -> String { try catalog.labels()[image.personId]! }
}

@Suite(.enabled(if: Paths.hasShared, Paths.sharedMissing), .timeLimit(.minutes(10)))
struct ReviewDecisionTests {
    @Test func theQueueHoldsEveryUnreviewedRejectGroupedByPersonAndReason() async throws {
        try await offPool {
            let f = try ReviewFixture()
            let reviewer = Reviewer(catalog: f.catalog, models: ProcessFixture.models)
            let queue = try reviewer.queue().rest()
            #expect(queue.map { "\($0.label)/\($0.image.reason!)" } == [
                "ben_afflek/label_conflict", "ben_afflek/multi_face", "ben_afflek/no_face", "ben_afflek/no_face",
                "madonna/corrupt", "madonna/label_conflict", "madonna/multi_face",
            ])
            #expect(queue[0].related.map { $0.image.id! } == [f.ids["copy"]!])
            #expect(queue[5].related.map { $0.label } == ["ben_afflek"])
            #expect(queue.first { $0.id == f.ids["broken"] }!.showable == false)
            #expect(try reviewer.queue(people: ["MADONNA"], reasons: ["multi_face"]).rest().map(\.id) == [f.ids["group2"]!])
            #expect(throws: ReviewInputError.unknownReason("blurry")) { try reviewer.queue(reasons: ["blurry"]) }
            #expect(throws: ListingError.self) { try reviewer.queue(people: ["nobody"]) }
        }
    }

    @Test func decisionsAreWrittenAtOnceAndUndoRestoresEachEarlierState() async throws {
        try await offPool {
            let f = try ReviewFixture()
            let reviewer = Reviewer(catalog: f.catalog, models: ProcessFixture.models)
            let group = try f.image("group"), dog = try f.image("dog"), group2 = try f.image("group2")

            try reviewer.apply([.face(group.id!, 2)])
            let chosen = try f.catalog.faces(of: group.id!)
            #expect(chosen.map(\.chosen) == [false, true])
            let chip = try #require(chosen[1].chipPath)
            let chipImage = try DecodedImage.decode([UInt8](try Data(contentsOf: f.catalog.workspace.url(forRelativePath: chip))))
            #expect(chipImage.width == 150 && chipImage.height == 150)
            if ProcessFixture.hasModels { #expect(chosen[1].descriptorValues?.count == 128) }
            #expect(try f.image("group").verdict == .kept)
            #expect(try f.image("group").reviewed)

            try reviewer.apply([.reject(dog.id!)])
            #expect(try f.image("dog").verdict == .rejected && f.image("dog").reason == .noFace && f.image("dog").reviewed)

            try reviewer.apply([.relabel(group2.id!, "ben_afflek")])
            #expect(try f.label(f.image("group2")) == "ben_afflek")
            #expect(try f.image("group2").verdict == .kept)

            // Undo, three times: each image exactly as processing left it.
            #expect(try reviewer.undo().map(\.imageId) == [group2.id!])
            #expect(try f.image("group2") == group2)
            #expect(try reviewer.undo().map(\.imageId) == [dog.id!])
            #expect(try f.image("dog") == dog)
            #expect(try reviewer.undo().map(\.imageId) == [group.id!])
            #expect(try f.image("group") == group)
            #expect(try f.catalog.faces(of: group.id!).map(\.chosen) == [false, false])
            #expect(try reviewer.undo().isEmpty)
            #expect(try f.catalog.decisions().count == 3)
            #expect(try f.catalog.decisions().allSatisfy { $0.undoneAt != nil })
        }
    }

    @Test func aBadDecisionInABatchWritesNothing() async throws {
        try await offPool {
            let f = try ReviewFixture()
            let reviewer = Reviewer(catalog: f.catalog, models: ProcessFixture.models)
            let before = try f.catalog.images()
            let dog = f.ids["dog"]!, group = f.ids["group"]!
            #expect(throws: ReviewError.self) { try reviewer.apply([.accept(dog), .face(group, 3)]) }              // 2 faces only
            #expect(throws: ListingError.self) { try reviewer.apply([.accept(dog), .relabel(group, "nobody")]) }
            #expect(throws: ReviewError.self) { try reviewer.apply([.reject(dog), .accept(999_999)]) }
            #expect(throws: ReviewInputError.cannotKeep(id: f.ids["broken"]!, reason: "corrupt")) { try reviewer.apply([.accept(f.ids["broken"]!)]) }
            // ben_afflek already has these bytes: moving madonna's copy there would file one file twice.
            #expect(throws: ReviewError.self) { try reviewer.apply([.relabel(f.ids["copy"]!, "ben_afflek")]) }
            #expect(try f.catalog.images() == before)
            #expect(try f.catalog.decisions().isEmpty)
            #expect(throws: ReviewInputError.self) { try ReviewCommand.face("12") }
            #expect(throws: ReviewInputError.self) { try ReviewCommand.face("12:0") }
            #expect(try ReviewCommand.relabel("12:ben:x") == .relabel(12, "ben:x"))
        }
    }

    @Test func aReviewedImageKeepsItsDecisionWhenProcessingRunsAgain() async throws {
        try await offPool {
            let f = try ReviewFixture()
            let reviewer = Reviewer(catalog: f.catalog, models: ProcessFixture.models)
            try reviewer.apply([.accept(f.ids["copy"]!), .face(f.ids["group"]!, 1)])
            _ = try f.fixture.process(all: true)
            #expect(try f.image("copy").verdict == .kept)
            #expect(try f.image("group").verdict == .kept)
            #expect(try f.catalog.faces(of: f.ids["group"]!).map(\.chosen) == [true, false])
            // Dedupe still flags ben's side of the conflict, which nobody reviewed.
            #expect(try f.image("benConflict").reason == .labelConflict)
        }
    }
}
