import ArgumentParser
import CityTiles
import Foundation
import Logging
import NATSClient
import Scenarios
import SceneServer
import SceneWeb
import ServiceLifecycle
import UnixSignals

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the server: load scenes and their tiles, tick them, stream them to clients.")

    @Option(help: "Address to listen on (loopback by default).") var host = "127.0.0.1"
    @Option(help: "TCP port to listen on.") var port = 7420
    @Option(help: "SQLite catalog of tiles; created on first run.") var catalog = "twinscene.sqlite"
    @Option(name: .customLong("scene"), help: "Scene to run: a name in --scenes-dir or a manifest file. Repeatable; default: marathon, football-live, factory, district.")
    var scenes: [String] = []
    @Option(help: "Folder of scene manifests.") var scenesDir = "Scenes"
    @Option(help: "Worker threads for each scene's parallel step.") var workers = 2
    @Option(help: "Admin token for control messages (or TWINSCENE_ADMIN_TOKEN); without one, control is refused.")
    var adminToken: String?
    @Option(help: "Seconds between status lines.") var statusInterval = 5.0
    @Option(help: "Port for the Prometheus metrics endpoint (GET /metrics); none by default.") var metricsPort: Int?
    @Option(help: "Log level: trace, debug, info, notice, warning, error.") var logLevel = "info"
    @Option(help: "HTTP port for the viewer, /api/scenes and the WebSocket at /ws (0: the system chooses).") var httpPort = 7421
    @Flag(help: "Serve no HTTP (no viewer, no WebSocket).") var noHttp = false
    @Option(help: "Client connections at most (fewer where the open-files limit says so).") var maxConnections = 4096
    @Option(help: "Joins a second from one address across its connections (the burst allowed is ten times as many, at least 200); raise it for a load test from one machine.")
    var joinRate = 20.0
    @Option(help: "Folder to write each scene's input log in (NAME.inputs: every participant's join, input, drop and leave, with state-hash checkpoints; replay with `twinscene scenes replay`).")
    var inputLog: String?
    @Option(help: "Publish every scene's feed on this NATS server (nats://HOST:PORT), for `twinscene gateway`.") var nats: String?
    @Option(help: "Run one region of the scene split into region shards: K/N, region K (from 0) of N strips of the scene's wire-cell columns, west to east. Needs --nats and one --scene; each region's process is started with the same scene and seed (docs/SCALEOUT.md).")
    var shard: String?
    @Option(help: "With --shard: the wire-cell columns where regions meet (comma-separated, ascending), instead of equal strips.")
    var regionBorders: String?
    @Option(help: "With --shard: seconds a tick waits for a neighbouring region's border before saying it missing and going on without it.")
    var regionWait = 2.0
    @Option(name: .customLong("allow-origin"), help: "A web origin (like https://example.org) whose pages may open the WebSocket, besides the server's own. Repeatable.")
    var allowedOrigins: [String] = []

    func run() async throws {
        let level = Logger.Level(rawValue: logLevel) ?? .info
        LoggingSystem.bootstrap { label in
            var h = StreamLogHandler.standardError(label: label)
            h.logLevel = level
            return h
        }
        let logger = Logger(label: "twinscene")
        // Read every manifest before touching the catalog, so a typo creates no file.
        var manifests: [(String, SceneManifest)] = []
        for name in scenes.isEmpty ? ["marathon", "football-live", "factory", "district"] : scenes {
            let path = try SceneFiles.resolve(name, in: scenesDir)
            manifests.append((path, try SceneManifest.load(path: path)))
        }
        let region = try regionAssignment(scenes: manifests.count)
        let catalog = try Catalog(path: catalog)
        var loaded: [LoadedScene] = []
        for (path, manifest) in manifests {
            logger.info("loading scene", metadata: ["scene": "\(manifest.name)", "manifest": "\(path)"])
            let scene = try SceneLoader.load(manifest, catalog: catalog, workers: workers)
            if let region {
                do { _ = try RegionShard.layout(of: scene, regions: region.regions, borders: region.borders, index: region.index) }
                catch { throw CommandFailure("--shard: \(error)") }
            }
            for note in scene.scenario.notes { logger.notice("\(note)", metadata: ["scene": "\(manifest.name)"]) }
            loaded.append(scene)
        }
        var config = ServerConfiguration()
        config.host = host
        config.port = port
        config.workers = workers
        config.statusInterval = statusInterval
        config.metricsPort = metricsPort
        config.maxConnections = maxConnections
        guard joinRate > 0 else { throw CommandFailure("--join-rate must be above 0") }
        config.joinsPerSecondPerAddress = joinRate
        config.joinBurstPerAddress = max(200, joinRate * 10)
        if let inputLog {
            var isDir: ObjCBool = false
            guard FileManager.default.fileExists(atPath: inputLog, isDirectory: &isDir), isDir.boolValue else {
                throw CommandFailure("--input-log \(inputLog): no such folder")
            }
            config.inputLogDirectory = inputLog
        }
        config.adminToken = adminToken ?? ProcessInfo.processInfo.environment["TWINSCENE_ADMIN_TOKEN"]
        if let nats {
            do { config.nats = try NATSOptions(url: nats, name: "twinscene serve") } catch { throw CommandFailure("--nats: \(error)") }
        }
        config.region = region
        let server = SceneServer(configuration: config, scenes: loaded, catalog: catalog, logger: logger)
        // Bind before handing over to the service group so that a busy port is one clear line.
        try await server.start()
        try await StartedServer.run(server, web: noHttp ? nil : (host, httpPort, allowedOrigins), logger: logger,
                                    banner: "to see the twin (viewer, /api/scenes, WebSocket at /ws)")
    }
}

