import CoreMetrics
import NIOCore
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
    let metrics: ServerMetrics

    init(channel: any Channel, id: Int, metrics: ServerMetrics) {
        self.channel = channel
        self.id = id
        self.metrics = metrics
        self.remote = channel.remoteAddress?.description ?? "unknown"
    }

    /// Bytes waiting on the server for this client.
    public var queued: Int { queuedBytes.load(ordering: .relaxed) }
    public var skipped: Int { ticksSkipped.load(ordering: .relaxed) }
    public var sent: Int { bytesSent.load(ordering: .relaxed) }

    /// Sends a message, accounting its bytes until the socket has taken them.
    func send(_ message: WireMessageBox) {
        queuedBytes.add(message.size, ordering: .relaxed)
        write(message.buffer)
    }

    /// Writes bytes already accounted in `queuedBytes` (on any thread; on the channel's event
    /// loop it happens at once).
    func write(_ buffer: ByteBuffer) {
        let size = buffer.readableBytes
        let promise = channel.eventLoop.makePromise(of: Void.self)
        promise.futureResult.whenComplete { [self] _ in
            queuedBytes.subtract(size, ordering: .relaxed)
            bytesSent.add(size, ordering: .relaxed)
            framesSent.add(1, ordering: .relaxed)
            metrics.bytesSent.increment(by: Int64(size))
        }
        channel.writeAndFlush(buffer, promise: promise)
    }
}

/// Frames for many clients, handed to each event loop as one task per tick instead of one
/// task per frame: with a thousand clients that is the difference between a thousand
/// cross-thread hops a tick and two.
struct SendBatch {
    private var byLoop: [ObjectIdentifier: (loop: any EventLoop, items: [(SessionOutlet, ByteBuffer)])] = [:]

    mutating func add(_ outlet: SessionOutlet, _ buffer: ByteBuffer) {
        outlet.queuedBytes.add(buffer.readableBytes, ordering: .relaxed)
        let loop = outlet.channel.eventLoop
        byLoop[ObjectIdentifier(loop), default: (loop, [])].items.append((outlet, buffer))
    }

    mutating func flush() {
        for (_, entry) in byLoop {
            let items = entry.items
            entry.loop.execute { for (outlet, buffer) in items { outlet.write(buffer) } }
        }
        byLoop.removeAll(keepingCapacity: true)
    }
}

/// A message already framed into bytes, so it is coded once whatever the channel.
struct WireMessageBox: Sendable {
    let buffer: ByteBuffer
    var size: Int { buffer.readableBytes }
}
