// Group photos through the real binary: a collage of one person is kept with its nearest face, and a group photo
// kept for a face that is only near the person (between --suspect-distance and --identity-distance) is a suspect.
import Curate
import Foundation
import Testing
import TestSupport
import TestServer

@Suite(.enabled(if: Paths.hasShared, Paths.sharedMissing), .timeLimit(.minutes(10)))
struct GroupIdentityTests {
    let env = ["CURATE_MODELS": Paths.root.appendingPathComponent("dataset/models").path]

    static func photo(_ person: String, _ name: String) -> URL { Paths.data("faces/opencv_course_5celeb/\(person)/\(name)") }

    @Test func aCollageOfThePersonIsKeptAndAGroupPhotoChosenInTheBandIsASuspect() async throws {
        let dir = TempDir()
        let root = dir.sub("served")
        let fm = FileManager.default
        for person in ["jerry", "madonna"] { try fm.createDirectory(at: root.appendingPathComponent(person), withIntermediateDirectories: true) }
        let jerry = try fm.contentsOfDirectory(atPath: Paths.data("faces/opencv_course_5celeb/jerry_seinfeld").path).sorted()
        let madonna = try fm.contentsOfDirectory(atPath: Paths.data("faces/opencv_course_5celeb/madonna").path).sorted()
        func decode(_ url: URL) throws -> DecodedImage { try DecodedImage.decode([UInt8](try Data(contentsOf: url))) }
        func write(_ image: DecodedImage, _ name: String) throws { try Data(try image.jpeg(quality: 92)).write(to: root.appendingPathComponent(name)) }

        // Jerry's photos, and collages of his other photos side by side: two photos, and three.
        for name in jerry.prefix(16) { try fm.copyItem(at: Self.photo("jerry_seinfeld", name), to: root.appendingPathComponent("jerry/own_\(name)")) }
        let j = try jerry.suffix(5).map { try decode(Self.photo("jerry_seinfeld", $0)) }
        try write(try DecodedImage.sideBySide(j[0], j[1]), "jerry/collage_2.jpg")
        try write(try DecodedImage.sideBySide(try DecodedImage.sideBySide(j[2], j[3]), j[4]), "jerry/collage_3.jpg")
        // Madonna's photos, and her hardest one (train_11: 0.56 from the centre of the others, the only one of hers
        // past 0.50) beside a stranger (an LFW crop of John Simm, scaled to her photo's height, so his face is the
        // larger and the only one counted, as Venus's was beside Serena): kept for her face, which is in the band.
        for name in madonna where name != "train_11.jpg" {
            try fm.copyItem(at: Self.photo("madonna", name), to: root.appendingPathComponent("madonna/own_\(name)"))
        }
        try write(try DecodedImage.sideBySide(try decode(Self.photo("madonna", "train_11.jpg")),
                                              try decode(Paths.data("faces/dlib_johns/John_Simm/000300_00470148.jpg"))), "madonna/pair_band.jpg")

        let fetched = try await ServedFetch.run(root, people: ["jerry", "madonna"], in: dir, env: env, timeout: 400)
        let ws = fetched.ws
        var r: ProcessResult
        func row(_ name: String) throws -> [String: Any] { try fetched.row(name) }
        // Every face of the collages was counted, and the collages are kept (they were multi_face).
        for (name, faces) in [("jerry/collage_2.jpg", 2), ("jerry/collage_3.jpg", 3)] {
            let collage = try row(name)
            #expect(collage["faces"] as? Int == faces && collage["verdict"] as? String == "kept", "\(collage)")
        }
        let pair = try row("madonna/pair_band.jpg")
        #expect(pair["faces"] as? Int == 1 && pair["verdict"] as? String == "kept", "\(pair)")

        // What the details say: the collage's nearest face kept, every face within the identity (not a suspect);
        // the pair's face a suspect, as review --suspects lists it.
        r = try await curate(["review", "--suspects", "--list", "--json", "--workspace", ws], env: env)
        #expect(r.status == 0, "\(r.stderr)")
        let suspects = try #require(try json(r.stdout) as? [[String: Any]])
        func item(_ row: [String: Any]) throws -> [String: Any] { try #require(suspects.first { $0["id"] as? Int == row["id"] as? Int }, "\(row)") }
        for name in ["jerry/collage_2.jpg", "jerry/collage_3.jpg"] {
            let collage = try row(name)
            let detail = collage["detail"] as? String ?? ""
            #expect(detail.contains("matches (0.") && detail.contains("every face is within 0.50 of the person, the nearest kept")
                    && !detail.contains("suspect"), "\(name): \(detail)")
            #expect(!suspects.contains { $0["id"] as? Int == collage["id"] as? Int }, "\(name) is no suspect")
        }
        let suspect = try item(pair)
        let distance = try #require(suspect["distance"] as? Double)
        #expect(distance > 0.5 && distance <= 0.6, "\(suspect)")
        #expect((suspect["detail"] as? String)?.hasSuffix("between 0.50 and 0.60: a suspect (curate review --suspects)") == true, "\(suspect)")
        #expect((suspect["detail"] as? String)?.hasPrefix("face ") == true && (suspect["detail"] as? String)?.contains(" of 2 matches (0.5") == true,
                "\(suspect)")
    }
}
