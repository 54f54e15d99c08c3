// The catalog's schema: one migrator whose named migrations are only ever appended.
import GRDB

enum Schema {
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()

        migrator.registerMigration("v1: people, terms, attempts, images") { db in
            try db.create(table: "person") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("label", .text).notNull().unique(onConflict: .fail).collate(.nocase)
                t.column("queryFile", .text)
                t.column("createdAt", .datetime).notNull()
            }

            // A search term (or a direct URL) of one person, with its paging cursor.
            try db.create(table: "term") { t in
                t.autoIncrementedPrimaryKey("id")
                t.belongsTo("person", onDelete: .cascade).notNull()
                t.column("text", .text).notNull()
                t.column("kind", .text).notNull()          // search | url
                t.column("provider", .text).notNull()      // commons | openverse | direct
                t.column("position", .integer).notNull()   // line order in the query file
                t.column("cursor", .text)                  // provider's continuation, JSON
                t.column("pages", .integer).notNull().defaults(to: 0)
                t.column("results", .integer).notNull().defaults(to: 0)
                t.column("state", .text).notNull().defaults(to: "open")
                t.column("lastError", .text)
                t.column("updatedAt", .datetime).notNull()
                t.uniqueKey(["personId", "provider", "text"])
            }

            // Every URL ever queued for a person, with its outcome.
            try db.create(table: "attempt") { t in
                t.autoIncrementedPrimaryKey("id")
                t.belongsTo("person", onDelete: .cascade).notNull()
                t.belongsTo("term", onDelete: .setNull)
                t.column("url", .text).notNull()
                t.column("pageUrl", .text)
                t.column("title", .text)
                t.column("provider", .text).notNull()
                t.column("license", .text)
                t.column("licenseUrl", .text)
                t.column("creator", .text)
                t.column("attribution", .text)
                t.column("rank", .integer)
                t.column("state", .text).notNull().defaults(to: "queued").indexed()
                t.column("failure", .text)
                t.column("transient", .boolean).notNull().defaults(to: false)
                t.column("httpStatus", .integer)
                t.column("error", .text)
                t.column("bytes", .integer)
                t.column("ms", .integer)
                t.column("tries", .integer).notNull().defaults(to: 0)
                t.column("imageId", .integer)
                t.column("createdAt", .datetime).notNull()
                t.column("updatedAt", .datetime).notNull()
                t.uniqueKey(["personId", "url"])
            }

