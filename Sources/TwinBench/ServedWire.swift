import CityTiles
import Foundation
import Logging
import NIOCore
import Scenarios
import SceneCore
import SceneClient
import SceneServer
import SceneWire
import Synchronization

/// The wire figures that need the server's fan-out (identities, area filtering): the 10k
/// marathon served in-process, watched by version 2 clients for 60 s of scene time (the
/// scene runs as fast as it can, at up to 20 times its rate).
package enum ServedWire {
    /// Bytes one client received, by message type, and its frames.
    final class Tally: Sendable {
        let bytes = Mutex<[MessageType: Int]>([:])
        let frames = Atomic<Int>(0)
        let resyncs = Atomic<Int>(0)
        func total(_ t: MessageType) -> Int { bytes.withLock { $0[t] ?? 0 } }
    }

    package static func run(quick: Bool, scenesDir: String, log: (String) -> Void) async throws -> [BenchResult] {
        let manifest = try SceneManifest.load(path: URL(fileURLWithPath: scenesDir).appendingPathComponent("marathon.scene.json").path)
        let scene = try SceneLoader.load(manifest, catalog: try Catalog(), workers: 2)
        let entities = scene.world.store.count
        let bounds = scene.world.bounds
        var config = ServerConfiguration()
        config.port = 0
        let token = "bench-" + UUID().uuidString
        config.adminToken = token
        var logger = Logger(label: "bench")
        logger.logLevel = .warning
        let server = SceneServer(configuration: config, scenes: [scene], catalog: nil, logger: logger)
        let port = try await server.start().port!
        defer { Task { await server.shutdown() } }
        let ticks = (quick ? 10 : 60) * manifest.tickRate
        // The whole scene, and a 100 x 100 m area on every tile of a 100 m grid over the scene
        // (a viewer looking at a random part of it): the ratio is the mean over the tiles.
        var areas: [WireArea?] = [nil]
        var y = Double(bounds.minY)
        while y < Double(bounds.maxY) {
            var x = Double(bounds.minX)
            while x < Double(bounds.maxX) { areas.append(WireArea(minX: x, minY: y, maxX: x + 100, maxY: y + 100)); x += 100 }
            y += 100
        }
        log("marathon of \(entities) entities served to 1 whole-scene and \(areas.count - 1) area clients for \(ticks) ticks ...")
        let control = try await SceneClient.connect(host: "127.0.0.1", port: port, name: "bench-control")
        control.send(.control(token: token, scene: manifest.name, command: .pause))
        _ = try await reply(control)
        var clients: [SceneClient] = []
        let tallies = areas.map { _ in Tally() }
        for (k, area) in areas.enumerated() {
            let c = try await SceneClient.connect(host: "127.0.0.1", port: port, name: "bench-\(k)")
            c.send(.subscribe(subscription: 1, scene: manifest.name, area: area))
            clients.append(c)
        }
        let readers = zip(clients, tallies).map { c, tally in
            Task {
                for try await m in c.messages {
                    tally.bytes.withLock { $0[m.type, default: 0] += m.frameBytes }
                    if case .stateFrame(_, _, _, let resync, _) = m {
                        if resync { tally.resyncs.add(1, ordering: .relaxed) }
                        if tally.frames.add(1, ordering: .relaxed).newValue >= ticks { break }
                    }
                }
            }
        }
        // Everyone has its resync of tick 0 before the race runs.
        while tallies.contains(where: { $0.frames.load(ordering: .relaxed) < 1 }) { try await Task.sleep(nanoseconds: 20_000_000) }
        control.send(.control(token: token, scene: manifest.name, command: .speed(20)))
        _ = try await reply(control)
        control.send(.control(token: token, scene: manifest.name, command: .resume))
        _ = try await reply(control)
        let started = Date()
        for r in readers { _ = try? await r.value }
        log("  \(String(format: "%.1f", Date().timeIntervalSince(started))) s")
        for c in clients { await c.close() }
        await control.close()
        let whole = tallies[0]
        let wholeAttributes = Double(whole.total(.attributes))
        let ratios = tallies.dropFirst().map { Double($0.total(.attributes)) / max(wholeAttributes, 1) }
        let extraResyncs = tallies.reduce(0) { $0 + $1.resyncs.load(ordering: .relaxed) } - tallies.count
        return [
            BenchResult(name: "bpet_identity_marathon", unit: "B/e/t", value: Double(whole.total(.entityInfo)) / Double(entities * ticks)),
            BenchResult(name: "attr_bytes_ratio_aoi100", unit: "ratio", value: ratios.reduce(0, +) / Double(max(ratios.count, 1))),
            BenchResult(name: "attr_bytes_ratio_aoi100_max", unit: "ratio", value: ratios.max() ?? 0),
            BenchResult(name: "attr_bytes_marathon_whole_kb", unit: "kB", value: wholeAttributes / 1000),
            BenchResult(name: "served_wire_extra_resyncs", unit: "resyncs", value: Double(extraResyncs)),
        ]
    }

    /// The next ControlResult (state frames may come before it).
    static func reply(_ c: SceneClient) async throws -> WireMessage? {
        for try await m in c.messages {
            if case .controlResult(let ok, let text) = m {
                guard ok else { throw BenchError("control refused: \(text)") }
                return m
            }
            if case .error(_, let text) = m { throw BenchError("server error: \(text)") }
        }
        return nil
    }
}
