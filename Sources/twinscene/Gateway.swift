import ArgumentParser
import Foundation
import Logging
import NATSClient
import SceneServer

struct Gateway: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve clients the scenes other processes run (`serve --nats`), relayed from NATS.",
        discussion: """
            Clients connect over TCP and WebSocket as to a server; the state frames are made of the \
            scenes' coded blocks as NATS brings them, never decoded. Sessions speak protocol versions 1 \
            to 3; participants' Join, Input and Leave, and \
            control, are passed on to the scene's process. docs/SCALEOUT.md.
            """)

    @Option(help: "The NATS server the scenes publish on (nats://HOST:PORT).") var nats = "nats://127.0.0.1:4222"
    @Option(help: "Address to listen on (loopback by default).") var host = "127.0.0.1"
    @Option(help: "TCP port to listen on.") var port = 7430
    @Option(help: "HTTP port for the viewer, /api/scenes and the WebSocket at /ws (0: the system chooses).") var httpPort = 7431
    @Flag(help: "Serve no HTTP (no viewer, no WebSocket).") var noHttp = false
    @Option(help: "Seconds to wait for a scene's process to answer on NATS.") var wait = 30.0
    @Option(help: "Admin token for control messages (or TWINSCENE_ADMIN_TOKEN), passed on to the scene's process once checked.")
    var adminToken: String?
    @Option(help: "Client connections at most.") var maxConnections = 4096
    @Option(help: "Seconds between status lines.") var statusInterval = 5.0
    @Option(help: "Port for the Prometheus metrics endpoint (GET /metrics); none by default.") var metricsPort: Int?
    @Option(help: "Log level: trace, debug, info, notice, warning, error.") var logLevel = "info"
    @Option(name: .customLong("allow-origin"), help: "A web origin whose pages may open the WebSocket, besides the gateway's own. Repeatable.")
    var allowedOrigins: [String] = []

    func run() async throws {
        let level = Logger.Level(rawValue: logLevel) ?? .info
        LoggingSystem.bootstrap { label in
            var h = StreamLogHandler.standardError(label: label)
            h.logLevel = level
            return h
        }
        let logger = Logger(label: "twinscene-gateway")
        let options: NATSOptions
        do { options = try NATSOptions(url: nats, name: "twinscene gateway") } catch { throw CommandFailure("--nats: \(error)") }
        var config = ServerConfiguration()
        config.host = host
        config.port = port
        config.statusInterval = statusInterval
        config.metricsPort = metricsPort
        config.maxConnections = maxConnections
        config.serverName = "twinscene gateway"
        config.adminToken = adminToken ?? ProcessInfo.processInfo.environment["TWINSCENE_ADMIN_TOKEN"]
        let server: SceneServer
        do {
            server = try await SceneServer.gateway(configuration: config, nats: options, wait: wait, logger: logger)
        } catch {
            throw CommandFailure("\(error)")
        }
        try await server.start()
        try await StartedServer.run(server, web: noHttp ? nil : (host, httpPort, allowedOrigins), logger: logger,
                                    banner: "to see the twin through this gateway (viewer, /api/scenes, WebSocket at /ws)")
    }
}
