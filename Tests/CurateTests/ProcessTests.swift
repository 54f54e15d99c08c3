// Processing on real photos: every verdict the shared data's README asks for, faces, chips, dedupe.
import Catalog
import Foundation
import GRDB
import Testing
import TestSupport
@testable import Curate

/// A workspace filled straight from files (as if fetched), with the repository's model files.
final class ProcessFixture {
    let root = FileManager.default.temporaryDirectory.appendingPathComponent("curate-process-\(UUID().uuidString)")
    let workspace: Workspace
    let catalog: Catalog
    static let models = ModelFiles.locate(in: [Paths.models])
    static var hasModels: Bool { models.shapePredictor != nil && models.resnet != nil }

    init() throws {
        workspace = Workspace(path: root.path)
        try workspace.prepare()
        catalog = try Catalog.open(workspace)
    }
    deinit { try? FileManager.default.removeItem(at: root) }

    /// Stores these bytes for a person, as a fetch would. Returns the image id (nil when not stored).
    @discardableResult
    func add(_ label: String, _ bytes: [UInt8], name: String) throws -> Int64? { try catalog.storeAsFetched(label, bytes, name: name) }

    @discardableResult
    func add(_ label: String, file: String) throws -> Int64? { try catalog.storeAsFetched(label, file: file) }

    func process(threads: Int = 2, all: Bool = false) throws -> ProcessSummary {
        var options = ProcessOptions(models: Self.models)
        options.threads = threads
        options.all = all
        return try Processor(catalog: catalog, options: options).run()
    }

    func image(_ id: Int64) throws -> StoredImage { try catalog.image(id: id) }

    func verdicts() throws -> [String: (String, String?, Int?)] {
        try catalog.db.read { db in
            let rows = try Row.fetchAll(db, sql: "SELECT a.url, i.verdict, i.reason, i.faces FROM image i JOIN attempt a ON a.id = i.attemptId")
            return Dictionary(uniqueKeysWithValues: rows.map { row in
                ((row[0] as String).components(separatedBy: "/").last!, (row[1], row[2], row[3]))
            })
        }
    }
}

@Suite(.enabled(if: Paths.hasShared, Paths.sharedMissing), .timeLimit(.minutes(10)))
struct ProcessTests {
    @Test func brokenFilesGetTheVerdictsTheirREADMEGives() async throws {
        try await offPool {
            let f = try ProcessFixture()
            let files = try FileManager.default.contentsOfDirectory(atPath: Paths.shared.appendingPathComponent("broken").path)
            for name in files { try f.add("web", file: "broken/\(name)") }
            _ = try f.process()
            let v = try f.verdicts()
            for name in ["truncated_50pct.jpg", "truncated_1KB_header_only.jpg", "garbage_2KB_in_middle.jpg", "truncated_60pct.png", "truncated_50pct.webp"] {
                #expect(v[name]?.0 == "rejected" && v[name]?.1 == "corrupt", "\(name): \(String(describing: v[name]))")
            }
            for name in ["zero_bytes.jpg", "text_named_as.jpg", "html_403_named_as.jpg", "bad_magic.jpg"] {
                #expect(v[name]?.0 == "rejected" && v[name]?.1 == "not_image", "\(name): \(String(describing: v[name]))")
            }
            // Kept, decoded by content: the PNG named .jpg, the JPEG with trailing bytes, the intact first frame.
            for name in ["png_content_named_as.jpg", "valid_jpeg_trailing_garbage.jpg", "truncated_40pct_animated.gif"] {
                #expect(v[name]?.0 == "kept" && v[name]?.2 == 1, "\(name): \(String(describing: v[name]))")
            }
        }
    }

