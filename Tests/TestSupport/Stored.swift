// Photos stored in a catalog as a fetch would store them (file under images/, attempt, image row), without HTTP:
// the workspaces the processing and review tests start from.
import Catalog
import Foundation
import GRDB

extension Catalog {
    /// Stores these bytes for a person, as a fetch would. Returns the image id (nil when not stored).
    @discardableResult
    public func storeAsFetched(_ label: String, _ bytes: [UInt8], name: String) throws -> Int64? {
        let person = try person(label: label, queryFile: nil)
        let url = "http://127.0.0.1/\(label)/\(name)"
        let term = try syncTerms(personId: person.id!, lines: [(url, .url, .direct)])[0]
        let attempt = try recordPage(term: term, candidates: [Attempt(personId: person.id!, termId: term.id, url: url, provider: .direct)])[0]
        let sha = SHA256.hex(bytes)
        // A fetch stores only bodies it sniffed as images; files that are not (the not_image cases) stand in as
        // JPEGs whose bytes went bad, which processing judges by their content as it does every file.
        let format = ImageFormat.sniff(bytes)
        let ext = format?.fileExtension ?? "bin"
        let path = Workspace.imagePath(sha256: sha, ext: ext)
        let dest = workspace.url(forRelativePath: path)
        try FileManager.default.createDirectory(at: dest.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(bytes).write(to: dest)
        let outcome = try recordDownloads([Catalog.Download(attempt: attempt, term: url, sha256: sha, path: path, bytes: bytes.count,
                                                            format: format ?? .jpeg, httpStatus: 200, ms: 1)])[0]
        if case .stored(let image) = outcome { return image.id }
        return nil
    }

    /// Stores a file of ../shared/data for a person, under its own name.
    @discardableResult
    public func storeAsFetched(_ label: String, file: String) throws -> Int64? {
        try storeAsFetched(label, try Paths.bytes(file), name: (file as NSString).lastPathComponent)
    }

    public func image(id: Int64) throws -> StoredImage {
        try db.read { try StoredImage.filter(StoredImage.Columns.id == id).fetchOne($0)! }
    }
}

/// The photos review walks, with every kind of item: a same-image conflict between two people, a group photo,
/// photos without faces, a corrupt file. Processing them gives seven items to review.
public enum ReviewPhotos {
    /// Stores them (unprocessed); returns their ids by key: "ben/<file>", "madonna/<file>", "group", "dog",
    /// "eagle", "copy" (ben's first photo under madonna), "benConflict" (that photo under ben), "broken", "group2".
    public static func store(in catalog: Catalog) throws -> [String: Int64] {
        var ids: [String: Int64] = [:]
        let ben = "faces/opencv_course_5celeb/ben_afflek"
        let madonna = "faces/opencv_course_5celeb/madonna"
        let benFiles = try FileManager.default.contentsOfDirectory(atPath: Paths.shared.appendingPathComponent(ben).path).sorted()
        let madonnaFiles = try FileManager.default.contentsOfDirectory(atPath: Paths.shared.appendingPathComponent(madonna).path).sorted()
        for f in benFiles.prefix(3) { ids["ben/\(f)"] = try catalog.storeAsFetched("ben_afflek", file: "\(ben)/\(f)") }
        ids["group"] = try catalog.storeAsFetched("ben_afflek", file: "group/dlib_voc/2008_001009.jpg")     // 2 faces
        ids["dog"] = try catalog.storeAsFetched("ben_afflek", file: "nonface/dlib/dog.jpg")
        ids["eagle"] = try catalog.storeAsFetched("ben_afflek", file: "nonface/dlib/eagle.jpg")
        for f in madonnaFiles.prefix(3) { ids["madonna/\(f)"] = try catalog.storeAsFetched("madonna", file: "\(madonna)/\(f)") }
        ids["copy"] = try catalog.storeAsFetched("madonna", try Paths.bytes("\(ben)/\(benFiles[0])"), name: "copy_of_ben.jpg")  // ben's photo under madonna
        ids["broken"] = try catalog.storeAsFetched("madonna", file: "broken/garbage_2KB_in_middle.jpg")
        ids["group2"] = try catalog.storeAsFetched("madonna", file: "group/opencv_course/group_2.jpg")     // 5 faces
        ids["benConflict"] = ids["ben/\(benFiles[0])"]
        return ids
    }
}
