// Synthetic finished shards for bench/merge.sh: workspaces with the real schema, made by bulk SQL (people, one
// attempt and one processed image per URL, one face with a 128-float descriptor per image), optionally with real
// files (an original named by its SHA-256, its normalised copy and its chip), each marked finished as
// `curate shard-done` marks it.
//
//   curate-bench-merge DIR SHARDS PEOPLE_PER_SHARD IMAGES_PER_PERSON [--files]
//   curate-bench-merge --union WORKSPACE SHARD...   the union alone (`Catalog.merge`: files and rows, each shard's
//                                                   transaction, the indices built after the last), as `curate merge`
//                                                   makes it before judging: one line of wall and CPU seconds.
import Catalog
import Foundation
import GRDB

let args = CommandLine.arguments
if args.count >= 3, args[1] == "--union" {
    func cpu() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
    }
    let ws = Workspace(path: args[2])
    try ws.prepare()
    let catalog = try Catalog.open(ws)
    let sources = try catalog.checkShards(args.dropFirst(3).map { URL(fileURLWithPath: $0) })
    let (cpu0, wall0) = (cpu(), Date())
    var lastShard = cpu0
    let images = try catalog.merge(sources, onShard: { _ in lastShard = cpu() }).map(\.images).reduce(0, +)
    let (seconds, cpuSeconds) = (Date().timeIntervalSince(wall0), cpu() - cpu0)
    // images, wall s, CPU s, of which after the last shard (the indices' build), images per second, per CPU-second
    print(String(format: "%d %.2f %.2f %.2f %.0f %.0f", images, seconds, cpuSeconds, cpuSeconds - (lastShard - cpu0),
                 Double(images) / seconds, Double(images) / cpuSeconds))
    exit(0)
}
guard args.count >= 5, let shards = Int(args[2]), let people = Int(args[3]), let perPerson = Int(args[4]) else {
    FileHandle.standardError.write(Data("usage: curate-bench-merge DIR SHARDS PEOPLE_PER_SHARD IMAGES_PER_PERSON [--files]\n".utf8))
    exit(2)
}
let withFiles = args.contains("--files")
let root = URL(fileURLWithPath: args[1])

for k in 0..<shards {
    let started = Date()
    let ws = Workspace(path: root.appendingPathComponent(String(format: "shard-%05d", k)).path)
    try ws.prepare()
    let catalog = try Catalog.open(ws)
    let now = "2026-01-01 00:00:00.000"
    try catalog.db.write { db in
        try db.execute(sql: """
            WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ? - 1)
            INSERT INTO person (label, createdAt) SELECT 'person_\(k)_' || i, ? FROM n
            """, arguments: [people, now])
        try db.execute(sql: """
            INSERT INTO term (personId, text, kind, provider, position, state, updatedAt)
            SELECT id, label, 'search', 'commons', 0, 'exhausted', ? FROM person
            """, arguments: [now])
        try db.execute(sql: """
            WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ? - 1)
            INSERT INTO attempt (personId, termId, url, provider, state, tries, bytes, ms, httpStatus, createdAt, updatedAt)
            SELECT p.id, t.id, 'https://upload.example.org/\(k)/' || p.id || '/' || n.i || '.jpg', 'commons', 'stored', 1, 50000, 80, 200, ?, ?
            FROM person p JOIN term t ON t.personId = p.id, n
            """, arguments: [perPerson, now, now])
        try db.execute(sql: """
            WITH a AS MATERIALIZED (SELECT id, personId, url, lower(hex(randomblob(32))) AS sha FROM attempt)
            INSERT INTO image (personId, attemptId, sha256, path, bytes, format, sourceUrl, pageUrl, title, provider, term, license,
                               createdAt, pixelSha256, phash, width, height, faces, verdict, processedAt, ownVerdict, detector,
                               normalizedPath, jpegQuality)
            SELECT a.personId, a.id, a.sha, 'images/' || substr(a.sha, 1, 2) || '/' || a.sha || '.jpg', 50000, 'jpeg', a.url,
                   a.url || '.html', 'File:' || a.id || '.jpg', 'commons', 'x', 'CC BY-SA 4.0', ?, lower(hex(randomblob(32))),
                   random(), 1024, 768, 1, 'kept', ?, 'kept', 'hog', 'normalized/' || substr(a.sha, 1, 2) || '/' || a.sha || '.jpg', 90
            FROM a
            """, arguments: [now, now])
        try db.execute(sql: "UPDATE attempt SET imageId = (SELECT id FROM image WHERE attemptId = attempt.id)")
        try db.execute(sql: """
            INSERT INTO face (imageId, idx, left, top, right, bottom, score, landmarks, counted, chosen, chipPath, descriptor)
            SELECT id, 0, 300, 200, 500, 400, 1.2, '[1,2,3,4,5,6,7,8,9,10]', 1, 1,
                   'faces/' || substr(sha256, 1, 2) || '/' || sha256 || '_0.jpg', randomblob(512) FROM image
            """)
    }
    if withFiles {
        // Small files: what a link costs does not depend on the size; a copy's does (see docs/benchmarks.md).
        let paths = try catalog.db.read { db in
            try Row.fetchAll(db, sql: "SELECT i.sha256, i.path, i.normalizedPath, f.chipPath FROM image i JOIN face f ON f.imageId = i.id")
        }
        var made = Set<String>()
        for row in paths {
            let sha: String = row[0]
            for (i, relative) in [row[1] as String, row[2] as String, row[3] as String].enumerated() {
                let url = ws.url(forRelativePath: relative)
                let dir = url.deletingLastPathComponent().path
                if made.insert(dir).inserted { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) }
                // The original's bytes must hash to its name: make them so (the sha in the row is rewritten below).
                let bytes = Data((sha + "\(i)").utf8)
                try bytes.write(to: url)
            }
        }
        // Originals are named by the SHA-256 of their bytes.
        try catalog.db.write { db in
            for row in try Row.fetchAll(db, sql: "SELECT id, sha256, path FROM image") {
                let id: Int64 = row[0], sha: String = row[1], path: String = row[2]
                let bytes = Data((sha + "0").utf8)
                let real = SHA256.hex(bytes)
                let newPath = Workspace.imagePath(sha256: real, ext: "jpg")
                try FileManager.default.createDirectory(at: ws.url(forRelativePath: newPath).deletingLastPathComponent(), withIntermediateDirectories: true)
                _ = rename(ws.url(forRelativePath: path).path, ws.url(forRelativePath: newPath).path)
                try db.execute(sql: "UPDATE image SET path = ?, sha256 = ? WHERE id = ?", arguments: [newPath, real, id])
            }
        }
    }
    try catalog.finishShard()
    print(String(format: "shard %d: %d people, %d images%@ (%.1f s)", k, people, people * perPerson, withFiles ? ", with files" : "",
                 Date().timeIntervalSince(started)))
}
