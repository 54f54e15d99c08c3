// Query files: one UTF-8 text file per person; the file name is the label, each line a search term, an image URL,
// a Commons category or a Wikidata entity.
import Catalog
import Foundation

/// One line of a query file that asks for images.
public enum QueryLine: Hashable, Sendable {
    case search(String)
    case url(String)
    /// `category:Maisie Williams`: the files of a Commons category (and its subcategories), as the title
    /// `Category:Maisie Williams`.
    case category(String)
    /// `wikidata:Q1234`: a Wikidata entity, whose Commons category and portrait become sources.
    case wikidata(String)
}

/// The queries of one person, read from one file.
public struct PersonQuery: Equatable, Sendable {
    public var label: String
    public var file: String
    public var lines: [QueryLine]
}

public enum QueryError: BadInput, Equatable {
    case missing(String)
    case emptyFolder(String)
    case unreadable(String, String)
    case notUTF8(String)
    case noTerms(String)
    case badLabel(String)
    case badURL(file: String, line: Int, text: String)
    case badCategory(file: String, line: Int, text: String)
    case badEntity(file: String, line: Int, text: String)
    case sameLabel(label: String, first: String, second: String)
    /// A file in a query folder that is a link to somewhere outside it, or not a plain file.
    case outside(file: String, target: String)

    public var description: String {
        switch self {
        case .missing(let path):
            return "query path \(path) does not exist: give a folder of .txt files (one per person) or one .txt file."
        case .emptyFolder(let path):
            return "query folder \(path) has no query files: add one .txt file per person, each line a search term or an image URL."
        case let .unreadable(path, why):
            return "cannot read query file \(path): \(why)."
        case .notUTF8(let path):
            return "query file \(path) is not UTF-8 text: save it as UTF-8."
        case .noTerms(let path):
            return "query file \(path) has no search terms or URLs (only blank lines and # comments)."
        case .badLabel(let path):
            return "query file \(path) gives no usable label: rename it to the person's name, e.g. Arya_Stark.txt."
        case let .badURL(file, line, text):
            return "\(file):\(line): \(text) is not an http(s) URL: only http:// and https:// image URLs are supported."
        case let .badCategory(file, line, text):
            return "\(file):\(line): \(text) names no usable Commons category: write category:Name (e.g. category:Maisie Williams), without # < > [ ] | { }."
        case let .badEntity(file, line, text):
            return "\(file):\(line): \(text) is not a Wikidata item id: write wikidata:Q followed by digits (e.g. wikidata:Q1234)."
        case let .sameLabel(label, first, second):
            return "query files \(first) and \(second) both give the label \"\(label)\": rename one of them."
        case let .outside(file, target):
            return "query file \(file) is a link to \(target), which is outside the query folder or not a plain file: curate reads only "
                + "the folder's own files (their lines go to a search provider). Copy the file into the folder instead."
        }
    }
}

public enum QueryFile {
    /// Reads a folder of query files (every `*.txt` in it, hidden files ignored) or one file.
    public static func load(path: String) throws -> [PersonQuery] {
        let fm = FileManager.default
        var isDir: ObjCBool = false
        guard fm.fileExists(atPath: path, isDirectory: &isDir) else { throw QueryError.missing(path) }
        let files: [String]
        if isDir.boolValue {
            let names: [String]
            do { names = try fm.contentsOfDirectory(atPath: path) } catch {
                throw QueryError.unreadable(path, "\(error.localizedDescription)")
            }
            files = names.filter { !$0.hasPrefix(".") && $0.lowercased().hasSuffix(".txt") }
                .sorted()
                .map { (path as NSString).appendingPathComponent($0) }
            guard !files.isEmpty else { throw QueryError.emptyFolder(path) }
            // A link in the folder may point only at a plain file inside the folder: any other file's lines
            // (a key, a password file) would be sent to a search provider as terms.
            let folder = URL(fileURLWithPath: path).resolvingSymlinksInPath().path
            for file in files {
                let target = URL(fileURLWithPath: file).resolvingSymlinksInPath()
                var isDir: ObjCBool = false
                let regular = (try? fm.attributesOfItem(atPath: target.path))?[.type] as? FileAttributeType == .typeRegular
                if !target.path.hasPrefix(folder + "/") || !regular || !fm.fileExists(atPath: target.path, isDirectory: &isDir) {
                    throw QueryError.outside(file: file, target: target.path)
                }
            }
        } else {
            files = [path]
        }
        var queries: [PersonQuery] = []
        var byKey: [String: String] = [:]   // case-folded label -> file, to catch collisions
        for file in files {
            let query = try parse(file: file)
            let key = query.label.lowercased()
            if let first = byKey[key] {
                throw QueryError.sameLabel(label: query.label, first: first, second: file)
            }
            byKey[key] = file
            queries.append(query)
        }
        return queries
    }

