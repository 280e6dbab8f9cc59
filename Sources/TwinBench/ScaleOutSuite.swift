import Foundation
import Histogram
import SceneClient
import SceneWire

/// `twinscene bench scaleout`: a nats-server, a `serve --nats` child running the bundled
/// marathon, and two `gateway` children, all on this machine (docs/SCALEOUT.md).
///
/// - `state_equal`: a client of each gateway and one of the scene's own server decode the
///   whole marathon; 1 when every tick all three saw is the same state.
/// - `nats_hop_p50_ms`, `nats_hop_p99_ms`: for each tick, when a gateway's client had its
///   frame less when the scene's own client had it (both in this process): the hop from
///   the scene's publish through NATS and a gateway.
/// - `gateway_latency_p99_ms` with `clients_per_gateway` on each gateway at once, beside
///   `single_latency_p99_ms` with as many clients in all on the scene's own server
///   (tick-to-client latency of the frames that carry the server's time).
/// - `nats_bytes_per_tick`: the feed's bytes a tick with one gateway subscriber settled, from
///   the scene's metrics (`_joining`: while the load's clients join, with their keyframes).
/// - The model: CPU seconds per client-second on a gateway and per entity-second on the
///   scene's process, and from them the cores a 1M-entity, 100k-client event needs.
/// There are no region shards yet (`shards` is 1): one process runs the scene.
package enum ScaleOutSuite {
    static let natsBinaries = ["/usr/sbin/nats-server", "/usr/bin/nats-server", "/usr/local/bin/nats-server"]

    package static func run(quick: Bool, scenesDir: String, log: (String) -> Void = { _ in }) async throws -> [BenchResult] {
        guard let nats = natsBinaries.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw BenchError("nats-server is not installed (apt-get install nats-server)")
        }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("twinscene-scaleout-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let natsPort = ServedChild.randomPort()
        let broker = Process()
        broker.executableURL = URL(fileURLWithPath: nats)
        broker.arguments = ["-a", "127.0.0.1", "-p", "\(natsPort)"]
        broker.standardOutput = FileHandle.nullDevice
        broker.standardError = FileHandle.nullDevice
        try broker.run()
        defer { if broker.isRunning { broker.terminate(); broker.waitUntilExit() } }
        let url = "nats://127.0.0.1:\(natsPort)"
        let manifest = URL(fileURLWithPath: scenesDir).appendingPathComponent("marathon.scene.json").standardizedFileURL.path
        guard FileManager.default.fileExists(atPath: manifest) else { throw BenchError("no \(manifest): run from the repository root or pass --scenes-dir") }
        let scenePort = ServedChild.randomPort(), sceneMetrics = scenePort + 1000
        let scene = try await ServedChild(port: scenePort, arguments: [
            "--scene", manifest, "--catalog", "\(dir)/c.sqlite", "--metrics-port", "\(sceneMetrics)", "--no-http", "--nats", url,
            "--max-connections", "10000"], waitSeconds: 60)
        defer { scene.stop() }
        var gateways: [ServedChild] = []
        for _ in 0..<2 {
            gateways.append(try await ServedChild(port: ServedChild.randomPort(), arguments: ["--nats", url, "--no-http", "--max-connections", "10000"],
                                                  waitSeconds: 60, command: "gateway"))
        }
        defer { for g in gateways { g.stop() } }
        let gatewayPorts = gateways.map(\.port)
        try await Task.sleep(nanoseconds: 1_000_000_000)

        // The same state through both gateways as from the scene's own server, and the hop.
        let frames = quick ? 60 : 200
        log("state through two gateways against the scene's own server, \(frames) frames ...")
        async let direct = Recorded.take(port: scenePort, frames: frames + 40)
        async let first = Recorded.take(port: gatewayPorts[0], frames: frames)
        async let second = Recorded.take(port: gatewayPorts[1], frames: frames)
        let (d, g1, g2) = try await (direct, first, second)
        var hop = Histogram<UInt64>(highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: .three)
        var common = 0, equal = true
        for g in [g1, g2] {
            for (tick, state) in g.states {
                guard let other = d.states[tick] else { continue }
                common += 1
                if other.hash != state.hash { equal = false }
                _ = hop.record(UInt64(max(0, state.receivedMicros - other.receivedMicros)))
            }
        }
        log("\(common) frames compared, equal: \(equal)")

        // The feed's steady bytes: three seconds with the gateways' subscribers settled.
        let quiet0 = try await ParticipantsSuite.metrics(port: sceneMetrics)
        async let keep1 = Recorded.take(port: gatewayPorts[0], frames: 80)
        try await Task.sleep(nanoseconds: 1_000_000_000)
        let quietFrom = try await ParticipantsSuite.metrics(port: sceneMetrics)
        try await Task.sleep(nanoseconds: 3_000_000_000)
        let quietTo = try await ParticipantsSuite.metrics(port: sceneMetrics)
        _ = try await keep1
        _ = quiet0
        func quiet(_ name: String) -> Double { (quietTo[name] ?? 0) - (quietFrom[name] ?? 0) }
        let quietTicks = quiet("twinscene_ticks_total{scene=\"marathon\"}")
        let bytesPerTick = quietTicks > 0 ? quiet("twinscene_feed_bytes_out_total") / quietTicks : 0

        // Clients on each gateway at once, then as many on the scene's own server.
        let perGateway = quick ? 100 : 500, seconds = quick ? 10.0 : 30.0
        let entities = Double(d.entities)
        func load(port: Int, clients: Int) -> LoadConfiguration {
            var c = LoadConfiguration()
            c.port = port
            c.clients = clients
            c.seconds = seconds
            c.scene = "marathon"
            c.areas = [WireArea(minX: 0, minY: 0, maxX: 100, maxY: 100), nil]
            return c
        }
        log("\(perGateway) clients on each gateway for \(Int(seconds)) s ...")
        let before = try await ParticipantsSuite.metrics(port: sceneMetrics)
        let gatewayPids = gateways.map(\.pid)
        let gatewayCPU0 = gatewayPids.map { ParticipantsSuite.cpuSeconds(pid: $0) }, sceneCPU0 = ParticipantsSuite.cpuSeconds(pid: scene.pid)
        async let r1 = LoadGenerator.run(load(port: gatewayPorts[0], clients: perGateway))
        async let r2 = LoadGenerator.run(load(port: gatewayPorts[1], clients: perGateway))
        let (l1, l2) = await (r1, r2)
        let gatewayCPU = zip(gatewayPids, gatewayCPU0).map { ParticipantsSuite.cpuSeconds(pid: $0) - $1 }
        let sceneCPU = ParticipantsSuite.cpuSeconds(pid: scene.pid) - sceneCPU0
        let after = try await ParticipantsSuite.metrics(port: sceneMetrics)
        func delta(_ name: String) -> Double { (after[name] ?? 0) - (before[name] ?? 0) }
        let loadFeedBytes = delta("twinscene_feed_bytes_out_total"), loadTicks = delta("twinscene_ticks_total{scene=\"marathon\"}")
        log("\(2 * perGateway) clients on the scene's own server for \(Int(seconds)) s ...")
        let single = await LoadGenerator.run(load(port: scenePort, clients: 2 * perGateway))
        for e in (l1.errors + l2.errors + single.errors).prefix(3) { log("error: \(e)") }

        let clientSeconds = Double(perGateway) * seconds
        let cpuPerClient = gatewayCPU.reduce(0, +) / 2 / clientSeconds
        let cpuPerEntity = sceneCPU / max(1, entities * seconds)
        return [
            BenchResult(name: "shards", unit: "processes", value: 1),
            BenchResult(name: "gateways", unit: "processes", value: 2),
            BenchResult(name: "state_equal", unit: "bool", value: equal && common >= frames ? 1 : 0),
            BenchResult(name: "frames_compared", unit: "frames", value: Double(common)),
            BenchResult(name: "nats_hop_p50_ms", unit: "ms", value: Double(hop.valueAtPercentile(50)) / 1000),
            BenchResult(name: "nats_hop_p99_ms", unit: "ms", value: Double(hop.valueAtPercentile(99)) / 1000),
            BenchResult(name: "clients_per_gateway", unit: "clients", value: Double(min(l1.connected, l2.connected))),
            BenchResult(name: "gateway_latency_p99_ms", unit: "ms", value: max(l1.latencyP99Ms, l2.latencyP99Ms)),
            BenchResult(name: "gateway_delivered_ratio", unit: "ratio", value: min(l1.deliveredRatio, l2.deliveredRatio)),
            BenchResult(name: "single_clients", unit: "clients", value: Double(single.connected)),
            BenchResult(name: "single_latency_p99_ms", unit: "ms", value: single.latencyP99Ms),
            BenchResult(name: "single_delivered_ratio", unit: "ratio", value: single.deliveredRatio),
            BenchResult(name: "nats_bytes_per_tick", unit: "bytes", value: bytesPerTick),
            // While clients join: the keyframes and snapshots they ask for too.
            BenchResult(name: "nats_bytes_per_tick_joining", unit: "bytes", value: loadTicks > 0 ? loadFeedBytes / loadTicks : 0),
            BenchResult(name: "entities", unit: "entities", value: entities),
            BenchResult(name: "gateway_cpu_us_per_client_s", unit: "us", value: cpuPerClient * 1e6),
            BenchResult(name: "scene_cpu_us_per_entity_s", unit: "us", value: cpuPerEntity * 1e6),
            // The model: cores that 100k clients and 1M entities need at these rates.
            BenchResult(name: "model_gateway_cores_100k_clients", unit: "cores", value: cpuPerClient * 100_000),
            BenchResult(name: "model_scene_cores_1m_entities", unit: "cores", value: cpuPerEntity * 1_000_000),
            BenchResult(name: "model_nats_mb_s_1m_entities", unit: "MB/s", value: bytesPerTick * (1_000_000 / max(1, entities)) * 20 / 1e6),
        ]
    }
}

