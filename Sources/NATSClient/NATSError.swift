/// What can go wrong, each a line a user can act on.
public enum NATSError: Error, Equatable, CustomStringConvertible {
    case cannotConnect(String)
    /// The server said no (`-ERR`): authorization, a bad subject, a slow consumer ...
    case serverError(String)
    /// Bytes from the server that are not the protocol (or over the client's limits).
    case protocolViolation(String)
    case invalidSubject(String)
    case invalidHeader(String)
    case payloadTooLarge(size: Int, max: Int)
    /// Publications while reconnecting are kept up to a limit; beyond it they are refused.
    case reconnectBufferFull(limit: Int)
    case noResponders(subject: String)
    case timeout(String)
    case closed

    public var description: String {
        switch self {
        case .cannotConnect(let s): return "cannot connect to NATS: \(s)"
        case .serverError(let s): return "NATS server error: \(s)"
        case .protocolViolation(let s): return "NATS protocol violation: \(s)"
        case .invalidSubject(let s): return "invalid subject: \(s)"
        case .invalidHeader(let s): return "invalid header: \(s)"
        case .payloadTooLarge(let size, let max): return "a payload of \(size) bytes is over the server's max_payload of \(max)"
        case .reconnectBufferFull(let limit): return "not connected, and the \(limit) bytes kept for the reconnect are used up"
        case .noResponders(let subject): return "no responders on \(subject)"
        case .timeout(let s): return "timed out: \(s)"
        case .closed: return "the connection is closed"
        }
    }
}
