// A synthetic catalog at scale for bench/scale.sh (and for timing `curate merge`): the real schema, made by curate's
// own migrator (Catalog.open), filled with bulk SQL in one transaction.
// Usage: curate-bench-scale make WS [--images N] [--people P] [--big FACES] [--seed S] [--files]
//        curate-bench-scale shards DIR --shards K [--images M] [--people P] [--seed S] [--files]
// `make`: N images (default 1,000,000) over P people (default 10,000), of whom the first, `big-person`, has FACES
// one-face photos (default 20,000; 0 for none); the others share the rest evenly. Per image: its attempt (plus
// failed and queued URLs), processing's columns, faces with 128-float descriptors clustered per person, the
// verdict processing, identity and dedupe would give (kept, no_face, multi_face, a group photo kept for its
// matching face, wrong_person, duplicate, too_small, a few pending), a few reviewer decisions, reference portraits
// and a split with 10% of the kept images still to assign. `shards`: K workspaces DIR/shard-<k> of M images
// each (default 100,000; no pending images), each with its own P people (default 1,000): person-<k>-<n>. `--files`
// also writes each image's file (a few bytes whose SHA-256 is the row's, as fetch would have stored them; the
// normalised copy is the same file, chips are not written), for merge to link; `curate shard-done` marks each.
// Everything is a function of the seed, the sizes and the row's index: the same command makes the same catalog.
import Catalog
import Foundation
import GRDB
import GRDBSQLite

struct Options {
    var images = 1_000_000
    var people = 10_000
    var big = 20_000
    var seed: UInt64 = 1
    var files = false
    var shards = 0
    var labelPrefix = "person"
}

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data(("curate-bench-scale: " + message + "\n").utf8))
    exit(2)
}

@inline(__always) func mix(_ x: UInt64) -> UInt64 {
    var z = x &+ 0x9E37_79B9_7F4A_7C15
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
}

/// Gaussian noise, made once: a face's descriptor is its person's centre plus a window of this pool.
struct Noise {
    var pool: [Float]
    init(count: Int, seed: UInt64) {
        var state = seed
        pool = (0..<count).map { _ in
            // Sum of four uniforms, centred and scaled to unit variance: close enough to a normal for clusters.
            var s: Float = 0
            for _ in 0..<4 { state = mix(state); s += Float(state >> 40) / Float(1 << 24) }
            return (s - 2) * 1.7320508
        }
    }
}

/// dlib descriptor units: centres of two people about 0.9 apart, two faces of one person about 0.4, a face
/// about 0.28 from its centre (the measured same/other distances on ../shared/data are 0.35-0.45 and 0.8-0.9).
let centreSpread: Float = 0.056, faceSpread: Float = 0.025

final class Filler {
    let db: Database
    let o: Options
    let noise: Noise
    var centres: [[Float]] = []
    var attemptId: Int64 = 0, imageId: Int64 = 0, faceId: Int64 = 0, decisionBatch: Int64 = 0
    let insertAttempt, insertImage, insertFace, insertDecision: Statement
    let root: URL

    init(db: Database, options: Options, root: URL) throws {
        self.db = db
        self.o = options
        self.root = root
        noise = Noise(count: 1 << 22, seed: options.seed)
        insertAttempt = try db.makeStatement(sql: """
            INSERT INTO attempt (id, personId, termId, url, pageUrl, title, provider, license, state, failure, transient, httpStatus,
                bytes, ms, tries, imageId, createdAt, updatedAt) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)
            """)
        insertImage = try db.makeStatement(sql: """
            INSERT INTO image (id, personId, attemptId, sha256, path, bytes, format, sourceUrl, pageUrl, title, provider, term,
                license, creator, createdAt, pixelSha256, phash, width, height, faces, verdict, reason, detail, reviewed,
                reviewedAt, split, normalizedPath, orientation, processedAt, related, reference, ownVerdict, ownReason,
                ownDetail, jpegQuality, detector) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)
            """)
        insertFace = try db.makeStatement(sql: """
            INSERT INTO face (id, imageId, idx, left, top, right, bottom, score, landmarks, counted, chosen, chipPath, descriptor)
            VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)
            """)
        insertDecision = try db.makeStatement(sql: """
            INSERT INTO decision (imageId, batch, action, face, personId, before, createdAt) VALUES (?,?,?,?,?,?,?)
            """)
    }

