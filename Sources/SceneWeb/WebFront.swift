import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import HummingbirdWebSocket
import Logging
import NIOCore
import NIOHTTP1
import SceneServer
import ServiceLifecycle
import Synchronization

/// The server's HTTP side, on Hummingbird: the viewer page at `/`, the scenes as JSON at
/// `/api/scenes` and `/api/scenes/NAME`, and the protocol over a WebSocket at `/ws`.
///
/// A swift-service-lifecycle `Service`: run it in the same group as the `SceneServer`, after
/// it (the sessions it opens are the server's).
public struct WebFront: Service {
    public struct Configuration: Sendable {
        public var host = "127.0.0.1"
        /// 0 lets the system choose (tests).
        public var port = 7421
        /// Origins besides the server's own that may open the WebSocket (`--allow-origin`).
        public var allowedOrigins: [String] = []
        /// Seconds a connection has to send a whole request head.
        public var requestHeadTimeout = 10.0
        /// Seconds an HTTP connection may sit idle between requests.
        public var idleTimeout = 30.0
        /// Most open HTTP connections (WebSockets included); more wait in the listen backlog.
        public var maxConnections = 2048
        /// Most bytes of request headers (431 above).
        public var maxHeaderBytes = 16 << 10
        public init() {}
    }

    let server: SceneServer
    let configuration: Configuration
    let logger: Logger
    let files: ViewerFiles
    let bound: @Sendable (Int) -> Void

    /// `bound` is told the port once the listener is up.
    public init(server: SceneServer, configuration: Configuration, logger: Logger, bound: @escaping @Sendable (Int) -> Void = { _ in }) throws {
        self.server = server
        self.configuration = configuration
        self.logger = logger
        self.files = try ViewerFiles.load()
        self.bound = bound
    }

    public func run() async throws {
        let app = makeApplication()
        try await app.run()
    }

    func makeApplication() -> some ApplicationProtocol {
        let router = Router()
        let server = self.server, files = self.files
        router.get("/api/scenes") { _, _ in
            Self.json(SceneJSON.encode(SceneJSON.summaries(server.sceneSummaries, policies: server.joinPolicies)))
        }
        router.get("/api/scenes/:name") { _, context in
            let name = context.parameters.get("name") ?? ""
            guard let info = server.sceneInfo(named: name), let tick = server.tick(ofScene: name) else {
                return Self.json(SceneJSON.encode(["error": "no scene named \(name)"]), status: .notFound)
            }
            return Self.json(SceneJSON.encode(SceneJSON.info(info, tick: tick)))
        }
        router.get("/ws") { _, _ in
            Response(status: .badRequest, headers: [.contentType: "text/plain; charset=utf-8"],
                     body: .init(byteBuffer: ByteBuffer(string: "/ws is the protocol over a WebSocket: send an upgrade request (docs/PROTOCOL.md)\n")))
        }
        router.get("/**") { request, _ in
            guard let file = files.file(forPath: request.uri.path) else {
                return Response(status: .notFound, headers: [.contentType: "text/plain; charset=utf-8"],
                                body: .init(byteBuffer: ByteBuffer(string: "not found\n")))
            }
            return Response(status: .ok, headers: [.contentType: file.contentType, .cacheControl: "no-cache"],
                            body: .init(byteBuffer: file.bytes))
        }
        router.get("/") { _, _ in
            let file = files.files["index.html"]!
            return Response(status: .ok, headers: [.contentType: file.contentType, .cacheControl: "no-cache"],
                            body: .init(byteBuffer: file.bytes))
        }
        var ws = WebSocketServerConfiguration()
        // Twice the largest protocol frame: a message between the two gets Error 2 from the
        // bridge; a single WebSocket frame over it, a Close with 1009 from NIO's decoder.
        ws.maxFrameSize = 2 * server.configuration.maxClientFrameBytes
        let decoder = HTTP1Channel.Configuration.DecoderConfiguration(maxHeaderFieldSize: configuration.maxHeaderBytes,
                                                                     maxHeaderListSize: configuration.maxHeaderBytes,
                                                                     maxHeaderFieldCount: 100)
        let http1 = HTTP1Channel.Configuration(idleTimeout: .nanoseconds(Int64(configuration.idleTimeout * 1e9)),
                                               httpDecoderConfiguration: decoder)
        let logger = self.logger
        let gated = GatedServer(origins: OriginPolicy(allowed: configuration.allowedOrigins), headDeadline: configuration.requestHeadTimeout,
                                configuration: .init(http1: http1, ws: ws), server: server, logger: logger)
        var appConfig = ApplicationConfiguration(address: .hostname(configuration.host, port: configuration.port), serverName: "twinscene")
        appConfig.availableConnectionsDelegate = MaximumAvailableConnections(configuration.maxConnections, logger: logger)
        let bound = self.bound
        // Hummingbird logs a refused upgrade (one the gate answered) as an error: a line per
        // hostile request would let clients fill the log, so its own logger says only what is
        // critical; the gate and the sessions log through ours, rate limited.
        var quiet = logger
        quiet.logLevel = .critical
        return Application(router: router, server: gated.builder, configuration: appConfig,
                           onServerRunning: { channel in bound(channel.localAddress?.port ?? 0) }, logger: quiet)
    }

    static func json(_ data: ByteBuffer, status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: [.contentType: "application/json", .cacheControl: "no-cache"],
                 body: .init(byteBuffer: data))
    }
}
