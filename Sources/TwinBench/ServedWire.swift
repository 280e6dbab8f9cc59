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
        /// Entities in view summed over the counted frames.
        let entityTicks = Atomic<Int>(0)
        func total(_ t: MessageType) -> Int { bytes.withLock { $0[t] ?? 0 } }
    }

    /// A server on one scene, with an admin token for pause, speed and resume.
    static func serve(_ manifest: SceneManifest, loaded: sending LoadedScene? = nil) async throws -> (server: SceneServer, port: Int, token: String, scene: (entities: Int, bounds: Rect)) {
        let scene = try loaded ?? SceneLoader.load(manifest, catalog: try Catalog(), workers: 2)
        let facts = (scene.world.store.count, scene.world.bounds)
        var config = ServerConfiguration()
        config.port = 0
        let token = "bench-" + UUID().uuidString
        config.adminToken = token
        var logger = Logger(label: "bench")
        logger.logLevel = .warning
        let server = SceneServer(configuration: config, scenes: [scene], catalog: nil, logger: logger)
        return (server, try await server.start().port!, token, facts)
    }

    package static func run(quick: Bool, scenesDir: String, sharedData: String?, log: (String) -> Void) async throws -> [BenchResult] {
        var results = try await marathon(quick: quick, scenesDir: scenesDir, log: log)
        let replay = URL(fileURLWithPath: scenesDir).appendingPathComponent("football-replay.scene.json").path
        // The replay reads ../shared/data: loaded once here, and skipped when it cannot be.
        if let manifest = try? SceneManifest.load(path: replay), let scene = try? SceneLoader.load(manifest, catalog: try Catalog(), workers: 2) {
            results += try await hawkEyeServed(manifest, scene: scene, quick: quick, log: log)
        } else {
            log("skipping the served Hawk-Eye figures: the football-replay scene cannot load (\(sharedData ?? "../shared/data") absent?)")
        }
        return results
    }

    /// Everything the football-replay scene sends for positions and the ball's height, per
    /// entity per tick, to a version 2 client (height in the stream) and a version 1 one
    /// (height as an attribute), over the whole minute.
    static func hawkEyeServed(_ manifest: SceneManifest, scene: sending LoadedScene, quick: Bool, log: (String) -> Void) async throws -> [BenchResult] {
        let (server, port, token, _) = try await serve(manifest, loaded: scene)
        defer { Task { await server.shutdown() } }
        let ticks = (quick ? 20 : 60) * manifest.tickRate
        log("Hawk-Eye replay served to a version 1 and a version 2 client for \(ticks) ticks ...")
        let control = try await SceneClient.connect(host: "127.0.0.1", port: port, name: "bench-control")
        control.send(.control(token: token, scene: manifest.name, command: .pause))
        _ = try await reply(control)
        var figures: [BenchResult] = []
        var clients: [(SceneClient, UInt16)] = []
        for version: UInt16 in [1, 2] {
            let c = try await SceneClient.connect(host: "127.0.0.1", port: port, name: "bench-v\(version)", maxVersion: version)
            c.send(.subscribe(subscription: 1, scene: manifest.name, area: nil))
            clients.append((c, version))
        }
        let tallies = clients.map { _ in Tally() }
        let readers = clients.enumerated().map { k, pair in
            Task {
                var view = SceneView(subscription: 1, version: pair.1)
                for try await m in pair.0.messages {
                    if case .stateFrame = m {} else if case .attributes = m {} else { _ = try view.apply(m); continue }
                    // After its first frame (the resync, a one-off), count what positions and heights cost.
                    if tallies[k].frames.load(ordering: .relaxed) > 0 { tallies[k].bytes.withLock { $0[m.type, default: 0] += m.frameBytes } }
                    guard let u = try view.apply(m) else { continue }
                    if u.resync { tallies[k].resyncs.add(1, ordering: .relaxed) }
                    if tallies[k].frames.load(ordering: .relaxed) > 0 { tallies[k].entityTicks.add(view.visible.count, ordering: .relaxed) }
                    if tallies[k].frames.add(1, ordering: .relaxed).newValue > ticks { break }
                }
            }
        }
        while tallies.contains(where: { $0.frames.load(ordering: .relaxed) < 1 }) { try await Task.sleep(nanoseconds: 20_000_000) }
        control.send(.control(token: token, scene: manifest.name, command: .speed(20)))
        _ = try await reply(control)
        control.send(.control(token: token, scene: manifest.name, command: .resume))
        _ = try await reply(control)
        for r in readers { _ = try? await r.value }
        for (c, _) in clients { await c.close() }
        await control.close()
        for (k, (_, version)) in clients.enumerated() {
            let bytes = tallies[k].total(.stateFrame) + tallies[k].total(.attributes)
            let name = version == 2 ? "bpet_hawkeye25_served" : "bpet_hawkeye25_served_v1"
            figures.append(BenchResult(name: name, unit: "B/e/t", value: Double(bytes) / Double(max(tallies[k].entityTicks.load(ordering: .relaxed), 1))))
        }
        return figures
    }

    /// Identities and area filtering on the 10k marathon.
    static func marathon(quick: Bool, scenesDir: String, log: (String) -> Void) async throws -> [BenchResult] {
        let manifest = try SceneManifest.load(path: URL(fileURLWithPath: scenesDir).appendingPathComponent("marathon.scene.json").path)
        let (server, port, token, facts) = try await serve(manifest)
        let (entities, bounds) = facts
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
                    if case .stateFrame(_, _, _, let resync, _, _) = m {
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
