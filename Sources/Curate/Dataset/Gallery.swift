// `curate gallery`: the catalog as a static site that opens from file:// (an overview of every person, and pages
// of each person's pictures), with nothing to serve, nothing to install and no asset from outside.
import Catalog
import Foundation

public struct GalleryOptions: Sendable {
    public var out: URL
    /// Only these people (labels, case-insensitive); empty: everyone.
    public var people: [String]
    /// Pictures on one page of a person; more go on further pages.
    public var pageSize: Int
    /// People on one page of the overview; more go on further pages (index-2.html, ...).
    public var peoplePerPage: Int
    /// The longer side of a thumbnail, in pixels.
    public var thumbnailSide: Int
    public var threads: Int

    public init(out: URL, people: [String] = [], pageSize: Int = 120, peoplePerPage: Int = 500, thumbnailSide: Int = 240,
                threads: Int = ProcessInfo.processInfo.activeProcessorCount) {
        self.out = out
        self.people = people
        self.pageSize = pageSize
        self.peoplePerPage = peoplePerPage
        self.thumbnailSide = thumbnailSide
        self.threads = threads
    }
}

public struct GallerySummary: Codable, Sendable {
    public var out: String
    /// The overview page, to open in a browser.
    public var index: String
    public var people: Int
    public var pages: Int
    public var pictures: Int
    /// Thumbnails and chips made or copied this run; those already there are kept.
    public var thumbnailsMade: Int
    public var thumbnailsKept: Int
    /// Pictures whose thumbnail could not be made (the file is missing or does not decode): shown as text.
    public var unreadable: Int
    /// Files of an earlier gallery no page uses any more, removed.
    public var removed: Int
}

public enum GalleryError: BadInput {
    case notAGallery(String)

    public var description: String {
        switch self {
        case .notAGallery(let path):
            return "\(path) exists and was not made by curate gallery (no \(Gallery.marker) in it); choose another --out. Nothing was changed."
        }
    }
}

public enum Gallery {
    /// The file that marks a folder as curate's own gallery: only such a folder is written into or cleaned.
    public static let marker = ".curate-gallery"

    /// One picture on a person's page.
    struct Picture {
        var image: StoredImage
        var faces: [Face]
        /// Distance of the chosen face to the person's identity, where identity judged it.
        var distance: Float?
        var suspect: Bool
        /// For a duplicate: the copy that stands.
        var kept: StoredImage?
    }

    /// A titled run of pictures; `anchor` is the id a link to it uses.
    struct Section {
        var anchor: String
        var title: String
        var note: String
        var pictures: [Picture]
        /// The section's pictures on all pages (it may be split across pages).
        var total = 0
    }