    // Raw binds: GRDB's argument arrays box every value, which costs more than SQLite's insert at this size.
    func bind(_ s: Statement, _ i: Int32, _ v: Int64?) {
        if let v { sqlite3_bind_int64(s.sqliteStatement, i, v) } else { sqlite3_bind_null(s.sqliteStatement, i) }
    }
    func bind(_ s: Statement, _ i: Int32, _ v: Double) { sqlite3_bind_double(s.sqliteStatement, i, v) }
    func bind(_ s: Statement, _ i: Int32, _ v: String?) {
        guard let v else { sqlite3_bind_null(s.sqliteStatement, i); return }
        _ = v.utf8CString.withUnsafeBufferPointer { p in
            sqlite3_bind_text(s.sqliteStatement, i, p.baseAddress, Int32(p.count - 1), unsafeBitCast(-1, to: sqlite3_destructor_type.self))
        }
    }
    func bind(_ s: Statement, _ i: Int32, blob: UnsafeRawBufferPointer) {
        sqlite3_bind_blob(s.sqliteStatement, i, blob.baseAddress, Int32(blob.count), unsafeBitCast(-1, to: sqlite3_destructor_type.self))
    }
    func step(_ s: Statement) throws {
        let rc = sqlite3_step(s.sqliteStatement)
        sqlite3_reset(s.sqliteStatement)
        sqlite3_clear_bindings(s.sqliteStatement)
        guard rc == SQLITE_DONE else { fail("insert failed: \(String(cString: sqlite3_errmsg(db.sqliteConnection)))") }
    }

    let now = "2026-01-01 00:00:00.000"
    var descriptor = [Float](repeating: 0, count: 128)

    func face(_ image: Int64, idx: Int, of person: Int, counted: Bool, chosen: Bool, sha: String, key: UInt64) throws {
        faceId += 1
        let s = insertFace
        let x = Double(40 + idx * 220)
        bind(s, 1, faceId); bind(s, 2, image); bind(s, 3, Int64(idx))
        bind(s, 4, x); bind(s, 5, 60.0); bind(s, 6, x + 180); bind(s, 7, 240.0); bind(s, 8, 1.2)
        bind(s, 9, "[\(x + 50),110,\(x + 130),110,\(x + 90),150,\(x + 60),190,\(x + 120),190]")
        bind(s, 10, Int64(counted ? 1 : 0)); bind(s, 11, Int64(chosen ? 1 : 0))
        if counted {
            bind(s, 12, o.files ? nil : "chips/\(sha.prefix(2))/\(sha)-\(idx).png")
            let offset = Int(key % UInt64(noise.pool.count - 128))
            let c = centres[person]
            for k in 0..<128 { descriptor[k] = c[k] + noise.pool[offset + k] * faceSpread }
            descriptor.withUnsafeBytes { bind(s, 13, blob: $0) }
        }
        try step(s)
    }

    func sha256(of payload: [UInt8]) -> String { SHA256.hex(payload) }

