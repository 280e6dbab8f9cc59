import CityTiles
import Foundation
import NIOPosix
import Logging
import NIOCore
import Scenarios
import SceneServer
import SceneWeb
import SceneWire
import ServiceLifecycle
import Synchronization
import Testing

/// A scene server with its web front, both on 127.0.0.1 with ports the system chose.
struct WebTestServer {
    let server: SceneServer
    let tcpPort: Int
    let httpPort: Int
    let group: ServiceGroup
    let front: Task<Void, any Error>

    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static func start(walkers: Int = 200, configure: (inout ServerConfiguration) -> Void = { _ in },
                      web: (inout WebFront.Configuration) -> Void = { _ in }) async throws -> WebTestServer {
        var manifest = try SceneManifest.load(path: packageRoot.appendingPathComponent("Scenes/district.scene.json").path)
        manifest.parameters["walkers"] = Double(walkers)
        let scene = try SceneLoader.load(manifest, catalog: try Catalog(), workers: 2)
        var config = ServerConfiguration()
        config.port = 0
        config.handshakeTimeout = 600
        config.idleTimeout = 1200
        configure(&config)
        var logger = Logger(label: "web-test")
        logger.logLevel = .warning
        let server = SceneServer(configuration: config, scenes: [scene], catalog: nil, logger: logger)
        let tcp = try await server.start()
        var webConfig = WebFront.Configuration()
        webConfig.port = 0
        // The Swift WebSocket client sends `Origin: ws://127.0.0.1` (no port): allowed as an
        // operator would with --allow-origin. Browsers' origins are checked in HTTPFrontTests.
        webConfig.allowedOrigins = ["ws://127.0.0.1"]
        // As generous as the TCP server's in tests: under a full parallel run on two cores an
        // answer can wait on the cooperative pool for tens of seconds, and the idle timeout
        // (30 s) would close the connection before it. Tests of timeouts set their own.
        webConfig.idleTimeout = 600
        // Likewise the request head's deadline: a connection's bytes are read only once
        // Hummingbird's task for it runs on that pool (seen: 150 s at the start of a run).
        webConfig.requestHeadTimeout = 600
        web(&webConfig)
        let (ports, continuation) = AsyncStream<Int>.makeStream()
        let front = try WebFront(server: server, configuration: webConfig, logger: logger) { continuation.yield($0) }
        let group = ServiceGroup(services: [front], gracefulShutdownSignals: [], logger: logger)
        let task = Task { try await group.run() }
        var port = 0
        for await p in ports { port = p; break }
        try #require(port > 0)
        return WebTestServer(server: server, tcpPort: tcp.port!, httpPort: port, group: group, front: task)
    }

    func stop() async {
        await server.shutdown()
        await group.triggerGracefulShutdown()
        _ = try? await front.value
    }
}

/// Raw HTTP over a plain NIO TCP connection (independent of Hummingbird and of any client's
/// path normalisation): sends `request` as is, returns everything until the server closes,
/// `seconds` pass, or (with `headOnly`) a whole response head has come. The generous
/// default holds on a machine whose cores the other suites keep busy: Hummingbird answers
/// from the cooperative pool, which a full run's synchronous tests can hold for minutes
/// (seen in CI: no answer within 120 s at the start of a run).
func rawHTTP(port: Int, _ request: [UInt8], seconds: Int = 400, headOnly: Bool = false) async -> String {
    let collector = ByteCollector(headOnly: headOnly)
    let bootstrap = ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton).channelInitializer { ch in
        ch.eventLoop.makeCompletedFuture { try ch.pipeline.syncOperations.addHandler(collector) }
    }
    guard let channel = try? await bootstrap.connect(host: "127.0.0.1", port: port).get() else { return "" }
    channel.writeAndFlush(ByteBuffer(bytes: request), promise: nil)
    let timeout = channel.eventLoop.scheduleTask(in: .seconds(Int64(seconds))) { channel.close(promise: nil) }
    try? await channel.closeFuture.get()
    timeout.cancel()
    return String(decoding: collector.bytes, as: UTF8.self)
}

/// Keeps every byte a connection receives.
final class ByteCollector: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    private let received = Mutex<[UInt8]>([])
    let headOnly: Bool
    init(headOnly: Bool = false) { self.headOnly = headOnly }
    var bytes: [UInt8] { received.withLock { $0 } }
    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let b = unwrapInboundIn(data)
        let done = received.withLock { r -> Bool in
            r += b.readableBytesView
            return headOnly && String(decoding: r, as: UTF8.self).contains("\r\n\r\n")
        }
        if done { context.close(promise: nil) }
    }
}

func rawGet(port: Int, _ path: String, headers: [String] = []) async -> String {
    let text = "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\n" + headers.map { $0 + "\r\n" }.joined() + "\r\n"
    return await rawHTTP(port: port, Array(text.utf8))
}

/// The status code of an HTTP response's first line (0 for none).
func statusCode(_ response: String) -> Int {
    let parts = response.prefix(while: { $0 != "\r" }).split(separator: " ")
    return parts.count >= 2 ? Int(parts[1]) ?? 0 : 0
}

/// The body of an HTTP response (after the blank line).
func body(_ response: String) -> String {
    guard let r = response.range(of: "\r\n\r\n") else { return "" }
    return String(response[r.upperBound...])
}
