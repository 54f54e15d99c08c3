// Splits (determinism, stability, no leakage) and exports (manifest = files, byte-identical re-export).
import Catalog
import Foundation
import GRDB
import Testing
import TestSupport
@testable import Curate

extension ProcessFixture {
    /// An accepted image without a real photo behind it (split only reads the catalog).
    @discardableResult
    func accepted(_ label: String, phash: UInt64, page: String? = nil) throws -> Int64 {
        var bytes: [UInt8] = [0xFF, 0xD8, 0xFF, 0xE0]
        bytes += Array(UUID().uuidString.utf8)
        let id = try #require(try add(label, bytes, name: "\(UUID().uuidString).jpg"))
        try catalog.db.write { db in
            try db.execute(sql: "UPDATE image SET verdict = 'kept', phash = ?, pixelSha256 = ?, pageUrl = ? WHERE id = ?",
                           arguments: [Int64(bitPattern: phash), UUID().uuidString, page, id])
        }
        return id
    }

    func splits() throws -> [Int64: String] {
        try catalog.db.read { db in
            Dictionary(uniqueKeysWithValues: try Row.fetchAll(db, sql: "SELECT id, split FROM image WHERE split IS NOT NULL").map { ($0[0], $0[1]) })
        }
    }
}

/// Random 64-bit hashes far apart from each other (so pHash grouping does not join them).
func farHashes(_ n: Int) -> [UInt64] {
    var out: [UInt64] = []
    while out.count < n {
        let h = UInt64.random(in: 0...UInt64.max)
        if out.allSatisfy({ ($0 ^ h).nonzeroBitCount > 12 }) { out.append(h) }
    }
    return out
}

@Suite struct SplitTests {
    @Test func deterministicForASeedStratifiedAndChangedOptionsAreRefused() throws {
        let f = try ProcessFixture()
        let hashes = farHashes(80)
        for i in 0..<40 { try f.accepted("A", phash: hashes[i]) }
        for i in 40..<80 { try f.accepted("B", phash: hashes[i]) }
        let options = SplitOptions(val: 0.2, test: 0.1, seed: 7)
        let summary = try Splitter.run(f.catalog, options: options)
        let first = try f.splits()
        #expect(first.count == 80)
        for p in summary.people {
            #expect(p.val == 8 && p.test == 4 && p.train == 28, "\(p)")
        }
        _ = try Splitter.run(f.catalog, options: options, reset: true)
        #expect(try f.splits() == first, "the same seed gives the same split")
        _ = try Splitter.run(f.catalog, options: SplitOptions(val: 0.2, test: 0.1, seed: 8), reset: true)
        #expect(try f.splits() != first, "another seed gives another split")
        #expect(throws: SplitError.self) { try Splitter.run(f.catalog, options: options) }
    }

