// Content addressing: SHA-256 in lower-case hex names every stored file and every decoded image's pixels.
// swift-crypto (BoringSSL, with the CPU's SHA extensions) does the hashing; this type keeps the streaming,
// hex-out shape the callers use, so a download is hashed while it is written.
import Crypto

public struct SHA256 {
    private var hasher = Crypto.SHA256()

    public init() {}

    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        hasher.update(bufferPointer: bytes)
    }

    public mutating func update<Bytes: Sequence>(_ bytes: Bytes) where Bytes.Element == UInt8 {
        let array = Array(bytes)
        array.withUnsafeBytes { update($0) }
    }

    public mutating func finalize() -> [UInt8] {
        Array(hasher.finalize())
    }

    public mutating func hexDigest() -> String {
        finalize().map { b in
            let s = String(b, radix: 16)
            return s.count == 1 ? "0" + s : s
        }.joined()
    }

    public static func hex<Bytes: Sequence>(_ bytes: Bytes) -> String where Bytes.Element == UInt8 {
        var hasher = SHA256()
        hasher.update(bytes)
        return hasher.hexDigest()
    }
}