extension Serve {
    /// `--shard K/N` and its companions, checked before anything is loaded.
    func regionAssignment(scenes: Int) throws -> RegionAssignment? {
        guard let shard else {
            if regionBorders != nil { throw CommandFailure("--region-borders needs --shard") }
            return nil
        }
        let parts = shard.split(separator: "/")
        guard parts.count == 2, let k = Int(parts[0]), let n = Int(parts[1]), n >= 1, k >= 0, k < n else {
            throw CommandFailure("--shard \(shard): expected K/N, region K (0 to N-1) of N, like 0/2")
        }
        guard nats != nil else { throw CommandFailure("--shard needs --nats: regions trade their borders on NATS") }
        guard scenes == 1, !self.scenes.isEmpty else { throw CommandFailure("--shard needs exactly one --scene: the scene this process runs a region of") }
        var borders: [Int]?
        if let regionBorders {
            let values = regionBorders.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
            guard values.allSatisfy({ $0 != nil }) else { throw CommandFailure("--region-borders \(regionBorders): expected column numbers like 6,12") }
            borders = values.map { $0! }
            guard borders!.count == n - 1 else { throw CommandFailure("--region-borders: \(n) regions need \(n - 1) borders, got \(borders!.count)") }
        }
        guard regionWait > 0, regionWait <= 600 else { throw CommandFailure("--region-wait must be above 0 and at most 600 seconds") }
        var a = RegionAssignment(index: k, regions: n, borders: borders)
        a.tickWait = regionWait
        return a
    }
}

/// The server after `start()`: the service only waits, logs status, and shuts it down.
struct StartedServer: Service {
    let server: SceneServer
    func run() async throws { await server.runStarted(scenesAreServices: true) }

    /// A started server's services until SIGTERM or SIGINT (`serve` and `gateway`): the scene
    /// runners first, since a graceful shutdown stops services in reverse order and the server
    /// drains its clients before the scenes stop; the web front (unless `web` is nil) between
    /// them, so the server drains its WebSocket sessions too before the front stops listening.
    static func run(_ server: SceneServer, web: (host: String, port: Int, origins: [String])?, logger: Logger, banner: String) async throws {
        var services = server.runners.map { ServiceGroupConfiguration.ServiceConfiguration(service: $0) }
        if let web {
            var config = WebFront.Configuration()
            config.host = web.host
            config.port = web.port
            config.allowedOrigins = web.origins
            let shownHost = web.host.contains(":") ? "[\(web.host)]" : web.host
            let front = try WebFront(server: server, configuration: config, logger: logger) { port in
                FileHandle.standardOutput.write(Data("open http://\(shownHost):\(port)/ \(banner)\n".utf8))
            }
            services.append(.init(service: front))
        }
        services.append(.init(service: StartedServer(server: server)))
        let group = ServiceGroup(
            configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }
}

/// Finds scene manifests by name or path.
enum SceneFiles {
    static func resolve(_ nameOrPath: String, in dir: String) throws -> String {
        let fm = FileManager.default
        if nameOrPath.hasSuffix(".json") || nameOrPath.contains("/") {
            guard fm.fileExists(atPath: nameOrPath) else { throw CommandFailure("no scene file at \(nameOrPath)") }
            return nameOrPath
        }
        let path = "\(dir)/\(nameOrPath).scene.json"
        guard fm.fileExists(atPath: path) else {
            let known = list(in: dir)
            throw CommandFailure("no scene named '\(nameOrPath)' in \(dir)/" + (known.isEmpty ? " (run from the repository root, or pass --scenes-dir)" : "; scenes: \(known.joined(separator: ", "))"))
        }
        return path
    }

    static func list(in dir: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? [])
            .filter { $0.hasSuffix(".scene.json") }.map { String($0.dropLast(".scene.json".count)) }.sorted()
    }
}