    /// One person's images, attempts and faces.
    func person(_ p: Int, id personId: Int64, label: String, images: Int, big: Bool) throws {
        let termId = Int64(p * 3 + 1)
        let keyBase = o.seed &* 1_000_003 &+ UInt64(truncatingIfNeeded: personId) << 32
        var previous: (id: Int64, sha: String, phash: Int64, verdict: String)?
        for k in 0..<images {
            let h = mix(keyBase &+ UInt64(k))
            attemptId += 1
            imageId += 1
            let id = imageId
            let payload = Array("curate-bench-scale \(label) \(k) \(o.seed)\n".utf8)
            let sha = sha256(of: payload)
            let r = Int(h % 1000)
            // What the image is: the share of each verdict a web search gives after processing.
            enum Kind { case one, none, groupMatch, group, wrong, duplicate, small, pending }
            let kind: Kind = big ? (r < 920 ? .one : .wrong)
                : r < 750 ? .one : r < 850 ? .none : r < 880 ? .groupMatch : r < 930 ? .group : r < 960 ? .wrong
                : r < 980 && previous != nil ? .duplicate : r < 995 || o.shards > 0 ? .small : .pending
            let url = "https://upload.wikimedia.org/wikipedia/commons/\(sha.prefix(1))/\(sha.prefix(2))/\(label)_\(k).jpg"
            let page = "https://commons.wikimedia.org/wiki/File:\(label)_\(k).jpg"
            var pixel: String? = sha, phash: Int64? = Int64(bitPattern: mix(h)), faces: Int64? = 1
            var verdict = "kept", reason: String?, detail: String?, related: String?
            var ownVerdict: String? = "kept", ownReason: String?, ownDetail: String?
            var width: Int64? = 800, height: Int64? = 600
            var reviewed = false, reference = false
            var faceList: [(person: Int, counted: Bool, chosen: Bool)] = []
            let other = (p + 1 + Int(h >> 20) % max(1, o.people - 1)) % o.people
            switch kind {
            case .one:
                faceList = [(p, true, true)]
                reference = k == 0 && p % 3 == 0
            case .none:
                faces = 0; verdict = "rejected"; reason = "no_face"; detail = "no face found"
            case .groupMatch:
                faces = 2; faceList = [(other, true, false), (p, true, true)]
                detail = "face 2 of 2 matches (0.28; next 0.91)"
            case .group:
                faces = 2; faceList = [(other, true, false), ((other + 1) % o.people, true, false)]
                verdict = "rejected"; reason = "multi_face"; detail = "2 faces of similar size"
            case .wrong:
                faceList = [(other, true, true)]
                verdict = "rejected"; reason = "wrong_person"; detail = "distance 0.91 > 0.60"
            case .duplicate:
                // A copy of the person's previous image: the same pixels and pHash, another file.
                let prev = previous!
                pixel = prev.sha; phash = prev.phash
                faceList = [(p, true, true)]
                verdict = "rejected"; reason = "duplicate"; related = "[\(prev.id)]"
                detail = "a copy of #\(prev.id), which is \(prev.verdict)"
            case .small:
                faces = nil; width = 40; height = 30; verdict = "rejected"; reason = "too_small"; detail = "40x30 is under 80 px"
            case .pending:
                pixel = nil; phash = nil; faces = nil; width = nil; height = nil; verdict = "pending"; ownVerdict = nil
            }
            if kind != .duplicate, kind != .pending { ownVerdict = verdict; ownReason = reason; ownDetail = detail }
            if kind == .pending { ownVerdict = nil }
            // A few decisions: every 499th rejected image accepted in review.
            var reviewedAt: String?, decision: String?
            if verdict == "rejected", kind != .small, id % 499 == 0 {
                decision = "{\"verdict\":\"rejected\",\"reason\":\"\(reason!)\",\"reviewed\":false,\"personId\":\(personId)}"
                reviewed = true; reviewedAt = now
                detail = "accepted in review (was \(reason!))"; reason = nil; verdict = "kept"
            }
            // The split: 90% of kept images placed (a fifth of them in val), the rest for `curate split` to place.
            let split: String? = verdict == "kept" && (h >> 8) % 10 != 0 ? ((h >> 16) % 5 == 0 ? "val" : "train") : nil
            if o.files {
                let path = root.appendingPathComponent("images/\(sha.prefix(2))")
                try? FileManager.default.createDirectory(at: path, withIntermediateDirectories: true)
                FileManager.default.createFile(atPath: path.appendingPathComponent("\(sha).jpg").path, contents: Data(payload))
            }
            // The attempt that stored it.
            var s = insertAttempt
            bind(s, 1, attemptId); bind(s, 2, personId); bind(s, 3, termId); bind(s, 4, url); bind(s, 5, page)
            bind(s, 6, "File:\(label)_\(k).jpg"); bind(s, 7, "commons"); bind(s, 8, "CC BY-SA 4.0"); bind(s, 9, "stored")
            bind(s, 10, nil as String?); bind(s, 11, Int64(0)); bind(s, 12, Int64(200)); bind(s, 13, Int64(payload.count))
            bind(s, 14, Int64(120)); bind(s, 15, Int64(1)); bind(s, 16, id); bind(s, 17, now); bind(s, 18, now)
            try step(s)
            let storedAttempt = attemptId
            // URLs that failed (one in 20) or still wait (one in 100).
            for (state, every) in [("failed", UInt64(20)), ("queued", UInt64(100))] where (h >> 24) % every == 0 {
                attemptId += 1
                bind(s, 1, attemptId); bind(s, 2, personId); bind(s, 3, termId); bind(s, 4, url + "?\(state)"); bind(s, 5, page)
                bind(s, 6, nil as String?); bind(s, 7, "commons"); bind(s, 8, nil as String?); bind(s, 9, state)
                bind(s, 10, state == "failed" ? "http_404" : nil); bind(s, 11, Int64(0))
                bind(s, 12, state == "failed" ? Int64(404) : nil); bind(s, 13, nil as Int64?); bind(s, 14, nil as Int64?)
                bind(s, 15, Int64(state == "failed" ? 3 : 0)); bind(s, 16, nil as Int64?); bind(s, 17, now); bind(s, 18, now)
                try step(s)
            }
            s = insertImage
            let processed = kind != .pending
            bind(s, 1, id); bind(s, 2, personId); bind(s, 3, storedAttempt); bind(s, 4, sha)
            bind(s, 5, "images/\(sha.prefix(2))/\(sha).jpg"); bind(s, 6, Int64(payload.count)); bind(s, 7, "jpeg"); bind(s, 8, url)
            bind(s, 9, page); bind(s, 10, "File:\(label)_\(k).jpg"); bind(s, 11, "commons"); bind(s, 12, label.replacingOccurrences(of: "-", with: " "))
            bind(s, 13, "CC BY-SA 4.0"); bind(s, 14, "Photographer \(k % 97)"); bind(s, 15, now); bind(s, 16, pixel); bind(s, 17, phash)
            bind(s, 18, width); bind(s, 19, height); bind(s, 20, faces); bind(s, 21, verdict); bind(s, 22, reason); bind(s, 23, detail)
            bind(s, 24, Int64(reviewed ? 1 : 0)); bind(s, 25, reviewedAt); bind(s, 26, split)
            // With --files, the normalised copy is the original itself (one file an image for merge to place).
            let normalized = o.files ? "images/\(sha.prefix(2))/\(sha).jpg" : "normalized/\(sha.prefix(2))/\(sha).jpg"
            bind(s, 27, processed && width != 40 ? normalized : nil); bind(s, 28, processed ? Int64(1) : nil)
            bind(s, 29, processed ? now : nil); bind(s, 30, related); bind(s, 31, Int64(reference ? 1 : 0)); bind(s, 32, ownVerdict)
            bind(s, 33, ownReason); bind(s, 34, ownDetail); bind(s, 35, processed ? Int64(90) : nil)
            bind(s, 36, processed && faces != nil ? "hog" : nil)
            try step(s)
            if let decision {
                decisionBatch += 1
                let s = insertDecision
                bind(s, 1, id); bind(s, 2, decisionBatch); bind(s, 3, "accept"); bind(s, 4, nil as Int64?); bind(s, 5, nil as Int64?)
                bind(s, 6, decision); bind(s, 7, now)
                try step(s)
            }
            for (i, f) in faceList.enumerated() {
                try face(id, idx: i, of: f.person, counted: f.counted, chosen: f.chosen, sha: sha, key: h &+ UInt64(i) &* 7919)
            }
            if kind != .duplicate { previous = (id, sha, phash ?? 0, verdict) }
        }
    }