    public static func build(_ catalog: Catalog, options: GalleryOptions) throws -> GallerySummary {
        let fm = FileManager.default
        let out = options.out.standardizedFileURL
        var isDir: ObjCBool = false
        if fm.fileExists(atPath: out.path, isDirectory: &isDir) {
            let entries = (try? fm.contentsOfDirectory(atPath: out.path)) ?? []
            guard isDir.boolValue, entries.isEmpty || fm.fileExists(atPath: out.appendingPathComponent(marker).path) else {
                throw GalleryError.notAGallery(out.path)
            }
        }
        let everyone = try catalog.people()
        var chosen = everyone
        if !options.people.isEmpty {
            chosen = try options.people.map { name in
                guard let p = everyone.first(where: { $0.label.lowercased() == name.lowercased() }) else {
                    throw ListingError.unknownPerson(name, known: everyone.map(\.label))
                }
                return p
            }
        }
        try fm.createDirectory(at: out, withIntermediateDirectories: true)
        try Data("made by curate gallery; curate rewrites and cleans this folder\n".utf8).write(to: out.appendingPathComponent(marker))

        let counts = Dictionary(uniqueKeysWithValues: try catalog.counts().map { ($0.label, $0) })
        let identities = try IdentityIndex(asJudged: catalog)
        let suspectDistance = identities.options.suspectDistance
        var thumbs = Thumbnails(catalog: catalog, out: out, side: options.thumbnailSide)
        var pagesWritten = 0, pictures = 0, thumbnailsMade = 0, thumbnailsKept = 0, unreadable = 0
        var overview: [(person: Person, counts: PersonCounts?, suspects: Int, links: [String: String])] = []

        for (position, person) in chosen.sorted(by: { $0.label < $1.label }).enumerated() {
            // The overview page that lists this person, which the person's pages lead back to.
            let home = Self.overviewFile(position / max(1, options.peoplePerPage))
            let images = try catalog.images(personId: person.id!)
            let faces = try catalog.faces(of: images.compactMap(\.id))
            let byId = Dictionary(uniqueKeysWithValues: images.map { ($0.id!, $0) })
            var all: [Picture] = images.map { image in
                let d = image.verdict == .kept ? identities.distance(of: image) : nil
                // The suspects `review --suspects` walks and `status` counts.
                let suspect = identities.isSuspect(image, faces: faces[image.id!] ?? [])
                let keptCopy = image.reason == .duplicate ? image.related?.compactMap { byId[$0] }.first : nil
                return Picture(image: image, faces: faces[image.id!] ?? [], distance: d, suspect: suspect, kept: keptCopy)
            }
            // Duplicates whose kept copy is another person's (label_conflict groups) are looked up one by one.
            for i in all.indices where all[i].image.reason == .duplicate && all[i].kept == nil {
                all[i].kept = try all[i].image.related?.lazy.compactMap { try catalog.image(id: $0) }.first
            }
            let sections = Self.sections(all, suspectDistance: suspectDistance)
            let pages = Self.paginate(sections, pageSize: options.pageSize)
            let slug = Self.slug(person)
            var links: [String: String] = [:]
            for (n, page) in pages.enumerated() {
                for section in page where links[section.anchor] == nil {
                    links[section.anchor] = "people/\(slug)/\(Self.pageFile(n))#\(section.anchor)"
                }
            }
            for picture in all { thumbs.want(picture) }
            let made = try thumbs.make(threads: options.threads)
            thumbnailsMade += made.made
            thumbnailsKept += made.kept
            unreadable += made.unreadable
            for (n, page) in pages.enumerated() {
                let html = Self.personPage(person: person, sections: page, page: n, of: pages.count, counts: counts[person.label],
                                           home: home, catalog: catalog, out: out, slug: slug, thumbs: thumbs)
                try Self.write(html, to: out.appendingPathComponent("people/\(slug)/\(Self.pageFile(n))"))
                pagesWritten += 1
            }
            // Pages of an earlier, longer run go.
            let folder = out.appendingPathComponent("people/\(slug)")
            let current = Set((0..<pages.count).map(Self.pageFile))
            for file in (try? fm.contentsOfDirectory(atPath: folder.path)) ?? [] where file.hasSuffix(".html") && !current.contains(file) {
                try fm.removeItem(at: folder.appendingPathComponent(file))
            }
            pictures += all.count
            overview.append((person, counts[person.label], all.filter(\.suspect).count, links))
        }
        // The overview, a page per `peoplePerPage` people, so it stays light at thousands of people.
        let perPage = max(1, options.peoplePerPage)
        let overviewPages = Swift.max(1, (overview.count + perPage - 1) / perPage)
        let reasons = Set(overview.flatMap { ($0.counts?.reasons ?? [:]).keys }).sorted()
        for n in 0..<overviewPages {
            let rows = Array(overview[min(n * perPage, overview.count)..<min((n + 1) * perPage, overview.count)])
            try Self.write(Self.overviewPage(rows, reasons: reasons, page: n, of: overviewPages, people: overview.count, catalog: catalog),
                           to: out.appendingPathComponent(Self.overviewFile(n)))
        }
        let currentOverview = Set((0..<overviewPages).map(Self.overviewFile))
        for file in options.people.isEmpty ? (try? fm.contentsOfDirectory(atPath: out.path)) ?? [] : []
        where file.hasPrefix("index") && file.hasSuffix(".html") && !currentOverview.contains(file) {
            try fm.removeItem(at: out.appendingPathComponent(file))   // an earlier, longer overview's pages
        }
        let removed = options.people.isEmpty ? try thumbs.removeUnused(pages: Set(overview.map { Self.slug($0.person) })) : 0
        return GallerySummary(out: out.path, index: out.appendingPathComponent("index.html").path, people: overview.count,
                              pages: pagesWritten + overviewPages, pictures: pictures, thumbnailsMade: thumbnailsMade, thumbnailsKept: thumbnailsKept,
                              unreadable: unreadable, removed: removed)
    }

    // MARK: What a person's pages show

