import NIOCore
import Testing
@testable import NATSClient

/// The client's side written as the documentation writes it, and subjects checked before
/// anything is sent.
@Suite struct NATSClientOpTests {
    static func text(_ op: NATSClientOp) throws -> String {
        var out = ByteBuffer()
        try op.write(into: &out)
        return String(decoding: out.readableBytesView, as: UTF8.self)
    }

    @Test func operationsAreWrittenAsDocumented() throws {
        #expect(try Self.text(.publish(subject: "FOO", reply: nil, headers: nil, payload: ByteBuffer(string: "Hello NATS!"))) == "PUB FOO 11\r\nHello NATS!\r\n")
        #expect(try Self.text(.publish(subject: "FRONT.DOOR", reply: "JOKE.22", headers: nil, payload: ByteBuffer(string: "Knock Knock"))) == "PUB FRONT.DOOR JOKE.22 11\r\nKnock Knock\r\n")
        #expect(try Self.text(.publish(subject: "NOTIFY", reply: nil, headers: nil, payload: ByteBuffer())) == "PUB NOTIFY 0\r\n\r\n")
        let headers = NATSHeaders([("Bar", "Baz")])
        #expect(try Self.text(.publish(subject: "FOO", reply: nil, headers: headers, payload: ByteBuffer(string: "Hello NATS!")))
                == "HPUB FOO 22 33\r\nNATS/1.0\r\nBar: Baz\r\n\r\nHello NATS!\r\n")
        #expect(try Self.text(.publish(subject: "FRONT.DOOR", reply: "JOKE.22", headers: NATSHeaders([("BREAKFAST", "donut"), ("LUNCH", "burger")]), payload: ByteBuffer(string: "Knock Knock")))
                == "HPUB FRONT.DOOR JOKE.22 45 56\r\nNATS/1.0\r\nBREAKFAST: donut\r\nLUNCH: burger\r\n\r\nKnock Knock\r\n")
        #expect(try Self.text(.subscribe(subject: "FOO", queue: nil, sid: 1)) == "SUB FOO 1\r\n")
        #expect(try Self.text(.subscribe(subject: "BAR", queue: "G1", sid: 44)) == "SUB BAR G1 44\r\n")
        #expect(try Self.text(.unsubscribe(sid: 1, max: nil)) == "UNSUB 1\r\n")
        #expect(try Self.text(.unsubscribe(sid: 1, max: 5)) == "UNSUB 1 5\r\n")
        #expect(try Self.text(.ping) == "PING\r\n")
        #expect(try Self.text(.pong) == "PONG\r\n")
        let connect = try Self.text(.connect(NATSConnectOptions(name: "t")))
        #expect(connect.hasPrefix("CONNECT {") && connect.hasSuffix("}\r\n"))
        #expect(connect.contains("\"headers\":true") && connect.contains("\"no_responders\":true") && connect.contains("\"verbose\":false"))
    }

    /// A header block written and read back is the same; names that would break the block
    /// are refused.
    @Test func headersRoundTripAndBadOnesAreRefused() throws {
        var h = NATSHeaders(status: 408, statusDescription: "Request Timeout", [("a", "1"), ("a", "2"), ("Nats-Msg-Id", "x y")])
        h.add("empty", "")
        let block = try h.encoded()
        #expect(try NATSHeaders.parse(ByteBuffer(bytes: block).readableBytesView) == h)
        #expect(h["a"] == "1")
        #expect(throws: NATSError.self) { try NATSHeaders([("bad name", "v")]).encoded() }
        #expect(throws: NATSError.self) { try NATSHeaders([("colon:", "v")]).encoded() }
        #expect(throws: NATSError.self) { try NATSHeaders([("n", "line\r\nInjected: yes")]).encoded() }
    }

    @Test(arguments: ["", "a b", "a\tb", "a..b", ".a", "a.", "a\r\nPUB x 1", "a.*", "a.>", String(repeating: "x", count: 1025)])
    func badPublishSubjectsAreRefused(subject: String) {
        #expect(throws: NATSError.self) { try NATSClientOp.checkPublishSubject(subject) }
    }

    @Test func subscriptionsMayUseWildcardsInTheirPlaces() throws {
        for ok in ["scene.district.cell.*.*", "scene.>", "*", ">", "a.*.c"] { try NATSClientOp.checkSubscribeSubject(ok) }
        for bad in ["a.>.c", "a b", "a..b", ""] {
            #expect(throws: NATSError.self, "\(bad)") { try NATSClientOp.checkSubscribeSubject(bad) }
        }
        #expect(throws: NATSError.self) { try NATSClientOp.checkQueue("a b") }
    }

    /// The reconnect waits: doubling from the first, capped, less at most half by jitter.
    @Test func backoffDoublesUpToItsCap() {
        var o = NATSOptions()
        o.reconnectWait = 0.1
        o.reconnectWaitMax = 1
        #expect((1...6).map { o.backoff(attempt: $0, jitter: 0) } == [0.1, 0.2, 0.4, 0.8, 1, 1])
        #expect(o.backoff(attempt: 3, jitter: 1) == 0.2)
        #expect(o.backoff(attempt: 1000, jitter: 0) == 1)
    }
}
