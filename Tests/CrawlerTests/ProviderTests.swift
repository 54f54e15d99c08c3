// The providers read the real recorded answers of Wikimedia Commons and Openverse.
import Foundation
import Testing
import TestSupport
@testable import Crawler

@Suite(.enabled(if: Paths.hasShared, Paths.sharedMissing))
struct ProviderTests {
    func fixture(_ name: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: Paths.data("api/\(name)")))
    }

    /// An Openverse tape holds the request and the response; the response body is what the API sent.
    func tape(_ name: String) throws -> (status: Int, body: [UInt8]) {
        let object = try JSONSerialization.jsonObject(with: Data(fixture("openverse/\(name)"))) as! [String: Any]
        let res = object["res"] as! [String: Any]
        let body = try JSONSerialization.data(withJSONObject: res["body"]!)
        return (res["status"] as! Int, [UInt8](body))
    }

    @Test func commonsSearchPageIsReadInRankOrderWithItsContinuation() throws {
        let commons = CommonsProvider(endpoint: "https://commons.example/w/api.php")
        let answer = commons.read(status: 200, body: try fixture("wikimedia/commons_generator_search_SearchVue.json"), retryAfter: nil)
        guard case let .page(candidates, cursor, _) = answer else { Issue.record("not a page: \(answer)"); return }
        #expect(candidates.map(\.title) == ["Cat November 2010-1a.jpg", "Collage of Six Cats-02.jpg", "Cat poster 1.jpg",
                                             "Collage of Six Cats-01.jpg", "Cat poster 2.jpg", "Felis catus-cat on snow.jpg"])
        #expect(candidates.map(\.rank) == [1, 2, 3, 4, 5, 6])
        // The thumbnail is preferred over the original.
        #expect(candidates.allSatisfy { $0.url.contains("/thumb/") })
        #expect(candidates[0].pageUrl?.hasPrefix("https://commons.wikimedia.org/wiki/File:") == true)
        let cont = try #require(cursor)
        #expect(cont == #"{"continue":"gsroffset||","gsroffset":6}"#)
        // The next request sends the whole continue object back.
        let next = commons.requestURL(term: "cat", cursor: cont)
        #expect(next.contains("gsroffset=6"))
        #expect(next.contains("continue=gsroffset%7C%7C"))
        #expect(next.contains("gsrsearch=cat"))
        #expect(next.contains("gsrnamespace=6"))
    }

    @Test func commonsLicenceAndArtistComeFromExtmetadata() throws {
        // A real imageinfo object with extmetadata, placed in a search answer's shape.
        let object = try JSONSerialization.jsonObject(with: Data(fixture("wikimedia/commons_single_page_imageinfo_openverse-catalog_image_data_example.json"))) as! [String: Any]
        let page: [String: Any] = ["pageid": 81754323, "ns": 6, "title": "File:Lone tree.jpg", "index": 1,
                                   "imageinfo": object["imageinfo"]!]
        let body = try JSONSerialization.data(withJSONObject: ["batchcomplete": "", "query": ["pages": ["81754323": page]]])
        let answer = CommonsProvider(endpoint: "x").read(status: 200, body: [UInt8](body), retryAfter: nil)
        guard case let .page(candidates, cursor, _) = answer else { Issue.record("not a page"); return }
        #expect(cursor == nil)   // no `continue`: the last page
        let c = try #require(candidates.first)
        #expect(c.license == "CC BY-SA 4.0")
        #expect(c.licenseUrl == "https://creativecommons.org/licenses/by-sa/4.0")
        #expect(c.creator == "PtrQs")      // HTML stripped
        #expect(c.attribution == "Photo by PtrQs")
    }

    @Test func commonsRateLimitAndNoResults() {
        let commons = CommonsProvider(endpoint: "x")
        let limited = Array(#"{"error":{"code":"ratelimited","info":"You've exceeded your rate limit."}}"#.utf8)
        #expect(commons.read(status: 200, body: limited, retryAfter: nil) == .throttled(seconds: nil, message: "Commons: You've exceeded your rate limit."))
        #expect(commons.read(status: 429, body: [], retryAfter: 7) == .throttled(seconds: 7, message: "Commons answered HTTP 429"))
        #expect(commons.read(status: 200, body: Array(#"{"batchcomplete":""}"#.utf8), retryAfter: nil) == .page(candidates: [], cursor: nil, total: nil))
    }

    @Test func openversePagesThrottleAndEmptyResults() throws {
        let openverse = OpenverseProvider(endpoint: "https://api.example")
        let page = try tape("tape_q=cat&page=2_2022-09-07_TRIMMED_6of20.json")
        guard case let .page(candidates, cursor, total) = openverse.read(status: page.status, body: page.body, retryAfter: nil) else {
            Issue.record("not a page"); return
        }
        #expect(candidates.count == 6)
        #expect(cursor == "3")
        #expect(total == 240)
        #expect(candidates[0].license == "CC BY 2.0")
        #expect(candidates[0].creator == "cheesechoker")
        #expect(candidates[0].pageUrl == "https://www.flickr.com/photos/19951543@N00/169329862")
        #expect(candidates[0].rank == 21)

        let none = try tape("tape_q=querywithnoresults_2024-01-02.json")
        #expect(openverse.read(status: none.status, body: none.body, retryAfter: nil) == .page(candidates: [], cursor: nil, total: 0))

        let throttled = try tape("tape_q=SearchPage429error_2023-07-10.json")
        #expect(openverse.read(status: throttled.status, body: throttled.body, retryAfter: nil)
                == .throttled(seconds: 3600, message: "Openverse: Request was throttled. Expected available in 3600 seconds."))

        // A page number no request asked for is a wrong answer, not an overflow in the ranks.
        for bad in ["9223372036854775807", "-9223372036854775808", "0", "21"] {
            let body = Array(#"{"page": \#(bad), "page_count": 20, "results": [{"url": "https://x.example/a.jpg"}]}"#.utf8)
            #expect(openverse.read(status: 200, body: body, retryAfter: nil) == .failed("Openverse answered page \(bad), not one of 1–20"))
        }

        #expect(openverse.requestURL(term: "Emilia Clarke", cursor: "3") == "https://api.example/v1/images/?q=Emilia%20Clarke&page=3&page_size=20")
    }
}
