// `curate process`: clean, detect faces and dedupe every stored image, leaving a verdict with a reason for each.
import CBridgeError
import Catalog
import Foundation

public struct ProcessOptions: Sendable {
    /// Shorter side under this is too small.
    public var minSide = 64
    /// Refuse to decode more pixels than this (read from the header, before any allocation).
    public var maxPixels = 50_000_000
    /// Images are shrunk to this longer side before detection, so the cost per image stays bounded.
    public var detectMaxSide = 2000
    /// Images whose longer side is under this are upsampled once before detection.
    public var upsampleBelow = 1000
    /// `.cnn`: images the HOG detector finds no face in get a second look by dlib's CNN detector, which finds
    /// side-on and partly hidden faces HOG misses, at seconds per image (a run with it also looks again at the
    /// images earlier runs found no face in).
    public var detector = FaceDetector.hog
    /// The CNN detector looks at a copy whose longer side is at most this, upsampled once when it is under
    /// `cnnUpsampleBelow` (it finds faces of about 80 px and up in what it is given; its cost grows with the pixels).
    public var cnnMaxSide = 1000
    public var cnnUpsampleBelow = 600
    /// Faces smaller than this fraction of the largest face's area do not count.
    public var smallFaceRatio = 0.25
    /// pHash Hamming distance that makes two images near-duplicates.
    public var phashDistance = 6
    /// Face descriptor distance under which two images of one person are near-duplicates (0 turns it off).
    public var descriptorDistance: Float = 0.12
    /// Photos with at most this many detected faces get a descriptor per face, for identity to choose from.
    public var maxGroupFaces = 8
    /// The distances identity decides by.
    public var identity = IdentityOptions()
    /// Worker threads.
    public var threads = ProcessInfo.processInfo.activeProcessorCount
    /// Process again every image not decided by a reviewer (not only new ones).
    public var all = false
    /// Only the images of the people of this shard (the stages across people still look at every image).
    public var shard: Shard?
    /// Try again the images rejected because a run died on them (one at a time, first).
    public var retryCrashed = false
    public var models: ModelFiles

    public init(models: ModelFiles) { self.models = models }
}

public struct ProcessProgress: Sendable {
    public var done: Int
    public var total: Int
}

public struct ProcessSummary: Codable, Sendable {
    public var processed: Int
    public var kept: Int
    public var rejected: [String: Int]
    public var seconds: Double
    public var threads: Int
    public var interrupted: Bool
    public var warnings: [String]
    /// Where the time went, summed over the workers.
    public var stages: StageTimes
    /// Images decoded at a JPEG DCT reduction (1/2, 1/4 or 1/8) instead of whole: see `Processor.jpegReduction`.
    public var reducedDecodes = 0

    public var imagesPerSecond: Double { seconds > 0 ? Double(processed) / seconds : 0 }
}

/// Seconds spent in each stage of processing, summed over the worker threads (so with several threads they add
/// up to more than the wall time). `curate process --json` reports them; bench/process.sh prints them.
public struct StageTimes: Codable, Sendable {
    /// Reading the stored file, sniffing and checking its header and JPEG integrity.
    public var read = 0.0
    /// Decoding the pixels, EXIF and orientation.
    public var decode = 0.0
    /// SHA-256 of the pixels and the pHash.
    public var hash = 0.0
    /// The HOG face detector (including its shrinking or upsampling), without the landmarks.
    public var detect = 0.0
    /// The CNN detector's second look at images HOG found no face in (`--detector cnn`), without the landmarks.
    public var cnn = 0.0
    /// The 5-point shape predictor.
    public var landmarks = 0.0
    /// Cutting the aligned chip and the ResNet descriptor.
    public var descriptor = 0.0
    /// Encoding and writing the normalised copy and the chip.
    public var files = 0.0
    /// Writing the results to the catalog.
    public var catalog = 0.0
    /// Grouping copies and near-duplicates over the whole catalog (once, after the workers).
    public var dedupe = 0.0

    public init() {}

    mutating func add(_ o: StageTimes) {
        read += o.read; decode += o.decode; hash += o.hash; detect += o.detect; cnn += o.cnn; landmarks += o.landmarks
        descriptor += o.descriptor; files += o.files; catalog += o.catalog; dedupe += o.dedupe
    }

