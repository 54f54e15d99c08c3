// Decoded images in Swift: owns the image bridge's handles, and the header and integrity checks done before decoding.
import CImageBridge
import Catalog
import Foundation

public struct ImageError: BadInput {
    public enum Kind: Sendable { case undecodable, tooLarge, unreadable }
    public let kind: Kind
    public let description: String
    /// The POSIX error of an unreadable file.
    public var code: Int32?

    public init(description: String) { self.init(.undecodable, description) }
    public init(_ kind: Kind, _ description: String, code: Int32? = nil) {
        self.kind = kind
        self.description = description
        self.code = code
    }
}

/// What any path that decodes (process, review, predict, training) accepts, checked before a byte is decoded:
/// the file's size before it is read, and the pixels its header promises before they are allocated.
public enum ImageLimits {
    public static let maxPixels = 50_000_000
    public static let maxFileBytes = 256 << 20

    /// Reads an image file whole, after its size is checked (a 1 GB file is refused, not read).
    public static func read(_ path: String, maxBytes: Int = maxFileBytes) throws -> [UInt8] {
        var info = stat()
        guard stat(path, &info) == 0 else {
            throw ImageError(.unreadable, "cannot read \(path): \(String(cString: strerror(errno)))", code: errno)
        }
        guard Int(info.st_size) <= maxBytes else {
            throw ImageError(.tooLarge, "\(path) is \(Int(info.st_size) >> 20) MiB, over the \(maxBytes >> 20) MiB limit for an image")
        }
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw ImageError(.unreadable, "cannot read \(path): \(String(cString: strerror(errno)))", code: errno)
        }
        defer { try? handle.close() }
        do { return [UInt8](try handle.readToEnd() ?? Data()) } catch {
            let code = Int32(((error as NSError).userInfo[NSUnderlyingErrorKey] as? NSError)?.code ?? Int(EIO))
            throw ImageError(.unreadable, "cannot read \(path): \(String(cString: strerror(code)))", code: code)
        }
    }

    /// Whether a header's size is over `maxPixels`. Header fields reach 2^32 (PNG): multiplied without trapping.
    public static func exceeds(_ size: (width: Int, height: Int), maxPixels: Int = maxPixels) -> Bool {
        let (pixels, overflow) = size.width.multipliedReportingOverflow(by: size.height)
        return overflow || pixels > maxPixels
    }

    /// Refuses bytes whose header promises more than `maxPixels` (also a GIF frame larger than its screen,
    /// and TIFF, whose size is in its first directory).
    public static func check(_ bytes: [UInt8], maxPixels: Int = maxPixels) throws {
        guard let format = ImageFormat.sniff(bytes) else { return }
        guard let size = ImageHeader.size(bytes, format: format) else {
            // OpenCV allocates a TIFF's whole image from its directory before reading a strip (a 138-byte file
            // asked for 2.7 GB): a TIFF whose size cannot be read here is not decoded at all.
            if format == .tiff { throw ImageError(.undecodable, "TIFF: no width and height in its first directory") }
            return
        }
        if exceeds(size, maxPixels: maxPixels) {
            throw ImageError(.tooLarge, "\(size.width)×\(size.height) is over \(maxPixels / 1_000_000) megapixels")
        }
    }
}

/// An 8-bit BGR image held by the image bridge; freed when the last reference goes.
public final class DecodedImage {
    let handle: OpaquePointer

    init(_ handle: OpaquePointer) { self.handle = handle }
    deinit { curate_image_free(handle) }

    /// Decodes by content: JPEG, PNG, WebP, BMP, TIFF (OpenCV) or a GIF's first frame (giflib, onto white),
    /// after the header's promise is checked against `maxPixels`.
    public static func decode(_ bytes: [UInt8], maxPixels: Int = ImageLimits.maxPixels) throws -> DecodedImage {
        try ImageLimits.check(bytes, maxPixels: maxPixels)
        return DecodedImage(try Bridge.value(ImageError.init) { err in
            bytes.withUnsafeBufferPointer { curate_image_decode($0.baseAddress, $0.count, err) }
        })
    }

