// `curate gallery` through the real binary, looked at in a real browser: headless Chromium opens every page from
// file://, every picture loads, the overview's counts are `status --json`'s, and a screenshot is kept.
import Catalog
import Curate
import Foundation
import Testing
import TestServer
import TestSupport

enum Chromium {
    static let path = "/usr/bin/chromium"
    static var available: Bool { FileManager.default.isExecutableFile(atPath: path) }
    /// On CI (CI=true) a missing browser is a failure, not a skip: scripts/setup.sh --tests installs it.
    static var required: Bool { ProcessInfo.processInfo.environment["CI"] == "true" }

    /// Loads `url` headless (file:// pages may read other file:// pages, as a person's browser does for a local
    /// site), lets it run for up to `budget` ms of virtual time, and returns the DOM it ends with.
    static func dumpDOM(_ url: URL, budget: Int = 60_000) throws -> String {
        try run(["--dump-dom", "--virtual-time-budget=\(budget)", url.absoluteString])
    }

    static func screenshot(_ url: URL, to file: URL, width: Int = 1280, height: Int = 1000) throws {
        _ = try run(["--screenshot=\(file.path)", "--window-size=\(width),\(height)", "--virtual-time-budget=20000", url.absoluteString])
    }

    private static func run(_ args: [String]) throws -> String {
        // Root needs --no-sandbox; a profile of the test's own keeps runs apart.
        let profile = TempDir()
        return try runProcess(path, ["--headless", "--no-sandbox", "--disable-gpu", "--allow-file-access-from-files", "--no-first-run",
                                     "--user-data-dir=\(profile.path)"] + args)
    }
}

@Suite(.enabled(if: Paths.hasShared, Paths.sharedMissing), .timeLimit(.minutes(10)))
struct GalleryTests {
    let env = ["CURATE_MODELS": Paths.models.path]

    /// A workspace with kept faces, a group photo, a near-copy, photos without a face and a broken file.
    func workspace(_ dir: TempDir) async throws -> String {
        let data = dir.sub("data")
        let fm = FileManager.default
        for (folder, files) in [("madonna", try fm.contentsOfDirectory(atPath: Paths.data("faces/opencv_course_5celeb/madonna").path).sorted().prefix(12).map { "faces/opencv_course_5celeb/madonna/\($0)" }),
                                ("mindy", try fm.contentsOfDirectory(atPath: Paths.data("faces/opencv_course_5celeb/mindy_kaling").path).sorted().prefix(12).map { "faces/opencv_course_5celeb/mindy_kaling/\($0)" }
                                    + ["group/opencv_course/group_2.jpg", "nonface/dlib/dog.jpg", "broken/truncated_50pct.jpg"])] {
            try fm.createDirectory(at: data.appendingPathComponent(folder), withIntermediateDirectories: true)
            for file in files {
                try fm.copyItem(at: Paths.data(file), to: data.appendingPathComponent("\(folder)/\((file as NSString).lastPathComponent)"))
            }
        }
        // A smaller copy of one of Madonna's photos: a duplicate of the copy that stands.
        let first = try #require(try fm.contentsOfDirectory(atPath: data.appendingPathComponent("madonna").path).sorted().first)
        let photo = try DecodedImage.decode([UInt8](try Data(contentsOf: data.appendingPathComponent("madonna/\(first)"))))
        try photo.resized(width: photo.width * 2 / 3, height: photo.height * 2 / 3).jpeg(quality: 70)
            .write(to: data.appendingPathComponent("madonna/copy_of_\(first)"))

        let server = try await TestServer.start(dataRoot: data)
        let queries = dir.queries(["madonna": server.imagePaths(under: "madonna").map { server.baseURL + $0 },
                                   "mindy_kaling": server.imagePaths(under: "mindy").map { server.baseURL + $0 }])
        let ws = dir.sub("ws").path
        let r = try await curate(["fetch", "--query", queries.path, "--n", "50", "--workspace", ws, "--quiet"], env: env)
        #expect(r.status == 0, "\(r.stderr)")
        await server.stop()
        return ws
    }