    /// Kept faces (suspects first, farthest first; then the rest, nearest first), group photos kept for one of
    /// their faces, rejected photos by reason, images not processed yet.
    static func sections(_ all: [Picture], suspectDistance: Float) -> [Section] {
        let kept = all.filter { $0.image.verdict == .kept }
        let suspects = kept.filter(\.suspect).sorted { ($0.distance ?? 0, $1.image.id!) > ($1.distance ?? 0, $0.image.id!) }
        let sure = kept.filter { !$0.suspect && ($0.image.faces ?? 0) <= 1 }
            .sorted { ($0.distance ?? 0, $0.image.id!) < ($1.distance ?? 0, $1.image.id!) }
        let groups = kept.filter { !$0.suspect && ($0.image.faces ?? 0) > 1 }
        var out: [Section] = []
        if !suspects.isEmpty {
            out.append(Section(anchor: "suspects", title: "Suspects",
                               note: String(format: "kept, but farther than %.2f from the person's identity: look at these first", suspectDistance),
                               pictures: suspects))
        }
        out.append(Section(anchor: "kept", title: "Kept", note: "the faces the dataset is made of, nearest the person's identity first",
                           pictures: sure))
        if !groups.isEmpty {
            out.append(Section(anchor: "group", title: "Group photos", note: "kept for the face in the green box", pictures: groups))
        }
        let rejected = Dictionary(grouping: all.filter { $0.image.verdict == .rejected }, by: { $0.image.reason?.rawValue ?? "none" })
        for reason in rejected.keys.sorted() {
            out.append(Section(anchor: "reason-\(reason)", title: "Rejected: \(reason)",
                               note: reason == "duplicate" ? "each beside the copy that stands" : "with the faces found",
                               pictures: rejected[reason]!.sorted { $0.image.id! < $1.image.id! }))
        }
        let pending = all.filter { $0.image.verdict == .pending }
        if !pending.isEmpty {
            out.append(Section(anchor: "pending", title: "Not processed yet", note: "run `curate process`", pictures: pending))
        }
        return out
    }

    /// Pages of at most `pageSize` pictures, a section split across pages where it is longer.
    static func paginate(_ sections: [Section], pageSize: Int) -> [[Section]] {
        var pages: [[Section]] = [[]]
        var room = pageSize
        for section in sections {
            var rest = section.pictures[...]
            var section = section
            section.total = section.pictures.count
            repeat {
                if room == 0 { pages.append([]); room = pageSize }
                let part = rest.prefix(room)
                var piece = section
                piece.pictures = Array(part)
                pages[pages.count - 1].append(piece)
                room -= part.count
                rest = rest.dropFirst(part.count)
            } while !rest.isEmpty
        }
        return pages
    }

    static func pageFile(_ n: Int) -> String { n == 0 ? "index.html" : "page-\(n + 1).html" }

    /// A folder name for a person: the label's letters and digits, and the id (labels may differ only in case).
    static func slug(_ person: Person) -> String {
        let kept = person.label.lowercased().unicodeScalars.map { CharacterSet.alphanumerics.contains($0) && $0.isASCII ? Character($0) : "-" }
        return "\(person.id!)-" + String(kept.prefix(60))
    }

    // MARK: HTML

    static let style = """
        body{font:14px/1.4 system-ui,sans-serif;margin:0 1.5em 2em;color:#222;background:#fafafa}
        h1{font-size:1.5em;margin:.8em 0 .2em}h2{font-size:1.15em;margin:1.4em 0 .1em}p.note{margin:0 0 .6em;color:#666}
        nav{margin:.6em 0}nav a{margin-right:.8em}
        table{border-collapse:collapse}td,th{padding:.25em .7em;border-bottom:1px solid #ddd;text-align:right}
        td:first-child,th:first-child{text-align:left}
        .grid{display:flex;flex-wrap:wrap;gap:10px}
        figure{margin:0;width:160px;font-size:12px}figure.pair{width:330px}
        figure .pics{display:flex;gap:10px}
        .pic{position:relative;display:block;width:160px;height:160px;background:#eee;overflow:hidden}
        .pic img{position:absolute;left:0;top:0;width:100%;height:100%;object-fit:contain}
        .frame{position:absolute;left:0;top:0;width:100%;height:100%}
        .box{position:absolute;border:2px solid #e33;box-sizing:border-box}.box.chosen{border-color:#1b2}
        .badge{position:absolute;right:3px;top:3px;background:#136;color:#fff;padding:0 4px;border-radius:3px}
        .badge.suspect{background:#c60}
        .quality{color:#a50}
        figcaption{color:#444;word-wrap:break-word}
        .big{display:none;position:fixed;inset:0;background:rgba(0,0,0,.85);color:#eee;padding:2em;z-index:9;overflow:auto}
        .big:target{display:block}.big img{max-width:100%;max-height:75vh;display:block;margin-bottom:1em}
        .big a{color:#9cf}.big dt{float:left;clear:left;width:7em;color:#aaa}.big dd{margin-left:8em}
        .close{position:fixed;right:1em;top:.5em;font-size:2em;text-decoration:none}
        """

