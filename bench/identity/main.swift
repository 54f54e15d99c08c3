// Identity: the measurement behind its distances on ../shared/data, and the time it takes on thousands of faces.
// Usage: swift run -c release curate-bench-identity [N=5000]            time Identity.find on N faces
//        swift run -c release curate-bench-identity describe DATA > F   descriptors of every counted face in DATA
//        swift run -c release curate-bench-identity measure F           same/other distances, the threshold table
//        curate-bench-identity planted DATA OUT     a planted search per person (bench/identity/planted.sh)
//        curate-bench-identity planted-band DATA OUT   the same with hard photos and hard intruders (bench/identity/suspects.sh)
//        curate-bench-identity describe-hard DATA > F   descriptors of the celebrities' photos as they are and made hard, each
//                                                  also with a bar over its eyes (bench/identity/masked.sh), and as the
//                                                  second look describes it (NAME+chipbar); JITTER=1 adds each chip's
//                                                  moved copies (NAME~m, NAME~s4,0, ...)
//        curate-bench-identity eyes DATA > F   whether SecondLook takes each face's eyes for covered, as they are and barred
//        curate-bench-identity score OUT LIST MANIFEST [SUSPECTS]   precision and recall of an export of it
//        curate-bench-identity evidence WORKSPACE    every band face's evidence as numbers (bench/identity/crossval.sh)
//        curate-bench-identity crossval OUT LIST MANIFEST EVIDENCE   the band rule's constants chosen leaving one person out
import Curate
import Foundation

func seconds(_ body: () -> Void) -> Double {
    let t = DispatchTime.now().uptimeNanoseconds
    body()
    return Double(DispatchTime.now().uptimeNanoseconds - t) / 1e9
}

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data((message + "\n").utf8))
    exit(2)
}

func percentile(_ values: [Float], _ p: Double) -> Float {
    let s = values.sorted()
    guard !s.isEmpty else { return .nan }
    return s[min(s.count - 1, Int(Double(s.count - 1) * p + 0.5))]
}

func f2(_ x: Float) -> String { String(format: "%.2f", x) }

// MARK: describe: one line per counted face: set, person, file, face index, faces counted, 128 values

func describe(_ data: URL) throws {
    let models = try FaceModels(ModelFiles.locate(in: []))
    guard models.hasDescriptors else { fail("the dlib model files are missing: run scripts/setup.sh") }
    let fm = FileManager.default
    var files: [(set: String, person: String, path: URL)] = []
    for set in ["dlib_johns", "opencv_course_5celeb"] {
        let root = data.appendingPathComponent("faces/\(set)")
        for person in try fm.contentsOfDirectory(atPath: root.path).sorted() where !person.hasSuffix(".txt") {
            for file in try fm.contentsOfDirectory(atPath: root.appendingPathComponent(person).path).sorted() {
                files.append((set, person, root.appendingPathComponent("\(person)/\(file)")))
            }
        }
    }
    for folder in ["single_face", "group/dlib_voc", "group/opencv_course"] {
        let root = data.appendingPathComponent(folder)
        for file in try fm.contentsOfDirectory(atPath: root.path).sorted() where !file.hasSuffix(".xml") {
            files.append((folder, "stranger", root.appendingPathComponent(file)))
        }
    }
    for f in files {
        let image = try DecodedImage.decode([UInt8](try Data(contentsOf: f.path)))
        let counted = try countedFaces(models, image)
        for (i, face) in counted.enumerated() {
            guard let d = try models.chip(image, face: face).descriptor else { continue }
            print(([f.set, f.person, f.path.lastPathComponent, "\(i)", "\(counted.count)"] + d.map { "\($0)" }).joined(separator: "\t"))
        }
    }
}

// MARK: hard photos: real photos made harder as a web search's hard photos are (a face small in a thumbnail,
// sunglasses, a soft upscaled copy), for the band planted set (`planted-band`) and its measurement (`describe-hard`).

enum Hardening: String, CaseIterable {
    /// Shrunk until the shorter side is 72 px (a thumbnail): the face is about 40 px, found only upsampled.
    case small
    /// A dark bar over both eyes, from the 5-point landmarks' eye corners: sunglasses.
    case shades
    /// Shrunk to a quarter and scaled back up: a soft, upscaled copy.
    case soft

    func apply(_ image: DecodedImage, _ models: FaceModels) throws -> DecodedImage? {
        switch self {
        case .small:
            let s = 72.0 / Double(min(image.width, image.height))
            return try image.resized(width: max(72, Int(Double(image.width) * s)), height: max(72, Int(Double(image.height) * s)))
        case .soft:
            return try image.resized(width: max(1, image.width / 4), height: max(1, image.height / 4)).resized(width: image.width, height: image.height)
        case .shades:
            guard let face = try models.find(in: image).max(by: { $0.area < $1.area }), let l = face.landmarks, l.count >= 10 else { return nil }
            // Points 0-3 are the eye corners (x, y pairs), 4 the base of the nose.
            let xs = stride(from: 0, to: 8, by: 2).map { l[$0] }, ys = stride(from: 1, to: 8, by: 2).map { l[$0] }
            let width = xs.max()! - xs.min()!
            let (cy, half) = (ys.reduce(0, +) / 4, width * 0.18)
            let out = try DecodedImage.decode([UInt8](try image.jpeg(quality: 95)))
            try out.drawBox(left: Int(xs.min()! - width * 0.15), top: Int(cy - half), right: Int(xs.max()! + width * 0.15), bottom: Int(cy + half),
                            thickness: -1, bgr: (30, 30, 30), label: nil)
            return out
        }
    }
}

