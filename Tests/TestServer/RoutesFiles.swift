// File routes: /files/<relpath>, /unique/<n>/<relpath> and /list/<dir>, all read from dataRoot.
import FlyingFox
import Foundation

/// Image extensions the listing and the search emulations treat as images.
let imageExtensions: Set<String> = ["jpg", "jpeg", "png", "gif", "webp"]

/// Content-Type by file extension, as an image host would send it.
func contentType(forPath path: String) -> String {
    switch (path as NSString).pathExtension.lowercased() {
    case "jpg", "jpeg": return "image/jpeg"
    case "png": return "image/png"
    case "gif": return "image/gif"
    case "webp": return "image/webp"
    default: return "application/octet-stream"
    }
}

/// The bytes `/unique/<n>/...` appends after the image: a distinct sha256 per n while the
/// image still decodes (decoders stop at the format's end marker).
func uniqueSuffix(_ n: String) -> Data {
    Data("\ncurate-unique-\(n)\n".utf8)
}

extension ServerCore {

    /// The file URL for a path relative to dataRoot, or nil when it is empty, climbs out of
    /// dataRoot, or is not a regular file.
    func resolveFile(_ relpath: String) -> URL? {
        let parts = relpath.split(separator: "/")
        guard !parts.isEmpty, !parts.contains(".."), !parts.contains(".") else { return nil }
        let url = dataRoot.appendingPathComponent(parts.joined(separator: "/")).standardizedFileURL
        guard url.path.hasPrefix(dataRoot.path + "/") else { return nil }
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDir), !isDir.boolValue else { return nil }
        return url
    }

    /// Bytes of a file under dataRoot (cached), or nil when there is no such file.
    func fileData(_ relpath: String) -> Data? {
        if let cached = state.withLock({ $0.fileCache[relpath] }) { return cached }
        guard let url = resolveFile(relpath), let data = try? Data(contentsOf: url) else { return nil }
        state.withLock { $0.fileCache[relpath] = data }
        return data
    }

    func serveFile(relpath: String) -> HTTPResponse {
        guard let data = fileData(relpath) else { return notFound() }
        return dataResponse(.ok, data, contentType: contentType(forPath: relpath))
    }

    /// `/unique/<n>/<relpath>`: the file's bytes plus "\ncurate-unique-<n>\n".
    func serveUnique(_ rest: String) -> HTTPResponse {
        let parts = rest.split(separator: "/", maxSplits: 1)
        guard parts.count == 2, let data = fileData(String(parts[1])) else { return notFound() }
        return dataResponse(.ok, data + uniqueSuffix(String(parts[0])), contentType: contentType(forPath: String(parts[1])))
    }

    /// `/list/<dir>`: newline-separated `/files/...` paths of every image under dir, sorted.
    /// Lets a benchmark discover real photos without knowing the data layout.
    func serveList(relDir: String) -> HTTPResponse {
        guard let paths = imagePaths(underRelDir: relDir) else { return notFound() }
        return textResponse(.ok, paths.map { $0 + "\n" }.joined())
    }

    /// Sorted `/files/...` server paths of the image files (by extension) under a folder of
    /// dataRoot, recursively; nil when that folder does not exist. "" is dataRoot itself.
    func imagePaths(underRelDir relDir: String) -> [String]? {
        let parts = relDir.split(separator: "/")
        guard !parts.contains(".."), !parts.contains(".") else { return nil }
        let dirURL = parts.isEmpty ? dataRoot : dataRoot.appendingPathComponent(parts.joined(separator: "/"))
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: dirURL.path, isDirectory: &isDir), isDir.boolValue,
              let walker = FileManager.default.enumerator(at: dirURL, includingPropertiesForKeys: [.isRegularFileKey])
        else { return nil }
        let rootPrefix = dataRoot.path + "/"
        var paths: [String] = []
        for case let url as URL in walker {
            guard imageExtensions.contains(url.pathExtension.lowercased()),
                  (try? url.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile) == true,
                  let rel = url.standardizedFileURL.path.dropPrefix(rootPrefix) else { continue }
            paths.append("/files/" + rel)
        }
        return paths.sorted()
    }

    /// Body size a search result should report for a server path: the real size for
    /// `/files/` and `/unique/`, 0 for anything else (misbehaving routes have no fixed size).
    func bodySize(forServerPath path: String) -> Int {
        if let rel = path.dropPrefix("/files/") {
            return fileData(rel)?.count ?? 0
        }
        if let rest = path.dropPrefix("/unique/") {
            let parts = rest.split(separator: "/", maxSplits: 1)
            guard parts.count == 2, let data = fileData(String(parts[1])) else { return 0 }
            return data.count + uniqueSuffix(String(parts[0])).count
        }
        return 0
    }
}