    static func page(title: String, body: String) -> String {
        """
        <!doctype html>
        <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
        <title>\(html(title))</title><style>\(style)</style></head>
        <body>
        \(body)
        </body></html>

        """
    }

    /// The overview's page `n` (from 0): index.html, then index-2.html, ...
    static func overviewFile(_ n: Int) -> String { n == 0 ? "index.html" : "index-\(n + 1).html" }

    static func overviewPage(_ rows: [(person: Person, counts: PersonCounts?, suspects: Int, links: [String: String])],
                             reasons: [String], page n: Int, of count: Int, people: Int, catalog: Catalog) -> String {
        var body = "<h1>curate gallery</h1>\n<p class=\"note\">\(html(catalog.workspace.root.path)): \(people) "
            + "\(people == 1 ? "person" : "people"); the same counts as <code>curate status</code></p>\n"
        if count > 1 {
            body += "<nav>" + (0..<count).map { $0 == n ? "<b>page \($0 + 1)</b>" : "<a href=\"\(overviewFile($0))\">page \($0 + 1)</a>" }
                .joined(separator: " ") + "</nav>\n"
        }
        body += "<table id=\"people\"><tr><th>person</th><th>stored</th><th>kept</th><th>suspects</th><th>pending</th>"
            + reasons.map { "<th>\(html($0))</th>" }.joined() + "</tr>\n"
        for row in rows {
            let c = row.counts
            func cell(_ n: Int, _ anchor: String?, _ name: String) -> String {
                guard n > 0, let anchor, let link = row.links[anchor] else { return "<td data-count=\"\(name)\">\(n)</td>" }
                return "<td data-count=\"\(name)\"><a href=\"\(html(link))\">\(n)</a></td>"
            }
            body += "<tr data-person=\"\(html(row.person.label))\"><td><a href=\"people/\(html(slug(row.person)))/index.html\">\(html(row.person.label))</a></td>"
            // Stored is every picture of the person: the link is their first page, not one of its sections.
            let stored = c?.stored ?? 0
            body += stored > 0 ? "<td data-count=\"stored\"><a href=\"people/\(html(slug(row.person)))/index.html\">\(stored)</a></td>"
                : "<td data-count=\"stored\">0</td>"
            body += cell(c?.images["kept"] ?? 0, "kept", "kept")
            body += cell(row.suspects, "suspects", "suspects")
            body += cell(c?.images["pending"] ?? 0, "pending", "pending")
            for r in reasons { body += cell(c?.reasons[r] ?? 0, "reason-\(r)", r) }
            body += "</tr>\n"
        }
        body += "</table>\n"
        return page(title: "curate gallery", body: body)
    }

    static func personPage(person: Person, sections: [Section], page n: Int, of count: Int, counts: PersonCounts?,
                           home: String, catalog: Catalog, out: URL, slug: String, thumbs: Thumbnails) -> String {
        let here = out.appendingPathComponent("people/\(slug)")
        var body = "<nav><a href=\"../../\(home)\">all people</a>"
        if count > 1 {
            body += (0..<count).map { $0 == n ? "<b>page \($0 + 1)</b>" : "<a href=\"\(pageFile($0))\">page \($0 + 1)</a>" }.joined(separator: " ")
        }
        body += "</nav>\n<h1>\(html(person.label))</h1>\n"
        if let c = counts {
            body += "<p class=\"note\">\(c.stored) stored, \(c.images["kept"] ?? 0) kept, \(c.images["rejected"] ?? 0) rejected"
                + (c.images["pending"].map { ", \($0) not processed" } ?? "") + "</p>\n"
        }
        var overlays = ""
        for section in sections {
            let shown = section.pictures.count == section.total ? "\(section.total)" : "\(section.pictures.count) of \(section.total) on this page"
            body += "<h2 id=\"\(section.anchor)\">\(html(section.title)) <small>(\(shown))</small></h2>"
                + "<p class=\"note\">\(html(section.note))</p>\n<div class=\"grid\">\n"
            for picture in section.pictures {
                body += figure(picture, section: section.anchor, thumbs: thumbs, here: here)
                overlays += overlay(picture, catalog: catalog, here: here)
                if let kept = picture.kept { overlays += overlay(Picture(image: kept, faces: [], distance: nil, suspect: false), catalog: catalog, here: here) }
            }
            body += "</div>\n"
        }
        return page(title: "\(person.label): curate gallery", body: body + overlays)
    }