/// The faces processing counts in a picture: found as it finds them (under 1,000 px upsampled once), those under
/// `smallFaceRatio` of the largest face's area left out.
func countedFaces(_ models: FaceModels, _ picture: DecodedImage) throws -> [DetectedFace] {
    let faces = try models.find(in: picture)
    let largest = faces.map(\.area).max() ?? 0
    let ratio = ProcessOptions(models: ModelFiles.locate(in: [])).smallFaceRatio
    return faces.filter { $0.area >= ratio * largest }
}

/// Whether SecondLook takes each face's eyes for covered: every counted face of the photos of faces/, single_face/
/// and group/ as they are, and the five celebrities' and the Johns' photos with the planting's sunglasses bar. One line
/// per face: folder, file, as_is or shades, covered (0/1), and each eye patch's darkness and spread.
func eyes(_ data: URL) throws {
    let models = try FaceModels(ModelFiles.locate(in: []))
    let fm = FileManager.default
    var files: [URL] = []
    for folder in ["faces/opencv_course_5celeb", "faces/dlib_johns", "single_face", "group/dlib_voc", "group/opencv_course"] {
        let root = data.appendingPathComponent(folder)
        guard let walk = fm.enumerator(at: root, includingPropertiesForKeys: nil) else { continue }
        for case let url as URL in walk where ["jpg", "jpeg", "png"].contains(url.pathExtension.lowercased()) { files.append(url) }
    }
    for url in files.sorted(by: { $0.path < $1.path }) {
        guard let original = try? DecodedImage.decode([UInt8](try Data(contentsOf: url))) else { continue }
        let shaded = url.path.contains("/faces/") ? try Hardening.shades.apply(original, models) : nil
        for (name, picture) in [("as_is", original), ("shades", shaded)] {
            guard let picture else { continue }
            for face in try countedFaces(models, picture) {
                let chip = try models.chip(picture, face: face).chip
                guard let p = SecondLook.eyePatches(chip) else { continue }
                let fields = [url.deletingLastPathComponent().lastPathComponent, url.lastPathComponent, name, SecondLook.eyesCovered(chip) ? "1" : "0"]
                    + p.flatMap { [String(format: "%.2f", $0.darkness), String(format: "%.1f", $0.spread)] }
                print(fields.joined(separator: "\t"))
            }
        }
    }
}

/// One line per photo of the five celebrities and hardening (and the photo as it is): set, person, file,
/// hardening, faces counted, the 128 values of its largest face. For measuring where hard photos land.
func describeHard(_ data: URL, jitter: Bool) throws {
    let models = try FaceModels(ModelFiles.locate(in: []))
    guard models.hasDescriptors else { fail("the dlib model files are missing: run scripts/setup.sh") }
    let fm = FileManager.default
    let root = data.appendingPathComponent("faces/opencv_course_5celeb")
    var files: [(person: String, url: URL)] = []
    for person in try fm.contentsOfDirectory(atPath: root.path).sorted() where !person.hasSuffix(".txt") {
        for file in try fm.contentsOfDirectory(atPath: root.appendingPathComponent(person).path).sorted() {
            files.append((person, root.appendingPathComponent("\(person)/\(file)")))
        }
    }
    let johns = data.appendingPathComponent("faces/dlib_johns")
    for person in try fm.contentsOfDirectory(atPath: johns.path).sorted() where !person.hasSuffix(".txt") {
        for file in try fm.contentsOfDirectory(atPath: johns.appendingPathComponent(person).path).sorted() {
            files.append((person, johns.appendingPathComponent("\(person)/\(file)")))
        }
    }
    for f in files {
        let original = try DecodedImage.decode([UInt8](try Data(contentsOf: f.url)))
        for how in [nil] + Hardening.allCases.map(Optional.some) {
            guard let image = try how.map({ try $0.apply(original, models) }) ?? original else { continue }
            // Each also with the sunglasses' bar over its eyes (`as_is+bar`, `small+bar`, `soft+bar`; a photo in
            // sunglasses already wears that bar): for comparing like with like (bench/identity/masked.sh).
            let barred = how == .shades ? nil : try Hardening.shades.apply(image, models)
            for (name, picture) in [(how?.rawValue ?? "as_is", image), ((how?.rawValue ?? "as_is") + "+bar", barred)] {
                guard let picture else { continue }
                let counted = try countedFaces(models, picture)
                guard let face = counted.max(by: { $0.area < $1.area }) else { continue }
                let cut = try models.chip(picture, face: face)
                guard let d = cut.descriptor else { continue }
                print(([f.person, f.url.lastPathComponent, name, "\(counted.count)"] + d.map { "\($0)" }).joined(separator: "\t"))
                // As processing's second look describes it (`NAME+chipbar`): the chip with its bar painted at the
                // alignment template's eyes (over the planting's bar, for a face in sunglasses).
                if name == "as_is" || name == "shades" {
                    let e = try models.describe(chips: [try SecondLook.barred(cut.chip)])[0]
                    print(([f.person, f.url.lastPathComponent, name + "+chipbar", "\(counted.count)"] + e.map { "\($0)" }).joined(separator: "\t"))
                }
                // JITTER=1: also the chip moved (`NAME~m`, `NAME~s4,0`, ...), for descriptors averaged over them.
                guard jitter else { continue }
                let moved = try jittered(cut.chip)
                for (j, e) in try models.describe(chips: moved.map(\.chip)).enumerated() {
                    print(([f.person, f.url.lastPathComponent, name + "~" + moved[j].name, "\(counted.count)"] + e.map { "\($0)" }).joined(separator: "\t"))
                }
            }
        }
    }
}