    @Test(.enabled(if: Chromium.available || Chromium.required, "chromium is not installed (scripts/setup.sh --tests installs it): the browser test is skipped"))
    func everyPageOpensInABrowserWithEveryPictureAndTheCountsOfStatus() async throws {
        try #require(Chromium.available, "chromium is missing: run scripts/setup.sh --tests")
        let dir = TempDir()
        let ws = try await workspace(dir)
        let out = dir.sub("gallery")
        var r = try await curate(["gallery", "--out", out.path, "--page-size", "10", "--json", "--workspace", ws], env: env)
        #expect(r.status == 0, "\(r.stderr)")
        let summary = try #require(try json(r.stdout) as? [String: Any])
        #expect(summary["people"] as? Int == 2)
        let made = try #require(summary["thumbnailsMade"] as? Int)
        #expect(made > 20)
        #expect((summary["pages"] as? Int ?? 0) > 3, "10 pictures a page: each person's pictures span pages")

        // The overview says what status says, person by person.
        r = try await curate(["status", "--json", "--workspace", ws], env: env)
        let status = try #require(try json(r.stdout) as? [[String: Any]])
        let index = try String(contentsOf: out.appendingPathComponent("index.html"), encoding: .utf8)
        for person in status {
            let label = try #require(person["label"] as? String)
            let row = try #require(index.components(separatedBy: "<tr data-person=\"\(label)\">").dropFirst().first?.components(separatedBy: "</tr>").first)
            func shown(_ name: String) -> Int? {
                guard let cell = row.components(separatedBy: "data-count=\"\(name)\">").dropFirst().first?.components(separatedBy: "</td>").first else {
                    return nil
                }
                return Int(cell.replacingOccurrences(of: "<[^>]*>", with: "", options: .regularExpression))
            }
            let images = person["images"] as? [String: Int] ?? [:]
            #expect(shown("stored") == images.values.reduce(0, +), "\(label) stored")
            #expect(shown("kept") == images["kept"] ?? 0, "\(label) kept")
            for (reason, n) in person["reasons"] as? [String: Int] ?? [:] { #expect(shown(reason) == n, "\(label) \(reason)") }
        }
        #expect(index.contains("data-count=\"duplicate\""), "the planted copy is a duplicate")
        // Every number is a link to a page that exists, and to a place on it that exists.
        let links = index.components(separatedBy: "<a href=\"").dropFirst().compactMap { $0.components(separatedBy: "\"").first }
        #expect(links.count >= 2 * status.count)
        for link in links {
            let parts = link.components(separatedBy: "#")
            let target = out.appendingPathComponent(parts[0])
            let text = try? String(contentsOf: target, encoding: .utf8)
            #expect(text != nil, "\(link): no such page")
            if parts.count > 1, let text { #expect(text.contains("id=\"\(parts[1])\""), "\(link): no such place on the page") }
        }

        // Every page, opened in Chromium from file://: every picture (tiles and the large views) loads.
        var pages = [out.appendingPathComponent("index.html")]
        for folder in try FileManager.default.contentsOfDirectory(atPath: out.appendingPathComponent("people").path) {
            let f = out.appendingPathComponent("people/\(folder)")
            pages += try FileManager.default.contentsOfDirectory(atPath: f.path).filter { $0.hasSuffix(".html") }.map { f.appendingPathComponent($0) }
        }
        let harness = dir.sub("harness.html")
        try Self.harness(pages).write(to: harness, atomically: true, encoding: .utf8)
        let dom = try Chromium.dumpDOM(harness)
        let resultText = try #require(dom.components(separatedBy: "<pre id=\"result\">").dropFirst().first?.components(separatedBy: "</pre>").first,
                                      "the harness did not finish: \(dom.prefix(500))")
        let results = try #require(try json(resultText.replacingOccurrences(of: "&quot;", with: "\"").replacingOccurrences(of: "&amp;", with: "&")) as? [[String: Any]])
        #expect(results.count == pages.count)
        var pictures = 0
        for page in results {
            #expect((page["broken"] as? [String])?.isEmpty == true, "\(page["url"] ?? "?"): \(page["broken"] ?? "?")")
            pictures += page["count"] as? Int ?? 0
        }
        // Each picture twice (its tile and its large view), a duplicate's standing copy once more.
        let catalogued = try #require(summary["pictures"] as? Int)
        #expect(catalogued == status.map { ($0["images"] as? [String: Int] ?? [:]).values.reduce(0, +) }.reduce(0, +))
        #expect(pictures >= 2 * catalogued, "\(pictures) pictures on \(pages.count) pages: \(results)")

        // A screenshot of a person's first page, kept as the test's artifact.
        let artifacts = Paths.root.appendingPathComponent(".build/test-artifacts")
        try FileManager.default.createDirectory(at: artifacts, withIntermediateDirectories: true)
        let shot = artifacts.appendingPathComponent("gallery-person.png")
        try? FileManager.default.removeItem(at: shot)
        let person = try #require(pages.first { $0.path.contains("madonna") && $0.lastPathComponent == "index.html" })
        try Chromium.screenshot(person, to: shot)
        #expect(((try? FileManager.default.attributesOfItem(atPath: shot.path)[.size] as? Int) ?? 0) > 10_000)
        let overview = artifacts.appendingPathComponent("gallery-overview.png")
        try Chromium.screenshot(out.appendingPathComponent("index.html"), to: overview, height: 400)
        let second = try #require(pages.first { $0.path.contains("mindy") && $0.lastPathComponent == "page-2.html" })
        try Chromium.screenshot(second, to: artifacts.appendingPathComponent("gallery-rejected.png"))
    }

    @Test func aSecondRunMakesNothingAgainAndAForeignFolderIsRefused() async throws {
        let dir = TempDir()
        let ws = try await workspace(dir)
        let out = dir.sub("gallery")
        var r = try await curate(["gallery", "--out", out.path, "--json", "--workspace", ws], env: env)
        #expect(r.status == 0, "\(r.stderr)")
        let first = try #require(try json(r.stdout) as? [String: Any])
        r = try await curate(["gallery", "--out", out.path, "--json", "--workspace", ws], env: env)
        let second = try #require(try json(r.stdout) as? [String: Any])
        #expect(second["thumbnailsMade"] as? Int == 0)
        #expect(second["thumbnailsKept"] as? Int == first["thumbnailsMade"] as? Int)
        #expect(second["removed"] as? Int == 0)

        // An overview of one person a page: two pages, each person on one of them, each person's pages leading back
        // to it; a longer overview's pages go again when it shrinks.
        r = try await curate(["gallery", "--out", out.path, "--people-per-page", "1", "--json", "--workspace", ws], env: env)
        #expect(r.status == 0, "\(r.stderr)")
        #expect((try json(r.stdout) as? [String: Any])?["pages"] as? Int == (first["pages"] as? Int ?? 0) + 1)
        let one = try String(contentsOf: out.appendingPathComponent("index.html"), encoding: .utf8)
        let two = try String(contentsOf: out.appendingPathComponent("index-2.html"), encoding: .utf8)
        #expect(one.contains("<tr data-person=\"madonna\">") && !one.contains("<tr data-person=\"mindy_kaling\">"))
        #expect(two.contains("<tr data-person=\"mindy_kaling\">") && !two.contains("<tr data-person=\"madonna\">"))
        #expect(one.contains("href=\"index-2.html\"") && two.contains("href=\"index.html\""))
        for (person, home) in [("madonna", "index.html"), ("mindy_kaling", "index-2.html")] {
            let folders = try FileManager.default.contentsOfDirectory(atPath: out.appendingPathComponent("people").path)
            let folder = try #require(folders.first { $0.hasSuffix("-" + person.replacingOccurrences(of: "_", with: "-")) }, "\(folders)")
            let page = try String(contentsOf: out.appendingPathComponent("people/\(folder)/index.html"), encoding: .utf8)
            #expect(page.contains("<a href=\"../../\(home)\">all people</a>"), "\(person)")
        }
        r = try await curate(["gallery", "--out", out.path, "--workspace", ws], env: env)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: out.appendingPathComponent("index-2.html").path))
        #expect(try String(contentsOf: out.appendingPathComponent("index.html"), encoding: .utf8).contains("<tr data-person=\"mindy_kaling\">"))

