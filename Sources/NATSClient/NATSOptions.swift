/// How a connection connects, reconnects and bounds what it holds. Every limit here is one a
/// user can state: see docs/NATS.md.
public struct NATSOptions: Sendable {
    public var host = "127.0.0.1"
    public var port = 4222
    /// The name the server shows for this connection (its monitoring's `connz`).
    public var name = "twinscene"
    /// Seconds to connect and to get the server's INFO and its PONG to our CONNECT.
    public var connectTimeout = 5.0
    /// Whether a lost connection is reconnected (with backoff), subscriptions and all.
    public var reconnect = true
    /// Seconds before the first reconnect attempt; each next one waits twice as long, up to
    /// `reconnectWaitMax`, less a random part of up to a half (so clients do not come back
    /// in step).
    public var reconnectWait = 0.05
    public var reconnectWaitMax = 2.0
    /// Attempts before giving up (the connection is then closed); nil: never give up.
    public var maxReconnectAttempts: Int? = nil
    /// Bytes of publications kept while reconnecting, sent once connected again; beyond it
    /// `publish` throws `reconnectBufferFull`.
    public var reconnectBufferBytes = 8 << 20
    /// Seconds between the client's PINGs; after `maxPingsOut` unanswered, the connection is
    /// taken for dead and reconnected.
    public var pingInterval = 20.0
    public var maxPingsOut = 2
    /// Messages, and their payload bytes, a subscription holds for a consumer that has not
    /// taken them; beyond either, messages are dropped, counted and reported (a slow consumer).
    public var pendingMessages = 65_536
    public var pendingBytes = 64 << 20

    /// Options for a server given as `nats://HOST:PORT`, `HOST:PORT` or `HOST` (port 4222).
    public init(url: String, name: String = "twinscene") throws(NATSError) {
        var rest = Substring(url)
        if rest.hasPrefix("nats://") { rest = rest.dropFirst(7) }
        var host = rest, port = 4222
        if let colon = rest.lastIndex(of: ":"), !rest.hasPrefix("[") || rest[..<colon].hasSuffix("]") {
            guard let p = Int(rest[rest.index(after: colon)...]), (1...65535).contains(p) else {
                throw .cannotConnect("'\(url)' is not nats://HOST:PORT (a port from 1 to 65535)")
            }
            host = rest[..<colon]
            port = p
        }
        if host.hasPrefix("[") && host.hasSuffix("]") { host = host.dropFirst().dropLast() }
        guard !host.isEmpty, !host.contains("/"), !host.contains("@") else {
            throw .cannotConnect("'\(url)' is not nats://HOST:PORT (no user, no path)")
        }
        self.init(host: String(host), port: port, name: name)
    }

    public init(host: String = "127.0.0.1", port: Int = 4222, name: String = "twinscene") {
        self.host = host
        self.port = port
        self.name = name
    }

    /// The wait before reconnect attempt `attempt` (1 first), with `jitter` in 0...1.
    func backoff(attempt: Int, jitter: Double) -> Double {
        let full = min(reconnectWaitMax, reconnectWait * Double(1 << min(attempt - 1, 30)))
        return full * (1 - 0.5 * jitter)
    }
}

/// What happens to a connection, as it happens.
public enum NATSEvent: Sendable, Equatable {
    case disconnected(String)
    /// Connected again after `attempt` attempts; subscriptions are in place again.
    case reconnected(attempt: Int)
    /// A subscription's consumer is not keeping up: messages are being dropped (one event
    /// per episode; `NATSSubscription.dropped` counts them).
    case slowConsumer(sid: UInt64, subject: String)
    /// A `-ERR` from the server.
    case serverError(String)
    /// The server is about to shut down (its INFO says `ldm`).
    case lameDuckMode
    case closed
}

/// Counters since the connection was made.
public struct NATSStatistics: Sendable, Equatable {
    public var messagesIn = 0, bytesIn = 0
    public var messagesOut = 0, bytesOut = 0
    public var reconnects = 0
    /// Messages dropped for slow consumers, all subscriptions together.
    public var dropped = 0
}
