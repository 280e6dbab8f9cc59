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
/// - `clients_per_gateway`: the most clients watching 100 m squares (steps of 25 to 800)
///   that each of two gateways served at once with a tick-to-client p99 within 50 ms (and
///   every tick delivered), with `gateway_latency_p99_ms`; beside it `single_clients`, the
///   most (twice the step) the scene's own server served alone within the same bound. These
///   steps' clients speak protocol version 1; `gateway_latency_p99_ms_50_v3`,
///   `single_latency_p99_ms_100_v3` and `gateway_cpu_us_per_client_s_v3` are one step of
///   version 3 clients (identities, values and events of their cells) on each.
/// - `nats_bytes_per_tick`: the feed's bytes a tick with one gateway subscriber settled, from
///   the scene's metrics (`_joining`: while the load's clients join, with their keyframes).
/// - The model: CPU seconds per client-second on a gateway and per entity-second on the
///   scene's process, and from them the cores a 1M-entity, 100k-client event needs.
/// - Region shards (`ShardedPhase`): `shards`, `state_equal_shards`, `handovers_per_s`,
///   `cross_shard_bytes_per_tick`, the shards' and a single process's tick times,
///   `nats_hop_p99_ms_shards` (a shard's publish to a gateway client's receipt).
package enum ScaleOutSuite {
    static let natsBinaries = ["/usr/sbin/nats-server", "/usr/bin/nats-server", "/usr/local/bin/nats-server"]

    /// A nats-server child on a free loopback port, and its URL; the caller stops it.
    static func startBroker(_ binary: String) throws -> (Process, String) {
        let port = ServedChild.randomPort()
        let broker = Process()
        broker.executableURL = URL(fileURLWithPath: binary)
        broker.arguments = ["-a", "127.0.0.1", "-p", "\(port)"]
        broker.standardOutput = FileHandle.nullDevice
        broker.standardError = FileHandle.nullDevice
        try broker.run()
        return (broker, "nats://127.0.0.1:\(port)")
    }

    package static func run(quick: Bool, scenesDir: String, log: (String) -> Void = { _ in }) async throws -> [BenchResult] {
        guard let nats = natsBinaries.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw BenchError("nats-server is not installed (apt-get install nats-server)")
        }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("twinscene-scaleout-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (broker, url) = try startBroker(nats)
        defer { if broker.isRunning { broker.terminate(); broker.waitUntilExit() } }
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

        // Clients watching 100 m squares along the course, more and more on each gateway at
        // once (and twice as many on the scene's own server), while p99 stays within 50 ms.
        let steps = quick ? [25] : [25, 50, 100, 200]
        let seconds = quick ? 5.0 : 15.0
        let entities = Double(d.entities)
        // The steps' clients speak version 1 (as every figure before gateways spoke 3); one step
        // of each in version 3 after them, whose identities and values cost the clients too.
        func load(port: Int, clients: Int, version: UInt16 = 1) -> LoadConfiguration {
            var c = LoadConfiguration()
            c.maxVersion = version
            c.port = port
            c.clients = clients
            c.seconds = seconds
            c.scene = "marathon"
            c.areas = (0..<8).map { k in WireArea(minX: Double(k) * 100, minY: 0, maxX: Double(k) * 100 + 100, maxY: 100) }
            return c
        }
        var gatewayServed = 0, gatewayP99 = 0.0, cpuPerClient = 0.0, cpuPerEntity = 0.0, loadFeedBytes = 0.0, loadTicks = 0.0
        var perStep: [BenchResult] = []
        for n in steps {
            log("\(n) clients on each gateway for \(Int(seconds)) s ...")
            let before = try await ParticipantsSuite.metrics(port: sceneMetrics)
            let gatewayPids = gateways.map(\.pid)
            let gatewayCPU0 = gatewayPids.map { ParticipantsSuite.cpuSeconds(pid: $0) }, sceneCPU0 = ParticipantsSuite.cpuSeconds(pid: scene.pid)
            async let r1 = LoadGenerator.run(load(port: gatewayPorts[0], clients: n))
            async let r2 = LoadGenerator.run(load(port: gatewayPorts[1], clients: n))
            let (l1, l2) = await (r1, r2)
            let gatewayCPU = zip(gatewayPids, gatewayCPU0).map { ParticipantsSuite.cpuSeconds(pid: $0) - $1 }
            let sceneCPU = ParticipantsSuite.cpuSeconds(pid: scene.pid) - sceneCPU0
            let after = try await ParticipantsSuite.metrics(port: sceneMetrics)
            for e in (l1.errors + l2.errors).prefix(3) { log("error: \(e)") }
            let p99 = max(l1.latencyP99Ms, l2.latencyP99Ms)
            log(String(format: "p99 %.1f ms, delivered %.3f", p99, min(l1.deliveredRatio, l2.deliveredRatio)))
            perStep.append(BenchResult(name: "gateway_latency_p99_ms_\(n)", unit: "ms", value: p99))
            // The model's rates come from the largest step, whatever its latency.
            cpuPerClient = gatewayCPU.reduce(0, +) / 2 / (Double(n) * seconds)
            cpuPerEntity = sceneCPU / max(1, entities * seconds)
            loadFeedBytes = (after["twinscene_feed_bytes_out_total"] ?? 0) - (before["twinscene_feed_bytes_out_total"] ?? 0)
            loadTicks = (after["twinscene_ticks_total{scene=\"marathon\"}"] ?? 0) - (before["twinscene_ticks_total{scene=\"marathon\"}"] ?? 0)
            if p99 <= 50, min(l1.connected, l2.connected) == n, min(l1.deliveredRatio, l2.deliveredRatio) > 0.99 { gatewayServed = n; gatewayP99 = p99 }
        }
        var singleServed = 0, singleP99 = 0.0
        for n in steps {
            log("\(2 * n) clients on the scene's own server for \(Int(seconds)) s ...")
            let r = await LoadGenerator.run(load(port: scenePort, clients: 2 * n))
            log(String(format: "p99 %.1f ms, delivered %.3f", r.latencyP99Ms, r.deliveredRatio))
            perStep.append(BenchResult(name: "single_latency_p99_ms_\(2 * n)", unit: "ms", value: r.latencyP99Ms))
            if r.latencyP99Ms <= 50, r.connected == 2 * n, r.deliveredRatio > 0.99 { singleServed = 2 * n; singleP99 = r.latencyP99Ms }
        }
        // Version 3 (identities, values and events of the covered cells): 50 clients on each
        // gateway, 100 on the scene's own server.
        log("50 version 3 clients on each gateway, then 100 on the scene's own server, for \(Int(seconds)) s ...")
        let gatewayCPU0 = gateways.map { ParticipantsSuite.cpuSeconds(pid: $0.pid) }
        async let v3a = LoadGenerator.run(load(port: gatewayPorts[0], clients: 50, version: 3))
        async let v3b = LoadGenerator.run(load(port: gatewayPorts[1], clients: 50, version: 3))
        let (g3a, g3b) = await (v3a, v3b)
        let cpuPerClient3 = zip(gateways, gatewayCPU0).map { ParticipantsSuite.cpuSeconds(pid: $0.pid) - $1 }.reduce(0, +) / 2 / (50 * seconds)
        let s3 = await LoadGenerator.run(load(port: scenePort, clients: 100, version: 3))
        log(String(format: "p99 %.1f ms through gateways, %.1f ms on the scene's server", max(g3a.latencyP99Ms, g3b.latencyP99Ms), s3.latencyP99Ms))
        perStep += [
            BenchResult(name: "gateway_latency_p99_ms_50_v3", unit: "ms", value: max(g3a.latencyP99Ms, g3b.latencyP99Ms)),
            BenchResult(name: "single_latency_p99_ms_100_v3", unit: "ms", value: s3.latencyP99Ms),
            BenchResult(name: "gateway_cpu_us_per_client_s_v3", unit: "us", value: cpuPerClient3 * 1e6),
        ]
        let sharded = try await ShardedPhase.run(nats: nats, manifest: manifest, dir: dir, frames: frames, log: log)
        return sharded + [
            BenchResult(name: "gateways", unit: "processes", value: 2),
            BenchResult(name: "state_equal", unit: "bool", value: equal && common >= frames ? 1 : 0),
            BenchResult(name: "frames_compared", unit: "frames", value: Double(common)),
            BenchResult(name: "nats_hop_p50_ms", unit: "ms", value: Double(hop.valueAtPercentile(50)) / 1000),
            BenchResult(name: "nats_hop_p99_ms", unit: "ms", value: Double(hop.valueAtPercentile(99)) / 1000),
            // The most clients (of the steps tried) each gateway served at once within p99 50 ms,
            // and the scene's own server alone with clients in all.
            BenchResult(name: "clients_per_gateway", unit: "clients", value: Double(gatewayServed)),
            BenchResult(name: "gateway_latency_p99_ms", unit: "ms", value: gatewayP99),
            BenchResult(name: "single_clients", unit: "clients", value: Double(singleServed)),
            BenchResult(name: "single_latency_p99_ms", unit: "ms", value: singleP99),
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
        ] + perStep
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
