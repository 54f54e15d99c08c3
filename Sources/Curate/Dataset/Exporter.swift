// `curate export`: the split dataset as an ImageFolder tree with its manifest, classes and dataset card,
// written aside and swapped in whole.
import Catalog
import Foundation

public enum ExportKind: String, Codable, Sendable { case crops, full }

public struct ExportSummary: Codable, Sendable {
    public var out: String
    public var kind: ExportKind
    public var files: Int
    public var linked: Int
    /// Accepted images left out of a crops export because no face was chosen in them (e.g. accepted no_face).
    public var withoutCrop: Int
    /// Suspects (`IdentityIndex.isSuspect`: kept, no reviewer looked, in the band and not settled by the evidence):
    /// with `suspectsLeftOut` those of the split, not exported; else those the people's identities count (as
    /// `status` does), exported.
    public var suspects: Int
    public var suspectsLeftOut: Bool
    public var counts: [String: [String: Int]]   // split -> person -> images
}

public enum ExportError: BadInput {
    case noSplit
    case notAnExport(String)
    case missingFile(String)

    public var description: String {
        switch self {
        case .noSplit:
            return "nothing to export: no accepted image has a split yet; run `curate split` first."
        case .notAnExport(let path):
            return "\(path) exists and was not made by curate export (no \(Exporter.marker) in it); choose another --out. Nothing was changed."
        case .missingFile(let path):
            return "the file \(path) is missing from the workspace; run `curate process --all` to make it again."
        }
    }
}

/// One exported image, as the manifest lists it.
struct ManifestRow: Codable {
    var path: String
    var person: String
    var split: String
    var sha256: String
    var source_url: String
    var page_url: String?
    var provider: Provider
    var license: String?
    var license_url: String?
    var creator: String?
    var attribution: String?
    var face_box: [Double]?
}

public enum Exporter {
    /// The file that marks a folder as curate's own export (only such a folder is ever replaced).
    public static let marker = ".curate-export"

