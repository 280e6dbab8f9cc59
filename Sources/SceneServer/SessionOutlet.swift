import CoreMetrics
import Dispatch
import NIOCore
import SceneWire
import Synchronization

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

    init(channel: any Channel, id: Int, metrics: ServerMetrics) {
        self.channel = channel
        self.id = id
        self.metrics = metrics
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
        channel.writeAndFlush(message.buffer, promise: accounted(message.size))
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
        let channel = self.channel
        if channel.eventLoop.inEventLoop {
            channel.write(head, promise: nil)
            channel.writeAndFlush(tail, promise: promise)
        } else {
            channel.eventLoop.execute {
                channel.write(head, promise: nil)
                channel.writeAndFlush(tail, promise: promise)
            }
        }
    }

    /// Sends an Error and closes the connection (from a runner's thread); once only.
    func closeWithError(_ code: ErrorCode, _ text: String) {
        guard closing.compareExchange(expected: false, desired: true, ordering: .relaxed).exchanged else { return }
        let channel = self.channel
        channel.writeAndFlush(WireMessage.error(code: code.rawValue, message: text).frame()).whenComplete { _ in channel.close(promise: nil) }
    }
}

/// A message already framed into bytes, so it is coded once whatever the channel.
struct WireMessageBox: Sendable {
    let buffer: ByteBuffer
    var size: Int { buffer.readableBytes }
}