    @Test func addingImagesLaterMovesNothingAlreadyAssigned() throws {
        let f = try ProcessFixture()
        let hashes = farHashes(60)
        for i in 0..<30 { try f.accepted("A", phash: hashes[i]) }
        let options = SplitOptions(val: 0.2, seed: 1)
        _ = try Splitter.run(f.catalog, options: options)
        let before = try f.splits()
        for i in 30..<60 { try f.accepted("A", phash: hashes[i]) }
        let summary = try Splitter.run(f.catalog, options: options)
        let after = try f.splits()
        for (id, side) in before { #expect(after[id] == side) }
        #expect(after.count == 60)
        #expect(summary.assigned == 30)
        #expect(summary.people[0].val == 12)
    }

    @Test func nearCopiesAndOneSourcePageStayOnOneSide() throws {
        let f = try ProcessFixture()
        let hashes = farHashes(40)
        var pairs: [(Int64, Int64)] = []
        for i in 0..<10 {
            // A near copy: 2 bits apart.
            pairs.append((try f.accepted("A", phash: hashes[i]), try f.accepted("A", phash: hashes[i] ^ 0b101)))
        }
        for i in 10..<20 {
            // Two photos of one source page.
            let page = "https://example.org/page/\(i)"
            pairs.append((try f.accepted("A", phash: hashes[i], page: page), try f.accepted("A", phash: hashes[i + 20], page: page)))
        }
        _ = try Splitter.run(f.catalog, options: SplitOptions(val: 0.3, seed: 3))
        let splits = try f.splits()
        for (a, b) in pairs { #expect(splits[a] != nil && splits[a] == splits[b]) }
        #expect(Set(splits.values).count == 2, "both sides are used")
    }

    @Test func peopleWithTooFewImagesAreLeftOutAndRejectedImagesAreNeverSplit() throws {
        let f = try ProcessFixture()
        let hashes = farHashes(20)
        for i in 0..<12 { try f.accepted("Many", phash: hashes[i]) }
        for i in 12..<16 { try f.accepted("Few", phash: hashes[i]) }
        let rejected = try f.accepted("Many", phash: hashes[16])
        try f.catalog.apply([VerdictChange(imageId: rejected, verdict: .rejected, reason: .noFace, detail: nil)])
        let summary = try Splitter.run(f.catalog, options: SplitOptions(minImages: 10))
        #expect(summary.people.first { $0.label == "Few" }?.excluded?.contains("fewer than --min 10") == true)
        let splits = try f.splits()
        #expect(splits.count == 12)
        #expect(splits[rejected] == nil)
    }
}

@Suite(.enabled(if: Paths.hasShared, Paths.sharedMissing), .timeLimit(.minutes(10)))
struct ExportTests {
    /// Two real people, processed for real, split.
    func processedAndSplit() throws -> ProcessFixture {
        let f = try ProcessFixture()
        for person in ["John_Savage", "John_Schneider"] {
            for name in try FileManager.default.contentsOfDirectory(atPath: Paths.shared.appendingPathComponent("faces/dlib_johns/\(person)").path).sorted() {
                try f.add(person, file: "faces/dlib_johns/\(person)/\(name)")
            }
        }
        try f.add("John_Savage", file: "nonface/dlib/dog.jpg")   // rejected: no_face
        _ = try f.process()
        _ = try Splitter.run(f.catalog, options: SplitOptions(val: 0.25, seed: 5, minImages: 5))
        return f
    }

    func listing(_ dir: URL) throws -> [String: Data] {
        var out: [String: Data] = [:]
        for path in try FileManager.default.subpathsOfDirectory(atPath: dir.path) {
            let url = dir.appendingPathComponent(path)
            var isDir: ObjCBool = false
            if FileManager.default.fileExists(atPath: url.path, isDirectory: &isDir), !isDir.boolValue { out[path] = try Data(contentsOf: url) }
        }
        return out
    }

    @Test func manifestMatchesTheFilesAndReExportIsByteIdentical() async throws {
        try await offPool {
            let f = try processedAndSplit()
            let out = f.root.appendingPathComponent("export")
            let summary = try Exporter.run(f.catalog, out: out, kind: .crops)
            let files = try listing(out)
            let images = Set(files.keys.filter { $0.hasSuffix(".jpg") })
            let manifest = try String(contentsOf: out.appendingPathComponent("manifest.csv"), encoding: .utf8)
                .split(separator: "\n").dropFirst().map { String($0.split(separator: ",")[0]) }
            #expect(Set(manifest) == images)
            #expect(manifest.count == images.count && summary.files == images.count)
            let jsonl = try String(contentsOf: out.appendingPathComponent("manifest.jsonl"), encoding: .utf8).split(separator: "\n")
            #expect(jsonl.count == images.count)
            #expect(try String(contentsOf: out.appendingPathComponent("classes.txt"), encoding: .utf8) == "John_Savage\nJohn_Schneider\n")
            #expect(images.allSatisfy { $0.hasPrefix("train/") || $0.hasPrefix("val/") })
            // Every exported crop is a 150x150 image, and no rejected image is there.
            let accepted = Set(try f.catalog.acceptedImages().map(\.sha256))
            for path in images {
                #expect(accepted.contains(String((path as NSString).lastPathComponent.dropLast(4))))
            }
            let card = try String(contentsOf: out.appendingPathComponent("README.md"), encoding: .utf8)
            #expect(card.contains("| John_Savage |"))

            let again = try Exporter.run(f.catalog, out: out, kind: .crops)
            #expect(again.files == summary.files)
            #expect(try listing(out) == files, "exporting twice gives the same bytes")
            // Nothing is left beside it.
            #expect(try FileManager.default.contentsOfDirectory(atPath: f.root.path).filter { $0.contains(".export.") }.isEmpty)
        }
    }

    @Test func badInputIsAClearErrorAndNothingIsTouched() async throws {
        try await offPool {
            let f = try ProcessFixture()
            #expect(throws: ExportError.self) { try Exporter.run(f.catalog, out: f.root.appendingPathComponent("e"), kind: .crops) }
            #expect(throws: SplitError.self) { try Splitter.run(f.catalog, options: SplitOptions()) }

            let g = try processedAndSplit()
            let mine = g.root.appendingPathComponent("my-photos")
            try FileManager.default.createDirectory(at: mine, withIntermediateDirectories: true)
            try Data("keep me".utf8).write(to: mine.appendingPathComponent("note.txt"))
            #expect(throws: ExportError.self) { try Exporter.run(g.catalog, out: mine, kind: .full) }
            #expect(try listing(mine) == ["note.txt": Data("keep me".utf8)])

            let full = try Exporter.run(g.catalog, out: g.root.appendingPathComponent("full"), kind: .full)
            #expect(full.files > 0)
        }
    }
}
