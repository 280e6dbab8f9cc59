import NIOCore
import Testing
@testable import SceneWire

@Suite struct SharedFrameTests {
    static let messages: [WireMessage] = [
        .staticGeometry(subscription: 0, buildings: [WireBuilding(rings: [[SIMD2(0, 0), SIMD2(1000, 0), SIMD2(1000, 800)]], heightDecimetres: 120)]),
        .staticGeometry(subscription: 0, buildings: []),
        .events(subscription: 0, tick: 99, events: [WireEvent(entity: 3, kind: 101, value: 61.5), WireEvent(entity: 900, kind: 103, value: 1)]),
        .attributes(subscription: 0, tick: 1 << 40, snapshot: true, values: [WireAttribute(entity: 2, attribute: 0, bits: 7), WireAttribute(entity: 300, attribute: 1, bits: 0xFFFF_FFFF)]),
        .attributes(subscription: 0, tick: 5, snapshot: false, values: []),
    ]

    @Test(arguments: [UInt32(0), 1, 127, 128, 16_383, 16_384, 70_000, .max])
    func headAndTailAreTheMessagesOwnBytes(subscription: UInt32) throws {
        for m in Self.messages {
            let expected = Array(m.with(subscription: subscription).frame().readableBytesView)
            let shared = try #require(SharedFrame(m))
            var parts = shared.head(subscription: subscription)
            var tail = shared.tail
            parts.writeBuffer(&tail)
            #expect(Array(parts.readableBytesView) == expected, "\(m.type) for subscription \(subscription)")
            #expect(shared.frameBytes(subscription: subscription) == expected.count)
            // And a decoder reads it back as the message.
            var b = shared.frame(subscription: subscription)
            let frame = try #require(try WireFrameDecoder().next(&b))
            #expect(try WireMessage.decode(type: frame.type, payload: frame.payload) == m.with(subscription: subscription))
        }
    }

    @Test func onlyMessagesThatStartWithTheirSubscriptionCanBeShared() {
        #expect(SharedFrame(.ping(nonce: 1, timeMicros: 2)) == nil)
        #expect(SharedFrame(.stateFrame(subscription: 1, tick: 1, serverTimeMicros: nil, resync: false, cells: [])) == nil)
    }
}

extension WireMessage {
    /// The same message for another subscription (tests).
    func with(subscription s: UInt32) -> WireMessage {
        switch self {
        case .staticGeometry(_, let b): return .staticGeometry(subscription: s, buildings: b)
        case .events(_, let t, let e): return .events(subscription: s, tick: t, events: e)
        case .attributes(_, let t, let snap, let v): return .attributes(subscription: s, tick: t, snapshot: snap, values: v)
        default: return self
        }
    }
}