/// A chip moved as dlib's `jitter_image` moves it, but by fixed steps: mirrored, and shifted by 4 px each way (the
/// edge pixels repeated), each shift also mirrored. The face_recognition package averages the descriptors of such
/// copies (`num_jitters`) for steadier distances.
func jittered(_ chip: DecodedImage) throws -> [(name: String, chip: DecodedImage)] {
    let n = chip.width
    guard chip.height == n else { fail("a chip to jitter is \(chip.width)×\(chip.height)") }
    func moved(dx: Int, dy: Int, mirror: Bool) throws -> DecodedImage {
        var out = [UInt8](repeating: 0, count: n * n * 3)
        chip.withPixels { p, stride in
            for y in 0..<n {
                let sy = min(n - 1, max(0, y + dy))
                for x in 0..<n {
                    let shifted = min(n - 1, max(0, x + dx)), sx = mirror ? n - 1 - shifted : shifted
                    for c in 0..<3 { out[(y * n + x) * 3 + c] = p[sy * stride + sx * 3 + c] }
                }
            }
        }
        return try DecodedImage.fromBGR(out, width: n, height: n)
    }
    var result = [(name: "m", chip: try moved(dx: 0, dy: 0, mirror: true))]
    for (dx, dy) in [(4, 0), (-4, 0), (0, 4), (0, -4)] {
        result.append(("s\(dx),\(dy)", try moved(dx: dx, dy: dy, mirror: false)))
        result.append(("s\(dx),\(dy)m", try moved(dx: dx, dy: dy, mirror: true)))
    }
    return result
}

// MARK: measure

struct Row { var set: String; var person: String; var file: String; var faces: Int; var d: [Float] }

