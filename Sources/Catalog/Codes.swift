// The codes the catalog stores in its columns (and `curate list --json` shows), as enums over the stored strings.
import GRDB

/// What kind of source a term is: a line of a query file, or a source found from one.
public enum TermKind: String, Codable, Sendable, CaseIterable, DatabaseValueConvertible {
    case search      // a full-text search term
    case url         // a direct image URL
    case category    // a Commons category (`Category:...`), listed file by file; found subcategories too
    case wikidata    // a Wikidata entity (`Q...`), or a name to look one up by (`--wikidata auto`)
    case reference   // the person's reference portrait (`File:...`, Wikidata's P18)

    /// Fetched in this order (lowest first): the most precise sources before full-text search, so a run that
    /// reaches its target early has used the best ones.
    public var precision: Int {
        switch self {
        case .wikidata, .reference: 0
        case .category: 1
        case .search, .url: 2
        }
    }
}

/// Who gave a term and its URLs: `provider` in the catalog, `curate list --json` and the export's manifest. The
/// APIs (Crawler's `ProviderKind` adds their endpoints) and `direct`, the URLs a query file names.
/// Printed as its stored code.
public enum Provider: String, Codable, Sendable, CaseIterable, DatabaseValueConvertible, CustomStringConvertible {
    case commons, openverse, wikidata, direct
    public var description: String { rawValue }
}

/// Where a term stands. Only `open` (and `failed`, retried on the next run) are searched again.
public enum TermState: String, Codable, Sendable, DatabaseValueConvertible {
    case open
    case exhausted      // the provider said there are no more pages
    case noResults = "no_results"   // the first page was empty
    case noNew = "no_new"           // a page added nothing we had not seen
    case failed         // the provider answered with errors; retried on the next run
    case ambiguous      // a Wikidata lookup by name matched several entities; none was taken

    public var isDone: Bool { self == .exhausted || self == .noResults || self == .noNew || self == .ambiguous }
}

/// Where a URL stands.
public enum AttemptState: String, Codable, Sendable, CaseIterable, DatabaseValueConvertible {
    case queued      // not downloaded yet (or interrupted mid-way)
    case stored      // downloaded; `imageId` is its image
    case duplicate   // downloaded; the bytes were already stored for this person (`imageId`)
    case failed      // see `failure`; `transient` failures are retried by --retry-failed
}

/// Why a URL did not give an image: `failure` in the catalog, and the keys of `curate status`'s failure counts.
/// A struct, not an enum, because every HTTP status has its own code (`http_404`, `http_503`, ...).
public struct FailureCode: RawRepresentable, Codable, Sendable, Hashable, DatabaseValueConvertible, CustomStringConvertible {
    public var rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public var description: String { rawValue }

    public static let tooLarge = FailureCode(rawValue: "too_large")
    public static let notImage = FailureCode(rawValue: "not_image")
    public static let io = FailureCode(rawValue: "io")
    public static let redirects = FailureCode(rawValue: "redirects")
    public static let badScheme = FailureCode(rawValue: "bad_scheme")
    public static let badURL = FailureCode(rawValue: "bad_url")
    public static let timeout = FailureCode(rawValue: "timeout")
    public static let connection = FailureCode(rawValue: "connection")
    public static let tls = FailureCode(rawValue: "tls")
    /// A provider's result (or a redirect) led to a loopback or link-local address the user did not point at.
    public static let localAddress = FailureCode(rawValue: "local_address")
    public static let error = FailureCode(rawValue: "error")
    /// An HTTP status other than 2xx.
    public static func http(_ status: Int) -> FailureCode { FailureCode(rawValue: "http_\(status)") }
    public var isHTTP: Bool { rawValue.hasPrefix("http_") }
}

/// Where processing stands with one image it has started on: `processing.state` in the catalog. A run that dies
/// (a decoder crash, the OOM killer, SIGKILL) leaves its marks behind; only an image that was alone in flight
/// can be blamed with certainty.
public enum ProcessingState: String, Codable, Sendable, CaseIterable, DatabaseValueConvertible {
    case alone      // being processed, the only image in flight
    case shared     // being processed while other workers had images in flight
    case crashed    // a run died while it was alone on this image: rejected as corrupt, never tried again
}

/// The face detector whose faces processing recorded for an image: dlib's HOG detector for every image, or its
/// CNN detector for the second look `--detector cnn` gives the images HOG found no face in.
public enum FaceDetector: String, Codable, Sendable, CaseIterable, DatabaseValueConvertible { case hog, cnn }

/// Processing's decision on an image. `pending` until processing has looked at it.
public enum Verdict: String, Codable, Sendable, CaseIterable, DatabaseValueConvertible { case pending, kept, rejected }

/// Why an image has its verdict: `reason` in the catalog and in `curate list --json`.
/// Printed as its stored code, as the plain strings it replaces were.
public enum Reason: String, Codable, Sendable, CaseIterable, DatabaseValueConvertible, CustomStringConvertible {
    case notImage = "not_image"
    case corrupt
    case tooSmall = "too_small"
    case tooLarge = "too_large"
    case noFace = "no_face"
    case multiFace = "multi_face"
    /// A one-face photo whose face is far from its person's identity (someone else).
    case wrongPerson = "wrong_person"
    case duplicate
    case labelConflict = "label_conflict"
    /// A person decided in review (set by the catalog when a decision is written).
    case reviewer

    public var description: String { rawValue }
}

/// The side of the split an accepted image is on: `split` in the catalog, and the export's folders.
public enum SplitSide: String, Codable, Sendable, CaseIterable, DatabaseValueConvertible, CustomStringConvertible {
    case train, val, test
    public var description: String { rawValue }
}