    /// Two images at the same height (the lower one scaled up), side by side on one canvas: a person beside a
    /// stranger, for the identity tests and bench/identity's planted pairs.
    public static func sideBySide(_ a: DecodedImage, _ b: DecodedImage) throws -> DecodedImage {
        let h = max(a.height, b.height)
        let a2 = a.height == h ? a : try a.resized(width: a.width * h / a.height, height: h)
        let b2 = b.height == h ? b : try b.resized(width: b.width * h / b.height, height: h)
        let w = a2.width + b2.width
        var pixels = [UInt8](repeating: 255, count: w * h * 3)
        for (img, x0) in [(a2, 0), (b2, a2.width)] {
            img.withPixels { p, stride in
                for y in 0..<h {
                    for x in 0..<(img.width * 3) { pixels[(y * w + x0) * 3 + x] = p[y * stride + x] }
                }
            }
        }
        return try fromBGR(pixels, width: w, height: h)
    }

    /// Copies packed BGR pixels.
    public static func fromBGR(_ pixels: [UInt8], width: Int, height: Int) throws -> DecodedImage {
        try pixels.withUnsafeBufferPointer { try fromBGR($0, width: width, height: height) }
    }

    /// Copies packed BGR pixels (width * height * 3 bytes).
    public static func fromBGR(_ pixels: UnsafeBufferPointer<UInt8>, width: Int, height: Int) throws -> DecodedImage {
        guard pixels.count >= width * height * 3 else {
            throw ImageError(description: "\(pixels.count) bytes are too few for \(width)×\(height) BGR pixels")
        }
        return DecodedImage(try Bridge.value(ImageError.init) { err in
            curate_image_from_bgr(pixels.baseAddress, Int32(width), Int32(height), width * 3, err)
        })
    }

    public var width: Int { Int(curate_image_width(handle)) }
    public var height: Int { Int(curate_image_height(handle)) }

    /// Calls `body` with the pixels (packed BGR rows of `stride` bytes), valid only inside.
    public func withPixels<T>(_ body: (UnsafePointer<UInt8>, Int) throws -> T) rethrows -> T {
        var stride = 0
        let p = curate_image_pixels(handle, &stride)!
        return try body(p, stride)
    }

    /// Applies an EXIF orientation (1-8) in place.
    public func orient(_ orientation: Int) throws {
        try Bridge.call(ImageError.init) { curate_image_orient(handle, Int32(orientation), $0) }
    }

    public func resized(width: Int, height: Int) throws -> DecodedImage {
        DecodedImage(try Bridge.value(ImageError.init) { curate_image_resized(handle, Int32(width), Int32(height), $0) })
    }

    public func jpeg(quality: Int = 92) throws -> Data {
        var length = 0
        let out = try Bridge.value(ImageError.init) { err -> UnsafeMutablePointer<UInt8>? in
            var out: UnsafeMutablePointer<UInt8>?
            return curate_image_encode_jpeg(handle, Int32(quality), &out, &length, err) == 0 ? out : nil
        }
        defer { curate_buffer_free(out) }
        return Data(bytes: out, count: length)
    }

    /// OpenCV's 64-bit pHash.
    public func phash() throws -> UInt64 {
        var hash: UInt64 = 0
        try Bridge.call(ImageError.init) { curate_image_phash(handle, &hash, $0) }
        return hash
    }

    public func drawBox(left: Int, top: Int, right: Int, bottom: Int, thickness: Int = 2,
                        bgr: (UInt8, UInt8, UInt8), label: String?) throws {
        try Bridge.call(ImageError.init) {
            curate_image_draw_box(handle, Int32(left), Int32(top), Int32(right), Int32(bottom), Int32(thickness),
                                  bgr.0, bgr.1, bgr.2, label, $0)
        }
    }

    /// SHA-256 of the pixels (with the size), so re-encoded copies of the same pixels match.
    public func pixelSHA256() -> String {
        var hasher = SHA256()
        var dims = "\(width)x\(height):"
        dims.withUTF8 { hasher.update(UnsafeRawBufferPointer($0)) }
        withPixels { p, stride in
            for y in 0..<height {
                hasher.update(UnsafeRawBufferPointer(start: p + y * stride, count: width * 3))
            }
        }
        return hasher.hexDigest()
    }
}

/// Camera facts from EXIF (libexif), for JPEGs.
public struct ExifInfo: Equatable, Sendable {
    public var orientation: Int
    public var make: String?
    public var model: String?
    public var taken: String?

    public static func read(_ bytes: [UInt8]) -> ExifInfo? {
        var out = curate_exif()
        var found: Int32 = 0
        _ = bytes.withUnsafeBufferPointer { curate_exif_read($0.baseAddress, $0.count, &out, &found) }
        guard found != 0 else { return nil }
        func text<T>(_ chars: T) -> String? {
            let s = Bridge.string(chars).trimmingCharacters(in: .whitespaces)
            return s.isEmpty ? nil : s
        }
        return ExifInfo(orientation: Int(out.orientation), make: text(out.make), model: text(out.model), taken: text(out.datetime))
    }
}

