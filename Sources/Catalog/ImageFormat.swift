// Recognises an image format from its first bytes: a body is judged by content, never by its name or Content-Type.
// Stored as `format` in the catalog.
import GRDB

public enum ImageFormat: String, Codable, Sendable, CaseIterable, DatabaseValueConvertible {
    case jpeg, png, gif, webp, bmp, tiff

    /// The extension used for stored files.
    public var fileExtension: String {
        switch self {
        case .jpeg: "jpg"
        case .tiff: "tif"
        default: rawValue
        }
    }

    /// How many leading bytes `sniff` needs to decide.
    public static let sniffLength = 12

    /// The format whose signature the bytes start with, or nil when they are not an image we can decode
    /// (an HTML error page, JSON, text, an unsupported format).
    public static func sniff<C: Collection>(_ bytes: C) -> ImageFormat? where C.Element == UInt8 {
        let b = Array(bytes.prefix(sniffLength))
        func starts(_ sig: [UInt8], at offset: Int = 0) -> Bool {
            b.count >= offset + sig.count && Array(b[offset..<offset + sig.count]) == sig
        }
        if starts([0xFF, 0xD8, 0xFF]) { return .jpeg }
        if starts([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) { return .png }
        if starts(Array("GIF87a".utf8)) || starts(Array("GIF89a".utf8)) { return .gif }
        if starts(Array("RIFF".utf8)) && starts(Array("WEBP".utf8), at: 8) { return .webp }
        if starts(Array("BM".utf8)) && b.count >= 6 { return .bmp }
        if starts([0x49, 0x49, 0x2A, 0x00]) || starts([0x4D, 0x4D, 0x00, 0x2A]) { return .tiff }
        return nil
    }
}