    /// Runs `body`, adding its time to the stage at `stage`.
    @discardableResult
    mutating func time<T>(_ stage: WritableKeyPath<StageTimes, Double>, _ body: () throws -> T) rethrows -> T {
        let start = DispatchTime.now().uptimeNanoseconds
        defer { self[keyPath: stage] += Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 }
        return try body()
    }

    /// Runs a detection by `models`, its time to `stage` but for the shape predictor's part, which goes to
    /// `landmarks` (the bridge reports that part with each detection).
    mutating func detection(_ stage: WritableKeyPath<StageTimes, Double>, _ models: FaceModels,
                            _ body: () throws -> [DetectedFace]) rethrows -> [DetectedFace] {
        let before = models.landmarkSeconds
        let faces = try time(stage, body)
        let predictor = models.landmarkSeconds - before
        self[keyPath: stage] -= predictor
        landmarks += predictor
        return faces
    }
}

/// What processing makes of one image before dedupe.
struct Analysis {
    var image: StoredImage
    var faces: [Face]
    /// The JPEG DCT reduction its pixels were decoded at (1: whole).
    var reduction = 1
}

public final class Processor {
    private let catalog: Catalog
    private let options: ProcessOptions
    private let onProgress: (ProcessProgress) -> Void
    private let shouldStop: () -> Bool

    public init(catalog: Catalog, options: ProcessOptions, onProgress: @escaping (ProcessProgress) -> Void = { _ in },
                shouldStop: @escaping () -> Bool = { false }) {
        self.catalog = catalog
        self.options = options
        self.onProgress = onProgress
        self.shouldStop = shouldStop
    }

    /// The detail of an image a run died on.
    public static let crashDetail = "a run died while processing it (it crashed a decoder, or runs died with it alone in flight \(deathsToBlame) times); "
        + "it is not tried again unless `curate process --retry-crashed`"
    /// Runs that died, with no evidence of why, while an image was alone in flight, before that image is blamed: a
    /// file that kills every run that tries it (the OOM killer leaves no evidence) cannot stop processing for good,
    /// and one kill -9 (or a power cut) is never an image's fault.
    public static let deathsToBlame = 3

