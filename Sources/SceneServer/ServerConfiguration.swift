import NATSClient
import SceneWire

/// Everything a server operator can set, with documented defaults.
public struct ServerConfiguration: Sendable {
    /// Address to listen on; loopback unless asked otherwise.
    public var host: String = "127.0.0.1"
    /// TCP port; 0 picks a free one (tests).
    public var port: Int = 7420
    /// Largest frame accepted from a client (type byte plus payload).
    public var maxClientFrameBytes: Int = 64 << 10
    /// Largest frame the server sends; announced in Welcome.
    public var maxServerFrameBytes: Int = 16 << 20
    /// Client connections at most (fewer where the open-files limit says so: `DescriptorBudget`).
    public var maxConnections: Int = 4096
    /// HTTP connections to the metrics endpoint at most; more get 503.
    public var maxMetricsConnections: Int = 64
    /// Seconds a metrics connection may sit without a request before it is closed.
    public var metricsIdleTimeout: Double = 10
    public var maxSubscriptionsPerClient: Int = 8
    /// Seconds a new connection has to send Hello.
    public var handshakeTimeout: Double = 5
    /// Seconds without any frame from a client before it is closed (clients ping).
    public var idleTimeout: Double = 60
    /// Bytes a client may have queued but not yet taken off the socket; past it, ticks
    /// are skipped for that client and it is resynchronised with a keyframe later.
    public var outboundBudgetBytes: Int = 1 << 20
    /// Kernel send buffer per client socket (SO_SNDBUF), nil for the system default (which
    /// Linux grows up to 4 MiB per socket). 256 KiB by default: it bounds the kernel memory a
    /// client that stops reading can hold, and makes it reach its budget (and be skipped, then
    /// closed) sooner, while allowing a few MB/s to a distant client.
    public var socketSendBufferBytes: Int? = 256 << 10
    /// Operators' token for control messages; nil refuses all control. At least
    /// `minimumAdminTokenBytes` bytes: `start()` refuses a shorter or empty one.
    public var adminToken: String?
    /// Shortest admin token accepted.
    public static let minimumAdminTokenBytes = 16
    /// Request rates per connection; over one, the client gets Error 16 and is closed.
    public var requestLimits = RequestLimits()
    /// Seconds a client may stay over its byte budget without draining before it is closed
    /// with Error 17.
    public var drainTimeout: Double = 10
    /// Seconds a connection closed with an Error has to take it (the Error waits behind what
    /// was queued before it) before it is closed regardless.
    public var closeGrace: Double = 60
    /// Seconds a client has to take its Goodbye when the server shuts down before it is
    /// closed regardless: a client that never reads cannot hold the shutdown.
    public var goodbyeGrace: Double = 5
    /// Worker threads of each scene's parallel step.
    public var workers: Int = 2
    /// Seconds between status log lines.
    public var statusInterval: Double = 5
    public var serverName: String = "twinscene"
    /// Port of the Prometheus text endpoint (`GET /metrics`); nil serves none.
    public var metricsPort: Int?
    /// A folder where each scene's input log is written (`NAME.inputs`); nil keeps none.
    public var inputLogDirectory: String?
    /// Joins a second per address (across its connections), and the burst allowed at once.
    public var joinsPerSecondPerAddress: Double = 20, joinBurstPerAddress: Double = 200
    /// Inputs a second per participant; more are dropped and counted (Refused 26).
    public var inputsPerSecond: Double = 20, inputBurst: Double = 20

    /// Publish every scene's feed on this NATS server (docs/SCALEOUT.md), for gateways.
    public var nats: NATSOptions?
    /// Run each scene as one region of a scene split into region shards (docs/SCALEOUT.md),
    /// exchanging borders with the other regions' processes on `nats`.
    public var region: RegionAssignment?
    /// Highest protocol version sessions are offered.
    public var maxProtocolVersion: UInt16 = WireProtocol.version

    public init() {}

    /// Refuses settings the server must not run with (a weak admin token).
    public func validate() throws {
        if let token = adminToken, token.utf8.count < Self.minimumAdminTokenBytes {
            throw ServerError.weakAdminToken(bytes: token.utf8.count, minimum: Self.minimumAdminTokenBytes)
        }
    }
}

/// Which region of a scene split into region shards a process runs (`serve --shard K/N`).
public struct RegionAssignment: Sendable, Equatable {
    public var index: Int
    public var regions: Int
    /// Region borders at these wire-cell columns instead of equal strips.
    public var borders: [Int]?
    /// Seconds the first tick waits for every neighbour (they start at their own pace), and
    /// each later tick before a neighbour is said missing and the region goes on without it.
    public var firstWait: Double = 60
    public var tickWait: Double = 2

    public init(index: Int, regions: Int, borders: [Int]? = nil) {
        self.index = index; self.regions = regions; self.borders = borders
    }
}
