// Identity: the measurement behind its distances on ../shared/data, and the time it takes on thousands of faces.
// Usage: swift run -c release curate-bench-identity [N=5000]            time Identity.find on N faces
//        swift run -c release curate-bench-identity describe DATA > F   descriptors of every counted face in DATA
//        swift run -c release curate-bench-identity measure F           same/other distances, the threshold table
//        curate-bench-identity planted DATA OUT     a planted search per person (bench/identity/planted.sh)
//        curate-bench-identity score OUT LIST MANIFEST   precision and recall of an export of it
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
        let faces = try models.find(in: image)
        let largest = faces.map(\.area).max() ?? 0
        let counted = faces.filter { $0.area >= 0.25 * largest }
        for (i, face) in counted.enumerated() {
            guard let d = try models.chip(image, face: face).descriptor else { continue }
            print(([f.set, f.person, f.path.lastPathComponent, "\(i)", "\(counted.count)"] + d.map { "\($0)" }).joined(separator: "\t"))
        }
    }
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


/// Precision: the share of exported faces that show the person they are filed under (for a pair, the face
/// exported must be the person's side). Recall: the share of the person's photos (pairs included) exported with
/// the person's face.
/// `list` is `curate list --json` (source URL to sha256), `manifest` the export's manifest.csv.
func score(_ out: URL, list: URL, manifest: URL) throws {
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
}

let args = Array(CommandLine.arguments.dropFirst())
do {
    switch args.first {
    case "describe":
        guard args.count == 2 else { fail("usage: curate-bench-identity describe DATA_FOLDER") }
        try describe(URL(fileURLWithPath: args[1]))
    case "measure":
        guard args.count == 2 else { fail("usage: curate-bench-identity measure DESCRIPTORS_FILE") }
        try measure(URL(fileURLWithPath: args[1]))
    case "planted":
        guard args.count == 3 else { fail("usage: curate-bench-identity planted DATA_FOLDER OUT_FOLDER") }
        try planted(URL(fileURLWithPath: args[1]), URL(fileURLWithPath: args[2]))
    case "score":
        guard args.count == 4 else { fail("usage: curate-bench-identity score OUT_FOLDER LIST_JSON MANIFEST_CSV") }
        try score(URL(fileURLWithPath: args[1]), list: URL(fileURLWithPath: args[2]), manifest: URL(fileURLWithPath: args[3]))
    default:
        time(args.first.flatMap(Int.init) ?? 5000)
    }
} catch {
    fail("curate-bench-identity: \(error)")
}