    public func run() throws -> ProcessSummary {
        let started = Date()
        // What the stages across people judge from (hashes, faces, verdicts) is about to change: until they have
        // judged it all again, a judgement of only what changed since (`ChangedJudgement`) would not be exact.
        try catalog.recordJudgement(nil)
        var warnings: [String] = []
        if let missing = options.models.missingMessage { warnings.append(missing) }
        if options.models.resnet != nil, BLAS.current.slowDescriptors { warnings.append("face descriptors on the \(BLAS.current.summary)") }
        // Callers hold the workspace lock, so a mark left in the catalog is from a run that died with that image in
        // flight. An image is blamed only on evidence: the crash handler named it as the one its dying thread was
        // working on, or runs died with it alone in flight `deathsToBlame` times. A run the user ended (a second
        // Ctrl-C, a hang-up) blames nothing; the others are tried again first, one at a time.
        let evidence = DeathEvidence(workspace: catalog.workspace)
        let last = evidence.takeLast()
        let marks = try catalog.leftoverMarks()
        var blamed: [Int64] = []
        var suspects = Set<Int64>()
        if !marks.isEmpty {
            removeUnrecordedCopies(marks.map(\.imageId))
            let ids = marks.map(\.imageId)
            if !last.crashed.isEmpty || last.interrupted {
                blamed = ids.filter(last.crashed.contains)
                try catalog.dropMarks(ids.filter { !last.crashed.contains($0) })
            } else {
                let counted = try catalog.countDeaths(ids)
                blamed = counted.filter { $0.state == .alone && $0.deaths >= Self.deathsToBlame }.map(\.imageId)
                suspects = Set(counted.map(\.imageId)).subtracting(blamed)
            }
        }
        if !blamed.isEmpty {
            try catalog.recordCrashes(blamed, detail: Self.crashDetail)
            warnings.append("\(blamed.count) image(s) rejected as corrupt: an earlier run died while processing \(blamed.count == 1 ? "it" : "each of them")"
                            + " (`curate process --retry-crashed` tries again)")
        }
        if options.retryCrashed { suspects.formUnion(try catalog.retryCrashed()) }
        try evidence.start()
        defer { evidence.stop() }
        if options.detector == .cnn && options.models.cnnDetector == nil {
            throw FaceError(description: "--detector cnn needs \(ModelFiles.cnnDetectorName) beside the other model files; run scripts/setup.sh or set CURATE_MODELS to their folder")
        }
        var todo = try catalog.imagesToProcess(all: options.all, noFaceByHOG: options.detector == .cnn)
        if let shard = options.shard {
            let labels = try catalog.labels()
            todo = todo.filter { labels[$0.personId].map(shard.owns) ?? false }
        }
        let threads = max(1, min(options.threads, todo.count))
        let state = WorkState(total: todo.count)
        try work(todo.filter { suspects.contains($0.id!) }, threads: 1, state)
        try work(todo.filter { !suspects.contains($0.id!) }, threads: threads, state)

        let convolutions = ConvolutionStats.current
        if convolutions.disagreed > 0 {
            warnings.append("face descriptors: \(convolutions.disagreed) of the network's convolution shapes disagreed with dlib's own on this CPU"
                            + " (by \(convolutions.worst) of their largest output) and ran dlib's instead: slower, the same descriptors")
        }
        if convolutions.layersDisagreed > 0 {
            warnings.append("face descriptors: \(convolutions.layersDisagreed) of the network's relu, affine, max pooling and residual layers gave other"
                            + " floats than dlib's own on this CPU and ran dlib's instead: slower, the same descriptors")
        }
        // Faces measured before quality was (or chosen by a reviewer since) are measured from their chips.
        try FaceQuality.fillIn(catalog)
        try Self.judgeAcross(catalog, options, stages: &state.stages)
        let counts = try catalog.counts()
        var rejected: [String: Int] = [:]
        for c in counts { for (k, v) in c.reasons { rejected[k, default: 0] += v } }
        return ProcessSummary(processed: state.done + blamed.count, kept: counts.map { $0.images["kept"] ?? 0 }.reduce(0, +), rejected: rejected,
                              seconds: Date().timeIntervalSince(started), threads: threads, interrupted: state.interrupted,
                              warnings: warnings, stages: state.stages, reducedDecodes: state.reduced)
    }

    /// The stages that look across images and people, over the whole catalog from what processing stored (pixel
    /// hashes, pHashes, faces and their descriptors; nothing is decoded or detected again): after the workers, and
    /// after `curate merge`. Copies first, so that identity does not count a picture's worse copies as more faces
    /// of the person (ten copies of an intruder's photo are one face); then identity gives every image its own
    /// verdict (which images are the person, which face of a group photo); then dedupe gives each picture's best
    /// copy that verdict and makes the others its duplicates. Last, the identity of every person whose rows
    /// changed, as the verdicts now stand, is stored for `status` (the others keep theirs).
    /// With `changedOnly` (after a merge), only what changed since the stages last ran to the end with the same
    /// options, here and in each merged shard (`ChangedJudgement`), giving what judging the whole catalog gives.
    @discardableResult
    static func judgeAcross(_ catalog: Catalog, _ options: ProcessOptions, stages: inout StageTimes, changedOnly: Bool = false) throws -> AcrossCounts {
        let key = judgementKey(options)
        let o = options.identity
        try catalog.recordThresholds(identityDistance: o.wrongDistance, suspectDistance: o.suspectDistance, faceMargin: o.margin)
        if changedOnly, let counts = try ChangedJudgement(catalog: catalog, options: options).run() {
            return counts
        }
        try catalog.recordJudgement(nil)
        let dedupe = Dedupe(catalog: catalog, phashDistance: options.phashDistance, descriptorDistance: options.descriptorDistance)
        let copies = try stages.time(\.dedupe) { try dedupe.markCopies() }
        try IdentityCheck(catalog: catalog, options: options.identity, look: SecondLook(options.models)).run()
        try stages.time(\.dedupe) { try dedupe.settle(copies) }
        var counts = AcrossCounts()
        (counts.found, counts.kept) = try IdentityIndex.store(catalog, options: options.identity)
        counts.judgedPeople = try catalog.labels().count
        counts.regroupedImages = copies.groups.map(\.count).reduce(0, +)
        try catalog.recordJudgement(key)
        return counts
    }

