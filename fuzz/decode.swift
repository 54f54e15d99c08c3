// libFuzzer harness: untrusted bytes through what `curate process` does before and after decoding (the Swift
// header checks, the image bridge's decode, EXIF, orient, resize, pHash, JPEG encode).
import Foundation

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzDecode(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = [UInt8](UnsafeBufferPointer(start: data, count: size))
    let maxPixels = 4_000_000
    // As processing does: the JPEG walk, then the decode, which checks the header's pixels first.
    guard let format = ImageFormat.sniff(bytes) else { return 0 }
    if format == .jpeg && ImageHeader.jpegIntegrity(bytes) != .whole { return 0 }
    guard let image = try? DecodedImage.decode(bytes, maxPixels: maxPixels) else { return 0 }
    // The size checks are only worth anything if the decoder never makes more pixels than the header said.
    if image.width * image.height > maxPixels {
        fatalError("decoded \(image.width)x\(image.height), over the \(maxPixels) pixels the header checks allow")
    }
    // The last byte picks the orientation and the resize target, so the fuzzer explores those too.
    let knob = Int(bytes.last ?? 0)
    if let exif = ExifInfo.read(bytes), exif.orientation > 1 { try? image.orient(exif.orientation) }
    try? image.orient(1 + knob % 8)
    _ = image.pixelSHA256()
    _ = try? image.phash()
    _ = try? image.jpeg(quality: 1 + knob % 100)
    if let small = try? image.resized(width: 1 + knob % 97, height: 1 + (knob * 7) % 89) { _ = try? small.jpeg() }
    return 0
}
