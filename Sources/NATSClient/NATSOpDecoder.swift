import Foundation
import NIOCore

/// Server bytes into `NATSServerOp`s, whatever pieces they arrive in. Bounded: a control line
/// over `maxControlLine` bytes without its CRLF, or a message over `maxPayload`, is a
/// protocol violation (the connection is then closed), never a growing buffer.
struct NATSOpDecoder: ByteToMessageDecoder {
    typealias InboundOut = NATSServerOp

    /// The server's own default limit on a control line.
    static let defaultMaxControlLine = 4096
    /// The largest max_payload a server may be configured with (64 MiB).
    static let defaultMaxPayload = 64 << 20

    var maxControlLine = Self.defaultMaxControlLine
    var maxPayload = Self.defaultMaxPayload

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let op = try next(&buffer) else { return .needMoreData }
        context.fireChannelRead(wrapInboundOut(op))
        return .continue
    }

    mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        while let op = try next(&buffer) { context.fireChannelRead(wrapInboundOut(op)) }
        return .needMoreData
    }

    /// The next whole operation, consumed from `buffer`; nil (nothing consumed) until it is whole.
    func next(_ buffer: inout ByteBuffer) throws(NATSError) -> NATSServerOp? {
        let view = buffer.readableBytesView
        guard let cr = view.firstIndex(of: UInt8(ascii: "\n")) else {
            if view.count > maxControlLine { throw .protocolViolation("a control line over \(maxControlLine) bytes") }
            return nil
        }
        let lineLength = cr - view.startIndex + 1
        guard lineLength <= maxControlLine + 2 else { throw .protocolViolation("a control line over \(maxControlLine) bytes") }
        guard lineLength >= 2, view[cr - 1] == UInt8(ascii: "\r") else { throw .protocolViolation("a control line not ended by CRLF") }
        let line = view[view.startIndex..<(cr - 1)]
        guard let text = String(validating: line, as: UTF8.self) else { throw .protocolViolation("a control line that is not UTF-8") }
        let (verb, rest) = Self.split(text)
        switch verb.uppercased() {
        case "PING": buffer.moveReaderIndex(forwardBy: lineLength); return .ping
        case "PONG": buffer.moveReaderIndex(forwardBy: lineLength); return .pong
        case "+OK": buffer.moveReaderIndex(forwardBy: lineLength); return .ok
        case "-ERR":
            buffer.moveReaderIndex(forwardBy: lineLength)
            var text = rest.trimmingCharacters(in: .whitespaces)
            if text.hasPrefix("'") && text.hasSuffix("'") && text.count >= 2 { text = String(text.dropFirst().dropLast()) }
            return .error(text)
        case "INFO":
            guard let info = try? JSONDecoder().decode(NATSServerInfo.self, from: Data(rest.utf8)) else {
                throw .protocolViolation("INFO is not a JSON object")
            }
            buffer.moveReaderIndex(forwardBy: lineLength)
            return .info(info)
        case "MSG", "HMSG":
            let hasHeaders = verb.uppercased() == "HMSG"
            let args = rest.split(whereSeparator: { $0 == " " || $0 == "\t" })
            let counts = hasHeaders ? 2 : 1
            guard args.count == 2 + counts || args.count == 3 + counts else {
                throw .protocolViolation("\(verb) with \(args.count) arguments")
            }
            guard let sid = UInt64(args[1]) else { throw .protocolViolation("\(verb) subscription id \(String(args[1]).debugDescription)") }
            let reply = args.count == 3 + counts ? String(args[2]) : nil
            guard let total = Int(args[args.count - 1]), total >= 0 else { throw .protocolViolation("\(verb) byte count \(String(args[args.count - 1]).debugDescription)") }
            let headerBytes = hasHeaders ? Int(args[args.count - 2]) : 0
            guard let headerBytes, headerBytes >= 0, headerBytes <= total else { throw .protocolViolation("HMSG header length beyond its total") }
            guard total <= maxPayload else { throw .protocolViolation("a message of \(total) bytes, over the limit of \(maxPayload)") }
            guard view.count >= lineLength + total + 2 else { return nil }
            let body = view.index(view.startIndex, offsetBy: lineLength)
            guard view[body + total] == UInt8(ascii: "\r"), view[body + total + 1] == UInt8(ascii: "\n") else {
                throw .protocolViolation("\(verb) payload not followed by CRLF")
            }
            let headers = hasHeaders ? try NATSHeaders.parse(view[body..<(body + headerBytes)]) : nil
            buffer.moveReaderIndex(forwardBy: lineLength + headerBytes)
            let payload = buffer.readSlice(length: total - headerBytes)!
            buffer.moveReaderIndex(forwardBy: 2)
            return .message(NATSMessage(subject: String(args[0]), reply: reply, headers: headers, payload: payload, sid: sid))
        default:
            throw .protocolViolation("unknown operation \(String(verb.prefix(16)).debugDescription)")
        }
    }

    /// The operation's name and the rest of the line.
    static func split(_ line: String) -> (Substring, String) {
        let trimmed = line.drop { $0 == " " || $0 == "\t" }
        let verb = trimmed.prefix { $0 != " " && $0 != "\t" }
        return (verb, String(trimmed.dropFirst(verb.count)))
    }
}
