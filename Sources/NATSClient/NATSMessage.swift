import Foundation
import NIOCore

/// One message as a subscriber gets it (MSG or HMSG): the subject it was published to, the
/// reply subject if the publisher wants an answer, its headers if it had any, and its bytes.
public struct NATSMessage: Sendable {
    public var subject: String
    public var reply: String?
    public var headers: NATSHeaders?
    public var payload: ByteBuffer
    /// The subscription it was delivered to.
    public var sid: UInt64
    /// Which connection of the client delivered it: a larger number after each reconnection
    /// (it counts connection attempts). A subscriber that sees it change knows, in order with the messages, that
    /// what was published while it was away is lost (0 for a message not from a connection).
    public var connection: Int = 0

    public init(subject: String, reply: String? = nil, headers: NATSHeaders? = nil, payload: ByteBuffer, sid: UInt64 = 0) {
        self.subject = subject
        self.reply = reply
        self.headers = headers
        self.payload = payload
        self.sid = sid
    }

    /// The payload's bytes.
    public var bytes: [UInt8] { Array(payload.readableBytesView) }
}

/// NATS headers (ADR-4): the `NATS/1.0` line with an optional status (503 no responders,
/// 408 timeout ...), then `Name: value` lines in order; names may repeat.
public struct NATSHeaders: Sendable, Equatable {
    public var status: Int?
    public var statusDescription: String
    public private(set) var fields: [(name: String, value: String)]

    public init(status: Int? = nil, statusDescription: String = "", _ fields: [(String, String)] = []) {
        self.status = status
        self.statusDescription = statusDescription
        self.fields = fields.map { (name: $0.0, value: $0.1) }
    }

    /// The first value of a name (names compare exactly, as the server does).
    public subscript(name: String) -> String? { fields.first { $0.name == name }?.value }

    public mutating func add(_ name: String, _ value: String) { fields.append((name: name, value: value)) }

    public static func == (a: NATSHeaders, b: NATSHeaders) -> Bool {
        a.status == b.status && a.statusDescription == b.statusDescription
            && a.fields.map(\.name) == b.fields.map(\.name) && a.fields.map(\.value) == b.fields.map(\.value)
    }

    /// The header block as it travels: `NATS/1.0[ status[ description]]\r\n`, the fields,
    /// and an empty line.
    func encoded() throws(NATSError) -> [UInt8] {
        var text = "NATS/1.0"
        if let status { text += " \(status)"; if !statusDescription.isEmpty { text += " " + statusDescription } }
        text += "\r\n"
        for f in fields {
            guard !f.name.isEmpty, f.name.utf8.allSatisfy({ $0 > 32 && $0 < 127 && $0 != UInt8(ascii: ":") }) else {
                throw .invalidHeader("header name \(f.name.debugDescription): printable ASCII without a colon")
            }
            guard !f.value.utf8.contains(where: { $0 == 13 || $0 == 10 }) else {
                throw .invalidHeader("header \(f.name) holds a line break")
            }
            text += "\(f.name): \(f.value)\r\n"
        }
        return Array((text + "\r\n").utf8)
    }

    /// Parses a header block (everything HMSG's header length covers).
    static func parse(_ block: ByteBufferView) throws(NATSError) -> NATSHeaders {
        guard let text = String(validating: block, as: UTF8.self) else { throw .protocolViolation("headers are not UTF-8") }
        var lines = text.components(separatedBy: "\r\n")
        guard let first = lines.first, first.hasPrefix("NATS/1.0") else {
            throw .protocolViolation("a header block does not start with NATS/1.0")
        }
        lines.removeFirst()
        var headers = NATSHeaders()
        let rest = first.dropFirst("NATS/1.0".count).drop { $0 == " " }
        if !rest.isEmpty {
            let code = rest.prefix { $0.isNumber }
            guard let status = Int(code), code.count == 3 else { throw .protocolViolation("header status \(String(rest).debugDescription)") }
            headers.status = status
            headers.statusDescription = String(rest.dropFirst(3).drop { $0 == " " })
        }
        for line in lines where !line.isEmpty {
            guard let colon = line.firstIndex(of: ":"), colon != line.startIndex else {
                throw .protocolViolation("header line without a name: \(line.prefix(64).debugDescription)")
            }
            headers.add(String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
        }
        return headers
    }
}
