// What the fuzzed sources take from the Catalog target and its packages (GRDB, swift-crypto), standing in so that
// fuzz/run.sh can compile those sources and a harness into one module with swiftc. None of it is under test.

/// Catalog's mark of an error in the user's input.
public protocol BadInput: Error, CustomStringConvertible {}

/// GRDB's column conversion: ImageFormat declares it; nothing here stores anything.
public protocol DatabaseValueConvertible {}

/// The pixel hash is not what is fuzzed (it is swift-crypto's SHA-256): FNV-1a with the same shape keeps the
/// harness reading every pixel row, as the real one does.
public struct SHA256 {
    private var state: UInt64 = 0xcbf2_9ce4_8422_2325
    public init() {}
    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        for byte in bytes { state = (state ^ UInt64(byte)) &* 0x100_0000_01b3 }
    }
    public mutating func hexDigest() -> String { String(state, radix: 16) }
}