func measure(_ file: URL) throws {
    let rows: [Row] = try String(contentsOf: file, encoding: .utf8).split(separator: "\n").map { line in
        let p = line.split(separator: "\t").map(String.init)
        return Row(set: p[0], person: p[1], file: p[2], faces: Int(p[4])!, d: p[5...].map { Float($0)! })
    }
    // One-face photos of the named people are the material; a person's "other people" are everyone else's.
    let single = rows.filter { $0.person != "stranger" && $0.faces == 1 }
    let people = Array(Set(single.map(\.person))).sorted()
    let strangers = rows.filter { $0.person == "stranger" }
    print("faces: \(single.count) one-face photos of \(people.count) people; \(strangers.count) faces of strangers (single_face, group)")

    // Pairs.
    var same: [Float] = [], other: [Float] = []
    for i in single.indices {
        for j in (i + 1)..<single.count {
            let d = descriptorDistance(single[i].d, single[j].d)
            if single[i].person == single[j].person { same.append(d) } else { other.append(d) }
        }
    }
    print("\npairs of photos            n     min     p01     p05  median     p95     p99     max")
    for (name, v) in [("same person", same), ("different people", other)] {
        print(name.padding(toLength: 20, withPad: " ", startingAt: 0) + String(format: "%9d", v.count)
              + [0.0, 0.01, 0.05, 0.5, 0.95, 0.99, 1.0].map { String(format: "%8.3f", percentile(v, $0)) }.joined())
    }

    let options = IdentityOptions()
    for graph in [Float(0.45), 0.5, 0.55, 0.6] {
        var o = options
        o.graphDistance = graph
        // Each person's identity from their own photos plus 4 intruders each (as in a real search: 20 + 4),
        // every other person's photos as a planted intruder in turn, measured against that identity.
        var own: [Float] = [], intruders: [Float] = [], strangerD: [Float] = []
        var sizes: [String] = []
        var clear = 0
        for person in people {
            let mine = single.filter { $0.person == person }
            let others = single.filter { $0.person != person }
            // Four planted intruders, spread over the other people (deterministic: every k-th).
            let step = max(1, others.count / 4)
            let planted = stride(from: 0, to: others.count, by: step).prefix(4).map { others[$0] }
            var descriptors = Descriptors(mine.map(\.d))
            for p in planted { descriptors.append(p.d) }
            let identity = Identity.find(descriptors, options: o)
            sizes.append("\(person) \(identity.clusterSizes.prefix(4).map(String.init).joined(separator: "/"))\(identity.isClear ? "" : " (unclear)")")
            guard identity.isClear else { continue }
            clear += 1
            for i in mine.indices { own.append(identity.distance(of: i, in: descriptors)!) }
            let plantedFiles = Set(planted.map(\.file))
            for k in planted.indices { intruders.append(identity.distance(of: mine.count + k, in: descriptors)!) }
            for p in others where !plantedFiles.contains(p.file) { intruders.append(identity.distance(to: p.d)!) }
            for s in strangers { strangerD.append(identity.distance(to: s.d)!) }
        }
        // Stability: the same faces in 50 other orders (as a fetch's download order gives them).
        var unclearRuns = 0
        for seed in 1...50 {
            var rng = SplitMix64(UInt64(seed))
            for person in people {
                let others = single.filter { $0.person != person }
                let step = max(1, others.count / 4)
                let planted = stride(from: 0, to: others.count, by: step).prefix(4).map { others[$0] }
                let faces = (single.filter { $0.person == person } + planted).shuffled(using: &rng)
                if !Identity.find(Descriptors(faces.map(\.d)), options: o).isClear { unclearRuns += 1 }
            }
        }
        print("\nchinese whispers at \(f2(graph)): \(clear) of \(people.count) identities clear; clusters: " + sizes.joined(separator: ", "))
        print("in 50 shuffled orders of each person's photos with the 4 intruders: \(unclearRuns) of \(50 * people.count) identities unclear")
        print("distance to the identity      n     min     p01     p05  median     p95     p99     max")
        for (name, v) in [("own photos", own), ("other named people", intruders), ("strangers (groups)", strangerD)] {
            print(name.padding(toLength: 22, withPad: " ", startingAt: 0) + String(format: "%9d", v.count)
                  + [0.0, 0.01, 0.05, 0.5, 0.95, 0.99, 1.0].map { String(format: "%8.3f", percentile(v, $0)) }.joined())
        }
        print("cut   own photos lost   intruders caught   strangers caught")
        for cut in stride(from: Float(0.45), through: 0.751, by: 0.05) {
            let lost = own.filter { $0 > cut }.count, caught = intruders.filter { $0 > cut }.count
            let sc = strangerD.filter { $0 > cut }.count
            print(String(format: "%.2f  %5d (%5.1f%%)    %6d (%5.1f%%)    %5d (%5.1f%%)", cut, lost, 100 * Double(lost) / Double(own.count),
                         caught, 100 * Double(caught) / Double(intruders.count), sc, 100 * Double(sc) / Double(strangerD.count)))
        }
        // Group photos of the person with a stranger: the person's face against each other face as the runner-up.
        if graph == options.graphDistance {
            print("\npairs (own photo beside another person's): kept with the right face, at wrongDistance \(f2(options.wrongDistance))")
            print("margin   right face kept   wrong face kept   multi_face")
            for margin in [Float(0.0), 0.05, 0.1, 0.15, 0.2] {
                var right = 0, wrong = 0, neither = 0
                for person in people {
                    let mine = single.filter { $0.person == person }
                    var descriptors = Descriptors(mine.map(\.d))
                    let identity = Identity.find(descriptors, options: o)
                    guard identity.isClear else { continue }
                    let others = single.filter { $0.person != person }.map { identity.distance(to: $0.d)! }
                    for i in mine.indices {
                        let a = identity.distance(of: i, in: descriptors)!
                        for b in others {
                            let (best, next) = (min(a, b), max(a, b))
                            if best <= options.wrongDistance && next - best >= margin { if a < b { right += 1 } else { wrong += 1 } } else { neither += 1 }
                        }
                    }
                    descriptors = Descriptors()
                }
                let total = Double(right + wrong + neither)
                if margin == 0 { print("(\(Int(total)) pairs)") }
                print(String(format: "%.2f     %6.1f%%           %6.2f%%           %5.1f%%", margin, 100 * Double(right) / total,
                             100 * Double(wrong) / total, 100 * Double(neither) / total))
            }
        }
    }
}

// MARK: time

func time(_ n: Int) {
    // Faces as a real search gives them: 80% around one identity, the rest spread over 40 others. Descriptors
    // are unit-scale like dlib's (norm about 1 apart from noise); same-identity faces about 0.4 apart.
    var rng = SystemRandomNumberGenerator()
    func gaussian() -> Float {
        let u = Float.random(in: Float.ulpOfOne..<1, using: &rng), v = Float.random(in: 0..<1, using: &rng)
        return (-2 * log(u)).squareRoot() * cos(2 * .pi * v)
    }
    let centres = (0..<41).map { _ in (0..<128).map { _ in gaussian() * 0.06 } }
    var descriptors = Descriptors()
    for i in 0..<n {
        let c = i % 5 == 0 ? centres[1 + Int.random(in: 0..<40, using: &rng)] : centres[0]
        descriptors.append(c.map { $0 + gaussian() * 0.025 })
    }
    var identity: Identity?
    _ = Identity.find(Descriptors(Array(repeating: [Float](repeating: 0, count: 128), count: 2)))   // warm up
    let t = seconds { identity = Identity.find(descriptors) }
    print("identity benchmark: \(n) faces of one person (80% the person, 20% 40 others)")
    print(String(format: "Identity.find: %.3f s (%.1f µs per face); clusters %@; clear: %@", t, t * 1e6 / Double(n),
                 identity!.clusterSizes.prefix(5).map(String.init).joined(separator: "/"), identity!.isClear ? "yes" : "no"))
}

