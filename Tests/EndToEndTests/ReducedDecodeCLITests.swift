// Decoding only what is needed, through the real binary: web-sized JPEGs of real photos are decoded at a DCT
// reduction (and `process --json` counts them), with the verdicts, face boxes and descriptors the whole decode
// gives (the same pixels as PNGs, which are decoded whole); an exact copy of such a JPEG is still found by its pixel
// hash, and a 3,000 px JPEG is decoded whole.
import Catalog
import Curate
import Foundation
import GRDB
import Testing
import TestServer
import TestSupport

@Suite(.enabled(if: Paths.hasShared, Paths.sharedMissing), .timeLimit(.minutes(10)))
struct ReducedDecodeCLITests {
    let env = ["CURATE_MODELS": Paths.models.path]
    /// Photos of one face, of two, and of none.
    static let photos = ["single_face/opencv_course_lady.jpg", "single_face/dlib_Tom_Cruise_avp_2014_4.jpg",
                         "group/dlib_voc/2008_001009.jpg", "nonface/dlib/dog.jpg"]

    func json(_ text: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], "\(text.prefix(300))")
    }

    /// The catalog's images by their file's name without its extension.
    func byName(_ catalog: Catalog) throws -> [String: StoredImage] {
        let images = try catalog.imagesToProcess(all: true)
        let attempts = Dictionary(uniqueKeysWithValues: try catalog.db.read { try Attempt.fetchAll($0) }.map { ($0.id!, $0.url) })
        return Dictionary(uniqueKeysWithValues: images.map { image in
            ((attempts[image.attemptId ?? -1] ?? "?").components(separatedBy: "/").last!.components(separatedBy: ".").first!, image)
        })
    }

    @Test func webSizedJPEGsAreDecodedReducedWithTheWholeDecodesVerdictsBoxesAndDescriptors() async throws {
        let dir = TempDir()
        let root = dir.sub("served")
        for folder in ["jpeg", "png"] {
            try FileManager.default.createDirectory(at: root.appendingPathComponent(folder), withIntermediateDirectories: true)
        }
        // Each photo at 4,800 px as a JPEG, and its whole decode as a PNG: the same pixels, decoded whole.
        for (i, photo) in Self.photos.enumerated() {
            let photo = try DecodedImage.decode(try Paths.bytes(photo))
            let s = 4800.0 / Double(max(photo.width, photo.height))
            let jpeg = try photo.resized(width: Int((Double(photo.width) * s).rounded()), height: Int((Double(photo.height) * s).rounded()))
                .jpeg(quality: 90)
            try jpeg.write(to: root.appendingPathComponent("jpeg/\(i).jpg"))
            try DecodedImage.decode([UInt8](jpeg)).png().write(to: root.appendingPathComponent("png/\(i).png"))
            if i == 0 {
                // The same coded data with a comment before it: another file, the same pixels.
                var copy = [UInt8](jpeg)
                copy.insert(contentsOf: [0xFF, 0xFE, 0x00, 0x09] + Array("a copy".utf8) + [0], at: 2)
                try Data(copy).write(to: root.appendingPathComponent("jpeg/0-copy.jpg"))
            }
        }
        // And one at 3,000 px, which no reduction leaves 2,000 px for the detector: decoded whole.
        let lady = try DecodedImage.decode(try Paths.bytes(Self.photos[0]))
        try lady.resized(width: lady.width * 3000 / lady.height, height: 3000).jpeg(quality: 90)
            .write(to: root.appendingPathComponent("jpeg/3000.jpg"))

        let server = try await TestServer.start(dataRoot: root)
        var results: [String: (summary: [String: Any], images: [String: StoredImage], catalog: Catalog)] = [:]
        for folder in ["jpeg", "png"] {
            let ws = dir.sub("ws-\(folder)").path
            // A person for each photo (the lady's copies with her), so identity weighs each one alone.
            let urls = server.imagePaths(under: folder).sorted().map { server.baseURL + $0 }
            let queries = dir.sub("q-\(folder)")
            try FileManager.default.createDirectory(at: queries, withIntermediateDirectories: true)
            for i in Self.photos.indices {
                let names = i == 0 ? ["0", "0-copy", "3000"] : ["\(i)"]
                let mine = urls.filter { names.contains((($0 as NSString).lastPathComponent as NSString).deletingPathExtension) }
                try mine.joined(separator: "\n").write(to: queries.appendingPathComponent("p\(i).txt"), atomically: true, encoding: .utf8)
            }
            var r = try await curate(["fetch", "--query", queries.path, "--n", "10", "--no-process", "--workspace", ws, "--quiet"], env: env)
            #expect(r.status == 0, "\(r.stderr)")
            r = try await curate(["process", "--threads", "1", "--json", "--workspace", ws], env: env, timeout: 600)
            #expect(r.status == 0, "\(r.stderr)")
            let catalog = try Catalog.openExisting(Workspace(path: ws))
            results[folder] = (try json(r.stdout), try byName(catalog), catalog)
        }
        await server.stop()
        let (jpeg, png) = (try #require(results["jpeg"]), try #require(results["png"]))

        // The five 4,800 px JPEGs are decoded at 1/2; the 3,000 px one and every PNG whole.
        #expect(jpeg.summary["reducedDecodes"] as? Int == 5, "\(jpeg.summary)")
        #expect(png.summary["reducedDecodes"] as? Int == 0, "\(png.summary)")

        for i in Self.photos.indices.map(String.init) {
            let (a, b) = (try #require(jpeg.images[i]), try #require(png.images[i]))
            // Each image's own verdict (before dedupe, which makes one of the lady's two copies the other's duplicate).
            #expect(a.ownVerdict == b.ownVerdict && a.ownReason == b.ownReason && a.faces == b.faces, "\(Self.photos[Int(i)!]): \(a) against \(b)")
            #expect(a.width == b.width && a.height == b.height && (a.width == 4800 || a.height == 4800), "the whole size is recorded")
            let (fa, fb) = (try jpeg.catalog.faces(of: a.id!), try png.catalog.faces(of: b.id!))
            #expect(fa.count == fb.count, "\(Self.photos[Int(i)!])")
            for (x, y) in zip(fa, fb) {
                // The detector saw the same picture reduced two ways (libjpeg's DCT scaling, OpenCV's area shrink):
                // boxes within 3% of the face's width, descriptors within 0.1 (dlib's same-person threshold is 0.6).
                let tolerance = 0.03 * (y.right - y.left)
                for (p, q) in [(x.left, y.left), (x.top, y.top), (x.right, y.right), (x.bottom, y.bottom)] {
                    #expect(abs(p - q) <= tolerance, "\(Self.photos[Int(i)!]): box \(x) against \(y)")
                }
                #expect(x.chosen == y.chosen)
                if let d = x.descriptorValues, let e = y.descriptorValues {
                    let distance = zip(d, e).map { ($0 - $1) * ($0 - $1) }.reduce(0, +).squareRoot()
                    // Measured: 0.015-0.066 (the landmarks move a little with the detector's picture).
                    #expect(distance < 0.1, "\(Self.photos[Int(i)!]): descriptors \(distance) apart")
                } else {
                    #expect(x.descriptorValues == nil && y.descriptorValues == nil)
                }
            }
        }
        // The pixel hash of a reduced decode names its reduction: an exact copy (the same coded data) is found, and
        // is a duplicate of the first; the PNG of the whole decode is another hash (found as a near copy by pHash).
        let (first, copy) = (try #require(jpeg.images["0"]), try #require(jpeg.images["0-copy"]))
        #expect(first.pixelSha256 != nil && first.pixelSha256 == copy.pixelSha256)
        #expect([first.reason, copy.reason].filter { $0 == .duplicate }.count == 1, "\(first) / \(copy)")
        #expect(first.related == [copy.id!] || copy.related == [first.id!])
        #expect(first.pixelSha256 != png.images["0"]?.pixelSha256)
        #expect(jpeg.images["3000"]?.height == 3000)
    }
}