    /// `leaveOutSuspects`: the split's suspects (faces in the band no evidence and no reviewer settled) are not
    /// exported, for a dataset of fewer faces, each one the evidence or a reviewer settled; they keep their split, so
    /// a later export after `review --suspects` includes those a reviewer kept.
    public static func run(_ catalog: Catalog, out: URL, kind: ExportKind, leaveOutSuspects: Bool = false) throws -> ExportSummary {
        let fm = FileManager.default
        let out = out.standardizedFileURL
        var isDir: ObjCBool = false
        if fm.fileExists(atPath: out.path, isDirectory: &isDir) {
            guard isDir.boolValue, fm.fileExists(atPath: out.appendingPathComponent(marker).path) else {
                throw ExportError.notAnExport(out.path)
            }
        }
        let images = try catalog.splitImages()
        guard !images.isEmpty else { throw ExportError.noSplit }
        let labels = try catalog.labels()
        let faces = try catalog.chosenFaces(imageIds: images.compactMap(\.id))
        // Which are suspects needs every person's identity found again; how many are, only the stored summaries.
        let leftOut = leaveOutSuspects ? try suspectIds(images, catalog) : []
        let suspects = leaveOutSuspects ? leftOut.count
            : try IdentityIndex.summaries(catalog, options: .judged(in: catalog)).reduce(0) { $0 + $1.suspects }

        // Build beside the destination, then swap: a reader never sees half an export.
        let parent = out.deletingLastPathComponent()
        try fm.createDirectory(at: parent, withIntermediateDirectories: true)
        sweepStaging(of: out)
        let staging = parent.appendingPathComponent(".\(out.lastPathComponent).tmp-\(getpid())")
        try? fm.removeItem(at: staging)
        try fm.createDirectory(at: staging, withIntermediateDirectories: true)
        var rows: [ManifestRow] = []
        var linked = 0
        var withoutCrop = 0
        var counts: [String: [String: Int]] = [:]
        do {
            for image in images {
                if leftOut.contains(image.id!) { continue }
                let label = labels[image.personId] ?? "unknown"
                let split = image.split!.rawValue
                let face = faces[image.id!]
                let source: String? = kind == .crops ? face?.chipPath : image.normalizedPath
                guard let source else { withoutCrop += 1; continue }   // no face chosen: there is no crop
                let relative = "\(split)/\(label)/\(image.sha256).jpg"
                let dest = staging.appendingPathComponent(relative)
                try fm.createDirectory(at: dest.deletingLastPathComponent(), withIntermediateDirectories: true)
                let src = catalog.workspace.url(forRelativePath: source)
                guard fm.fileExists(atPath: src.path) else { throw ExportError.missingFile(source) }
                // A hard link costs no space; across file systems fall back to a copy.
                if link(src.path, dest.path) == 0 { linked += 1 } else { try fm.copyItem(at: src, to: dest) }
                counts[split, default: [:]][label, default: 0] += 1
                rows.append(ManifestRow(path: relative, person: label, split: split, sha256: image.sha256, source_url: image.sourceUrl,
                                        page_url: image.pageUrl, provider: image.provider, license: image.license,
                                        license_url: image.licenseUrl, creator: image.creator, attribution: image.attribution,
                                        face_box: face.map { [$0.left, $0.top, $0.right, $0.bottom] }))
            }
            rows.sort { ($0.split, $0.person, $0.path) < ($1.split, $1.person, $1.path) }
            try write(csv(rows), staging.appendingPathComponent("manifest.csv"))
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            try write(try rows.map { String(decoding: try encoder.encode($0), as: UTF8.self) }.joined(separator: "\n") + "\n",
                      staging.appendingPathComponent("manifest.jsonl"))
            let classes = Set(rows.map(\.person)).sorted()
            try write(classes.joined(separator: "\n") + "\n", staging.appendingPathComponent("classes.txt"))
            // What identity checking left out and put in, for the card.
            let wrongPerson = try catalog.counts().reduce(0) { $0 + ($1.reasons[Reason.wrongPerson.rawValue] ?? 0) }
            let exported = Set(rows.map(\.sha256))
            let groupFaces = images.filter { exported.contains($0.sha256) && !$0.reviewed && ($0.faces ?? 0) > 1 }.count
            try write(card(rows, classes: classes, kind: kind, wrongPerson: wrongPerson, groupFaces: groupFaces,
                           suspects: suspects, suspectsLeftOut: leaveOutSuspects),
                      staging.appendingPathComponent("README.md"))
            try write("curate export\n", staging.appendingPathComponent(marker))

            if fm.fileExists(atPath: out.path) {
                let old = parent.appendingPathComponent(".\(out.lastPathComponent).old-\(getpid())")
                try fm.moveItem(at: out, to: old)
                try fm.moveItem(at: staging, to: out)
                try? fm.removeItem(at: old)
            } else {
                try fm.moveItem(at: staging, to: out)
            }
        } catch {
            try? fm.removeItem(at: staging)
            throw error
        }
        return ExportSummary(out: out.path, kind: kind, files: rows.count, linked: linked, withoutCrop: withoutCrop,
                             suspects: suspects, suspectsLeftOut: leaveOutSuspects, counts: counts)
    }

    /// The ids of the split images that are suspects, as `review --suspects` and `status` see them.
    static func suspectIds(_ images: [StoredImage], _ catalog: Catalog) throws -> Set<Int64> {
        let candidates = images.filter { $0.verdict == .kept && !$0.reviewed }
        guard !candidates.isEmpty else { return [] }
        let identities = try IdentityIndex(asJudged: catalog)
        let faces = try catalog.faces(of: candidates.compactMap(\.id))
        return Set(candidates.filter { identities.isSuspect($0, faces: faces[$0.id!] ?? []) }.compactMap(\.id))
    }

    /// Removes what a killed export to `out` left beside it: our own staging and old-copy folders
    /// (`.<name>.tmp-<pid>`, `.<name>.old-<pid>`) whose process is gone. Nothing else is touched.
    static func sweepStaging(of out: URL) {
        let fm = FileManager.default
        let parent = out.deletingLastPathComponent()
        for name in (try? fm.contentsOfDirectory(atPath: parent.path)) ?? [] {
            for prefix in [".\(out.lastPathComponent).tmp-", ".\(out.lastPathComponent).old-"] where name.hasPrefix(prefix) {
                guard let pid = Int32(name.dropFirst(prefix.count)), pid > 0, pid != getpid(),
                      kill(pid, 0) != 0 && errno == ESRCH else { continue }
                try? fm.removeItem(at: parent.appendingPathComponent(name))
            }
        }
    }

