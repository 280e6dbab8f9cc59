import CityTiles
import Foundation
import Logging
import NATSClient
import NIOCore
import NIOPosix
import Scenarios
import SceneCore
import SceneWire
import ServiceLifecycle
import Synchronization

/// The twinscene server: scenes ticking on their own threads, clients on SwiftNIO.
///
/// Its states: starting (made, not listening), running (`start()` bound the listener and
/// started the scenes), draining (shutting down: new connections get Error 14, clients a
/// Goodbye), stopped. Run it as a swift-service-lifecycle `Service`, with its scene runners
/// (`runners`, each a `Service`) before it in the same `ServiceGroup`, so that a graceful
/// shutdown (SIGINT/SIGTERM) drains the server first and stops the scenes after; or drive it
/// directly with `start()` and `shutdown()` (tests).
public final class SceneServer: Service, Sendable {
    public let configuration: ServerConfiguration
    let registry: ServerRegistry
    let logger: Logger
    let group: any EventLoopGroup
    /// Counters, gauges and the tick-time histogram, exposed on `metricsPort`.
    public let metrics: ServerMetrics
    private let listener = Mutex<(any Channel)?>(nil)
    private let metricsListener = Mutex<(any Channel)?>(nil)
    /// The feed on NATS (docs/SCALEOUT.md): a scene process's connection and its answering
    /// tasks, or a gateway's connection and its events' watcher.
    private let feed = Mutex<(connection: NATSConnection, tasks: [Task<Void, Never>])?>(nil)

    /// Takes the scenes over: each goes to its runner's tick thread and is used there alone.
    public init(configuration: ServerConfiguration, scenes: sending [LoadedScene], catalog: Catalog?, logger: Logger,
                group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) {
        self.configuration = configuration
        self.logger = logger
        self.group = group
        let metrics = ServerMetrics()
        self.metrics = metrics
        var runners: [SceneRunner] = []
        let pending = Mutex(scenes)
        while let scene = pending.withLock({ list -> sending LoadedScene? in list.isEmpty ? nil : list.removeFirst() }) {
            var l = logger
            l[metadataKey: "scene"] = "\(scene.name)"
            scene.world.workers = configuration.workers
            runners.append(SceneRunner(scene: scene, logger: l, outboundBudget: configuration.outboundBudgetBytes,
                                       drainTimeout: configuration.drainTimeout, maxFrameBytes: configuration.maxServerFrameBytes,
                                       metrics: metrics, inputLogDirectory: configuration.inputLogDirectory, region: configuration.region))
        }
        // Welcome announces one limit for every scene: the configured one, raised where a scene
        // can make larger frames (docs/PROTOCOL.md).
        let announced = runners.map(\.maxFrameBytes).max() ?? configuration.maxServerFrameBytes
        self.registry = ServerRegistry(runners: runners, catalog: catalog, metrics: metrics, maxServerFrameBytes: announced,
                                       joinRate: AddressRate(rate: configuration.joinsPerSecondPerAddress, burst: configuration.joinBurstPerAddress))
    }

    /// Where the server is in its life.
    /// A gateway (docs/SCALEOUT.md): the same sessions, limits and transports as a server,
    /// for scenes that other processes run and publish on NATS. Asks NATS for the scenes
    /// (waiting up to `wait` seconds for a scene's process to answer) and relays each.
    public static func gateway(configuration: ServerConfiguration, nats: NATSOptions, wait: Double = 30, logger: Logger,
                               group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) async throws -> SceneServer {
        let connection = try await NATSConnection.connect(nats)
        let deadline = ContinuousClock.now + .milliseconds(Int(wait * 1000))
        var scenes: [FeedScene] = []
        // Each try waits longer (2, 4, then 5 s): a busy scene process answers late, not never.
        var perTry = 2.0
        while true {
            do {
                scenes = try FeedScene.decode(try await connection.request(FeedSubjects.scenes, payload: ByteBuffer(), timeout: perTry).payload)
                if !scenes.isEmpty { break }
            } catch {
                if ContinuousClock.now >= deadline { await connection.close(); throw FeedError.noScenes("\(error)") }
                perTry = min(perTry * 2, 5)
                try await Task.sleep(for: .milliseconds(200))
            }
        }
        let metrics = ServerMetrics()
        var configuration = configuration
        configuration.maxProtocolVersion = 3
        var runners: [SceneRunner] = []
        for scene in scenes {
            var l = logger
            l[metadataKey: "scene"] = "\(scene.name)"
            runners.append(try SceneRunner(relay: scene, connection: connection, logger: l, outboundBudget: configuration.outboundBudgetBytes,
                                           drainTimeout: configuration.drainTimeout, metrics: metrics))
        }
        let server = SceneServer(configuration: configuration, runners: runners, metrics: metrics, logger: logger, group: group)
        server.feed.withLock { $0 = (connection, [Self.watch(connection, runners: runners, logger: logger)]) }
        logger.info("gateway", metadata: ["nats": "\(nats.host):\(nats.port)", "scenes": "\(scenes.map(\.name).joined(separator: ","))"])
        return server
    }