    /// Progress shared by the workers of both passes.
    private final class WorkState: @unchecked Sendable {   // guarded by `lock`
        let lock = NSLock()
        let total: Int
        var next = 0
        var done = 0
        var failure: Error?
        var interrupted = false
        var stages = StageTimes()
        var reduced = 0
        init(total: Int) { self.total = total }
    }

    /// Workers pull the next image from a shared index. Each image is marked in flight before it is read and its
    /// result committed (clearing the mark) as soon as it is done, so a mark names only images a death can be
    /// blamed on.
    private func work(_ items: [StoredImage], threads: Int, _ state: WorkState) throws {
        guard !items.isEmpty, !state.interrupted else { return }
        let inFlight: ProcessingState = threads == 1 ? .alone : .shared
        let lock = state.lock
        state.next = 0
        let group = DispatchGroup()
        for _ in 0..<threads {
            group.enter()
            let thread = Thread { [self] in
                defer { group.leave() }
                do {
                    let models = try FaceModels(options.models, workers: threads)
                    if options.detector == .cnn, let cnn = options.models.cnnDetector { try models.loadCNN(cnn) }
                    var stages = StageTimes()
                    defer { lock.lock(); state.stages.add(stages); lock.unlock() }
                    while true {
                        lock.lock()
                        let stop = state.failure != nil || shouldStop()
                        if stop && state.failure == nil { state.interrupted = true }
                        let i = state.next
                        state.next += 1
                        lock.unlock()
                        if stop || i >= items.count { break }
                        let id = items[i].id!
                        curate_evidence_working_on(id)
                        defer { curate_evidence_working_on(0) }
                        try catalog.markProcessing(id, inFlight)
                        let a: Analysis
                        do { a = try analyze(items[i], models: models, stages: &stages) } catch {
                            // The workspace failed (disk full, read-only): keep what is done, stop everyone. Not this
                            // image's fault, so its mark goes: it must not be blamed by the next run.
                            try? catalog.unmarkProcessing(id)
                            lock.lock(); if state.failure == nil { state.failure = error }; lock.unlock()
                            break
                        }
                        do { try stages.time(\.catalog) { try catalog.recordProcessing([(a.image, a.faces)]) } } catch {
                            try? catalog.unmarkProcessing(id)
                            throw error
                        }
                        lock.lock(); state.done += 1; let d = state.done; if a.reduction > 1 { state.reduced += 1 }; lock.unlock()
                        onProgress(ProcessProgress(done: d, total: state.total))
                    }
                } catch {
                    lock.lock(); if state.failure == nil { state.failure = error }; lock.unlock()
                }
            }
            thread.stackSize = 8 << 20   // dlib's detector recurses over image pyramids
            thread.start()
        }
        group.wait()
        if let failure = state.failure { throw failure }
    }

    /// The normalised copies of images a dead run had in flight, which it wrote but did not record (names curate
    /// gives them: nobody else's files).
    private func removeUnrecordedCopies(_ ids: [Int64]) {
        for id in ids {
            guard let image = try? catalog.image(id: id), image.normalizedPath == nil else { continue }
            unlink(catalog.workspace.url(forRelativePath: Self.normalizedPath(image.sha256)).path)
        }
    }

    /// Where an image's normalised copy goes.
    static func normalizedPath(_ sha256: String) -> String { "normalized/\(sha256.prefix(2))/\(sha256).jpg" }

