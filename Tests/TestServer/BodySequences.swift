// Body streams that misbehave on purpose (drip, huge, cut off) and a handler that drops a connection unanswered.
import FlyingFox
import FlyingSocks
import Foundation

// How FlyingFox 0.27.1 sends a response (HTTPConnection.sendResponse / HTTPServer.handleConnection),
// which these types rely on:
//  - the head is written first, then the body sequence is iterated and each buffer written;
//  - if the body sequence throws, the error leaves sendResponse, and handleConnection closes
//    the socket without writing anything more: a real mid-body connection drop;
//  - if the body sequence merely ends early, nothing happens and the connection stays open for
//    keep-alive, so the client would wait for the missing bytes instead of seeing a drop.
//    Hence `CutOffBytes` throws rather than ending;
//  - a handler that throws gets a 500 response, so "close with no response at all" cannot be a
//    throwing handler. A `.webSocket` payload, however, calls `WSHandler.makeFrames` *before*
//    writing its head; `DropConnectionHandler` throws there, so the socket is closed with zero
//    bytes written. No raw-socket listener is needed for any route.

/// Thrown to make FlyingFox close a connection on purpose.
struct DeliberateDrop: Error {}

/// The bytes of `data`, then a thrown error instead of the end: a body cut off mid-stream.
struct CutOffBytes: AsyncBufferedSequence {
    typealias Element = UInt8
    let data: Data

    func makeAsyncIterator() -> Iterator { Iterator(data: data) }

    struct Iterator: AsyncBufferedIteratorProtocol {
        let data: Data
        var offset = 0

        mutating func next() async throws -> UInt8? {
            try await nextBuffer(suggested: 1)?.first
        }

        mutating func nextBuffer(suggested count: Int) async throws -> Data? {
            guard offset < data.count else { throw DeliberateDrop() }
            let end = Swift.min(data.count, offset + Swift.max(1, count))
            defer { offset = end }
            return data.subdata(in: offset..<end)
        }
    }
}

/// The bytes of `data` one at a time, `delayMs` milliseconds apart (the first at once).
/// A client that goes away makes the next write fail, which ends the stream; a server
/// stop cancels the sleep, which ends it too.
struct DripBytes: AsyncBufferedSequence {
    typealias Element = UInt8
    let data: Data
    let delayMs: Int

    func makeAsyncIterator() -> Iterator { Iterator(data: data, delayMs: delayMs) }

    struct Iterator: AsyncBufferedIteratorProtocol {
        let data: Data
        let delayMs: Int
        var offset = 0

        mutating func next() async throws -> UInt8? {
            try await nextBuffer(suggested: 1)?.first
        }

        mutating func nextBuffer(suggested count: Int) async throws -> Data? {
            guard offset < data.count else { return nil }
            if offset > 0, delayMs > 0 {
                try await Task.sleep(nanoseconds: UInt64(delayMs) * 1_000_000)
            }
            defer { offset += 1 }
            return data.subdata(in: offset..<offset + 1)
        }
    }
}

/// `total` bytes that start like a real JPEG (SOI + JFIF APP0 segment) followed by zero filler,
/// generated chunk by chunk so a many-MiB body never sits in memory.
struct FakeJPEGBytes: AsyncBufferedSequence {
    typealias Element = UInt8
    let total: Int

    /// FF D8 (SOI), FF E0 (APP0) length 16, "JFIF\0", version 1.1, no units, 1×1 density, no thumbnail.
    static let header: [UInt8] = [0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, 0x4A, 0x46, 0x49, 0x46, 0x00,
                                  0x01, 0x01, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00]

    func makeAsyncIterator() -> Iterator { Iterator(total: total) }

    struct Iterator: AsyncBufferedIteratorProtocol {
        let total: Int
        var offset = 0

        mutating func next() async throws -> UInt8? {
            try await nextBuffer(suggested: 1)?.first
        }

        mutating func nextBuffer(suggested count: Int) async throws -> Data? {
            guard offset < total else { return nil }
            let n = Swift.min(total - offset, Swift.max(1, count))
            var chunk = Data(count: n)
            // Overlay whichever part of the JPEG header falls inside this chunk.
            if offset < FakeJPEGBytes.header.count {
                let h = FakeJPEGBytes.header[offset..<Swift.min(FakeJPEGBytes.header.count, offset + n)]
                chunk.replaceSubrange(0..<h.count, with: h)
            }
            offset += n
            return chunk
        }
    }
}

/// A "WebSocket" handler whose only job is to fail before FlyingFox writes the response head,
/// so the client's request gets no response bytes at all: the connection just closes.
struct DropConnectionHandler: WSHandler {
    func makeFrames(for client: AsyncThrowingStream<WSFrame, any Error>) async throws -> AsyncStream<WSFrame> {
        throw DeliberateDrop()
    }
}