// MARK: planted: per person, as a real search is shaped: the person's photos, 4 of other people, 3 of the person
// beside a stranger (composed here from real photos). OUT/served/<person>/... and OUT/truth.tsv.

func planted(_ data: URL, _ out: URL) throws {
    let fm = FileManager.default
    let root = data.appendingPathComponent("faces/opencv_course_5celeb")
    let people = try fm.contentsOfDirectory(atPath: root.path).filter { !$0.hasSuffix(".txt") }.sorted()
    var photos: [String: [URL]] = [:]
    for p in people {
        photos[p] = try fm.contentsOfDirectory(atPath: root.appendingPathComponent(p).path).sorted().map { root.appendingPathComponent("\(p)/\($0)") }
    }
    // Strangers who are not in the workspace: dlib's Johns (aligned crops) and photos of the other celebrities.
    let johnsRoot = data.appendingPathComponent("faces/dlib_johns")
    let johns = try fm.contentsOfDirectory(atPath: johnsRoot.path).filter { !$0.hasSuffix(".txt") }.sorted().flatMap { j in
        try fm.contentsOfDirectory(atPath: johnsRoot.appendingPathComponent(j).path).sorted().map { johnsRoot.appendingPathComponent("\(j)/\($0)") }
    }
    var truth = "file\tperson\tshows_person\tperson_side\tsplit_x\n"
    func decode(_ url: URL) throws -> DecodedImage { try DecodedImage.decode([UInt8](try Data(contentsOf: url))) }
    for (k, person) in people.enumerated() {
        let dir = out.appendingPathComponent("served/\(person)")
        try fm.createDirectory(at: dir, withIntermediateDirectories: true)
        let mine = photos[person]!
        // The last three of the person's photos go into pairs; the rest (up to 20) are plain photos.
        let own = mine.dropLast(3).prefix(20)
        for (i, p) in own.enumerated() {
            try fm.copyItem(at: p, to: dir.appendingPathComponent("own_\(i).jpg"))
            truth += "\(person)/own_\(i).jpg\t\(person)\t1\t-\t-\n"
        }
        // Intruders: two photos of another person of the workspace, two Johns.
        let other = people[(k + 1) % people.count]
        let intruders = [photos[other]![photos[other]!.count - 4], photos[other]![photos[other]!.count - 5], johns[k * 11], johns[k * 11 + 5]]
        for (i, p) in intruders.enumerated() {
            try fm.copyItem(at: p, to: dir.appendingPathComponent("intruder_\(i).jpg"))
            truth += "\(person)/intruder_\(i).jpg\t\(person)\t0\t-\t-\n"
        }
        // Pairs: the person beside a stranger (a John, or a celebrity two along), left or right.
        for (i, p) in mine.suffix(3).enumerated() {
            let stranger = i == 1 ? photos[people[(k + 2) % people.count]]![1] : johns[k * 11 + 2 + i]
            let a = try decode(p), b = try decode(stranger)
            let personLeft = i != 1
            let h = max(a.height, b.height)
            let leftWidth = (personLeft ? a : b).width * h / (personLeft ? a : b).height
            let pair = personLeft ? try DecodedImage.sideBySide(a, b) : try DecodedImage.sideBySide(b, a)
            try Data(try pair.jpeg(quality: 92)).write(to: dir.appendingPathComponent("pair_\(i).jpg"))
            truth += "\(person)/pair_\(i).jpg\t\(person)\t1\t\(personLeft ? "left" : "right")\t\(leftWidth)\n"
        }
    }
    try truth.write(to: out.appendingPathComponent("truth.tsv"), atomically: true, encoding: .utf8)
}


// MARK: planted-band: per person, the person's photos with every third made hard (small, sunglasses, soft, in turn),
// three plain intruders (another celebrity, a John, a spectator) and up to four intruders (BAND_INTRUDERS) chosen where the suspects
// are: other people's faces (the other celebrities', the Johns', spectators'; as they are or made hard) between 0.50
// and 0.60 from the person's identity, as measured here on the person's plain photos. OUT/served/<person>/... and
// OUT/truth.tsv, as `planted` writes them.

