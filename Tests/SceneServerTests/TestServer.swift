import CityTiles
import Foundation
import Logging
import NIOCore
import Scenarios
import SceneClient
import SceneCore
import SceneServer
import SceneWire
import Synchronization
import Testing

/// A real server on 127.0.0.1, port 0, serving the bundled district with fewer walkers.
struct TestServer {
    let server: SceneServer
    let port: Int
    /// The scene's manifest and obstacles, taken before the server took the scene over.
    let manifest: SceneManifest
    let obstacles: ObstacleIndex

    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static func start(walkers: Int = 300, configure: (inout ServerConfiguration) -> Void = { _ in }) async throws -> TestServer {
        var manifest = try SceneManifest.load(path: packageRoot.appendingPathComponent("Scenes/district.scene.json").path)
        manifest.parameters["walkers"] = Double(walkers)
        let scene = try SceneLoader.load(manifest, catalog: try Catalog(), workers: 2)
        var config = ServerConfiguration.forTests()
        configure(&config)
        var logger = Logger(label: "test")
        logger.logLevel = .warning
        let obstacles = scene.world.obstacles
        let server = SceneServer(configuration: config, scenes: [scene], catalog: nil, logger: logger)
        let address = try await server.start()
        return TestServer(server: server, port: address.port!, manifest: manifest, obstacles: obstacles)
    }

    func connect(_ name: String = "test", version: UInt16 = WireProtocol.version) async throws -> SceneClient {
        try await SceneClient.connect(host: "127.0.0.1", port: port, name: name, maxVersion: version)
    }
}

/// Reads messages until `count` state frames were applied to the view (or `limit` seconds pass).
func collect(_ client: SceneClient, view: inout SceneView, frames count: Int, limit: Double = 180,
             each: (SceneView, SceneView.Update) -> Void = { _, _ in }) async throws -> [SceneView.Update] {
    var updates: [SceneView.Update] = []
    // The deadline holds even when the server says nothing (see `Deadline.watch`).
    let (expired, watchdog) = Deadline.watch(client, limit: limit)
    defer { watchdog.cancel() }
    for try await message in client.messages {
        if case .error(let code, let text) = message { Issue.record("server error \(code): \(text)"); break }
        if let u = try view.apply(message) {
            updates.append(u)
            each(view, u)
            if updates.count >= count { break }
        }
    }
    if expired.fired && updates.count < count { Issue.record("timed out after \(updates.count) of \(count) frames") }
    return updates
}

/// Set once when a test's deadline passes.
final class Deadline: Sendable {
    private let flag = Atomic<Bool>(false)
    func fire() { flag.store(true, ordering: .relaxed) }
    var fired: Bool { flag.load(ordering: .relaxed) }

    /// A watchdog that closes the client after `limit` seconds, which ends its message stream
    /// even when the server says nothing; cancel the task once done.
    static func watch(_ client: SceneClient, limit: Double) -> (Deadline, Task<Void, any Error>) {
        let expired = Deadline()
        let task = Task {
            try await Task.sleep(nanoseconds: UInt64(limit * 1e9))
            expired.fire()
            await client.close()
        }
        return (expired, task)
    }
}

/// Waits for the next message that is not a state frame, static geometry or scene info.
func nextControlMessage(_ client: SceneClient, limit: Double = 180) async throws -> WireMessage? {
    let (expired, watchdog) = Deadline.watch(client, limit: limit)
    defer { watchdog.cancel() }
    for try await message in client.messages {
        switch message {
        case .stateFrame, .staticGeometry, .sceneInfo, .events, .attributes: continue
        default: return message
        }
    }
    if expired.fired { Issue.record("no control message within \(limit) s") }
    return nil
}

extension ServerConfiguration {
    /// Port 0 and very generous timeouts: suites run in parallel on 2 cores, and the
    /// CPU-bound synchronous tests can hold both cooperative threads for tens of seconds, so a
    /// client's Hello may wait that long. Tests of the timeouts set their own.
    static func forTests() -> ServerConfiguration {
        var c = ServerConfiguration()
        c.port = 0
        c.handshakeTimeout = 600
        c.idleTimeout = 1200
        return c
    }
}