    /// A picture's tile: the chip of its chosen face where the section is about faces, else its thumbnail with the
    /// faces found boxed (the chosen one green).
    static func figure(_ p: Picture, section: String, thumbs: Thumbnails, here: URL) -> String {
        let id = p.image.id!
        let useChip = (section == "kept" || section == "suspects") && thumbs.chip(of: p) != nil
        var tile = "<a class=\"pic\" href=\"#i\(id)\">"
        if useChip, let chip = thumbs.chip(of: p) {
            tile += "<img loading=\"lazy\" alt=\"face\" src=\"\(html(relative(chip, from: here)))\">"
        } else if let thumb = thumbs.thumbnail(of: p.image) {
            tile += "<img loading=\"lazy\" alt=\"photo\" src=\"\(html(relative(thumb, from: here)))\">" + boxes(p)
        } else {
            tile += "<span>no picture</span>"
        }
        if p.image.reference { tile += "<span class=\"badge\">reference</span>" }
        if p.suspect { tile += "<span class=\"badge suspect\">suspect</span>" }
        tile += "</a>"
        var caption = "#\(id)"
        if let d = p.distance { caption += String(format: " · distance %.2f", d) }
        // A kept group photo says how many faces it has; a rejected one's detail says it.
        if p.image.verdict == .kept, let faces = p.image.faces, faces > 1 { caption += " · \(faces) faces" }
        if p.image.verdict != .kept, let detail = p.image.detail { caption += "<br>" + html(detail) }
        // A kept face's quality flags, with their figures (`review --quality`).
        if p.image.verdict == .kept, let q = p.faces.first(where: \.chosen)?.quality, !QualityOptions().flags(q).isEmpty {
            caption += "<br><span class=\"quality\">" + html(QualityOptions().describe(q)) + "</span>"
        }
        if let kept = p.kept, let thumb = thumbs.thumbnail(of: kept) {
            let keptTile = "<a class=\"pic\" href=\"#i\(kept.id!)\"><img loading=\"lazy\" alt=\"kept copy\" src=\"\(html(relative(thumb, from: here)))\"></a>"
            return "<figure class=\"pair\" data-image=\"\(id)\"><div class=\"pics\">\(tile)\(keptTile)</div><figcaption>\(caption) · "
                + "right: #\(kept.id!), the copy that stands (\(kept.verdict.rawValue))</figcaption></figure>\n"
        }
        return "<figure data-image=\"\(id)\">\(tile)<figcaption>\(caption)</figcaption></figure>\n"
    }

    /// The faces found, as boxes over the thumbnail, in percent of the picture (so no pixels are redrawn).
    static func boxes(_ p: Picture) -> String {
        guard let w = p.image.width, let h = p.image.height, w > 0, h > 0, !p.faces.isEmpty else { return "" }
        // The frame has the picture's shape inside the square tile (object-fit: contain centres it).
        let scale = 1.0 / Double(max(w, h))
        let fw = Double(w) * scale * 100, fh = Double(h) * scale * 100
        var out = String(format: "<span class=\"frame\" style=\"left:%.2f%%;top:%.2f%%;width:%.2f%%;height:%.2f%%\">", (100 - fw) / 2, (100 - fh) / 2, fw, fh)
        for f in p.faces {
            let l = max(0, f.left) / Double(w) * 100, t = max(0, f.top) / Double(h) * 100
            let r = min(Double(w), f.right) / Double(w) * 100, b = min(Double(h), f.bottom) / Double(h) * 100
            out += String(format: "<span class=\"box%@\" style=\"left:%.2f%%;top:%.2f%%;width:%.2f%%;height:%.2f%%\"></span>",
                          f.chosen ? " chosen" : "", l, t, max(0, r - l), max(0, b - t))
        }
        return out + "</span>"
    }

