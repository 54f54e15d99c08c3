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
/// the file's size before it is read, and the pixels its decoder reads from the header before they are allocated.
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

    /// The size the format's own decoder reads (ImageHeader.decoderSize); refuses bytes that are not one of
    /// curate's formats, bytes whose decoder cannot say, and a size over `maxPixels`.
    @discardableResult
    public static func check(_ bytes: [UInt8], maxPixels: Int = maxPixels) throws -> (format: ImageFormat, width: Int, height: Int) {
        guard let format = ImageFormat.sniff(bytes) else {
            throw ImageError(.undecodable, "not an image curate decodes (JPEG, PNG, GIF, WebP, BMP or TIFF)")
        }
        let size = try ImageHeader.decoderSize(bytes, format: format)
        if exceeds(size, maxPixels: maxPixels) {
            throw ImageError(.tooLarge, "\(size.width)×\(size.height) is over \(maxPixels / 1_000_000) megapixels")
        }
        return (format, size.width, size.height)
    }
}

/// An 8-bit BGR image held by the image bridge; freed when the last reference goes.
public final class DecodedImage {
    let handle: OpaquePointer

    init(_ handle: OpaquePointer) { self.handle = handle }
    deinit { curate_image_free(handle) }

    /// The one decode: by content, JPEG (libjpeg), PNG, WebP, BMP, TIFF (OpenCV) or a GIF's first frame (giflib,
    /// onto white), each only by its own decoder, which checks the size it reads against `maxPixels` before it
    /// allocates (a size read some other way can disagree with the decoder's: a tag given twice, a chunk header
    /// left out). Nothing is printed; a bad arithmetic code in a JPEG is damage, not a picture.
    public static func decode(_ bytes: [UInt8], maxPixels: Int = ImageLimits.maxPixels) throws -> DecodedImage {
        let format = try ImageLimits.check(bytes, maxPixels: maxPixels).format
        var err = curate_error()
        let handle = bytes.withUnsafeBufferPointer {
            curate_image_decode($0.baseAddress, $0.count, format.bridgeCode, Int64(maxPixels), &err)
        }
        guard let handle else { throw ImageError(err.code == 3 ? .tooLarge : .undecodable, Bridge.message(err)) }
        return DecodedImage(handle)
    }

    /// A JPEG at 1/`reduction` of its size (1, 2, 4 or 8; ceil(w/r) x ceil(h/r)) by libjpeg's DCT scaling: the
    /// pixels a smaller size needs, without decoding (or holding) the whole. The same checks as `decode`.
    public static func decodeJPEG(_ bytes: [UInt8], reduction: Int, maxPixels: Int = ImageLimits.maxPixels) throws -> DecodedImage {
        guard try ImageLimits.check(bytes, maxPixels: maxPixels).format == .jpeg else { throw ImageError(description: "not a JPEG") }
        return DecodedImage(try Bridge.value({ ImageError(.undecodable, $0) }) { err in
            bytes.withUnsafeBufferPointer {
                curate_image_decode_jpeg($0.baseAddress, $0.count, Int64(maxPixels), Int32(reduction), 0, 0, 0, 0, nil, err)
            }
        })
    }

    /// Only a rectangle of a JPEG, at full size (libjpeg skips the rows above and below it and the block columns
    /// beside it): the image and where its top-left pixel is in the whole image (its left edge can move left, to a
    /// whole block column).
    public static func decodeJPEG(_ bytes: [UInt8], region: (x: Int, y: Int, width: Int, height: Int),
                                  maxPixels: Int = ImageLimits.maxPixels) throws -> (image: DecodedImage, origin: (x: Int, y: Int)) {
        guard try ImageLimits.check(bytes, maxPixels: maxPixels).format == .jpeg else { throw ImageError(description: "not a JPEG") }
        var left: Int32 = 0
        let image = DecodedImage(try Bridge.value({ ImageError(.undecodable, $0) }) { err in
            bytes.withUnsafeBufferPointer {
                curate_image_decode_jpeg($0.baseAddress, $0.count, Int64(maxPixels), 1, Int32(region.x), Int32(region.y),
                                         Int32(region.width), Int32(region.height), &left, err)
            }
        })
        return (image, (Int(left), region.y))
    }

    /// Two images at the same height (the lower one scaled up), side by side on one canvas: a person beside a
    /// stranger, for the identity tests and bench/identity's planted pairs.
    public static func sideBySide(_ a: DecodedImage, _ b: DecodedImage) throws -> DecodedImage {
        let h = max(a.height, b.height)
        let a2 = a.height == h ? a : try a.resized(width: a.width * h / a.height, height: h)
        let b2 = b.height == h ? b : try b.resized(width: b.width * h / b.height, height: h)
        let w = a2.width + b2.width
        var pixels = [UInt8](repeating: 255, count: w * h * 3)
        for (img, x0) in [(a2, 0), (b2, a2.width)] { img.copyRows(into: &pixels, at: x0 * 3, rowStride: w * 3) }
        return try fromBGR(pixels, width: w, height: h)
    }

