import Foundation
import NIOCore

/// What the client sends, written as the protocol's lines.
enum NATSClientOp {
    case connect(NATSConnectOptions)
    case publish(subject: String, reply: String?, headers: NATSHeaders?, payload: ByteBuffer)
    case subscribe(subject: String, queue: String?, sid: UInt64)
    case unsubscribe(sid: UInt64, max: Int?)
    case ping
    case pong

    func write(into out: inout ByteBuffer) throws(NATSError) {
        switch self {
        case .connect(let options):
            let json = (try? JSONEncoder().encode(options)) ?? Data("{}".utf8)
            out.writeString("CONNECT ")
            out.writeBytes(json)
            out.writeString("\r\n")
        case .publish(let subject, let reply, let headers, var payload):
            if let headers {
                let block = try headers.encoded()
                out.writeString("HPUB \(subject) \(reply.map { $0 + " " } ?? "")\(block.count) \(block.count + payload.readableBytes)\r\n")
                out.writeBytes(block)
            } else {
                out.writeString("PUB \(subject) \(reply.map { $0 + " " } ?? "")\(payload.readableBytes)\r\n")
            }
            out.writeBuffer(&payload)
            out.writeString("\r\n")
        case .subscribe(let subject, let queue, let sid):
            out.writeString("SUB \(subject) \(queue.map { $0 + " " } ?? "")\(sid)\r\n")
        case .unsubscribe(let sid, let max):
            out.writeString("UNSUB \(sid)\(max.map { " \($0)" } ?? "")\r\n")
        case .ping:
            out.writeString("PING\r\n")
        case .pong:
            out.writeString("PONG\r\n")
        }
    }

    /// A subject to publish to: dot-separated tokens, none empty, no whitespace, no wildcards.
    static func checkPublishSubject(_ subject: String) throws(NATSError) {
        try checkTokens(subject, allowingWildcards: false)
    }

    /// A subject to subscribe to: as for publishing, plus `*` for one token and `>` as the
    /// last token for the rest.
    static func checkSubscribeSubject(_ subject: String) throws(NATSError) {
        try checkTokens(subject, allowingWildcards: true)
    }

    /// A queue group name: one token, no whitespace.
    static func checkQueue(_ queue: String) throws(NATSError) {
        guard !queue.isEmpty, !queue.utf8.contains(where: Self.isSpace) else { throw .invalidSubject("queue group \(queue.debugDescription)") }
    }

    private static func isSpace(_ b: UInt8) -> Bool { b == 32 || b == 9 || b == 10 || b == 13 || b == 0 }

    private static func checkTokens(_ subject: String, allowingWildcards: Bool) throws(NATSError) {
        guard !subject.isEmpty, subject.utf8.count <= 1024 else { throw .invalidSubject("\(subject.prefix(64).debugDescription): empty or over 1024 bytes") }
        guard !subject.utf8.contains(where: isSpace) else { throw .invalidSubject("\(subject.prefix(64).debugDescription) holds whitespace") }
        let tokens = subject.split(separator: ".", omittingEmptySubsequences: false)
        for (k, t) in tokens.enumerated() {
            guard !t.isEmpty else { throw .invalidSubject("\(subject.debugDescription) has an empty token") }
            if t == "*" || t == ">" {
                guard allowingWildcards else { throw .invalidSubject("\(subject.debugDescription): wildcards are for subscriptions") }
                if t == ">" && k != tokens.count - 1 { throw .invalidSubject("\(subject.debugDescription): > only as the last token") }
            }
        }
    }
}

/// CONNECT's fields (docs.nats.io, "CONNECT").
struct NATSConnectOptions: Encodable {
    var verbose = false
    var pedantic = false
    var tlsRequired = false
    var name: String
    var lang = "swift"
    var version = "0.1.0"
    var proto = 1
    var headers = true
    var noResponders = true
    var echo = true

    enum CodingKeys: String, CodingKey {
        case verbose, pedantic, tlsRequired = "tls_required", name, lang, version, proto = "protocol", headers, noResponders = "no_responders", echo
    }
}
