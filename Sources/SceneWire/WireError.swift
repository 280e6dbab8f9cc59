/// Why bytes from a peer could not be decoded. Every decoding path throws one of these;
/// none traps, whatever the input.
public enum WireError: Error, Equatable, Sendable, CustomStringConvertible {
    case truncated(String)
    case frameTooLarge(length: Int, limit: Int)
    case emptyFrame
    case unknownMessageType(UInt8)
    case malformed(String)
    case badVarint
    case badCompression(String)
    case outOfOrder(String)

    public var code: ErrorCode {
        switch self {
        case .frameTooLarge: return .frameTooLarge
        case .unknownMessageType: return .unknownMessageType
        case .outOfOrder: return .unexpectedMessage
        default: return .malformedFrame
        }
    }

    public var description: String {
        switch self {
        case .truncated(let what): return "truncated \(what)"
        case .frameTooLarge(let length, let limit):
            return length == Int.max ? "frame length prefix longer than 4 bytes (limit \(limit) bytes)" : "frame of \(length) bytes exceeds the limit of \(limit)"
        case .emptyFrame: return "frame of length 0 (a frame holds at least its type byte)"
        case .unknownMessageType(let t): return "unknown message type 0x\(String(t, radix: 16))"
        case .malformed(let what): return "malformed \(what)"
        case .badVarint: return "varint longer than 10 bytes or beyond 64 bits"
        case .badCompression(let why): return "bad compressed block: \(why)"
        case .outOfOrder(let why): return "out of order: \(why)"
        }
    }
}