    /// Everything about one image that does not depend on the others. A fault of the image is its verdict; a
    /// fault of the workspace (a file that cannot be written or read) is thrown as `WorkspaceIOError`, so the run
    /// stops with nothing recorded for this image instead of blaming it.
    func analyze(_ stored: StoredImage, models: FaceModels, stages: inout StageTimes) throws -> Analysis {
        var image = stored
        // What an earlier run found must not outlive this one (a file that no longer decodes has no pixel hash,
        // and is nobody's copy).
        (image.pixelSha256, image.phash, image.jpegQuality, image.detector) = (nil, nil, nil, nil)
        var faces: [Face] = []
        var reduction = 1
        func verdict(_ verdict: Verdict, _ reason: Reason?, _ detail: String?) -> Analysis {
            image.verdict = verdict
            image.reason = reason
            image.detail = detail
            // The image's own verdict, which identity may refine; dedupe may make the image a duplicate of a better
            // copy and gives this one to the best copy.
            (image.ownVerdict, image.ownReason, image.ownDetail) = (verdict, reason, detail)
            image.faces = verdict == .kept || reason == .multiFace || reason == .noFace ? faces.filter(\.counted).count : nil
            return Analysis(image: image, faces: faces, reduction: reduction)
        }
        let workspace = catalog.workspace
        let readStarted = DispatchTime.now().uptimeNanoseconds
        func readDone() { stages.read += Double(DispatchTime.now().uptimeNanoseconds - readStarted) / 1e9 }
        let file = workspace.url(forRelativePath: stored.path).path
        guard FileManager.default.fileExists(atPath: file) else {
            return verdict(.rejected, .corrupt, "the stored file \(stored.path) is missing")
        }
        let bytes: [UInt8]
        do { bytes = try ImageLimits.read(file) } catch let error as ImageError where error.kind == .tooLarge {
            return verdict(.rejected, .tooLarge, "the file is over \(ImageLimits.maxFileBytes >> 20) MiB")
        } catch {
            throw WorkspaceIOError(path: file, operation: "read", code: (error as? ImageError)?.code ?? EIO)
        }
        guard let format = ImageFormat.sniff(bytes) else {
            return verdict(.rejected, .notImage, "the bytes are not an image we can decode")
        }
        // The size the decoder will read (a size it cannot read leaves the file to the integrity walk and the decode,
        // which refuse it with their own reasons).
        let headerSize = ImageHeader.size(bytes, format: format)
        if let size = headerSize, ImageLimits.exceeds(size, maxPixels: options.maxPixels) {
            image.width = size.width
            image.height = size.height
            return verdict(.rejected, .tooLarge, "\(size.width)×\(size.height) is over \(options.maxPixels / 1_000_000) megapixels")
        }
        var layout: JPEGLayout?
        if format == .jpeg {
            let read = JPEGLayout.read(bytes)
            switch read.integrity {
            case .whole: layout = read.layout
            case .truncated: return verdict(.rejected, .corrupt, "truncated: the JPEG data ends before its end marker")
            case .corrupt(let why): return verdict(.rejected, .corrupt, "damaged JPEG: \(why)")
            }
        }
        readDone()
        let decodeStarted = DispatchTime.now().uptimeNanoseconds
        let exif = format == .jpeg ? ExifInfo.read(bytes) : nil
        if let exif {
            image.orientation = exif.orientation == 0 ? nil : exif.orientation
            image.cameraMake = exif.make
            image.cameraModel = exif.model
            image.takenAt = exif.taken
        }
        stages.decode += Double(DispatchTime.now().uptimeNanoseconds - decodeStarted) / 1e9
        // An upright JPEG keeps its own coded data without the metadata as its normalised copy (no loss, and no
        // encoding: 20 ms for a 3000 px photo); anything else is encoded from the upright pixels, whole.
        let upright = (image.orientation ?? 1) <= 1
        let codedCopy = stages.time(\.files) { upright ? layout?.withoutMetadata(bytes) : nil }
        let pixelsStarted = DispatchTime.now().uptimeNanoseconds
        if codedCopy != nil, let size = headerSize {
            reduction = Self.jpegReduction(width: size.width, height: size.height, workingSide: options.detectMaxSide)
        }
        let decoded: DecodedImage
        do {
            decoded = reduction > 1 ? try DecodedImage.decodeJPEG(bytes, reduction: reduction, maxPixels: options.maxPixels)
                                    : try DecodedImage.decode(bytes, maxPixels: options.maxPixels)
        } catch {
            return verdict(.rejected, .corrupt, "does not decode: \(error)")
        }
        if let exif, exif.orientation > 1 { try? decoded.orient(exif.orientation) }
        stages.decode += Double(DispatchTime.now().uptimeNanoseconds - pixelsStarted) / 1e9
        let fullSize: (width: Int, height: Int) = reduction > 1 ? headerSize! : (decoded.width, decoded.height)
        image.width = fullSize.width
        image.height = fullSize.height
        if let layout { image.jpegQuality = ImageHeader.jpegQuality(bytes, layout: layout) }
        // Hashed before the size check: a thumbnail too small to keep is still a copy of its larger original.
        stages.time(\.hash) {
            image.pixelSha256 = decoded.pixelSHA256(reduction: reduction, fullSize: fullSize)
            image.phash = (try? decoded.phash()).map { Int64(bitPattern: $0) }
        }
        if min(fullSize.width, fullSize.height) < options.minSide {
            return verdict(.rejected, .tooSmall, "\(fullSize.width)×\(fullSize.height): the shorter side is under \(options.minSide) px")
        }
        do {
            let normalized = Self.normalizedPath(stored.sha256)
            try stages.time(\.files) {
                try workspace.writeAtomically(try codedCopy.map { Data($0) } ?? decoded.jpeg(quality: 92), to: normalized)
            }
            image.normalizedPath = normalized

            var detected = try stages.detection(\.detect, models) {
                try models.find(in: decoded, maxSide: options.detectMaxSide, upsampleBelow: options.upsampleBelow)
                    .map { reduction > 1 ? $0.scaled(by: Double(reduction)) : $0 }
            }
            image.detector = .hog
            if detected.isEmpty && models.hasCNN {
                detected = try stages.detection(\.cnn, models) {
                    try models.find(in: decoded, maxSide: options.cnnMaxSide, upsampleBelow: options.cnnUpsampleBelow, detector: .cnn)
                        .map { reduction > 1 ? $0.scaled(by: Double(reduction)) : $0 }
                }
                image.detector = .cnn
            }
            let largest = detected.map(\.area).max() ?? 0
            faces = detected.enumerated().map { i, f in
                Face(imageId: stored.id!, idx: i, left: f.left, top: f.top, right: f.right, bottom: f.bottom, score: f.score,
                     landmarks: f.landmarks, counted: f.area >= options.smallFaceRatio * largest)
            }
            let counted = faces.filter(\.counted).count
            if counted == 0 { return verdict(.rejected, .noFace, image.detector == .cnn ? "no face found (by HOG, nor by the CNN detector)" : "no face found") }
            // Every face gets its chip and descriptor (a crowd: only a lone counted face), so identity can find the
            // person among them: a group photo is kept with the face that is the person, and so is a photo whose
            // largest face is a stranger's but a smaller one the person's.
            let chipped = faces.indices.filter { faces.count <= options.maxGroupFaces || (counted == 1 && faces[$0].counted) }
            // Chips are cut from full-size pixels: those of a reduced decode come from decoding again only the part
            // of the JPEG the chips read (the same chips as from the whole image).
            var source = (image: decoded, origin: (x: 0, y: 0))
            if reduction > 1, !chipped.isEmpty {
                source = try stages.time(\.decode) { try Self.chipSource(bytes, faces: chipped.map { detected[$0] }, size: fullSize,
                                                                          maxPixels: options.maxPixels) }
            }
            // One pass of the network for all of them (each gets the descriptor it gets alone: FaceBatchTests).
            let chips = try FaceChip.make(source.image, origin: source.origin, faces: chipped.map { (idx: $0, face: detected[$0]) },
                                          of: stored, in: workspace, models: models, stages: &stages)
            for (i, chip) in zip(chipped, chips) {
                faces[i].chipPath = chip.path
                faces[i].descriptor = chip.descriptor
                faces[i].quality = chip.quality
            }
            if counted > 1 { return verdict(.rejected, .multiFace, multiFaceDetail(counted: counted, detected: faces.count)) }
            faces[faces.firstIndex(where: \.counted)!].chosen = true
            return verdict(.kept, nil, nil)
        } catch let error as WorkspaceIOError {
            throw error
        } catch {
            return verdict(.rejected, .corrupt, "processing failed: \(error)")
        }
    }
}

