import CoreMetrics
import Dispatch
import NIOCore
import NIOWebSocket
import SceneWire
import Synchronization

/// How frames travel on a connection: as the TCP byte stream, or each in one binary WebSocket
/// message (docs/PROTOCOL.md, "WebSocket").
package enum OutletFraming: Sendable, Equatable {
    case stream
    case webSocket
}

/// The part of a client connection that scene runners use from their own threads:
/// its channel, its queued-bytes account and its counters.
///
/// Sendable because every field is either immutable, a NIO `Channel` (thread-safe) or atomic.
public final class SessionOutlet: Sendable {
    public let channel: any Channel
    public let id: Int
    public let remote: String
    /// Bytes handed to the channel whose write has not completed yet.
    let queuedBytes = Atomic<Int>(0)
    let framesSent = Atomic<Int>(0)
    let bytesSent = Atomic<Int>(0)
    let ticksSkipped = Atomic<Int>(0)
    /// Uptime nanoseconds when the queue first went over the budget, 0 while under it.
    let overBudgetSince = Atomic<UInt64>(0)
    let metrics: ServerMetrics
    /// The peer's IP address alone (the key of per-address limits).
    public let address: String

    let framing: OutletFraming

    /// Seconds a closing connection waits for the client to take its last message (an Error,
    /// after its linger; a Goodbye) before it is closed regardless: a client that never reads
    /// cannot hold its descriptor, its queued bytes or a draining server's shutdown.
    let closeGrace: Double, goodbyeGrace: Double

    init(channel: any Channel, id: Int, metrics: ServerMetrics, framing: OutletFraming = .stream,
         closeGrace: Double = 60, goodbyeGrace: Double = 5) {
        self.closeGrace = closeGrace
        self.goodbyeGrace = goodbyeGrace
        self.channel = channel
        self.id = id
        self.metrics = metrics
        self.framing = framing
        self.remote = channel.remoteAddress?.description ?? "unknown"
        self.address = channel.remoteAddress?.ipAddress ?? "unknown"
    }

    /// Whether this client has been over `budget` queued bytes, without getting under it, for
    /// more than `timeout` seconds (it is then closed with Error 17).
    func stalled(budget: Int, timeout: Double, now: UInt64 = DispatchTime.now().uptimeNanoseconds) -> Bool {
        guard queued > budget else { overBudgetSince.store(0, ordering: .relaxed); return false }
        let since = overBudgetSince.load(ordering: .relaxed)
        if since == 0 { overBudgetSince.store(now, ordering: .relaxed); return false }
        return Double(now - since) / 1e9 > timeout
    }

    /// Bytes waiting on the server for this client.
    public var queued: Int { queuedBytes.load(ordering: .relaxed) }
    public var skipped: Int { ticksSkipped.load(ordering: .relaxed) }
    public var sent: Int { bytesSent.load(ordering: .relaxed) }

    /// Sends a message, accounting its bytes until the socket has taken them.
    func send(_ message: WireMessageBox) {
        write(message.buffer, promise: accounted(message.size))
    }

    /// Writes one whole frame, as this connection carries frames.
    private func write(_ frame: ByteBuffer, promise: EventLoopPromise<Void>?) {
        switch framing {
        case .stream: channel.writeAndFlush(frame, promise: promise)
        case .webSocket: channel.writeAndFlush(WebSocketFrame(fin: true, opcode: .binary, data: frame), promise: promise)
        }
    }

    /// Counts `size` bytes as queued; the promise returned releases them once written.
    private func accounted(_ size: Int) -> EventLoopPromise<Void> {
        queuedBytes.add(size, ordering: .relaxed)
        let promise = channel.eventLoop.makePromise(of: Void.self)
        promise.futureResult.whenComplete { [self] _ in
            queuedBytes.subtract(size, ordering: .relaxed)
            bytesSent.add(size, ordering: .relaxed)
            framesSent.add(1, ordering: .relaxed)
            metrics.bytesSent.increment(by: Int64(size))
        }
        return promise
    }

    /// Set once the connection is being closed by the server.
    let closing = Atomic<Bool>(false)