    public static func parse(file: String) throws -> PersonQuery {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: file)) } catch {
            let ns = error as NSError
            let why = (ns.userInfo[NSUnderlyingErrorKey] as? NSError).map { String(cString: strerror(Int32($0.code))) }
                ?? ns.localizedDescription
            throw QueryError.unreadable(file, why)
        }
        return try parse(data, file: file)
    }

    /// A query file's contents; `file` is its path (the label comes from its name).
    static func parse(_ data: Data, file: String) throws -> PersonQuery {
        guard let text = String(data: data, encoding: .utf8) else { throw QueryError.notUTF8(file) }
        let base = ((file as NSString).lastPathComponent as NSString).deletingPathExtension
        guard let label = safeLabel(base) else { throw QueryError.badLabel(file) }
        var lines: [QueryLine] = []
        var seen = Set<QueryLine>()
        for (index, raw) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
            guard let line = try parseLine(String(raw), file: file, number: index + 1) else { continue }
            if seen.insert(line).inserted { lines.append(line) }
        }
        guard !lines.isEmpty else { throw QueryError.noTerms(file) }
        return PersonQuery(label: label, file: file, lines: lines)
    }

    /// One line: nil for blank lines and comments. `#` starts a comment at the start of a line or after a space
    /// (so a URL's `#fragment` survives).
    static func parseLine(_ raw: String, file: String, number: Int) throws -> QueryLine? {
        var line = raw
        if line.hasPrefix("\u{FEFF}") { line.removeFirst() }
        if line.trimmingCharacters(in: .whitespaces).hasPrefix("#") { return nil }
        if let range = line.range(of: #"\s#"#, options: .regularExpression) {
            line = String(line[..<range.lowerBound])
        }
        line = line.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !line.isEmpty else { return nil }
        let lower = line.lowercased()
        if lower.hasPrefix("http://") || lower.hasPrefix("https://") {
            guard let url = URL(string: line), url.host != nil else {
                throw QueryError.badURL(file: file, line: number, text: line)
            }
            return .url(line)
        }
        if lower.hasPrefix("category:") {
            guard let title = categoryTitle(String(line.dropFirst("category:".count))) else {
                throw QueryError.badCategory(file: file, line: number, text: line)
            }
            return .category(title)
        }
        if lower.hasPrefix("wikidata:") {
            let id = line.dropFirst("wikidata:".count).trimmingCharacters(in: .whitespaces).uppercased()
            guard id.range(of: #"^Q[1-9][0-9]*$"#, options: .regularExpression) != nil else {
                throw QueryError.badEntity(file: file, line: number, text: line)
            }
            return .wikidata(id)
        }
        if line.range(of: #"^[A-Za-z][A-Za-z0-9+.-]*://"#, options: .regularExpression) != nil {
            throw QueryError.badURL(file: file, line: number, text: line)
        }
        // Collapse inner runs of whitespace: "Jon   Snow" and "Jon Snow" are one term.
        return .search(line.split(whereSeparator: \.isWhitespace).joined(separator: " "))
    }

    /// A Commons category's page title as MediaWiki normalises it: `Category:` prefix (given once or not at all),
    /// underscores as spaces, runs of spaces as one, the first letter upper-case. Nil when the name is empty or
    /// has a character titles cannot hold.
    public static func categoryTitle(_ name: String) -> String? {
        var name = name.replacingOccurrences(of: "_", with: " ")
            .split(whereSeparator: \.isWhitespace).joined(separator: " ")
        if name.lowercased().hasPrefix("category:") {
            name = name.dropFirst("category:".count).trimmingCharacters(in: .whitespaces)
        }
        guard let first = name.first, name.rangeOfCharacter(from: CharacterSet(charactersIn: "#<>[]|{}")) == nil else { return nil }
        return "Category:" + first.uppercased() + name.dropFirst()
    }

    /// A label that is safe as one path component: no separators, no control characters, not `.` or `..`,
    /// no leading dots or surrounding spaces. Nil when nothing usable is left.
    public static func safeLabel(_ name: String) -> String? {
        var out = ""
        for scalar in name.precomposedStringWithCanonicalMapping.unicodeScalars {
            switch scalar {
            case "/", "\\", ":", "*", "?", "\"", "<", ">", "|":
                out.append("_")
            default:
                if scalar.properties.generalCategory == .control || scalar.properties.generalCategory == .format {
                    continue
                }
                out.unicodeScalars.append(scalar)
            }
        }
        // Dots and spaces are stripped together, as often as they alternate: ". .." must not come out as "..".
        while let first = out.unicodeScalars.first, first == "." || first.properties.isWhitespace { out.unicodeScalars.removeFirst() }
        out = out.trimmingCharacters(in: .whitespaces)
        guard !out.isEmpty, out.contains(where: { $0 != "_" }) else { return nil }
        return out
    }
}