extension Processor {
    /// The JPEG DCT reduction a photo is decoded at: the largest of 1/2, 1/4 and 1/8 that still leaves its longer
    /// side (libjpeg's ceil(side/r)) at least `workingSide`, the size the detector works at; 1: decoded whole.
    /// Between `workingSide` and twice it (a 3,000 px photo for the 2,000 px detector) none is left: libjpeg's other
    /// scalings (6/8, 7/8) have no SIMD code and cost twice the whole decode (docs/benchmarks.md).
    static func jpegReduction(width: Int, height: Int, workingSide: Int) -> Int {
        let longer = max(width, height)
        return [8, 4, 2].first { (longer + $0 - 1) / $0 >= workingSide } ?? 1
    }

    /// The full-size pixels that cutting these faces' chips reads, decoded alone from the JPEG, with where they
    /// start in the whole image. A margin of two blocks each side keeps the edges of libjpeg's partial decode
    /// (its smoothing of subsampled colour stops at the cut) out of what the chips read.
    static func chipSource(_ bytes: [UInt8], faces: [DetectedFace], size: (width: Int, height: Int),
                           maxPixels: Int) throws -> (image: DecodedImage, origin: (x: Int, y: Int)) {
        guard let r = try FaceModels.chipRegion(faces, width: size.width, height: size.height) else {
            return try DecodedImage.decodeJPEG(bytes, region: (0, 0, size.width, size.height), maxPixels: maxPixels)
        }
        let margin = 32
        let x = max(0, r.x - margin), y = max(0, r.y - margin)
        let right = min(size.width, r.x + r.width + margin), bottom = min(size.height, r.y + r.height + margin)
        return try DecodedImage.decodeJPEG(bytes, region: (x, y, right - x, bottom - y), maxPixels: maxPixels)
    }
}