func plantedBand(_ data: URL, _ out: URL) throws {
    // How many intruders in the band a person gets at most (BAND_INTRUDERS; bench/identity/crossval.sh plants more).
    let bandIntruders = max(1, Int(ProcessInfo.processInfo.environment["BAND_INTRUDERS"] ?? "") ?? 4)
    // BAND_VARIANT=N (0, 1 or 2) plants another set from the same photos: the person's photos made hard are those
    // at i % 3 == (2 + N) % 3, the hardenings start N further in their turn, and the intruders in the band are taken
    // from another place along the band, so a rule whose form was chosen on the set of variant 0 is measured on
    // photos and intruders it was not chosen on.
    let variant = max(0, min(2, Int(ProcessInfo.processInfo.environment["BAND_VARIANT"] ?? "") ?? 0))
    let models = try FaceModels(ModelFiles.locate(in: []))
    guard models.hasDescriptors else { fail("the dlib model files are missing: run scripts/setup.sh") }
    let fm = FileManager.default
    let root = data.appendingPathComponent("faces/opencv_course_5celeb")
    let celebrities = try fm.contentsOfDirectory(atPath: root.path).filter { !$0.hasSuffix(".txt") }.sorted()
    var photos: [String: [URL]] = [:]
    for p in celebrities {
        photos[p] = try fm.contentsOfDirectory(atPath: root.appendingPathComponent(p).path).sorted().map { root.appendingPathComponent("\(p)/\($0)") }
    }
    let johnsRoot = data.appendingPathComponent("faces/dlib_johns")
    let johnNames = try fm.contentsOfDirectory(atPath: johnsRoot.path).filter { !$0.hasSuffix(".txt") }.sorted()
    let johns = try johnNames.flatMap { j in
        try fm.contentsOfDirectory(atPath: johnsRoot.appendingPathComponent(j).path).sorted().map { johnsRoot.appendingPathComponent("\(j)/\($0)") }
    }
    // BAND_JOHNS=1: dlib's five Johns are people of the search too (their 11 aligned crops each), so a measurement
    // that leaves one person out has ten folds; then each John's faces are planted as that John's, not "johns".
    let withJohns = ProcessInfo.processInfo.environment["BAND_JOHNS"] == "1"
    var people = celebrities
    if withJohns {
        people += johnNames
        for j in johnNames { photos[j] = johns.filter { $0.deletingLastPathComponent().lastPathComponent == j } }
    }
    func decode(_ url: URL) throws -> DecodedImage { try DecodedImage.decode([UInt8](try Data(contentsOf: url))) }
    // The descriptor of a picture's largest face, as processing finds it.
    func largestFace(_ image: DecodedImage) throws -> [Float]? {
        guard let face = try models.find(in: image).max(by: { $0.area < $1.area }) else { return nil }
        return try models.chip(image, face: face).descriptor
    }
    let spectators = try crowdFaces(data)
    // Every face that could be planted as an intruder: the source it is made from (so one photo is planted once),
    // whose it is, the picture, its descriptor.
    var candidates: [(source: String, owner: String, image: DecodedImage, how: String, descriptor: [Float])] = []
    for (owner, urls) in people.map({ ($0, photos[$0]!) }) + (withJohns ? [] : [("johns", johns)]) {
        for url in urls {
            let original = try decode(url)
            for how in [nil] + Hardening.allCases.map(Optional.some) {
                guard let image = try how.map({ try $0.apply(original, models) }) ?? original, let d = try largestFace(image) else { continue }
                candidates.append((url.path, owner, image, how?.rawValue ?? "as_is", d))
            }
        }
    }
    for (i, image) in spectators.enumerated() {
        if let d = try largestFace(image) { candidates.append(("spectator \(i)", "spectators", image, "as_is", d)) }
    }

    var truth = "file\tperson\tshows_person\tperson_side\tsplit_x\n"
    func write(_ bytes: Data, as file: String, person: String, shows: Bool) throws {
        try bytes.write(to: out.appendingPathComponent("served/\(person)/\(file)"))
        truth += "\(person)/\(file)\t\(person)\t\(shows ? 1 : 0)\t-\t-\n"
    }
    var turn = variant
    for (k, person) in people.enumerated() {
        try fm.createDirectory(at: out.appendingPathComponent("served/\(person)"), withIntermediateDirectories: true)
        // The person's photos, every third made hard by the next hardening in turn (as it is where it finds no face).
        var plain = Descriptors()
        for (i, p) in photos[person]!.enumerated() {
            var bytes = try Data(contentsOf: p)
            var label = "as_is"
            if i % 3 == (2 + variant) % 3 {
                let how = Hardening.allCases[turn % Hardening.allCases.count]
                turn += 1
                if let image = try how.apply(try decode(p), models) { bytes = try image.jpeg(quality: 92); label = how.rawValue }
            } else if let d = try largestFace(try decode(p)) {
                plain.append(d)
            }
            try write(bytes, as: "own_\(i)_\(label).jpg", person: person, shows: true)
        }
        // Three plain intruders, mostly far from the person: another celebrity's photo, a John, a spectator.
        let other = photos[celebrities[(k + 1) % celebrities.count]]!
        let otherJohns = johns.filter { !photos[person]!.contains($0) }
        try write(try Data(contentsOf: other[other.count - 6]), as: "intruder_0_as_is.jpg", person: person, shows: false)
        try write(try Data(contentsOf: otherJohns[(k * 11 + 1) % otherJohns.count]), as: "intruder_1_as_is.jpg", person: person, shows: false)
        try write(try spectators[(k * 3) % spectators.count].jpeg(quality: 92), as: "intruder_2_as_is.jpg", person: person, shows: false)
        // Up to four intruders in the band of this person's identity (the centre of their plain photos), one per
        // source photo, taken evenly from those there.
        let centre = Identity.find(plain).centre ?? []
        let inBand = candidates.filter { c in
            guard c.owner != person, !centre.isEmpty else { return false }
            let d = descriptorDistance(c.descriptor, centre)
            return d > 0.5 && d <= 0.6
        }
        var used = Set<String>()
        var planted = 0
        let step = max(1, inBand.count / bandIntruders)
        for c in stride(from: variant * step / 3, to: inBand.count, by: step).map({ inBand[$0] })
        where planted < bandIntruders && used.insert(c.source).inserted {
            try write(try c.image.jpeg(quality: 92), as: "intruder_\(3 + planted)_\(c.how).jpg", person: person, shows: false)
            planted += 1
        }
        FileHandle.standardError.write(Data("planted-band: \(person): \(inBand.count) faces of others in the band, \(planted) planted\n".utf8))
    }
    try truth.write(to: out.appendingPathComponent("truth.tsv"), atomically: true, encoding: .utf8)
}

