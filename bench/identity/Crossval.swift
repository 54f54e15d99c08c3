// The band rule measured honestly: its constants chosen on some people of a planted search and its precision and
// recall measured on the others (leave one person out), from the evidence processing found for every band face.
import Catalog
import Curate
import Foundation

// MARK: evidence: every band face of a workspace with its evidence as numbers (one line each)

/// `curate-bench-identity evidence WORKSPACE`: image id, label, distance, nearest sure face, spread, portrait,
/// nearest other identity, for a photo of several faces the next face's distance, and the nearest of the person's
/// faces past --identity-distance ("-" where unknown). The nearest sure face is the true nearest: the scan that stops at the
/// first within `neighbourFor` is told to stop at none, so the numbers do not depend on the rule measured.
func evidence(_ workspace: String) throws {
    let catalog = try Catalog.openForReading(Workspace(path: workspace))
    var options = IdentityOptions()
    options.band.neighbourFor = 0
    let index = try IdentityIndex(catalog: catalog, options: options)
    func v(_ x: Float?) -> String { x.map { String(format: "%.4f", $0) } ?? "-" }
    print("id\tlabel\tdistance\tnearest\tspread\tportrait\tnearest_other\tnext_face\tnearest_far\tother_face\town_face\tmasked\tcohort")
    for f in try index.bandFacts(catalog: catalog) {
        print("\(f.imageId)\t\(f.label)\t\(v(f.distance))\t\(v(f.nearest))\t\(v(f.spread))\t\(v(f.portrait))\t\(v(f.nearestOther))\t\(v(f.next))\t\(v(f.far))\t\(v(f.otherFace))\t\(v(f.ownFace))\t\(v(f.masked))\t\(v(f.cohort))")
    }
}

// MARK: crossval

/// One image of the planted search as the run left it: whose folder, whether it shows that person, whether it was
/// exported, and its band evidence where it is in the band (a one-face photo, or one of several faces kept for a face
/// there; the rule then decides its export).
struct Judged {
    var person: String
    var file: String
    var shows: Bool
    var exported: Bool
    var band: BandFacts?

    func exported(_ rule: Rule) -> Bool {
        guard let band else { return exported }
        return rule.call(band) != .intruder
    }
}

/// A rule to measure: the band rule with its constants, or distance alone (every band face kept, a suspect: the
/// rule before issue 20's evidence).
struct Rule: CustomStringConvertible {
    var band: BandRule?

    func call(_ f: BandFacts) -> BandCall { band.map { f.call($0) } ?? .unsure }

    var description: String {
        guard let b = band else { return "distance alone" }
        return String(format: "neighbourFor %.2f, neighbourAgainst %.2f, spreadFor %.1f, otherMargin %.2f, cohortAgainst %@",
                      b.neighbourFor, b.neighbourAgainst, b.spreadFor, b.otherMargin,
                      b.cohortAgainst.isFinite ? String(format: "%.2f", b.cohortAgainst) : "off")
    }
}

struct Tally {
    var exported = 0, right = 0, positives = 0, found = 0, intrudersExported = 0, intruders = 0, ownLost = 0, suspects = 0
    var precision: Double { exported > 0 ? Double(right) / Double(exported) : 1 }
    var recall: Double { positives > 0 ? Double(found) / Double(positives) : 1 }

    init(_ images: [Judged], _ rule: Rule) {
        for i in images {
            let out = i.exported(rule)
            if i.shows { positives += 1 } else { intruders += 1 }
            if out { exported += 1; if i.shows { right += 1; found += 1 } else { intrudersExported += 1 } }
            if let b = i.band {
                let call = rule.call(b)
                if call == .unsure { suspects += 1 }
                if i.shows && call == .intruder { ownLost += 1 }
            }
        }
    }

    static func + (a: Tally, b: Tally) -> Tally {
        var t = a
        t.exported += b.exported; t.right += b.right; t.positives += b.positives; t.found += b.found
        t.intrudersExported += b.intrudersExported; t.intruders += b.intruders; t.ownLost += b.ownLost; t.suspects += b.suspects
        return t
    }

    var line: String {
        String(format: "precision %.3f (%d of %d exported), recall %.3f (%d of %d), intruders exported %d of %d, own band photos rejected %d, suspects %d",
               precision, right, exported, recall, found, positives, intrudersExported, intruders, ownLost, suspects)
    }
}