    /// Relays' scenes: a server made of runners already built.
    init(configuration: ServerConfiguration, runners: [SceneRunner], metrics: ServerMetrics, logger: Logger, group: any EventLoopGroup) {
        self.configuration = configuration
        self.logger = logger
        self.group = group
        self.metrics = metrics
        let announced = runners.map(\.maxFrameBytes).max() ?? configuration.maxServerFrameBytes
        self.registry = ServerRegistry(runners: runners, catalog: nil, metrics: metrics, maxServerFrameBytes: announced,
                                       joinRate: AddressRate(rate: configuration.joinsPerSecondPerAddress, burst: configuration.joinBurstPerAddress))
    }

    /// The connection's events, logged; a gateway's relays resync when dropped messages for a
    /// slow consumer (and, seeing it on the messages themselves, when NATS came back).
    static func watch(_ connection: NATSConnection, runners: [SceneRunner], logger: Logger) -> Task<Void, Never> {
        Task.detached {
            for await e in connection.events {
                switch e {
                case .disconnected(let why):
                    logger.warning("NATS connection lost", metadata: ["reason": "\(why)"])
                case .reconnected:
                    // Relays see it on the first message of the new connection, in order.
                    logger.notice("NATS connection back")
                case .slowConsumer(_, let subject):
                    logger.warning("NATS messages dropped: this process is behind", metadata: ["subject": "\(subject)"])
                    for r in runners { r.enqueue(.feedBroken("messages dropped on \(subject)")) }
                default:
                    logger.info("NATS", metadata: ["event": "\(e)"])
                }
            }
        }
    }

    public var state: ServerState { registry.state }
    /// The largest frame the server sends, as Welcome announces it.
    public var maxServerFrameBytes: Int { registry.maxServerFrameBytes }

    /// The scenes being served.
    public var runners: [SceneRunner] { registry.runners }
    /// Where the metrics endpoint listens, once started.
    public var metricsAddress: SocketAddress? { metricsListener.withLock { $0?.localAddress } }

    /// Connected clients.
    public var clientCount: Int { registry.clientCount }

