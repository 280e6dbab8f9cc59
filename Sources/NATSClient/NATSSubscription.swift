import NIOCore
import Synchronization

/// The messages of one subscription, in order, as an async sequence. Bounded: while the
/// consumer has `NATSOptions.pendingMessages` messages (or `pendingBytes` of payload) not
/// taken yet, further messages are dropped and counted, and the connection reports a slow
/// consumer. The sequence ends when the subscription or the connection is closed.
public final class NATSSubscription: AsyncSequence, Sendable {
    public typealias Element = NATSMessage

    public let sid: UInt64
    public let subject: String
    public let queue: String?
    private let stream: AsyncStream<NATSMessage>
    private let continuation: AsyncStream<NATSMessage>.Continuation
    private let limits: (messages: Int, bytes: Int)
    private let pendingMessages = Atomic<Int>(0)
    private let pendingBytes = Atomic<Int>(0)
    private let droppedCount = Atomic<Int>(0)
    private let deliveredCount = Atomic<Int>(0)
    /// Set while in a slow-consumer episode (reported once), cleared once the consumer has
    /// caught up to half the limit.
    private let slow = Atomic<Bool>(false)
    /// Messages after which the server ends the subscription (UNSUB with a maximum); nil: none.
    let maxMessages: Int?
    weak let connection: NATSConnection?
    /// Where this subscription's messages go when it shares another's sequence (`subscribe(_:into:)`).
    let sink: NATSSubscription?
    /// Takes each message on the connection's event loop instead of the sequence
    /// (`subscribe(_:handler:)`); false when it cannot take one (its own bound).
    let handler: (@Sendable (NATSMessage) -> Bool)?

    init(sid: UInt64, subject: String, queue: String?, maxMessages: Int?, limits: (messages: Int, bytes: Int), connection: NATSConnection?,
         sink: NATSSubscription? = nil, handler: (@Sendable (NATSMessage) -> Bool)? = nil) {
        self.connection = connection
        self.sink = sink
        self.handler = handler
        self.sid = sid
        self.subject = subject
        self.queue = queue
        self.maxMessages = maxMessages
        self.limits = limits
        (stream, continuation) = AsyncStream<NATSMessage>.makeStream(bufferingPolicy: .unbounded)
    }

    /// Messages dropped because the consumer was behind.
    public var dropped: Int { droppedCount.load(ordering: .relaxed) }
    /// Messages handed to the consumer's queue (dropped ones not counted).
    public var delivered: Int { deliveredCount.load(ordering: .relaxed) }
    /// Messages waiting for the consumer.
    public var pending: Int { pendingMessages.load(ordering: .relaxed) }

    /// Ends the subscription: the server stops sending, the sequence ends.
    public func unsubscribe() {
        connection?.unsubscribe(self)
    }

    enum Delivery: Equatable {
        case queued
        /// The last one the subscription takes (its maximum).
        case queuedLast
        /// Dropped: the consumer is behind. `episodeBegins` for the first of a run of drops.
        case dropped(episodeBegins: Bool)
    }

    /// Queues a message for the consumer, or drops it when the consumer is behind.
    func deliver(_ message: NATSMessage) -> Delivery {
        if let sink { return sink.deliver(message) }
        if let handler {
            guard handler(message) else {
                droppedCount.add(1, ordering: .relaxed)
                return .dropped(episodeBegins: !slow.exchange(true, ordering: .relaxed))
            }
            slow.store(false, ordering: .relaxed)
            deliveredCount.add(1, ordering: .relaxed)
            return .queued
        }
        let size = message.payload.readableBytes
        if pendingMessages.load(ordering: .relaxed) >= limits.messages || pendingBytes.load(ordering: .relaxed) + size > limits.bytes {
            droppedCount.add(1, ordering: .relaxed)
            return .dropped(episodeBegins: !slow.exchange(true, ordering: .relaxed))
        }
        pendingMessages.add(1, ordering: .relaxed)
        pendingBytes.add(size, ordering: .relaxed)
        continuation.yield(message)
        let n = deliveredCount.add(1, ordering: .relaxed).newValue
        if let maxMessages, n + dropped >= maxMessages {
            continuation.finish()
            return .queuedLast
        }
        return .queued
    }

    /// Messages still to come before the server ends it by itself (for a resubscription).
    var remaining: Int? { maxMessages.map { Swift.max(0, $0 - delivered - dropped) } }

    func finish() { if sink == nil { continuation.finish() } }

    private func taken(_ message: NATSMessage) {
        pendingMessages.subtract(1, ordering: .relaxed)
        let left = pendingBytes.subtract(message.payload.readableBytes, ordering: .relaxed).newValue
        if slow.load(ordering: .relaxed) && pendingMessages.load(ordering: .relaxed) <= limits.messages / 2 && left <= limits.bytes / 2 {
            slow.store(false, ordering: .relaxed)
        }
    }

    public struct AsyncIterator: AsyncIteratorProtocol {
        var base: AsyncStream<NATSMessage>.AsyncIterator
        let subscription: NATSSubscription

        public mutating func next() async -> NATSMessage? {
            guard let m = await base.next() else { return nil }
            subscription.taken(m)
            return m
        }
    }

    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(base: stream.makeAsyncIterator(), subscription: self)
    }
}
