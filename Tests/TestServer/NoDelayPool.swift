// NoDelayPool: FlyingFox's socket pool with TCP_NODELAY set on every socket, so keep-alive responses are not held back 40 ms.
import FlyingFox
import FlyingSocks
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// FlyingFox writes a response head and its body with separate send() calls. With Nagle's
/// algorithm on, the body then waits for the ACK of the head, and the client delays that ACK
/// (up to 40 ms on Linux) on a reused keep-alive connection: every request after the first
/// took ~44 ms, capping a benchmark at a few hundred images per second.
///
/// FlyingFox has no hook on the sockets it creates or accepts, but every socket that would
/// block passes through the pool. This wrapper sets TCP_NODELAY on each one there: the
/// listening socket suspends before its first accept, and on Linux accepted sockets inherit
/// TCP_NODELAY from it; any other socket gets it the first time it waits. setsockopt is cheap
/// and idempotent, so no bookkeeping of which sockets were already done.
struct NoDelayPool: AsyncSocketPool {
    let base: any AsyncSocketPool

    func prepare() async throws { try await base.prepare() }

    func run() async throws { try await base.run() }

    func suspendSocket(_ socket: Socket, untilReadyFor events: Socket.Events) async throws {
        // Failure only means "not a TCP socket"; never worth failing the connection over.
        try? socket.setValue(true, for: BoolSocketOption(level: Int32(IPPROTO_TCP), name: Int32(TCP_NODELAY)))
        try await base.suspendSocket(socket, untilReadyFor: events)
    }
}