    /// Binds the listener and starts every scene; returns the bound address.
    @discardableResult
    public func start() async throws -> SocketAddress {
        guard registry.transition(from: .starting, to: .starting) else { throw ServerError.notStartable(state: registry.state) }
        try configuration.validate()
        let budget = DescriptorBudget.raise(configuredConnections: configuration.maxConnections,
                                            configuredMetrics: configuration.maxMetricsConnections)
        registry.maxConnections.store(budget.maxConnections, ordering: .relaxed)
        if budget.maxConnections < configuration.maxConnections {
            logger.notice("fewer connections than configured: the open-files limit is low", metadata: [
                "openFiles": "\(budget.softLimit)", "maxConnections": "\(budget.maxConnections)"])
        }
        let configuration = self.configuration
        let registry = self.registry
        let logger = self.logger
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 4096)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.writeBufferWaterMark, value: .init(low: 32 << 10, high: 256 << 10))
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let size = configuration.socketSendBufferBytes {
                        try channel.syncOptions?.setOption(.socketOption(.so_sndbuf), value: SocketOptionValue(size))
                    }
                    let ops = channel.pipeline.syncOperations
                    try ops.addHandler(ByteToMessageHandler(WireFrameDecoder(maxFrameBytes: configuration.maxClientFrameBytes)))
                    try ops.addHandler(WireMessageCodec(maxFrameBytes: configuration.maxClientFrameBytes))
                    try ops.addHandler(ClientSession(registry: registry, configuration: configuration, logger: logger))
                }
            }
        let channel: any Channel
        do {
            channel = try await bootstrap.bind(host: configuration.host, port: configuration.port).get()
        } catch let e as IOError where e.errnoCode == EADDRINUSE {
            throw ServerError.portInUse(host: configuration.host, port: configuration.port)
        } catch {
            throw ServerError.cannotListen(host: configuration.host, port: configuration.port, reason: "\(error)")
        }
        listener.withLock { $0 = channel }
        if let port = configuration.metricsPort {
            do {
                let m = try await MetricsEndpoint.start(host: configuration.host, port: port, metrics: metrics, group: group,
                                                        maxConnections: budget.maxMetricsConnections, idleTimeout: configuration.metricsIdleTimeout)
                metricsListener.withLock { $0 = m }
                logger.info("metrics", metadata: ["address": "http://\(m.localAddress?.description ?? "?")/metrics"])
            } catch {
                try? await channel.close()
                throw ServerError.cannotListen(host: configuration.host, port: port, reason: "metrics endpoint: \(error)")
            }
        }
        if let nats = configuration.nats, registry.runners.allSatisfy({ $0.relay == nil }) {
            do {
                let connection = try await NATSConnection.connect(nats)
                for r in registry.runners { r.attachFeed(connection) }
                let tasks = try FeedResponder(connection: connection, runners: registry.runners, catalog: registry.catalog, joinTokens: registry.joinTokens, logger: logger).start()
                feed.withLock { $0 = (connection, tasks + [Self.watch(connection, runners: [], logger: logger)]) }
                logger.info("feed", metadata: ["nats": "\(nats.host):\(nats.port)", "scenes": "\(registry.runners.map(\.name).joined(separator: ","))"])
            } catch {
                try? await channel.close()
                throw ServerError.feedUnavailable("\(error)")
            }
        }
        for r in registry.runners { r.start() }
        _ = registry.transition(from: .starting, to: .running)
        let address = channel.localAddress!
        if configuration.adminToken != nil && !Self.isLoopback(configuration.host) {
            logger.warning("control is served on a non-loopback address: the admin token travels in clear text; reach the server through an SSH tunnel or a TLS proxy", metadata: ["host": "\(configuration.host)"])
        }
        logger.info("listening", metadata: ["address": "\(address)", "scenes": "\(registry.runners.map(\.name).joined(separator: ","))"])
        return address
    }

    /// Drains: new connections get Error 14, every client a Goodbye; then stops the scenes
    /// (unless a `ServiceGroup` runs them as services and stops them after the server) and
    /// closes the listeners. Idempotent.
    public func shutdown(stoppingScenes: Bool = true) async {
        guard drain() || registry.state == .draining else { return }
        if stoppingScenes { for r in registry.runners { await r.stop() } }
        let channel = listener.withLock { c -> (any Channel)? in defer { c = nil }; return c }
        try? await channel?.close()
        let m = metricsListener.withLock { c -> (any Channel)? in defer { c = nil }; return c }
        try? await m?.close()
        for outlet in registry.outlets { try? await outlet.channel.closeFuture.get() }
        if let (connection, tasks) = feed.withLock({ f -> (NATSConnection, [Task<Void, Never>])? in defer { f = nil }; return f }) {
            await connection.close()
            for t in tasks { t.cancel() }
        }
        _ = registry.transition(from: .draining, to: .stopped)
        logger.info("stopped")
    }

    /// True for addresses only this machine can reach.
    static func isLoopback(_ host: String) -> Bool {
        host == "localhost" || host == "::1" || host.hasPrefix("127.")
    }

    /// The first half of `shutdown()`: from now on new connections get Error 14, and every
    /// connected client gets a Goodbye and is closed. False when already draining or stopped.
    @discardableResult
    package func drain() -> Bool {
        guard registry.transition(from: .running, to: .draining) || registry.transition(from: .starting, to: .draining) else { return false }
        for outlet in registry.outlets {
            outlet.sendAndClose(.goodbye(reason: "server shutting down"))
        }
        return true
    }

    /// `Service`: start, log a status line every few seconds, stop on graceful shutdown.
    public func run() async throws {
        try await start()
        await runStarted()
    }

    /// For a server already `start()`ed: log status until a graceful shutdown, then shut down.
    /// `scenesAreServices`: the runners run as services of the same group, before the server,
    /// and the group stops them once the server has drained.
    public func runStarted(scenesAreServices: Bool = false) async {
        await withGracefulShutdownHandler {
            while !Task.isCancelled && !Task.isShuttingDownGracefully {
                try? await Task.sleep(nanoseconds: UInt64(configuration.statusInterval * 1e9))
                if Task.isShuttingDownGracefully { break }
                logStatus()
            }
        } onGracefulShutdown: {
            self.logger.info("shutting down")
        }
        await shutdown(stoppingScenes: !scenesAreServices)
    }

    private let lastTicks = Mutex<(Date, [UInt64])>((Date(), []))

    /// What one status line says of a scene.
    public struct SceneStatus: Sendable {
        public var scene: String
        public var tick: UInt64
        /// Ticks per second since the previous status (since the server was made, the first time).
        public var tickRate: Double
        public var entities: Int
        public var subscribers: Int
        public var overruns: Int
    }

    /// Each scene's figures since the previous call.
    public func status() -> [SceneStatus] {
        let now = Date()
        let ticks = registry.runners.map(\.tick)
        let (then, before) = lastTicks.withLock { v -> (Date, [UInt64]) in defer { v = (now, ticks) }; return v }
        let dt = now.timeIntervalSince(then)
        return registry.runners.enumerated().map { k, r in
            // Scenes start at tick 0 when the server is made: the first rate counts from there.
            let previous = before.count == ticks.count ? before[k] : 0
            let rate = dt > 0 && ticks[k] >= previous ? Double(ticks[k] - previous) / dt : 0
            return SceneStatus(scene: r.name, tick: ticks[k], tickRate: rate, entities: r.entities,
                               subscribers: r.subscribers, overruns: r.overruns)
        }
    }

    /// One line per scene: tick rate achieved, entities, subscribers, overruns; and clients.
    public func logStatus() {
        for s in status() {
            logger.info("status", metadata: [
                "scene": "\(s.scene)", "tick": "\(s.tick)", "tickRate": "\(String(format: "%.1f", s.tickRate))/s",
                "entities": "\(s.entities)", "subscribers": "\(s.subscribers)", "overruns": "\(s.overruns)",
                "clients": "\(registry.clientCount)",
            ])
        }
    }
}