/// The faces annotated in the PASCAL VOC crowd photos (group/dlib_voc/training.xml), each cut out with its
/// surroundings (the box grown 2.5 times about its centre, kept inside the photo).
func crowdFaces(_ data: URL) throws -> [DecodedImage] {
    let root = data.appendingPathComponent("group/dlib_voc")
    let xml = try String(contentsOf: root.appendingPathComponent("training.xml"), encoding: .isoLatin1)
    var out: [DecodedImage] = []
    for block in xml.components(separatedBy: "<image file='").dropFirst() {
        let file = String(block.prefix { $0 != "'" })
        let photo = try DecodedImage.decode([UInt8](try Data(contentsOf: root.appendingPathComponent(file))))
        var pixels = [UInt8](repeating: 0, count: photo.width * photo.height * 3)
        photo.withPixels { p, stride in
            for y in 0..<photo.height { for x in 0..<(photo.width * 3) { pixels[y * photo.width * 3 + x] = p[y * stride + x] } }
        }
        for box in block.components(separatedBy: "<box ").dropFirst() {
            func value(_ name: String) -> Int {
                guard let r = box.range(of: "\(name)='") else { return 0 }
                return Int(box[r.upperBound...].prefix { $0 != "'" }) ?? 0
            }
            let (top, left, w, h) = (value("top"), value("left"), value("width"), value("height"))
            let side = Int(Double(max(w, h)) * 2.5)
            let x0 = max(0, min(photo.width - side, left + w / 2 - side / 2)), y0 = max(0, min(photo.height - side, top + h / 2 - side / 2))
            let size = min(side, photo.width - x0, photo.height - y0)
            var crop = [UInt8](repeating: 0, count: size * size * 3)
            for y in 0..<size { for x in 0..<(size * 3) { crop[y * size * 3 + x] = pixels[((y0 + y) * photo.width + x0) * 3 + x] } }
            out.append(try DecodedImage.fromBGR(crop, width: size, height: size))
        }
    }
    return out
}