    private static func write(_ text: String, _ url: URL) throws {
        try Data(text.utf8).write(to: url)
    }

    static func csv(_ rows: [ManifestRow]) -> String {
        func field(_ s: String?) -> String {
            guard let s else { return "" }
            return s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" })
                ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s
        }
        var out = "path,person,split,sha256,source_url,page_url,provider,license,license_url,creator,attribution,face_left,face_top,face_right,face_bottom\n"
        for r in rows {
            let box = r.face_box.map { $0.map { String(format: "%.1f", $0) } } ?? ["", "", "", ""]
            out += ([r.path, r.person, r.split, r.sha256, r.source_url, r.page_url, r.provider.rawValue, r.license, r.license_url,
                     r.creator, r.attribution].map(field) + box).joined(separator: ",") + "\n"
        }
        return out
    }

    /// The dataset card: counts, licences, and the attributions CC licences require.
    static func card(_ rows: [ManifestRow], classes: [String], kind: ExportKind, wrongPerson: Int, groupFaces: Int,
                     suspects: Int, suspectsLeftOut: Bool) -> String {
        let splits = ["train", "val", "test"].filter { s in rows.contains { $0.split == s } }
        var md = "# Face dataset\n\nMade by `curate export` (\(kind == .crops ? "aligned 150×150 face crops" : "whole images")), "
        md += "\(rows.count) images of \(classes.count) people. Layout: `<split>/<person>/<sha256>.jpg`; "
        md += "`manifest.csv` and `manifest.jsonl` list every file with its source and licence; `classes.txt` the people.\n\n"
        md += "## Images per person and split\n\n| person | " + splits.joined(separator: " | ") + " | total |\n|---|"
        md += String(repeating: "---|", count: splits.count + 1) + "\n"
        for c in classes {
            let n = splits.map { s in rows.filter { $0.person == c && $0.split == s }.count }
            md += "| \(c) | " + n.map(String.init).joined(separator: " | ") + " | \(n.reduce(0, +)) |\n"
        }
        md += "\n## Identity checks\n\n"
        md += "Each person's identity is the dominant cluster of their face descriptors (dlib ResNet, chinese whispers); "
        md += "\(wrongPerson) photo\(wrongPerson == 1 ? "" : "s") whose face was far from it \(wrongPerson == 1 ? "was" : "were") left out (`wrong_person`), "
        md += "and \(groupFaces) group photo\(groupFaces == 1 ? "" : "s") contribute\(groupFaces == 1 ? "s" : "") the one face that matches the person. "
        md += "Faces a reviewer kept are included whatever their distance.\n"
        if suspects > 0 {
            let them = "\(suspects) suspect\(suspects == 1 ? "" : "s") (faces at the edge of the person's identity that neither "
                + "the evidence nor a reviewer settled)"
            md += suspectsLeftOut ? "\n\(them) \(suspects == 1 ? "was" : "were") left out (`--leave-out-suspects`).\n"
                : "\nThe workspace has \(them); those in the split are included. `curate review --suspects` settles them; "
                + "`curate export --leave-out-suspects` leaves them out.\n"
        }
        md += "\n## Licences\n\n"
        let licences = Dictionary(grouping: rows, by: { $0.license ?? "unknown" }).mapValues(\.count).sorted { $0.key < $1.key }
        for (l, n) in licences { md += "- \(l): \(n)\n" }
        let attributed = rows.filter { ($0.license ?? "").uppercased().hasPrefix("CC") && !($0.license ?? "").uppercased().hasPrefix("CC0") }
        if !attributed.isEmpty {
            md += "\n## Attribution\n\nCreative Commons licences other than CC0 require this credit.\n\n"
            for r in attributed.sorted(by: { $0.path < $1.path }) {
                let who = r.attribution ?? r.creator ?? "unknown author"
                md += "- `\(r.path)`: \(who), \(r.license ?? ""), \(r.page_url ?? r.source_url)\n"
            }
        }
        return md
    }
}