    /// Sends a message coded once for many: this subscriber's small head, then the shared
    /// tail (the same buffer for everyone, not copied), accounted as one frame.
    ///
    /// The two writes go to the event loop as one task: written from a runner's thread as two
    /// calls, another runner (a second scene on the same connection) could put its own frame
    /// between this head and this tail, and the client would read garbage lengths.
    func send(_ frame: SharedFrame, subscription: UInt32) {
        let head = frame.head(subscription: subscription)
        let tail = frame.tail
        let promise = accounted(head.readableBytes + tail.readableBytes)
        let channel = self.channel, framing = self.framing
        // On a WebSocket the two halves are one binary message in two fragments.
        let write = { @Sendable in
            switch framing {
            case .stream:
                channel.write(head, promise: nil)
                channel.writeAndFlush(tail, promise: promise)
            case .webSocket:
                channel.write(WebSocketFrame(fin: false, opcode: .binary, data: head), promise: nil)
                channel.writeAndFlush(WebSocketFrame(fin: true, opcode: .continuation, data: tail), promise: promise)
            }
        }
        if channel.eventLoop.inEventLoop { write() } else { channel.eventLoop.execute(write) }
    }

    /// Sends an Error and closes the connection at once (from a runner's thread); once only.
    func closeWithError(_ code: ErrorCode, _ text: String) {
        end(code, text, linger: nil)
    }

    /// Sends a last message (Goodbye) and closes.
    func sendAndClose(_ message: WireMessage) {
        guard closing.compareExchange(expected: false, desired: true, ordering: .relaxed).exchanged else { return }
        let channel = self.channel, framing = self.framing
        finish(message.frame(), framing: framing, closeCode: .normalClosure, reason: "", channel: channel, linger: nil, grace: goodbyeGrace)
    }

    /// The one way the server ends a connection after an Error; once only, from any thread.
    ///
    /// `linger` nil closes once the Error is written (refusals at the door, runners' closes).
    /// Otherwise the output is shut after the Error (FIN; on a WebSocket, a Close frame with
    /// code 4000 + the error code), what the client still sends is dropped for `linger`
    /// seconds, then the connection closes: closing at once over unread input would send a
    /// reset, and the client could lose the Error before reading it.
    func end(_ code: ErrorCode, _ text: String, linger: Double?) {
        guard closing.compareExchange(expected: false, desired: true, ordering: .relaxed).exchanged else { return }
        let frame = WireMessage.error(code: code.rawValue, message: text).frame()
        finish(frame, framing: framing, closeCode: .unknown(4000 + code.rawValue), reason: text, channel: channel, linger: linger, grace: closeGrace)
    }

    private func finish(_ frame: ByteBuffer, framing: OutletFraming, closeCode: WebSocketErrorCode, reason: String,
                        channel: any Channel, linger: Double?, grace: Double) {
        let force = channel.eventLoop.scheduleTask(in: .nanoseconds(Int64(((linger ?? 0) + grace) * 1e9))) {
            channel.close(promise: nil)
        }
        channel.closeFuture.whenComplete { _ in force.cancel() }
        let lingerClose: @Sendable () -> Void = {
            guard let linger else { channel.close(promise: nil); return }
            channel.eventLoop.scheduleTask(in: .nanoseconds(Int64(linger * 1e9))) { channel.close(promise: nil) }
        }
        switch framing {
        case .stream:
            channel.writeAndFlush(frame).whenComplete { _ in
                guard linger != nil else { channel.close(promise: nil); return }
                channel.close(mode: .output).whenComplete { result in
                    if case .failure = result { channel.close(promise: nil) } else { lingerClose() }
                }
            }
        case .webSocket:
            channel.write(WebSocketFrame(fin: true, opcode: .binary, data: frame), promise: nil)
            var data = channel.allocator.buffer(capacity: 2 + 123)
            data.write(webSocketErrorCode: closeCode)
            // A Close frame's reason is at most 123 bytes; cut at a character boundary.
            var cut = Substring(reason)
            while cut.utf8.count > 123 { cut = cut.dropLast() }
            data.writeString(String(cut))
            channel.writeAndFlush(WebSocketFrame(fin: true, opcode: .connectionClose, data: data)).whenComplete { _ in lingerClose() }
        }
    }
}

/// A message already framed into bytes, so it is coded once whatever the channel.
struct WireMessageBox: Sendable {
    let buffer: ByteBuffer
    var size: Int { buffer.readableBytes }
}