/// The detail of a `multi_face` verdict.
func multiFaceDetail(counted: Int, detected: Int) -> String {
    let ignored = detected - counted
    return "\(counted) faces" + (ignored > 0 ? " (and \(ignored) much smaller, not counted)" : "")
}

/// The aligned crop of the face an image is kept for, with its descriptor: made by processing for a photo with
/// one face, and by review when a person picks one face of a group photo.
public enum FaceChip {
    /// Cuts the chip of `face` from the upright image, writes it to faces/ab/<sha256>_<idx>.jpg, describes it and
    /// measures its quality. `image` may be a part of it whose top-left pixel is at `origin` (see `FaceModels.chips`).
    public static func make(_ image: DecodedImage, origin: (x: Int, y: Int) = (0, 0), face: DetectedFace, idx: Int, of stored: StoredImage,
                            in workspace: Workspace, models: FaceModels, stages: inout StageTimes) throws -> (path: String, descriptor: Data?, quality: FaceQuality) {
        try make(image, origin: origin, faces: [(idx: idx, face: face)], of: stored, in: workspace, models: models, stages: &stages)[0]
    }

    /// The same for several faces of one image, described in one pass of the network (dlib's batch; the 256-filter
    /// layers' 17 MB of weights are then read once for all of them).
    public static func make(_ image: DecodedImage, origin: (x: Int, y: Int) = (0, 0), faces: [(idx: Int, face: DetectedFace)],
                            of stored: StoredImage, in workspace: Workspace, models: FaceModels,
                            stages: inout StageTimes) throws -> [(path: String, descriptor: Data?, quality: FaceQuality)] {
        let made = try stages.time(\.descriptor) { try models.chips(image, faces: faces.map(\.face), origin: origin) }
        return try zip(faces, made).map { face, made in
            let path = "faces/\(stored.sha256.prefix(2))/\(stored.sha256)_\(face.idx).jpg"
            try stages.time(\.files) { try workspace.writeAtomically(try made.chip.jpeg(quality: 95), to: path) }
            return (path, made.descriptor.map(Face.pack), try FaceQuality.measure(chip: made.chip, face: face.face))
        }
    }
}

extension DecodedImage {
    /// A stored image's pixels as processing saw them: its file decoded and turned upright by the EXIF
    /// orientation processing recorded.
    public static func upright(_ stored: StoredImage, in workspace: Workspace) throws -> DecodedImage {
        let url = workspace.url(forRelativePath: stored.path)
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw ImageError(description: "the stored file \(stored.path) is missing")
        }
        let image = try decode(try ImageLimits.read(url.path))
        if let o = stored.orientation, o > 1 { try image.orient(o) }
        return image
    }
}