    @Test func groupNonFaceSingleAndGIFPhotos() async throws {
        try await offPool {
            let f = try ProcessFixture()
            let voc = ["2007_007763.jpg": 7, "2008_001009.jpg": 2, "2008_001322.jpg": 3, "2008_002079.jpg": 6]
            for name in voc.keys { try f.add("group", file: "group/dlib_voc/\(name)") }
            try f.add("group", file: "group/opencv_course/group_2.jpg")
            let nonface = try ["dlib", "opencv_course"].flatMap { dir in
                try FileManager.default.contentsOfDirectory(atPath: Paths.shared.appendingPathComponent("nonface/\(dir)").path).map { "nonface/\(dir)/\($0)" }
            }
            for path in nonface { try f.add("animals", file: path) }
            let lady = try #require(try f.add("lady", file: "single_face/opencv_course_lady.jpg"))
            try f.add("cruise", file: "single_face/dlib_Tom_Cruise_avp_2014_4.jpg")
            try f.add("elon", file: "gif/dlib_elon-musk-smoke.gif")
            try f.add("painting", file: "edge/dlib_scream_painting.jpg")
            let summary = try f.process()
            #expect(summary.processed == 19)
            let v = try f.verdicts()
            for (name, count) in voc {
                #expect(v[name]?.1 == "multi_face" && v[name]?.2 == count, "\(name): \(String(describing: v[name]))")
            }
            #expect(v["group_2.jpg"]?.1 == "multi_face" && v["group_2.jpg"]?.2 == 5)
            #expect(nonface.count == 10)
            for path in nonface where !path.hasSuffix("/cat.jpg") {
                let name = (path as NSString).lastPathComponent
                #expect(v[name]?.1 == "no_face", "\(name): \(String(describing: v[name]))")
            }
            // cat.jpg (640×427) is a smaller copy of cat_large.jpg (2400×1600): the larger one stands for both.
            #expect(v["cat.jpg"]?.1 == "duplicate" && v["cat_large.jpg"]?.1 == "no_face", "\(String(describing: v["cat.jpg"]))")
            for name in ["opencv_course_lady.jpg", "dlib_Tom_Cruise_avp_2014_4.jpg", "dlib_elon-musk-smoke.gif"] {
                #expect(v[name]?.0 == "kept" && v[name]?.2 == 1, "\(name): \(String(describing: v[name]))")
            }
            #expect(v["dlib_scream_painting.jpg"] != nil)   // either answer, but it has one

            // The kept portrait has its normalised copy, one chosen face with 5 landmarks, a 150x150 chip and a descriptor.
            let image = try f.image(lady)
            let normalized = try #require(image.normalizedPath)
            #expect(FileManager.default.fileExists(atPath: f.workspace.url(forRelativePath: normalized).path))
            let faces = try f.catalog.faces(of: lady)
            let chosen = try #require(faces.first { $0.chosen })
            let chip = try DecodedImage.decode([UInt8](try Data(contentsOf: f.workspace.url(forRelativePath: try #require(chosen.chipPath)))))
            #expect(chip.width == 150 && chip.height == 150)
            if ProcessFixture.hasModels {
                #expect(chosen.landmarks?.count == 10)
                #expect(chosen.descriptorValues?.count == 128)
            }
            // The downloaded originals are never modified.
            let original = try Data(contentsOf: f.workspace.url(forRelativePath: image.path))
            #expect(SHA256.hex(original) == image.sha256)
        }
    }

    @Test(.enabled(if: ProcessFixture.hasModels, "the dlib model files are missing: run scripts/setup.sh"))
    func nearCopiesAreDuplicatesAndOtherPhotosOfThePersonAreNot() async throws {
        try await offPool {
            let f = try ProcessFixture()
            let original = try DecodedImage.decode(try Paths.bytes("single_face/dlib_Tom_Cruise_avp_2014_4.jpg"))
            let w = original.width, h = original.height
            let keptId = try #require(try f.add("cruise", try Paths.bytes("single_face/dlib_Tom_Cruise_avp_2014_4.jpg"), name: "original.jpg"))
            let half = try original.resized(width: w / 2, height: h / 2)
            try f.add("cruise", [UInt8](try half.jpeg(quality: 92)), name: "half.jpg")
            try f.add("cruise", [UInt8](try original.jpeg(quality: 50)), name: "q50.jpg")
            // 5% cropped off each side, then scaled back: pHash still matches.
            let cropped = try crop(original, fraction: 0.05)
            try f.add("cruise", [UInt8](try cropped.jpeg(quality: 92)), name: "crop5.jpg")
            try f.add("cruise", [UInt8](try flipped(original).jpeg(quality: 92)), name: "flipped.jpg")
            // Other photos of one person are not duplicates. (000304 is another crop of the photo of 000300:
            // pHash distance 3, descriptor distance 0.089, so it is left out here; it is a duplicate.)
            let simm = try FileManager.default.contentsOfDirectory(atPath: Paths.shared.appendingPathComponent("faces/dlib_johns/John_Simm").path)
                .sorted().filter { $0 != "000304_00470122.jpg" }
            for name in simm { try f.add("simm", file: "faces/dlib_johns/John_Simm/\(name)") }
            _ = try f.process()
            let v = try f.verdicts()
            #expect(v["original.jpg"]?.0 == "kept")
            for name in ["half.jpg", "q50.jpg", "crop5.jpg"] {
                #expect(v[name]?.1 == "duplicate", "\(name): \(String(describing: v[name]))")
            }
            // A mirror image is a different pHash: kept (see docs/process.md: flips are not duplicates).
            #expect(v["flipped.jpg"]?.0 == "kept", "\(String(describing: v["flipped.jpg"]))")
            for name in simm { #expect(v[name]?.0 == "kept", "\(name): \(String(describing: v[name]))") }
            let detail = try f.catalog.db.read { try String.fetchOne($0, sql: "SELECT i.detail FROM image i JOIN attempt a ON a.id = i.attemptId WHERE a.url LIKE '%half.jpg'") }
            #expect(detail?.contains("#\(keptId)") == true)
        }
    }

    @Test func theSameImageUnderTwoPeopleFlagsBoth() async throws {
        try await offPool {
            let f = try ProcessFixture()
            let a = try #require(try f.add("Arya", file: "single_face/opencv_course_lady.jpg"))
            let photo = try DecodedImage.decode(try Paths.bytes("single_face/opencv_course_lady.jpg"))
            let b = try #require(try f.add("Sansa", [UInt8](try photo.jpeg(quality: 80)), name: "copy.jpg"))
            _ = try f.process()
            for id in [a, b] {
                let image = try f.image(id)
                #expect(image.verdict == .rejected && image.reason == .labelConflict)
            }
            #expect(try f.image(a).detail?.contains("Sansa") == true)
        }
    }

    @Test func processingIsIdempotentResumableAndDeletesNothing() async throws {
        try await offPool {
            let f = try ProcessFixture()
            for name in ["2008_001009.jpg", "2008_001322.jpg"] { try f.add("group", file: "group/dlib_voc/\(name)") }
            try f.add("lady", file: "single_face/opencv_course_lady.jpg")
            let first = try f.process()
            #expect(first.processed == 3)
            let verdicts = try f.verdicts()
            let files = try FileManager.default.subpathsOfDirectory(atPath: f.workspace.root.path).sorted()
            // Nothing new: nothing to do.
            #expect(try f.process().processed == 0)
            // A new image: only it is processed; the earlier verdicts stand.
            try f.add("cruise", file: "single_face/dlib_Tom_Cruise_avp_2014_4.jpg")
            #expect(try f.process().processed == 1)
            let again = try f.process(threads: 1, all: true)
            #expect(again.processed == 4)
            let after = try f.verdicts()
            for (k, v) in verdicts { #expect(after[k]?.0 == v.0 && after[k]?.1 == v.1 && after[k]?.2 == v.2, "\(k)") }
            let filesAfter = Set(try FileManager.default.subpathsOfDirectory(atPath: f.workspace.root.path))
            #expect(Set(files).isSubset(of: filesAfter), "processing deleted files")
        }
    }

    @Test func exifOrientationIsAppliedAndNormalisedCopiesCarryNoMetadata() async throws {
        try await offPool {
            let f = try ProcessFixture()
            let plain = try DecodedImage.decode(try Paths.bytes("single_face/opencv_course_lady.jpg"))
            // Pixels stored turned a quarter left, with EXIF saying "turn right to view": upright once applied.
            let turned = try DecodedImage.decode(try Paths.bytes("single_face/opencv_course_lady.jpg"))
            try turned.orient(8)
            let rotated = withExifOrientation([UInt8](try turned.jpeg(quality: 95)), 6)
            #expect(ExifInfo.read(rotated)?.orientation == 6)
            let id = try #require(try f.add("lady", rotated, name: "rotated.jpg"))
            _ = try f.process()
            let image = try f.image(id)
            #expect(image.orientation == 6)
            #expect(image.width == plain.width && image.height == plain.height)   // turned back upright
            #expect(image.verdict == .kept)
            // Its normalised copy is encoded upright, without EXIF; an upright JPEG's is its own coded data,
            // without the metadata: the same pixels.
            let normalized = [UInt8](try Data(contentsOf: f.workspace.url(forRelativePath: try #require(image.normalizedPath))))
            let upright = try DecodedImage.decode(normalized)
            #expect(upright.width == plain.width && upright.height == plain.height)
            #expect((ExifInfo.read(normalized)?.orientation ?? 0) == 0)
            let camera = try Paths.bytes("nonface/dlib/eagle.jpg")
            let eagle = try #require(try f.add("eagle", camera, name: "eagle.jpg"))
            _ = try f.process()
            let eagleCopy = [UInt8](try Data(contentsOf: f.workspace.url(forRelativePath: try #require(try f.image(eagle).normalizedPath))))
            #expect(ExifInfo.read(camera)?.make != nil && ExifInfo.read(eagleCopy)?.make == nil)
            #expect(JPEGLayout.read(eagleCopy).layout?.segments.contains { $0.marker == 0xE1 } == false)
            #expect(try DecodedImage.decode(eagleCopy).pixelSHA256() == DecodedImage.decode(camera).pixelSHA256())
        }
    }

    @Test func withoutModelFilesDetectionStillWorksAndACorruptModelIsAClearError() async throws {
        try await offPool {
            let f = try ProcessFixture()
            let id = try #require(try f.add("lady", file: "single_face/opencv_course_lady.jpg"))
            var options = ProcessOptions(models: ModelFiles(shapePredictor: nil, resnet: nil))
            options.threads = 1
            let summary = try Processor(catalog: f.catalog, options: options).run()
            #expect(summary.warnings.contains { $0.contains("face model files missing") && $0.contains("scripts/setup.sh") })
            #expect(try f.image(id).verdict == .kept)
            let chosen = try #require(try f.catalog.faces(of: id).first { $0.chosen })
            #expect(chosen.chipPath != nil && chosen.landmarks == nil && chosen.descriptor == nil)

            let garbage = f.root.appendingPathComponent(ModelFiles.shapePredictorName)
            try Data("not a model".utf8).write(to: garbage)
            #expect {
                try FaceModels(ModelFiles(shapePredictor: garbage, resnet: nil))
            } throws: { error in
                "\(error)".contains("cannot load face models")
            }
        }
    }

    @Test func hammingIndexFindsExactlyThePairsBruteForceFinds() {
        var rng = SystemRandomNumberGenerator()
        var hashes: [UInt64] = []
        for _ in 0..<400 {
            let base = UInt64.random(in: 0...UInt64.max, using: &rng)
            hashes.append(base)
            // Some near copies with 1 to 9 bits flipped.
            if Bool.random(using: &rng) {
                var copy = base
                for _ in 0..<Int.random(in: 1...9, using: &rng) { copy ^= 1 << UInt64.random(in: 0..<64, using: &rng) }
                hashes.append(copy)
            }
            if Int.random(in: 0..<8, using: &rng) == 0 { hashes.append(base) }   // the same pixels' hash again
        }
        // The default radius, radii whose keys are too wide to pack (0, 1), and wider ones.
        for radius in [6, 0, 1, 2, 10, 20] {
            var index = HammingIndex(radius: radius)
            for h in hashes { index.insert(h) }
            let pairs = index.pairs()
            let found = Set(pairs.map { "\($0.0)-\($0.1)" })
            var expected = Set<String>()
            for i in hashes.indices {
                for j in (i + 1)..<hashes.count where (hashes[i] ^ hashes[j]).nonzeroBitCount <= radius { expected.insert("\(i)-\(j)") }
            }
            #expect(found == expected, "radius \(radius)")
            #expect(pairs.count == found.count, "radius \(radius): each pair once")
            #expect(!expected.isEmpty)
        }
    }
}

func crop(_ image: DecodedImage, fraction: Double) throws -> DecodedImage {
    let dx = Int(Double(image.width) * fraction), dy = Int(Double(image.height) * fraction)
    let w = image.width - 2 * dx, h = image.height - 2 * dy
    var pixels = [UInt8](repeating: 0, count: w * h * 3)
    image.withPixels { p, stride in
        for y in 0..<h { for x in 0..<(w * 3) { pixels[y * w * 3 + x] = p[(y + dy) * stride + dx * 3 + x] } }
    }
    return try DecodedImage.fromBGR(pixels, width: w, height: h)
}

func flipped(_ image: DecodedImage) throws -> DecodedImage {
    let w = image.width, h = image.height
    var pixels = [UInt8](repeating: 0, count: w * h * 3)
    image.withPixels { p, stride in
        for y in 0..<h { for x in 0..<w { for c in 0..<3 { pixels[(y * w + x) * 3 + c] = p[y * stride + (w - 1 - x) * 3 + c] } } }
    }
    return try DecodedImage.fromBGR(pixels, width: w, height: h)
}

/// The JPEG with an EXIF APP1 segment (little-endian TIFF, one IFD0 entry: Orientation) inserted after SOI.
func withExifOrientation(_ jpeg: [UInt8], _ orientation: UInt16) -> [UInt8] {
    var tiff: [UInt8] = [0x49, 0x49, 0x2A, 0x00, 0x08, 0x00, 0x00, 0x00]      // II, 42, IFD0 at 8
    tiff += [0x01, 0x00]                                                     // one entry
    tiff += [0x12, 0x01, 0x03, 0x00, 0x01, 0x00, 0x00, 0x00]                 // 0x0112 SHORT x1
    tiff += [UInt8(orientation & 0xFF), UInt8(orientation >> 8), 0x00, 0x00]
    tiff += [0x00, 0x00, 0x00, 0x00]                                         // no next IFD
    let payload = Array("Exif".utf8) + [0, 0] + tiff
    let length = payload.count + 2
    return [0xFF, 0xD8, 0xFF, 0xE1, UInt8(length >> 8), UInt8(length & 0xFF)] + payload + jpeg.dropFirst(2)
}

/// The measurement behind the descriptor threshold of dedupe, kept as a test so it is re-checked: on every
/// person of ../shared/data/faces, pairs of different photos against edited copies of each photo.
@Suite(.enabled(if: Paths.hasShared && ProcessFixture.hasModels, "needs ../shared/data and the dlib model files"),
       .timeLimit(.minutes(10)))
struct DescriptorThresholdTests {
    @Test func descriptorThresholdSeparatesCopiesFromOtherPhotos() async throws {
        try await offPool {
            let models = try FaceModels(ProcessFixture.models)
            let threshold: Float = 0.12
            func describe(_ img: DecodedImage) throws -> [Float]? {
                let faces = try models.detect(img, upsample: max(img.width, img.height) < 1000 ? 1 : 0)
                guard let f = faces.max(by: { $0.area < $1.area }) else { return nil }
                return try models.chip(img, face: f).descriptor
            }
            let root = Paths.shared.appendingPathComponent("faces")
            var otherUnder = 0, otherPairs = 0, cropsUnder = 0, crops = 0
            var closestOther: Float = .infinity
            for set in ["dlib_johns", "opencv_course_5celeb"] {
                for person in try FileManager.default.contentsOfDirectory(atPath: root.appendingPathComponent(set).path) where !person.hasSuffix(".txt") {
                    var photos: [([Float], UInt64)] = []
                    for file in try FileManager.default.contentsOfDirectory(atPath: root.appendingPathComponent("\(set)/\(person)").path).sorted() {
                        let img = try DecodedImage.decode([UInt8](try Data(contentsOf: root.appendingPathComponent("\(set)/\(person)/\(file)"))))
                        guard let d = try describe(img) else { continue }
                        photos.append((d, try img.phash()))
                        if let c = try describe(try crop(img, fraction: 0.05)) {
                            crops += 1
                            if descriptorDistance(d, c) < threshold { cropsUnder += 1 }
                        }
                    }
                    for i in photos.indices {
                        for j in (i + 1)..<photos.count {
                            // Pairs whose pHash is within 3 bits are one photo twice (the data has a few): not "other photos".
                            guard (photos[i].1 ^ photos[j].1).nonzeroBitCount > 3 else { continue }
                            let d = descriptorDistance(photos[i].0, photos[j].0)
                            otherPairs += 1
                            closestOther = min(closestOther, d)
                            if d < threshold { otherUnder += 1 }
                        }
                    }
                }
            }
            #expect(otherPairs > 1000)
            #expect(otherUnder == 0, "\(otherUnder) pairs of different photos under \(threshold); closest \(closestOther)")
            #expect(Double(cropsUnder) / Double(crops) >= 0.7, "\(cropsUnder) of \(crops) 5% crops under \(threshold)")
        }
    }
}