/// A whole-scene subscriber's decoded states, with when each frame arrived.
struct Recorded {
    struct State { var hash: Int; var receivedMicros: Int64 }
    var states: [UInt64: State] = [:]
    var entities = 0

    static func take(port: Int, frames: Int, limit: Double = 120) async throws -> Recorded {
        let client = try await SceneClient.connect(host: "127.0.0.1", port: port, name: "bench-scaleout", maxVersion: 1)
        client.send(.subscribe(subscription: 1, scene: "marathon", area: nil))
        var view = SceneView(subscription: 1)
        var out = Recorded()
        let watchdog = Task { try await Task.sleep(nanoseconds: UInt64(limit * 1e9)); await client.close() }
        defer { watchdog.cancel() }
        for try await m in client.messages {
            let now = Int64(Date().timeIntervalSince1970 * 1e6)
            guard let u = try view.apply(m) else { continue }
            var h = Hasher()
            for e in view.entities().sorted(by: { $0.id < $1.id }) { h.combine(e.id); h.combine(e.position.x); h.combine(e.position.y) }
            out.states[u.tick] = State(hash: h.finalize(), receivedMicros: now)
            out.entities = max(out.entities, view.visible.count)
            if out.states.count >= frames { break }
        }
        await client.close()
        return out
    }
}
