import NIOCore

/// A message coded once and sent to many subscribers: everything after the subscription
/// field is one shared buffer (`tail`), and each subscriber's frame is a small head (length,
/// type, its subscription) followed by that same tail. Writing the two parts one after the
/// other puts the same bytes on the wire as `message.frame()`, without copying the tail.
///
/// For the messages whose payload starts with the subscription: StaticGeometry and Events
/// (`u32 subscription`), Attributes and EntityInfo (`varint subscription`).
public struct SharedFrame: Sendable {
    public let type: MessageType
    /// The payload after the subscription field.
    public let tail: ByteBuffer
    let varintSubscription: Bool

    /// Nil for a message that does not start with its subscription.
    public init?(_ message: WireMessage) {
        let zeroed: WireMessage
        switch message {
        case .staticGeometry(_, let b): zeroed = .staticGeometry(subscription: 0, buildings: b); varintSubscription = false
        case .events(_, let t, let e): zeroed = .events(subscription: 0, tick: t, events: e); varintSubscription = false
        case .attributes(_, let t, let s, let v): zeroed = .attributes(subscription: 0, tick: t, snapshot: s, values: v); varintSubscription = true
        case .entityInfo(_, let e): zeroed = .entityInfo(subscription: 0, entities: e); varintSubscription = true
        default: return nil
        }
        type = message.type
        var payload = ByteBufferAllocator().buffer(capacity: 64)
        zeroed.writePayload(into: &payload)
        payload.moveReaderIndex(forwardBy: varintSubscription ? 1 : 4)   // subscription 0: one varint byte, or four
        tail = payload
    }

    /// A shared message from its type and tail, as `tail` gave them (a gateway forwarding a
    /// shard's messages). Nil for a type that does not start with its subscription.
    public init?(type: MessageType, tail: ByteBuffer) {
        switch type {
        case .staticGeometry, .events: varintSubscription = false
        case .attributes, .entityInfo: varintSubscription = true
        default: return nil
        }
        self.type = type
        self.tail = tail
    }

    /// Bytes of the frame for a subscription that its length counts: type byte and payload.
    public func payloadBytes(subscription: UInt32) -> Int { 1 + subscriptionBytes(subscription) + tail.readableBytes }

    /// Bytes of the whole frame for a subscription (prefix included).
    public func frameBytes(subscription: UInt32) -> Int {
        let body = payloadBytes(subscription: subscription)
        return Self.varintSize(UInt64(body)) + body
    }

    /// The head for one subscriber: `varint length`, type, subscription. Send `tail` after it.
    public func head(subscription: UInt32) -> ByteBuffer {
        var out = ByteBufferAllocator().buffer(capacity: 16)
        out.writeVarint(UInt64(1 + subscriptionBytes(subscription) + tail.readableBytes))
        out.writeInteger(type.rawValue)
        if varintSubscription { out.writeVarint(UInt64(subscription)) } else { out.writeInteger(subscription) }
        return out
    }

    /// Head and tail in one buffer (a copy; tests and single sends).
    public func frame(subscription: UInt32) -> ByteBuffer {
        var out = head(subscription: subscription)
        var t = tail
        out.writeBuffer(&t)
        return out
    }

    func subscriptionBytes(_ s: UInt32) -> Int { varintSubscription ? Self.varintSize(UInt64(s)) : 4 }

    static func varintSize(_ v: UInt64) -> Int { max(1, (64 - v.leadingZeroBitCount + 6) / 7) }
}