/// The constants tried: every combination on a grid around where the measures part the person from intruders.
func grid() -> [Rule] {
    var out: [Rule] = []
    for neighbourFor in stride(from: Float(0.40), through: 0.601, by: 0.02) {
        for neighbourAgainst in stride(from: Float(0.50), through: 0.701, by: 0.02) {
            for spreadFor in [Float(0)] + Array(stride(from: Float(1.0), through: 2.01, by: 0.1)) {
                for otherMargin in stride(from: Float(0), through: 0.101, by: 0.02) {
                    for cohortAgainst in [Float.infinity, -1.5, -1.75, -2.0, -2.25, -2.5, -2.75, -3.0] {
                        var b = BandRule()
                        (b.neighbourFor, b.neighbourAgainst, b.spreadFor, b.otherMargin) = (neighbourFor, neighbourAgainst, spreadFor, otherMargin)
                        b.cohortAgainst = cohortAgainst
                        out.append(Rule(band: b))
                    }
                }
            }
        }
    }
    return out
}

/// The constants chosen on `train`: no photo of the person in the band rejected (the same recall as distance alone),
/// then the fewest intruders exported, then the nearest to the shipped constants (suspects are exported too, so how
/// many are left for a reviewer does not count).
func choose(_ train: [Judged], _ rules: [Rule]) -> Rule {
    let shipped = BandRule()
    func away(_ r: Rule) -> Float {
        let b = r.band!
        return abs(b.neighbourFor - shipped.neighbourFor) + abs(b.neighbourAgainst - shipped.neighbourAgainst)
            + abs(b.spreadFor - shipped.spreadFor) / 10 + abs(b.otherMargin - shipped.otherMargin)
            + min(1, abs(b.cohortAgainst - shipped.cohortAgainst)) / 10
    }
    var best: (rule: Rule, key: (Int, Float))?
    for r in rules {
        let t = Tally(train, r)
        guard t.ownLost == 0 else { continue }
        let key = (t.intrudersExported, away(r))
        if best == nil || key < best!.key { best = (r, key) }
    }
    return best?.rule ?? Rule(band: nil)
}