    /// The picture large, with where it came from, shown when its tile is clicked (CSS :target; the large image
    /// is the workspace's own file, loaded only then).
    static func overlay(_ p: Picture, catalog: Catalog, here: URL) -> String {
        let image = p.image
        let file = catalog.workspace.url(forRelativePath: image.normalizedPath ?? image.path)
        var rows: [(String, String)] = [("image", "#\(image.id!) · \(image.width.map { "\($0)" } ?? "?")×\(image.height.map { "\($0)" } ?? "?") · \(image.format.rawValue)")]
        rows.append(("verdict", image.verdict.rawValue + (image.reason.map { ": \($0.rawValue)" } ?? "")))
        if let detail = image.detail { rows.append(("detail", detail)) }
        if let d = p.distance { rows.append(("distance", String(format: "%.3f to the person's identity", d))) }
        rows.append(("source", image.sourceUrl))
        if let page = image.pageUrl { rows.append(("page", page)) }
        if let license = image.license { rows.append(("licence", license)) }
        if let creator = image.creator { rows.append(("creator", creator)) }
        if let attribution = image.attribution { rows.append(("attribution", attribution)) }
        rows.append(("sha256", image.sha256))
        var out = "<div class=\"big\" id=\"i\(image.id!)\"><a class=\"close\" href=\"#\">×</a>"
            + "<img loading=\"lazy\" alt=\"photo\" src=\"\(html(relative(file, from: here)))\"><dl>"
        for (name, value) in rows {
            let text = html(value)
            let linked = (name == "source" || name == "page") && (value.hasPrefix("https://") || value.hasPrefix("http://"))
                ? "<a href=\"\(html(value))\">\(text)</a>" : text
            out += "<dt>\(name)</dt><dd>\(linked)</dd>"
        }
        return out + "</dl></div>\n"
    }

    static func html(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.count)
        for c in text.unicodeScalars {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            // Text from the network may hold control characters: none reaches the page.
            case _ where c.value < 0x20 || (0x7F...0x9F).contains(c.value): out += " "
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }

    /// The path of `file` relative to the folder `dir`, percent-encoded for an href.
    static func relative(_ file: URL, from dir: URL) -> String {
        let a = file.standardizedFileURL.pathComponents, b = dir.standardizedFileURL.pathComponents
        var common = 0
        while common < min(a.count, b.count), a[common] == b[common] { common += 1 }
        let parts = Array(repeating: "..", count: b.count - common) + a[common...]
        return parts.map { $0.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(CharacterSet(charactersIn: "/?#"))) ?? $0 }
            .joined(separator: "/")
    }

    /// Writes a page only when its text changed, so a second run leaves unchanged pages (and their dates) alone.
    static func write(_ text: String, to url: URL) throws {
        let data = Data(text.utf8)
        if let old = try? Data(contentsOf: url), old == data { return }
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try data.write(to: url, options: .atomic)
    }
}

/// The gallery's pictures: a small JPEG of each photo, by its content's hash (made once, kept while the photo
/// is in the catalog), and each kept face's chip, copied (hard-linked where it can be) from the workspace.
struct Thumbnails {
    let catalog: Catalog
    let out: URL
    let side: Int
    /// Photos to make a thumbnail of, by file name, and chips to bring in, not yet made; every name a page uses.
    private var photos: [String: StoredImage] = [:]
    private var chips: [String: URL] = [:]
    private var used: Set<String> = []
    private var failed: Set<String> = []

    init(catalog: Catalog, out: URL, side: Int) {
        self.catalog = catalog
        self.out = out
        self.side = side
    }

    static func thumbnailName(_ image: StoredImage) -> String { "thumbs/\(image.sha256.prefix(2))/\(image.sha256).jpg" }

    mutating func want(_ p: Gallery.Picture) {
        for image in [p.image] + (p.kept.map { [$0] } ?? []) {
            let name = Self.thumbnailName(image)
            if used.insert(name).inserted { photos[name] = image }
        }
        if let chip = p.faces.first(where: \.chosen)?.chipPath {
            let name = "chips/" + (chip as NSString).lastPathComponent
            if used.insert(name).inserted { chips[name] = catalog.workspace.url(forRelativePath: chip) }
        }
    }

    func thumbnail(of image: StoredImage) -> URL? {
        let name = Self.thumbnailName(image)
        return failed.contains(name) ? nil : out.appendingPathComponent(name)
    }