/// What can be known from an image's first bytes, before anything is decoded.
public enum ImageHeader {
    /// Width and height from the header (JPEG SOF, PNG IHDR, GIF screen and first frame, WebP VP8/VP8L/VP8X, BMP,
    /// TIFF's first directory), or nil when the header is too damaged to say.
    public static func size(_ b: [UInt8], format: ImageFormat) -> (width: Int, height: Int)? {
        func be16(_ i: Int) -> Int { Int(b[i]) << 8 | Int(b[i + 1]) }
        func le16(_ i: Int) -> Int { Int(b[i]) | Int(b[i + 1]) << 8 }
        func be32(_ i: Int) -> Int { be16(i) << 16 | be16(i + 2) }
        func le32(_ i: Int) -> Int { le16(i) | le16(i + 2) << 16 }
        switch format {
        case .png:
            guard b.count >= 24 else { return nil }
            return (be32(16), be32(20))
        case .gif:
            // The signature (6 bytes) and the logical screen descriptor (7), whose packed byte (10) says whether a
            // colour table follows.
            guard b.count >= 13 else { return nil }
            // The canvas the first frame needs: its screen, or more when the frame reaches beyond it.
            var width = le16(6), height = le16(8)
            var i = 13 + (b[10] & 0x80 != 0 ? 3 << (Int(b[10] & 7) + 1) : 0)
            while i < b.count {
                if b[i] == 0x2C {   // image descriptor: left, top, width, height
                    guard i + 9 < b.count else { break }
                    width = max(width, le16(i + 1) + le16(i + 5))
                    height = max(height, le16(i + 3) + le16(i + 7))
                    break
                }
                guard b[i] == 0x21, i + 2 < b.count else { break }   // an extension: its label, then sub-blocks
                i += 2
                while i < b.count && b[i] != 0 { i += Int(b[i]) + 1 }
                i += 1
            }
            return (width, height)
        case .bmp:
            guard b.count >= 26 else { return nil }
            return (abs(Int(Int32(truncatingIfNeeded: le32(18)))), abs(Int(Int32(truncatingIfNeeded: le32(22)))))
        case .webp:
            guard b.count >= 30 else { return nil }
            let chunk = String(decoding: b[12..<16], as: UTF8.self)
            switch chunk {
            case "VP8 ": return (le16(26) & 0x3FFF, le16(28) & 0x3FFF)
            case "VP8L":
                let bits = le32(21)
                return ((bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1)
            case "VP8X":
                return ((Int(b[24]) | Int(b[25]) << 8 | Int(b[26]) << 16) + 1, (Int(b[27]) | Int(b[28]) << 8 | Int(b[29]) << 16) + 1)
            default: return nil
            }
        case .jpeg:
            var i = 2
            while i + 9 < b.count {
                guard b[i] == 0xFF else { return nil }
                let marker = b[i + 1]
                if marker == 0xFF { i += 1; continue }
                if (0xC0...0xCF).contains(marker) && ![0xC4, 0xC8, 0xCC].contains(marker) {
                    return (be16(i + 7), be16(i + 5))
                }
                if marker == 0xD8 || (0xD0...0xD7).contains(marker) || marker == 0x01 { i += 2; continue }
                i += 2 + be16(i + 2)
            }
            return nil
        case .tiff:
            // The first image file directory's ImageWidth (256) and ImageLength (257), SHORT or LONG.
            guard b.count >= 8 else { return nil }
            let little = b[0] == 0x49
            func u16(_ i: Int) -> Int { little ? le16(i) : be16(i) }
            func u32(_ i: Int) -> Int { little ? le32(i) : be32(i) }
            let ifd = u32(4)
            guard ifd >= 8, ifd + 2 <= b.count else { return nil }
            var width: Int?, height: Int?
            for e in 0..<u16(ifd) {
                let at = ifd + 2 + e * 12
                guard at + 12 <= b.count else { break }
                let tag = u16(at), type = u16(at + 2)
                guard tag == 256 || tag == 257, type == 3 || type == 4 else { continue }
                let value = type == 3 ? u16(at + 8) : u32(at + 8)
                if tag == 256 { width = value } else { height = value }
            }
            guard let width, let height else { return nil }
            return (width, height)
        }
    }

    public enum Integrity: Equatable { case whole, truncated, corrupt(String) }
}