            // One stored image of one person. The same bytes under two people are two rows (one file).
            try db.create(table: "image") { t in
                t.autoIncrementedPrimaryKey("id")
                t.belongsTo("person", onDelete: .cascade).notNull()
                t.belongsTo("attempt", onDelete: .setNull)
                t.column("sha256", .text).notNull().indexed()
                t.column("path", .text).notNull()
                t.column("bytes", .integer).notNull()
                t.column("format", .text).notNull()
                t.column("sourceUrl", .text).notNull()
                t.column("pageUrl", .text)
                t.column("title", .text)
                t.column("provider", .text).notNull()
                t.column("term", .text)
                t.column("license", .text)
                t.column("licenseUrl", .text)
                t.column("creator", .text)
                t.column("attribution", .text)
                t.column("createdAt", .datetime).notNull()
                // Filled by processing and review.
                t.column("pixelSha256", .text)
                t.column("phash", .integer)
                t.column("width", .integer)
                t.column("height", .integer)
                t.column("faces", .integer)
                t.column("verdict", .text).notNull().defaults(to: "pending").indexed()
                t.column("reason", .text)
                t.column("detail", .text)
                t.column("reviewed", .boolean).notNull().defaults(to: false)
                t.column("reviewedAt", .datetime)
                t.column("split", .text)
                t.uniqueKey(["personId", "sha256"])
            }
        }
        migrator.registerMigration("v2: processing results and faces") { db in
            try db.alter(table: "image") { t in
                t.add(column: "normalizedPath", .text)
                t.add(column: "orientation", .integer)
                t.add(column: "cameraMake", .text)
                t.add(column: "cameraModel", .text)
                t.add(column: "takenAt", .text)
                t.add(column: "processedAt", .datetime)
            }
            // Every face the detector found in an image. `counted` faces make the verdict; the chosen one (the
            // only counted face, or the one a reviewer picks) has the aligned chip and the descriptor.
            try db.create(table: "face") { t in
                t.autoIncrementedPrimaryKey("id")
                t.belongsTo("image", onDelete: .cascade).notNull()
                t.column("idx", .integer).notNull()
                t.column("left", .double).notNull()
                t.column("top", .double).notNull()
                t.column("right", .double).notNull()
                t.column("bottom", .double).notNull()
                t.column("score", .double).notNull()
                t.column("landmarks", .text)        // JSON [x0, y0, ... x4, y4]
                t.column("counted", .boolean).notNull()
                t.column("chosen", .boolean).notNull().defaults(to: false)
                t.column("chipPath", .text)
                t.column("descriptor", .blob)       // 128 little-endian Float32
                t.uniqueKey(["imageId", "idx"])
            }
        }
        migrator.registerMigration("v3: settings") { db in
            // Choices that later runs must repeat, e.g. the split's fractions and seed.
            try db.create(table: "setting") { t in
                t.primaryKey("key", .text)
                t.column("value", .text).notNull()
            }
        }
        migrator.registerMigration("v4: review decisions") { db in
            // The images a dedupe verdict points at (the kept copy, or the same image under other people).
            try db.alter(table: "image") { t in t.add(column: "related", .text) }   // JSON [id, ...]
            // Every review decision, with the image's state before it, so that any number can be undone.
            try db.create(table: "decision") { t in
                t.autoIncrementedPrimaryKey("id")
                t.belongsTo("image", onDelete: .cascade).notNull()
                t.column("batch", .integer).notNull()       // decisions applied together are undone together
                t.column("action", .text).notNull()         // accept, reject, face, relabel
                t.column("face", .integer)                  // the face chosen (idx), for `face`
                t.column("personId", .integer)              // the person moved to, for `relabel`
                t.column("before", .text).notNull()         // JSON of the image's state before
                t.column("createdAt", .datetime).notNull()
                t.column("undoneAt", .datetime)
            }
            try db.create(index: "decision_batch", on: "decision", columns: ["batch"])
        }
        migrator.registerMigration("v5: training runs") { db in
            // Every `curate train`: what it trained on and how well it did; the files are in `folder`.
            try db.create(table: "run") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("createdAt", .datetime).notNull()
                t.column("model", .text).notNull()          // embed or cnn
                t.column("status", .text).notNull()         // running, done, interrupted, failed
                t.column("folder", .text).notNull()         // workspace-relative: runs/<id>
                t.column("options", .text).notNull()        // JSON of the training options
                t.column("labels", .text).notNull()         // JSON [label], in class order
                t.column("trainImages", .integer).notNull()
                t.column("valImages", .integer).notNull()
                t.column("accuracy", .double)
                t.column("macroAccuracy", .double)
                t.column("bestEpoch", .integer)
                t.column("epochs", .integer)
                t.column("seconds", .double)
                t.column("imagesPerSecond", .double)
                t.column("error", .text)
            }
        }
        migrator.registerMigration("v6: curated sources") { db in
            // Terms found while fetching (a category's subcategories, what a Wikidata entity names) point at the
            // term that found them, so a later run walks the same tree and takes each category once.
            try db.alter(table: "term") { t in t.add(column: "parentId", .integer).references("term", onDelete: .cascade) }
            // The person's reference portrait (Wikidata's P18): an identity anchor like a reviewer-accepted face.
            try db.alter(table: "image") { t in t.add(column: "reference", .boolean).notNull().defaults(to: false) }
        }
        migrator.registerMigration("v7: files being moved into place") { db in
            // Written (and committed) before a download is renamed into images/, removed in the transaction that
            // records its image: after a kill, the start-up sweep removes exactly these files and no others.
            try db.create(table: "placing") { t in
                t.primaryKey("path", .text)
                t.column("createdAt", .datetime).notNull()
            }
        }
        migrator.registerMigration("v8: processing marks") { db in
            // A row while a worker has the image in flight (written before its bytes are decoded, deleted with its
            // verdict), and for good once a run has died on it: see ProcessingState.
            try db.create(table: "processing") { t in
                t.primaryKey("imageId", .integer).references("image", onDelete: .cascade)
                t.column("state", .text).notNull()
                t.column("since", .datetime).notNull()
            }
        }
        migrator.registerMigration("v9: the verdict an image earns on its own, and its JPEG quality") { db in
            // Dedupe gives the best copy of a picture the verdict that copy earned on its own (kept, no_face,
            // multi_face, too_small, wrong_person...) and makes the others its duplicates, so that verdict is kept
            // apart from the one dedupe writes. jpegQuality (from the quantisation tables) ranks same-sized copies;
            // processing fills it (`process --all` for images processed before).
            try db.alter(table: "image") { t in
                t.add(column: "ownVerdict", .text)
                t.add(column: "ownReason", .text)
                t.add(column: "ownDetail", .text)
                t.add(column: "jpegQuality", .integer)
            }
            // Until now dedupe only looked at images kept on their own: its duplicates and conflicts were kept.
            // A reviewer's decision replaced the verdict it was made on, so reviewed images are left without one.
            try db.execute(sql: """
                UPDATE image SET ownVerdict = verdict, ownReason = reason, ownDetail = detail
                WHERE processedAt IS NOT NULL AND reviewed = 0 AND (reason IS NULL OR reason NOT IN ('duplicate', 'label_conflict'))
                """)
            try db.execute(sql: """
                UPDATE image SET ownVerdict = 'kept'
                WHERE processedAt IS NOT NULL AND reviewed = 0 AND reason IN ('duplicate', 'label_conflict')
                """)
        }
        migrator.registerMigration("v10: the face detector that looked") { db in
            // Which detector's faces are recorded, so that `--detector cnn` gives a second look exactly to the
            // images HOG found no face in. Every image processing decoded before this column was looked at by HOG.
            try db.alter(table: "image") { t in t.add(column: "detector", .text) }
            try db.execute(sql: "UPDATE image SET detector = 'hog' WHERE normalizedPath IS NOT NULL")
        }
        migrator.registerMigration("v11: merged shards") { db in
            // One row per finished shard merged into this workspace (`curate merge`), written in the transaction
            // that brings its rows: a shard is merged whole or not at all. `marker` is the shard's shard.json, and
            // its SHA-256 (`markerSha256`) what tells a shard already merged; `settled` turns true once the stages
            // that look across people have run over the merged catalog.
            try db.create(table: "mergedShard") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("path", .text).notNull()
                t.column("shard", .text)                 // K/N, nil for a workspace fetched whole
                t.column("markerSha256", .text).notNull().unique()
                t.column("marker", .text).notNull()
                t.column("images", .integer).notNull()   // image rows it brought
                t.column("mergedAt", .datetime).notNull()
                t.column("settled", .boolean).notNull().defaults(to: false)
            }
        }
        migrator.registerMigration("v12: no password in term texts and attempt URLs") { db in
            // A query file's URL may carry a password; fetch reads it from the file again and keeps it nowhere.
            // Two URLs that differed only by their password would become one row: the later keeps its id as a
            // fragment, which the server never sees.
            for (table, column) in [("term", "text"), ("attempt", "url")] {
                for row in try Row.fetchAll(db, sql: "SELECT id, \(column) FROM \(table) WHERE \(column) LIKE '%://%@%'") {
                    let id: Int64 = row[0], value: String = row[1]
                    let redacted = StoredImage.redactingPassword(value)
                    guard redacted != value else { continue }
                    try db.execute(sql: "UPDATE OR IGNORE \(table) SET \(column) = ? WHERE id = ?", arguments: [redacted, id])
                    if db.changesCount == 0 {
                        try db.execute(sql: "UPDATE \(table) SET \(column) = ? WHERE id = ?", arguments: [redacted + "#\(id)", id])
                    }
                }
            }
        }
        migrator.registerMigration("v13: indices for catalogs of millions of images") { db in
            // What `curate status` counts per person, read from the index alone in one ordered pass (no table
            // scan, no sort): 1,000,000 images counted in a fraction of a second instead of seconds per count.
            try db.create(index: "image_counts", on: "image", columns: ["personId", "verdict", "reason", "split", "reference"])
            try db.create(index: "attempt_counts", on: "attempt", columns: ["personId", "state", "failure"])
        }
        migrator.registerMigration("v14: deaths without evidence") { db in
            // A run that died with an image in flight and no evidence of why (SIGKILL, the OOM killer, a power cut)
            // counts a death against it; a mark is blamed on that count only (see Processor), never on one kill.
            try db.alter(table: "processing") { t in t.add(column: "deaths", .integer).notNull().defaults(to: 0) }
        }
        migrator.registerMigration("v15: face quality") { db in
            // How a face with a chip looks (see FaceQuality in Curate): the chip's sharpness and exposure, and the
            // head's turn from the landmarks. Null until measured: faces processed before this are measured by the
            // next `curate process`, from their chips and landmarks.
            try db.alter(table: "face") { t in
                t.add(column: "sharpness", .double)
                t.add(column: "brightness", .double)
                t.add(column: "darkFraction", .double)
                t.add(column: "brightFraction", .double)
                t.add(column: "yaw", .double)
            }
        }
        migrator.registerMigration("v16: each person's identity, kept with the rows it is found from") { db in
            // `status` shows every person's identity; finding it again means reading every descriptor of the catalog
            // and clustering them (most of `status`'s time at a million images). The stages across people store each
            // person's (`summary`, found with the options in `options`) once dedupe has given the verdicts; the
            // triggers below count every change to a row it is found from (`changes`) and clear `summary`, so a
            // stored identity is always the one the rows give, and a missing one is found again from that person's
            // rows alone. It is stored only where `changes` is still what was read with the rows (a reviewer
            // deciding meanwhile leaves the person to be found again). What it is found from: an image's person,
            // content, processing (processedAt, faces), reference mark, review (reviewed), whether it is kept and
            // whether it is a copy (reason duplicate); a face's index, counted, chosen and descriptor. A person's row
            // is made by the first change to their rows, and removed with the person.
            try db.create(table: "identityState") { t in
                t.primaryKey("personId", .integer)
                t.column("changes", .integer).notNull().defaults(to: 0)
                t.column("options", .text)
                t.column("summary", .text)
            }
            func touch(_ person: String) -> String {
                """
                INSERT OR IGNORE INTO identityState(personId) SELECT \(person) WHERE \(person) IS NOT NULL;
                UPDATE identityState SET changes = changes + 1, summary = NULL WHERE personId = \(person);
                """
            }
            let imageChanged = """
                OLD.personId IS NOT NEW.personId OR OLD.sha256 IS NOT NEW.sha256 OR OLD.reviewed IS NOT NEW.reviewed
                OR OLD.faces IS NOT NEW.faces OR OLD.reference IS NOT NEW.reference OR OLD.processedAt IS NOT NEW.processedAt
                OR (OLD.verdict IS 'kept') IS NOT (NEW.verdict IS 'kept') OR (OLD.reason IS 'duplicate') IS NOT (NEW.reason IS 'duplicate')
                """
            let faceChanged = """
                OLD.imageId IS NOT NEW.imageId OR OLD.idx IS NOT NEW.idx OR OLD.counted IS NOT NEW.counted
                OR OLD.chosen IS NOT NEW.chosen OR OLD.descriptor IS NOT NEW.descriptor
                """
            let faceOwner = { (row: String) in "(SELECT personId FROM image WHERE id = \(row).imageId)" }
            try db.execute(sql: """
                CREATE TRIGGER identity_image_insert AFTER INSERT ON image BEGIN \(touch("NEW.personId")) END;
                CREATE TRIGGER identity_image_delete AFTER DELETE ON image BEGIN \(touch("OLD.personId")) END;
                CREATE TRIGGER identity_image_update AFTER UPDATE OF personId, sha256, reviewed, faces, reference, processedAt,
                    verdict, reason ON image WHEN \(imageChanged)
                BEGIN \(touch("OLD.personId")) \(touch("NEW.personId")) END;
                CREATE TRIGGER identity_face_insert AFTER INSERT ON face BEGIN \(touch(faceOwner("NEW"))) END;
                CREATE TRIGGER identity_face_delete AFTER DELETE ON face BEGIN \(touch(faceOwner("OLD"))) END;
                CREATE TRIGGER identity_face_update AFTER UPDATE OF imageId, idx, counted, chosen, descriptor ON face WHEN \(faceChanged)
                BEGIN \(touch(faceOwner("OLD"))) \(touch(faceOwner("NEW"))) END;
                CREATE TRIGGER identity_person_delete AFTER DELETE ON person BEGIN
                    DELETE FROM identityState WHERE personId = OLD.id;
                END;
                """)
        }
        migrator.registerMigration("v17: each person's identity as review measures against it, and the queue's index") { db in
            // The review queue shows each rejected face's distance to its person's identity and, for wrong_person,
            // who it looks like: that needs each identity's centres and the leave-one-out distance of every face it
            // was found from. Stored beside `summary` by the same stage (Curate's encoding), and valid exactly when
            // `summary` is (the v16 triggers clear `summary` on every change to the rows they are found from).
            try db.alter(table: "identityState") { t in
                t.add(column: "centres", .blob)
                t.add(column: "distances", .blob)
            }
            // The queue in its order within a person (reason, id), only its rows: it is read a page at a time.
            try db.execute(sql: """
                CREATE INDEX image_review ON image(personId, reason, id) WHERE verdict = 'rejected' AND reviewed = 0
                """)
        }
        migrator.registerMigration("v18: the options the stages across people last judged by") { db in
            // After a merge the stages across people judge only what changed since they last ran (Catalog+Judgement):
            // exact only if they last ran to the end, with the same options. One row, written when they finish and
            // removed when a run starts that changes what they judge from.
            try db.create(table: "judgement") { t in
                t.primaryKey("id", .integer).check { $0 == 1 }
                t.column("options", .text).notNull()
            }
        }
        migrator.registerMigration("v19: indices a merge builds after its last shard") { db in
            // `curate merge` drops the non-unique indices of the tables it fills before its first shard and builds
            // them once after its last when it brings many rows (see `Catalog.deferIndices`: kept up row by row they
            // cost about twice what building them once does). Each is recorded here, in the transaction that drops it, and made
            // again (and its row removed) in one transaction: by the merge, or by the next command that opens the
            // catalog after the merge was killed. The UNIQUE constraints are never dropped.
            try db.create(table: "deferredIndex") { t in
                t.primaryKey("name", .text)
                t.column("sql", .text).notNull()
            }
        }
        migrator.registerMigration("v20: no index another one covers") { db in
            // Each of these is the first column of a UNIQUE constraint of its table (a face's image of (imageId, idx),
            // a URL's person of (personId, url), a term's person of (personId, provider, text)), which SQLite reads
            // for the same lookups: every row written kept both up to date for nothing (a merge built them again).
            for name in ["face_on_imageId", "attempt_on_personId", "term_on_personId"] {
                try db.execute(sql: "DROP INDEX IF EXISTS \"\(name)\"")
            }
        }
        migrator.registerMigration("v21: the judgement each merged shard made of its own people") { db in
            // A shard judged its own people across its own catalog (`process`); where it finished with the options
            // the merge judges by, the merge trusts it and judges again only what crossing shards can change
            // (ChangedJudgement). `judgedIn` names the merged shard (`mergedShard.id`) whose judgement a person's
            // identity row was brought from (NULL: this workspace's own); `shardCentre` holds, for each person a
            // trusted shard brought, the centres that shard measured its faces against. Both are forgotten when the
            // stages across people start or finish a judgement here.
            try db.alter(table: "identityState") { t in t.add(column: "judgedIn", .integer) }
            try db.create(table: "shardCentre") { t in
                t.column("shardId", .integer).notNull()
                t.column("personId", .integer).notNull()
                t.column("centres", .blob)
                t.primaryKey(["shardId", "personId"])
            }
        }
        migrator.registerMigration("v22: the distances identity last judged by") { db in
            // `process --identity-distance --suspect-distance --face-margin` (and a merge's stages, which take
            // process's): status, review, list and the gallery measure suspects and look-alikes by the same. One row,
            // written when the stages across people start.
            try db.create(table: "identityThresholds") { t in
                t.primaryKey("id", .integer).check { $0 == 1 }
                t.column("identityDistance", .double).notNull()
                t.column("suspectDistance", .double).notNull()
                t.column("faceMargin", .double).notNull()
            }
        }
        migrator.registerMigration("v23: a second look at faces whose eyes are covered") { db in
            // Whether a face's eyes are covered (sunglasses, a bar), looked at from its chip when it lands in its
            // person's band (null: not looked at), and its descriptor with a bar over its eyes: for a face whose
            // eyes are covered and for the sure faces of that person, to compare like with like (Curate's SecondLook).
            try db.alter(table: "face") { t in
                t.add(column: "eyesCovered", .boolean)
                t.add(column: "maskedDescriptor", .blob)
            }
        }
        migrator.registerMigration("v24: the crowd a covered face is measured against") { db in
            // The faces described with a bar: the sure faces every command that builds identities reads as the crowd
            // (`maskedCohort`), and the covered faces a merge judges again (`peopleWithCoveredFaces`); the few such
            // faces, not every face of a catalog of millions.
            try db.execute(sql: "CREATE INDEX face_barred ON face(eyesCovered, imageId) WHERE maskedDescriptor IS NOT NULL")
        }
        return migrator
    }
}