    func fill(people: [String]) throws {
        var state = mix(o.seed ^ 0xC0FFEE)
        centres = (0..<people.count).map { _ in
            (0..<128).map { _ in
                state = mix(state)
                return noise.pool[Int(state % UInt64(noise.pool.count))] * centreSpread
            }
        }
        let people = people
        let bigImages = o.big > 0 ? min(o.big, o.images) : 0
        let rest = o.images - bigImages
        let ordinary = people.count - (bigImages > 0 ? 1 : 0)
        for (p, label) in people.enumerated() {
            let personId = Int64(p + 1)
            try db.execute(sql: "INSERT INTO person (id, label, queryFile, createdAt) VALUES (?, ?, ?, ?)",
                           arguments: [personId, label, "queries/\(label).txt", now])
            for (t, (text, kind, state)) in [(label.replacingOccurrences(of: "-", with: " "), "search", "exhausted"),
                                            ("Category:\(label)", "category", "no_new"), ("\(label) portrait", "search", "open")].enumerated() {
                try db.execute(sql: """
                    INSERT INTO term (id, personId, text, kind, provider, position, pages, results, state, updatedAt)
                    VALUES (?, ?, ?, ?, 'commons', ?, 3, 150, ?, ?)
                    """, arguments: [p * 3 + t + 1, personId, text, kind, t, state, now])
            }
            let big = bigImages > 0 && p == 0
            let count = big ? bigImages : ordinary > 0 ? rest / ordinary + ((p - (bigImages > 0 ? 1 : 0)) < rest % ordinary ? 1 : 0) : 0
            try person(p, id: personId, label: label, images: count, big: big)
        }
        let split = #"{"val":0.2,"test":0,"seed":0,"minImages":10,"phashDistance":6}"#
        try db.execute(sql: "INSERT INTO setting (key, value) VALUES ('split', ?)", arguments: [split])
    }
}