        // One person only: the other's pages are not touched.
        r = try await curate(["gallery", "--out", out.path, "--person", "MADONNA", "--json", "--workspace", ws], env: env)
        #expect(r.status == 0, "\(r.stderr)")
        #expect((try json(r.stdout) as? [String: Any])?["people"] as? Int == 1)
        r = try await curate(["gallery", "--out", out.path, "--person", "nobody", "--workspace", ws], env: env)
        #expect(r.status == 2)
        #expect(r.stderr.contains("no person \"nobody\""))

        // A folder curate did not make is never written into.
        let foreign = dir.sub("mine")
        try FileManager.default.createDirectory(at: foreign, withIntermediateDirectories: true)
        try Data("keep me".utf8).write(to: foreign.appendingPathComponent("notes.txt"))
        r = try await curate(["gallery", "--out", foreign.path, "--workspace", ws], env: env)
        #expect(r.status == 2)
        #expect(r.stderr.contains("was not made by curate gallery"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: foreign.path) == ["notes.txt"])
    }

    /// A page that opens each gallery page in a frame, makes every picture load (lazy ones too, and those of the
    /// hidden large views) and writes what loaded and what did not as JSON into <pre id="result">.
    static func harness(_ pages: [URL]) -> String {
        let list = pages.map { "\"\($0.absoluteString)\"" }.joined(separator: ",")
        return """
        <!doctype html><html><body><pre id="result"></pre><script>
        const pages = [\(list)];
        function check(url) {
          return new Promise(resolve => {
            const frame = document.createElement('iframe');
            frame.style.width = '1280px'; frame.style.height = '900px';
            frame.onload = async () => {
              const images = [...frame.contentDocument.querySelectorAll('img')];
              const broken = [];
              await Promise.all(images.map(img => new Promise(done => {
                const settle = () => { if (img.naturalWidth === 0) broken.push(img.getAttribute('src')); done(); };
                img.loading = 'eager';
                if (img.complete && img.getAttribute('src')) { settle(); return; }
                img.onload = settle; img.onerror = settle;
              })));
              frame.remove();
              resolve({url, count: images.length, broken});
            };
            frame.src = url;
            document.body.appendChild(frame);
          });
        }
        (async () => {
          const out = [];
          for (const p of pages) out.push(await check(p));
          document.getElementById('result').textContent = JSON.stringify(out);
        })();
        </script></body></html>
        """
    }
}