/// Precision: the share of exported faces that show the person they are filed under (for a pair, the face
/// exported must be the person's side). Recall: the share of the person's photos (pairs included) exported with
/// the person's face.
/// `list` is `curate list --json` (source URL to sha256), `manifest` the export's manifest.csv.
func score(_ out: URL, list: URL, manifest: URL, suspects: URL? = nil) throws {
    let truthRows = try String(contentsOf: out.appendingPathComponent("truth.tsv"), encoding: .utf8).split(separator: "\n").dropFirst()
        .map { $0.split(separator: "\t").map(String.init) }
    let images = try JSONSerialization.jsonObject(with: Data(contentsOf: list)) as! [[String: Any]]
    var fileOf: [String: String] = [:]   // label/sha256 -> served file
    for i in images {
        let url = i["source_url"] as! String
        let file = url.components(separatedBy: "/files/").last!
        fileOf["\(i["label"] as! String)/\(i["sha256"] as! String)"] = file
    }
    let truth = Dictionary(uniqueKeysWithValues: truthRows.map { ($0[0], $0) })
    var exported = 0, right = 0, pairsRight = 0
    var exportedFiles = Set<String>(), rightFiles = Set<String>()
    for line in try String(contentsOf: manifest, encoding: .utf8).split(separator: "\n").dropFirst() {
        let f = line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        let (person, sha) = (f[1], f[3])
        guard let file = fileOf["\(person)/\(sha)"], let t = truth[file] else { continue }
        exported += 1
        exportedFiles.insert(file)
        guard t[2] == "1" else { continue }
        if t[3] == "-" { right += 1; rightFiles.insert(file); continue }
        // A pair: the exported face box must lie on the person's side.
        let centre = ((Double(f[11]) ?? 0) + (Double(f[13]) ?? 0)) / 2
        let left = centre < Double(t[4])!
        if left == (t[3] == "left") { right += 1; pairsRight += 1; rightFiles.insert(file) }
    }
    let positives = truthRows.filter { $0[2] == "1" }
    let pairs = positives.filter { $0[3] != "-" }
    let found = positives.filter { rightFiles.contains($0[0]) }.count
    let intruders = truthRows.filter { $0[2] == "0" }
    let intrudersExported = intruders.filter { exportedFiles.contains($0[0]) }.count
    print(String(format: "exported %d faces: precision %.3f (%d right); recall %.3f (%d of %d photos of the person, %d of %d pairs with the right face); intruders exported %d of %d",
                 exported, exported > 0 ? Double(right) / Double(exported) : 0, right, Double(found) / Double(positives.count), found,
                 positives.count, pairsRight, pairs.count, intrudersExported, intruders.count))
    // The planted-band set's hard photos (their names say how they were made) and what is left to review.
    func madeHard(_ file: String) -> Bool { Hardening.allCases.contains { file.hasSuffix("_\($0.rawValue).jpg") } }
    let hard = positives.filter { madeHard($0[0]) }
    if !hard.isEmpty {
        let hardIntruders = intruders.filter { madeHard($0[0]) }
        print(String(format: "  the person's hard photos exported %d of %d; hard intruders exported %d of %d",
                     hard.filter { rightFiles.contains($0[0]) }.count, hard.count,
                     hardIntruders.filter { exportedFiles.contains($0[0]) }.count, hardIntruders.count))
    }
    // One figure a line ("name<TAB>value"), for a script to set binaries side by side (bench/identity/suspects.sh).
    var figures: [(String, String)] = [("exported faces", "\(exported)"),
                                       ("precision", String(format: "%.3f", exported > 0 ? Double(right) / Double(exported) : 0)),
                                       ("recall", String(format: "%.3f", Double(found) / Double(positives.count))),
                                       ("intruders exported", "\(intrudersExported) of \(intruders.count)")]
    if !hard.isEmpty {
        let hardIntruders = intruders.filter { madeHard($0[0]) }
        figures.append(("hard photos of the person exported", "\(hard.filter { rightFiles.contains($0[0]) }.count) of \(hard.count)"))
        figures.append(("hard intruders exported", "\(hardIntruders.filter { exportedFiles.contains($0[0]) }.count) of \(hardIntruders.count)"))
    }
    if let suspects {
        let items = try JSONSerialization.jsonObject(with: Data(contentsOf: suspects)) as! [[String: Any]]
        let flagged = items.filter { ($0["detail"] as? String)?.contains("a suspect") == true }.compactMap { item -> [String]? in
            let url = item["source_url"] as? String ?? ""
            return truth[url.components(separatedBy: "/files/").last ?? ""]
        }
        print("  suspects left to review: \(flagged.count) (\(flagged.filter { $0[2] == "1" }.count) of the person, \(flagged.filter { $0[2] == "0" }.count) intruders)")
        figures.append(("suspects (person / intruders)", "\(flagged.filter { $0[2] == "1" }.count) / \(flagged.filter { $0[2] == "0" }.count)"))
    }
    if let table = ProcessInfo.processInfo.environment["SCORE_FIGURES"] {
        try figures.map { "\($0.0)\t\($0.1)" }.joined(separator: "\n").appending("\n").write(toFile: table, atomically: true, encoding: .utf8)
    }
}

let args = Array(CommandLine.arguments.dropFirst())
do {
    switch args.first {
    case "describe":
        guard args.count == 2 else { fail("usage: curate-bench-identity describe DATA_FOLDER") }
        try describe(URL(fileURLWithPath: args[1]))
    case "eyes":
        guard args.count == 2 else { fail("usage: curate-bench-identity eyes DATA_FOLDER") }
        try eyes(URL(fileURLWithPath: args[1]))
    case "describe-hard":
        guard args.count == 2 else { fail("usage: curate-bench-identity describe-hard DATA_FOLDER") }
        try describeHard(URL(fileURLWithPath: args[1]), jitter: ProcessInfo.processInfo.environment["JITTER"] == "1")
    case "measure":
        guard args.count == 2 else { fail("usage: curate-bench-identity measure DESCRIPTORS_FILE") }
        try measure(URL(fileURLWithPath: args[1]))
    case "planted":
        guard args.count == 3 else { fail("usage: curate-bench-identity planted DATA_FOLDER OUT_FOLDER") }
        try planted(URL(fileURLWithPath: args[1]), URL(fileURLWithPath: args[2]))
    case "planted-band":
        guard args.count == 3 else { fail("usage: curate-bench-identity planted-band DATA_FOLDER OUT_FOLDER") }
        try plantedBand(URL(fileURLWithPath: args[1]), URL(fileURLWithPath: args[2]))
    case "evidence":
        guard args.count == 2 else { fail("usage: curate-bench-identity evidence WORKSPACE") }
        try evidence(args[1])
    case "crossval":
        guard args.count == 5 else { fail("usage: curate-bench-identity crossval OUT_FOLDER LIST_JSON MANIFEST_CSV EVIDENCE_TSV") }
        try crossval(URL(fileURLWithPath: args[1]), list: URL(fileURLWithPath: args[2]), manifest: URL(fileURLWithPath: args[3]),
                     evidence: URL(fileURLWithPath: args[4]))
    case "score":
        guard args.count == 4 || args.count == 5 else { fail("usage: curate-bench-identity score OUT_FOLDER LIST_JSON MANIFEST_CSV [SUSPECTS_JSON]") }
        try score(URL(fileURLWithPath: args[1]), list: URL(fileURLWithPath: args[2]), manifest: URL(fileURLWithPath: args[3]),
                  suspects: args.count == 5 ? URL(fileURLWithPath: args[4]) : nil)
    default:
        time(args.first.flatMap(Int.init) ?? 5000)
    }
} catch {
    fail("curate-bench-identity: \(error)")
}
