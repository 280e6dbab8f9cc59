import NIOCore
import SceneCore
import Testing
@testable import NATSClient

/// The server's side of the protocol, read from bytes: the documentation's own examples,
/// any split of a stream into pieces, and bad input (an error, never a crash or a buffer
/// that grows without bound).
@Suite struct NATSOpDecoderTests {
    /// Every operation in `bytes`, fed in pieces whose ends are `cuts`.
    static func ops(_ bytes: [UInt8], cuts: [Int] = [], decoder: NATSOpDecoder = NATSOpDecoder()) throws(NATSError) -> [NATSServerOp] {
        var buffer = ByteBuffer()
        var out: [NATSServerOp] = []
        var from = 0
        for end in cuts.sorted() + [bytes.count] where end >= from {
            buffer.writeBytes(bytes[from..<end])
            from = end
            while let op = try decoder.next(&buffer) { out.append(op) }
        }
        return out
    }

    static func describe(_ op: NATSServerOp) -> String {
        switch op {
        case .info(let i): return "INFO \(i.serverID) \(i.maxPayload) \(i.headers) \(i.lameDuckMode)"
        case .message(let m):
            let headers = m.headers.map { h in " [\(h.status.map(String.init) ?? "-") \(h.statusDescription) " + h.fields.map { "\($0.name)=\($0.value)" }.joined(separator: ",") + "]" } ?? ""
            return "MSG \(m.subject) \(m.sid) \(m.reply ?? "-") \(String(decoding: m.bytes, as: UTF8.self))\(headers)"
        case .ping: return "PING"
        case .pong: return "PONG"
        case .ok: return "+OK"
        case .error(let t): return "-ERR \(t)"
        }
    }

    /// The examples of docs.nats.io's client protocol page.
    static let documented = "INFO {\"server_id\":\"Zk0GQ3JBSrg3oyxCRRlE09\",\"version\":\"2.9.10\",\"proto\":1,\"headers\":true,\"max_payload\":1048576}\r\n"
        + "MSG FOO.BAR 9 11\r\nHello World\r\n"
        + "MSG FOO.BAR 9 GREETING.34 11\r\nHello World\r\n"
        + "HMSG FOO.BAR 9 34 45\r\nNATS/1.0\r\nFOO1:BAR1\r\nFOO2:BAR2\r\n\r\nHello World\r\n"
        + "HMSG FOO.BAR 9 BAZ.69 34 45\r\nNATS/1.0\r\nFOO1:BAR1\r\nFOO2:BAR2\r\n\r\nHello World\r\n"
        + "HMSG _INBOX.x.1 3 16 16\r\nNATS/1.0 503\r\n\r\n\r\n"
        + "PING\r\nPONG\r\n+OK\r\n-ERR 'Unknown Protocol Operation'\r\nmsg lower.case 1 0\r\n\r\n"

    static let expected = [
        "INFO Zk0GQ3JBSrg3oyxCRRlE09 1048576 true false",
        "MSG FOO.BAR 9 - Hello World",
        "MSG FOO.BAR 9 GREETING.34 Hello World",
        "MSG FOO.BAR 9 - Hello World [- " + " FOO1=BAR1,FOO2=BAR2]",
        "MSG FOO.BAR 9 BAZ.69 Hello World [- " + " FOO1=BAR1,FOO2=BAR2]",
        "MSG _INBOX.x.1 3 - " + " [503  ]",
        "PING", "PONG", "+OK", "-ERR Unknown Protocol Operation",
        "MSG lower.case 1 - ",
    ]

    @Test func theDocumentedExamplesRead() throws {
        let ops = try Self.ops(Array(Self.documented.utf8))
        #expect(ops.map(Self.describe) == Self.expected)
    }

    /// Seeded: the same stream cut at random places (down to one byte at a time) reads the same.
    @Test(arguments: [1, 2, 3, 4, 5, 6, 7, 8])
    func anySplitReadsTheSame(seed: UInt64) throws {
        var rng = SeededGenerator(seed: seed)
        let bytes = Array((Self.documented + Self.documented).utf8)
        let cuts = seed == 1 ? Array(1..<bytes.count) : (0..<Int.random(in: 1...60, using: &rng)).map { _ in Int.random(in: 0...bytes.count, using: &rng) }
        #expect(try Self.ops(bytes, cuts: cuts).map(Self.describe) == Self.expected + Self.expected)
    }

    @Test(arguments: [
        ("FOO BAR\r\n", "unknown operation"),
        ("MSG a 1\r\n", "arguments"),
        ("MSG a b c d e\r\n", "arguments"),
        ("MSG a x 3\r\nabc\r\n", "subscription id"),
        ("MSG a 1 -3\r\n", "byte count"),
        ("MSG a 1 three\r\n", "byte count"),
        ("MSG a 1 3\r\nabcd\r\n", "not followed by CRLF"),
        ("HMSG a 1 20 10\r\n", "header length"),
        ("HMSG a 1 5 5\r\nHTTP/\r\n", "NATS/1.0"),
        ("HMSG a 1 13 13\r\nNATS/1.0 5x\r\n\r\n", "status"),
        ("INFO {not json}\r\n", "INFO"),
        ("PING\n", "CRLF"),
        ("MSG a 1 99999999999\r\n", "over the limit"),
    ])
    func badInputIsAnError(text: String, words: String) {
        do {
            let ops = try Self.ops(Array(text.utf8))
            Issue.record("read \(ops.map(Self.describe)) from \(text.debugDescription)")
        } catch {
            #expect(error.description.contains(words), "\(error)")
        }
    }

    /// A line that never ends is refused once it is over the limit, not kept growing.
    @Test func anEndlessLineIsRefusedAtTheLimit() throws {
        var buffer = ByteBuffer(bytes: [UInt8](repeating: UInt8(ascii: "A"), count: NATSOpDecoder.defaultMaxControlLine))
        #expect(try NATSOpDecoder().next(&buffer).map(Self.describe) == nil)
        buffer.writeString("AA")
        #expect(throws: NATSError.self) { try NATSOpDecoder().next(&buffer) }
        // A payload over the decoder's limit is refused from its control line, before its bytes.
        var small = NATSOpDecoder()
        small.maxPayload = 10
        var big = ByteBuffer(string: "MSG a 1 11\r\n")
        #expect(throws: NATSError.self) { try small.next(&big) }
    }

    /// Seeded garbage and mutated streams: each either reads or throws; nothing is consumed
    /// that was not a whole operation.
    @Test(arguments: [11, 12, 13, 14])
    func garbageNeverCrashes(seed: UInt64) {
        var rng = SeededGenerator(seed: seed)
        let alphabet = Array("MSGHINFOPGE-+RK 0123456789abc.\r\n{}\":".utf8)
        for _ in 0..<2_000 {
            var bytes = Array(Self.documented.utf8)
            for _ in 0..<Int.random(in: 1...8, using: &rng) {
                let k = Int.random(in: 0..<bytes.count, using: &rng)
                bytes[k] = Bool.random(using: &rng) ? alphabet.randomElement(using: &rng)! : UInt8.random(in: 0...255, using: &rng)
            }
            if Bool.random(using: &rng) { bytes = (0..<Int.random(in: 1...300, using: &rng)).map { _ in alphabet.randomElement(using: &rng)! } }
            _ = try? Self.ops(bytes, cuts: [Int.random(in: 0...bytes.count, using: &rng)])
        }
    }
}