func make(_ path: String, _ o: Options, people: [String]) throws {
    let workspace = Workspace(path: path)
    if workspace.exists { fail("\(path) already holds a catalog; give a new folder") }
    try workspace.prepare()
    _ = try Catalog.open(workspace)   // the real schema, every migration
    // The fill runs on a connection of its own without WAL or syncs: a bench catalog, made in one go.
    var config = Configuration()
    config.prepareDatabase { db in
        try db.execute(sql: "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; PRAGMA cache_size = -400000")
    }
    let queue = try DatabaseQueue(path: workspace.catalogURL.path, configuration: config)
    try queue.inTransaction { db in
        let filler = try Filler(db: db, options: o, root: workspace.root)
        try filler.fill(people: people)
        return .commit
    }
    try queue.writeWithoutTransaction { db in
        try db.execute(sql: "ANALYZE")
        try db.execute(sql: "PRAGMA journal_mode = WAL")
    }
}

func labels(_ o: Options, prefix: String) -> [String] {
    let width = String(o.people).count
    let first = o.big > 0 ? ["big-\(prefix)"] : []
    return first + (1...max(1, o.people - first.count)).map { n in "\(prefix)-" + String(repeating: "0", count: max(0, width - String(n).count)) + String(n) }
}

var args = Array(CommandLine.arguments.dropFirst())
guard let command = args.first, ["make", "shards"].contains(command), args.count >= 2 else {
    fail("usage: curate-bench-scale make WS [--images N] [--people P] [--big FACES] [--seed S] [--files]\n"
         + "       curate-bench-scale shards DIR --shards K [--images M] [--people P] [--seed S] [--files]")
}
let target = args[1]
args = Array(args.dropFirst(2))
var o = Options()
if command == "shards" { o.images = 100_000; o.people = 1_000; o.big = 0 }
while !args.isEmpty {
    let flag = args.removeFirst()
    if flag == "--files" { o.files = true; continue }
    guard let value = args.first.flatMap({ Int($0.replacingOccurrences(of: "_", with: "")) }), value >= 0 else { fail("\(flag) needs a number") }
    args.removeFirst()
    switch flag {
    case "--images": o.images = value
    case "--people": o.people = max(1, value)
    case "--big": o.big = value
    case "--seed": o.seed = UInt64(value)
    case "--shards": o.shards = value
    default: fail("unknown option \(flag)")
    }
}
let started = Date()
if command == "make" {
    if o.big > o.images { fail("--big \(o.big) is more than --images \(o.images)") }
    try make(target, o, people: labels(o, prefix: "person"))
    print(String(format: "made %@: %d images over %d people in %.1f s", target, o.images, o.people, Date().timeIntervalSince(started)))
} else {
    guard o.shards >= 1 else { fail("shards needs --shards K (1 or more)") }
    try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: true)
    for k in 0..<o.shards {
        var shard = o
        shard.seed = o.seed &* 1000 &+ UInt64(k)
        try make("\(target)/shard-\(k)", shard, people: labels(shard, prefix: "person-\(k)"))
    }
    print(String(format: "made %d shards of %d images (%d people each) in %@ in %.1f s", o.shards, o.images, o.people, target,
                 Date().timeIntervalSince(started)))
}