    func chip(of p: Gallery.Picture) -> URL? {
        guard let chip = p.faces.first(where: \.chosen)?.chipPath else { return nil }
        let name = "chips/" + (chip as NSString).lastPathComponent
        return failed.contains(name) ? nil : out.appendingPathComponent(name)
    }

    /// Makes the thumbnails and copies the chips that are not there yet, on `threads` threads. Returns how many
    /// were made, kept as they were, and could not be made.
    mutating func make(threads: Int) throws -> (made: Int, kept: Int, unreadable: Int) {
        let fm = FileManager.default
        let out = self.out, maker = self
        let todoPhotos = photos.filter { !fm.fileExists(atPath: out.appendingPathComponent($0.key).path) }
        let todoChips = chips.filter { !fm.fileExists(atPath: out.appendingPathComponent($0.key).path) }
        let kept = photos.count + chips.count - todoPhotos.count - todoChips.count
        func place(_ name: String) throws -> URL {
            let url = out.appendingPathComponent(name)
            try fm.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            return url
        }
        // Each job says whether it made its file (false: its source could not be read or decoded).
        let jobs: [(name: String, work: () throws -> Bool)] =
            todoPhotos.map { name, image in (name, {
                guard let data = try maker.thumbnailData(image) else { return false }
                try data.write(to: try place(name), options: .atomic)
                return true
            }) }
            + todoChips.map { name, source in (name, {
                guard fm.fileExists(atPath: source.path) else { return false }
                let url = try place(name)
                if (try? fm.linkItem(at: source, to: url)) == nil { try fm.copyItem(at: source, to: url) }
                return true
            }) }
        final class Results: @unchecked Sendable {
            var failed: [String] = []
            var error: Error?
            let lock = NSLock()
        }
        let results = Results()
        DispatchQueue.concurrentPerform(iterations: max(1, min(threads, jobs.count))) { worker in
            var i = worker
            while i < jobs.count {
                let job = jobs[i]
                do {
                    if try !job.work() { results.lock.withLock { results.failed.append(job.name) } }
                } catch let error as WorkspaceIOError {
                    results.lock.withLock { results.error = results.error ?? error }
                } catch let error as CocoaError where error.code.rawValue >= 512 {
                    results.lock.withLock { results.error = results.error ?? error }   // writing the gallery failed
                } catch {
                    results.lock.withLock { results.failed.append(job.name) }
                }
                i += max(1, min(threads, jobs.count))
            }
        }
        photos = [:]
        chips = [:]
        if let error = results.error { throw error }
        failed.formUnion(results.failed)
        return (jobs.count - results.failed.count, kept, results.failed.count)
    }

    /// A JPEG of at most `side` pixels on its longer side, upright as the faces' boxes are measured.
    private func thumbnailData(_ image: StoredImage) throws -> Data? {
        let path = catalog.workspace.url(forRelativePath: image.normalizedPath ?? image.path).path
        guard let bytes = try? ImageLimits.read(path) else { return nil }
        let decoded = try DecodedImage.decode(bytes)
        if image.normalizedPath == nil, let o = image.orientation, o > 1 { try decoded.orient(o) }
        let scale = min(1, Double(side) / Double(max(decoded.width, decoded.height)))
        let small = scale < 1
            ? try decoded.resized(width: max(1, Int((Double(decoded.width) * scale).rounded())), height: max(1, Int((Double(decoded.height) * scale).rounded())))
            : decoded
        return try small.jpeg(quality: 80)
    }

    /// Removes thumbnails, chips and person folders no page uses any more (a gallery of everyone only).
    func removeUnused(pages: Set<String>) throws -> Int {
        let fm = FileManager.default
        var removed = 0
        for folder in ["thumbs", "chips"] {
            let root = out.appendingPathComponent(folder)
            guard let files = fm.enumerator(atPath: root.path) else { continue }
            for case let file as String in files where file.hasSuffix(".jpg") {
                let name = "\(folder)/\(file)"
                if !used.contains(name) { try fm.removeItem(at: out.appendingPathComponent(name)); removed += 1 }
            }
        }
        let people = out.appendingPathComponent("people")
        for folder in (try? fm.contentsOfDirectory(atPath: people.path)) ?? [] where !pages.contains(folder) {
            try fm.removeItem(at: people.appendingPathComponent(folder))
            removed += 1
        }
        return removed
    }
}