    /// Copies the pixels' rows (width * 3 bytes each) into `out`, the first at byte `offset`, each next `rowStride`
    /// bytes after the last: packed (`rowStride` = width * 3), or into a wider canvas.
    public func copyRows(into out: inout [UInt8], at offset: Int, rowStride: Int) {
        let rowBytes = width * 3
        precondition(height == 0 || offset + (height - 1) * rowStride + rowBytes <= out.count, "copyRows: the rows do not fit")
        withPixels { p, stride in
            out.withUnsafeMutableBufferPointer { o in
                for y in 0..<height { (o.baseAddress! + offset + y * rowStride).update(from: p + y * stride, count: rowBytes) }
            }
        }
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

    /// The pixels as a PNG, exactly (a copy that decodes to these pixels, whole).
    public func png() throws -> Data {
        var length = 0
        let out = try Bridge.value(ImageError.init) { err -> UnsafeMutablePointer<UInt8>? in
            var out: UnsafeMutablePointer<UInt8>?
            return curate_image_encode_png(handle, &out, &length, err) == 0 ? out : nil
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

    /// Sharpness and exposure of a region (see `curate_image_quality`).
    public func quality(left: Int, top: Int, width: Int, height: Int) throws -> curate_region_quality {
        var q = curate_region_quality()
        try Bridge.call(ImageError.init) { curate_image_quality(handle, Int32(left), Int32(top), Int32(width), Int32(height), &q, $0) }
        return q
    }

    public func drawBox(left: Int, top: Int, right: Int, bottom: Int, thickness: Int = 2,
                        bgr: (UInt8, UInt8, UInt8), label: String?) throws {
        try Bridge.call(ImageError.init) {
            curate_image_draw_box(handle, Int32(left), Int32(top), Int32(right), Int32(bottom), Int32(thickness),
                                  bgr.0, bgr.1, bgr.2, label, $0)
        }
    }

    /// SHA-256 of the pixels (with the size), so re-encoded copies of the same pixels match. `reduction` (> 1)
    /// says these pixels are a JPEG's DCT-scaled 1/reduction of a `fullSize` image: the hash is then of the
    /// reduced pixels, named as such ("WxH/r:" before them, W x H the whole size), so it equals only the hash of
    /// another JPEG of that size decoded at that reduction, never a full decode's.
    public func pixelSHA256(reduction: Int = 1, fullSize: (width: Int, height: Int)? = nil) -> String {
        var hasher = SHA256()
        let whole = fullSize ?? (width, height)
        var dims = reduction > 1 ? "\(whole.width)x\(whole.height)/\(reduction):" : "\(width)x\(height):"
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
    /// Width and height as the format's own decoder reads them, nothing decoded: libjpeg's header read, libpng's
    /// IHDR, libwebp's features, libtiff's first directory, giflib's screen and first frame, OpenCV's BMP rules.
    /// Throws, with the decoder's reason, where it cannot say.
    public static func decoderSize(_ bytes: [UInt8], format: ImageFormat) throws -> (width: Int, height: Int) {
        var width: Int32 = 0, height: Int32 = 0
        try Bridge.call({ ImageError(.undecodable, $0) }) { err in
            bytes.withUnsafeBufferPointer { curate_image_size($0.baseAddress, $0.count, format.bridgeCode, &width, &height, err) }
        }
        return (Int(width), Int(height))
    }

    /// `decoderSize`, or nil where the decoder cannot say.
    public static func size(_ bytes: [UInt8], format: ImageFormat) -> (width: Int, height: Int)? {
        try? decoderSize(bytes, format: format)
    }

    public enum Integrity: Equatable { case whole, truncated, corrupt(String) }
}

extension ImageFormat {
    /// The bridge's CURATE_FORMAT_ constant.
    var bridgeCode: Int32 {
        switch self {
        case .jpeg: Int32(CURATE_FORMAT_JPEG)
        case .png: Int32(CURATE_FORMAT_PNG)
        case .gif: Int32(CURATE_FORMAT_GIF)
        case .webp: Int32(CURATE_FORMAT_WEBP)
        case .bmp: Int32(CURATE_FORMAT_BMP)
        case .tiff: Int32(CURATE_FORMAT_TIFF)
        }
    }
}
