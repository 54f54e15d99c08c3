// Text from the network reaches the terminal escaped (issue 22), through the real binary.
import Foundation
import Testing
import TestServer
import TestSupport

extension NetworkLimitsTests {
    /// Subcategory names, Wikidata labels and descriptions and portrait (P18) names come from the network: fetch
    /// prints their control characters written out, never raw (an OSC 52 sequence would set the clipboard).
    @Test func textFromTheNetworkReachesTheTerminalEscaped() async throws {
        let server = try await TestServer.start(dataRoot: Paths.shared)
        let osc52 = "\u{1B}]52;c;aGk=\u{07}"
        server.setCategory("John Simm", files: [], subcategories: ["John Simm \(osc52)"])
        server.setEntity("Q1", label: "John Simm", category: "John Simm", image: "/files/none/Simm\u{1B}[2J.jpg")
        server.setEntity("Q2", label: "Jon Snow\u{1B}[31m", description: "a \(osc52) character")
        server.setEntity("Q3", label: "Jon Snowman", description: "another\u{9B}2J")
        let dir = TempDir()
        let queries = dir.queries(["John_Simm": ["wikidata:Q1"], "Jon_Snow": ["http://127.0.0.1:9/x.jpg"]])
        let r = try await curate(["fetch", "--query", queries.path, "--n", "1", "--workspace", dir.sub("ws").path, "--no-process",
                                  "--wikidata", "auto", "--endpoint", server.baseURL + "/commons/w/api.php",
                                  "--wikidata-endpoint", server.baseURL + "/wikidata/w/api.php"],
                                 env: env.merging(["CURATE_COMMONS_ENDPOINT": server.baseURL + "/commons/w/api.php"]) { $1 })
        #expect(!r.stderr.unicodeScalars.contains { $0 == "\u{1B}" || $0 == "\u{07}" || $0 == "\u{9B}" }, "\(r.stderr.debugDescription)")
        #expect(r.stderr.contains(#"John Simm \u{1B}]52;c;aGk=\u{7}"#), "the subcategory: \(r.stderr)")
        #expect(r.stderr.contains(#"File:Simm\u{1B}[2J.jpg"#), "the portrait: \(r.stderr)")
        #expect(r.stderr.contains(#"Jon Snow\u{1B}[31m, a \u{1B}]52;c;aGk=\u{7} character"#), "the label and description: \(r.stderr)")
        #expect(r.stderr.contains(#"another\u{9B}2J"#), "a C1 control: \(r.stderr)")
    }
}