/// Server start-up failures, each a line an operator can act on.
public enum ServerError: Error, CustomStringConvertible, Equatable {
    case portInUse(host: String, port: Int)
    case cannotListen(host: String, port: Int, reason: String)
    /// `--nats`: the NATS server the feed goes to cannot be reached.
    case feedUnavailable(String)
    case notStartable(state: ServerState)
    case weakAdminToken(bytes: Int, minimum: Int)

    public var description: String {
        switch self {
        case .weakAdminToken(let bytes, let minimum):
            return bytes == 0
                ? "the admin token is empty, which would open control to everyone; make one with: head -c 24 /dev/urandom | base64"
                : "the admin token has \(bytes) bytes; at least \(minimum) are needed; make one with: head -c 24 /dev/urandom | base64"
        case .notStartable(let state): return "the server cannot start: it is \(state) (a server starts once)"
        case .portInUse(let host, let port): return "port \(port) on \(host) is already in use; choose another with --port"
        case .cannotListen(let host, let port, let reason): return "cannot listen on \(host):\(port): \(reason)"
        case .feedUnavailable(let reason): return "the scenes' feed has no NATS server: \(reason)"
        }
    }
}

/// The server's life: made, listening, shutting down, done.
public enum ServerState: String, Sendable, Equatable, CustomStringConvertible {
    /// Made; `start()` not yet done.
    case starting
    /// Listening, scenes ticking.
    case running
    /// Shutting down: new connections are refused with Error 14, clients get a Goodbye.
    case draining
    case stopped

    public var description: String { rawValue }
}