/// `curate-bench-identity crossval OUT LIST MANIFEST EVIDENCE`: leave one person out: the constants chosen on the
/// other people, precision and recall of the exported faces measured on that person; every fold, then all of them.
func crossval(_ out: URL, list: URL, manifest: URL, evidence: URL) throws {
    let truth = Dictionary(uniqueKeysWithValues: try String(contentsOf: out.appendingPathComponent("truth.tsv"), encoding: .utf8)
        .split(separator: "\n").dropFirst().map { $0.split(separator: "\t").map(String.init) }.map { ($0[0], $0) })
    var facts: [Int64: BandFacts] = [:]
    for line in try String(contentsOf: evidence, encoding: .utf8).split(separator: "\n").dropFirst() {
        let p = line.split(separator: "\t").map(String.init)
        func v(_ s: String) -> Float? { s == "-" ? nil : Float(s) }
        facts[Int64(p[0])!] = BandFacts(imageId: Int64(p[0])!, label: p[1], distance: v(p[2])!, nearest: v(p[3]), spread: v(p[4]),
                                        portrait: v(p[5]), nearestOther: v(p[6]), next: p.count > 7 ? v(p[7]) : nil, far: p.count > 8 ? v(p[8]) : nil,
                                        otherFace: p.count > 9 ? v(p[9]) : nil, ownFace: p.count > 10 ? v(p[10]) : nil,
                                        masked: p.count > 11 ? v(p[11]) : nil, cohort: p.count > 12 ? v(p[12]) : nil)
    }
    var exportedKeys = Set<String>()
    for line in try String(contentsOf: manifest, encoding: .utf8).split(separator: "\n").dropFirst() {
        let f = line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        exportedKeys.insert("\(f[1])/\(f[3])")
    }
    var images: [Judged] = []
    for row in try JSONSerialization.jsonObject(with: Data(contentsOf: list)) as! [[String: Any]] {
        let file = (row["source_url"] as! String).components(separatedBy: "/files/").last!
        guard let t = truth[file] else { continue }
        let label = row["label"] as! String
        // A worse copy is never exported (its better copy carries the verdict), nor a picture filed under two people
        // (label_conflict, whatever identity says): the rule decides neither.
        let band = ["duplicate", "label_conflict"].contains(row["reason"] as? String ?? "") ? nil : facts[Int64(row["id"] as! Int)]
        images.append(Judged(person: label, file: file, shows: t[2] == "1", exported: exportedKeys.contains("\(label)/\(row["sha256"] as! String)"),
                             band: band))
    }
    // The run's own export agrees with the shipped rule applied to the evidence: the numbers are the binary's.
    let shipped = Rule(band: BandRule())
    let disagree = images.filter { $0.band != nil && $0.exported != $0.exported(shipped) }
    print("band faces: \(images.filter { $0.band != nil }.count) (\(images.filter { $0.band != nil && $0.shows }.count) of the person, "
          + "\(images.filter { $0.band != nil && !$0.shows }.count) intruders); the run's export and the shipped rule on the evidence disagree on \(disagree.count)")
    for d in disagree { print("  disagree: \(d.file)") }

    let people = Array(Set(images.map(\.person))).sorted()
    let rules = grid()
    var before = Tally([], Rule(band: nil)), inSample = before, heldOut = before
    print("\nleave one person out (\(rules.count) rules tried on the other \(people.count - 1) people each):")
    for person in people {
        let test = images.filter { $0.person == person }, train = images.filter { $0.person != person }
        let chosen = choose(train, rules)
        let (b, s, h) = (Tally(test, Rule(band: nil)), Tally(test, shipped), Tally(test, chosen))
        before = before + b; inSample = inSample + s; heldOut = heldOut + h
        print("fold \(person): chosen on the others: \(chosen)")
        print("  distance alone:       " + b.line)
        print("  shipped constants:    " + s.line)
        print("  chosen on the others: " + h.line)
        for i in test where i.band != nil && !i.shows && i.exported(chosen) {
            let f = i.band!
            func v(_ x: Float?) -> String { x.map { String(format: "%.3f", $0) } ?? "-" }
            print("    intruder kept: \(i.file): distance \(v(f.distance)), nearest sure face \(v(f.nearest)), spread \(v(f.spread)), nearest other identity \(v(f.nearestOther)), nearest face past the identity \(v(f.far)), nearest sure face of another person within the identity distance \(v(f.otherFace)), eyes covered: nearest with the bar \(v(f.masked)), standard score against other people's \(v(f.cohort))\(f.next.map { ", next face \(v($0))" } ?? "") (\(chosen.call(f).rawValue))")
        }
        for i in test where i.band == nil && !i.shows && i.exported {
            print("    intruder exported outside the band rule: \(i.file)")
        }
        for i in test where i.band != nil && i.shows && !i.exported(chosen) {
            let f = i.band!
            print(String(format: "    own photo rejected: %@: distance %.3f, nearest sure face %.3f, other %.3f, nearest face past the identity %.3f",
                         i.file, f.distance, f.nearest ?? -1, f.nearestOther ?? -1, f.far ?? -1))
        }
    }
    print("\nall folds, each person measured with constants chosen without them:")
    print("  distance alone:       " + before.line)
    print("  shipped constants:    " + inSample.line + "  (chosen on these same people: not held out)")
    print("  held out:             " + heldOut.line)
    // Each measured as the rule was before it: chosen held out from the rules without it.
    func heldOutTally(_ rules: [Rule]) -> Tally {
        people.reduce(Tally([], Rule(band: nil))) { t, person in
            t + Tally(images.filter { $0.person == person }, choose(images.filter { $0.person != person }, rules))
        }
    }
    func without(_ change: (inout BandRule) -> Void) -> [Rule] { rules.map { r in var b = r.band!; change(&b); return Rule(band: b) } }
    // Without the nearest-face-not-the-person evidence (BandRule.farNearerAgainst).
    print("  held out, without the far-face evidence: " + heldOutTally(without { $0.farNearerAgainst = false }).line)
    // Without the vote of other people's sure faces (BandRule.otherFaceDecides).
    print("  held out, without other people's sure faces: " + heldOutTally(without { $0.otherFaceDecides = false }).line)
    // Without the crowd of other people's barred faces (BandRule.cohortAgainst).
    print("  held out, without the crowd: " + heldOutTally(rules.filter { !$0.band!.cohortAgainst.isFinite }).line)
    let all = choose(images, rules)
    print("chosen on every person (what to ship from this set): \(all)")
    print("  on every person (in sample): " + Tally(images, all).line)
}
