import Foundation
import Histogram

/// The region-shard phase of `twinscene bench scaleout` (docs/SCALEOUT.md, "Region shards"):
/// its own nats-server, the marathon split into two region shards (`serve --shard 0/2` and
/// `1/2`, the border one wire column past the start line, where every runner crosses it in
/// the first minutes: the scene's heaviest handover traffic), one gateway in front of them,
/// and beside them a single process running the same scene from the same moment.
///
/// - `shards`: 2.
/// - `state_equal_shards`: 1 when a gateway client of the shards and a client of the single
///   process decoded the same state at every tick both saw (at least `frames` of them).
/// - `handovers_per_s`, `cross_shard_bytes_per_tick` (border messages, both ways) and
///   `shard_wait_ms_per_tick` (time a shard's tick waited at the barrier, from its tick
///   duration less the single process's).
/// - `nats_hop_p50_ms_shards`, `nats_hop_p99_ms_shards`: for each tick, when the gateway's
///   client had its frame less when a client of shard 0's own server had it (the shard
///   publishes its feed before it sends its own clients' frames): from a shard's publish,
///   through the other shard's end of the same tick, to a gateway client's receipt.
enum ShardedPhase {
    static func run(nats: String, manifest: String, dir: String, frames: Int, log: (String) -> Void) async throws -> [BenchResult] {
        let (broker, url) = try ScaleOutSuite.startBroker(nats)
        defer { if broker.isRunning { broker.terminate(); broker.waitUntilExit() } }
        log("the marathon in two region shards behind a gateway, and in one process beside them ...")
        var shards: [ServedChild] = []
        var metricsPorts: [Int] = []
        for k in 0..<2 {
            let port = ServedChild.randomPort()
            metricsPorts.append(port + 1000)
            shards.append(try await ServedChild(port: port, arguments: [
                "--scene", manifest, "--catalog", "\(dir)/shard\(k).sqlite", "--metrics-port", "\(port + 1000)", "--no-http", "--nats", url,
                "--shard", "\(k)/2", "--region-borders", "1"], waitSeconds: 60))
        }
        defer { for s in shards { s.stop() } }
        let singlePort = ServedChild.randomPort()
        let single = try await ServedChild(port: singlePort, arguments: [
            "--scene", manifest, "--catalog", "\(dir)/single.sqlite", "--metrics-port", "\(singlePort + 1000)", "--no-http"], waitSeconds: 60)
        defer { single.stop() }
        let gateway = try await ServedChild(port: ServedChild.randomPort(), arguments: ["--nats", url, "--no-http"], waitSeconds: 60, command: "gateway")
        defer { gateway.stop() }
        let gatewayPort = gateway.port

        let before = try await metricsPorts.asyncMap { try await ParticipantsSuite.metrics(port: $0) }
        let singleBefore = try await ParticipantsSuite.metrics(port: singlePort + 1000)
        let started = Date()
        async let direct = Recorded.take(port: singlePort, frames: frames + 200, limit: 180)
        async let via = Recorded.take(port: gatewayPort, frames: frames, limit: 180)
        let shard0Port = shards[0].port
        async let own = Recorded.take(port: shard0Port, frames: frames + 40, limit: 180)
        let (d, g, o) = try await (direct, via, own)
        var hop = Histogram<UInt64>(highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: .three)
        for (tick, state) in g.states {
            if let first = o.states[tick] { _ = hop.record(UInt64(max(0, state.receivedMicros - first.receivedMicros))) }
        }
        let seconds = Date().timeIntervalSince(started)
        let after = try await metricsPorts.asyncMap { try await ParticipantsSuite.metrics(port: $0) }
        let singleAfter = try await ParticipantsSuite.metrics(port: singlePort + 1000)
        var common = 0, equal = true
        for (tick, state) in g.states {
            guard let other = d.states[tick] else { continue }
            common += 1
            if other.hash != state.hash { equal = false }
        }
        func delta(_ k: Int, _ name: String) -> Double { (after[k][name] ?? 0) - (before[k][name] ?? 0) }
        let ticksKey = "twinscene_ticks_total{scene=\"marathon\"}"
        let handovers = delta(0, "twinscene_region_handovers_total") + delta(1, "twinscene_region_handovers_total")
        let bytes = delta(0, "twinscene_region_border_bytes_total") + delta(1, "twinscene_region_border_bytes_total")
        let resent = delta(0, "twinscene_region_handovers_resent_total") + delta(1, "twinscene_region_handovers_resent_total")
        let ticks = max(1, delta(0, ticksKey))
        let sumKey = "twinscene_tick_duration_seconds_sum{scene=\"marathon\"}"
        let shardTickMs = 1000 * (delta(0, sumKey) + delta(1, sumKey)) / (2 * ticks)
        let singleTicks = max(1, (singleAfter[ticksKey] ?? 0) - (singleBefore[ticksKey] ?? 0))
        let singleTickMs = 1000 * ((singleAfter[sumKey] ?? 0) - (singleBefore[sumKey] ?? 0)) / singleTicks
        log("\(common) frames compared, equal: \(equal); \(Int(handovers)) handovers in \(String(format: "%.1f", seconds)) s")
        return [
            BenchResult(name: "shards", unit: "processes", value: 2),
            BenchResult(name: "state_equal_shards", unit: "bool", value: equal && common >= frames / 2 ? 1 : 0),
            BenchResult(name: "frames_compared_shards", unit: "frames", value: Double(common)),
            BenchResult(name: "handovers_per_s", unit: "entities/s", value: handovers / max(seconds, 0.001)),
            BenchResult(name: "cross_shard_bytes_per_tick", unit: "bytes", value: bytes / ticks),
            BenchResult(name: "handovers_resent", unit: "entities", value: resent),
            BenchResult(name: "shard_tick_ms", unit: "ms", value: shardTickMs),
            BenchResult(name: "single_tick_ms", unit: "ms", value: singleTickMs),
            BenchResult(name: "nats_hop_p50_ms_shards", unit: "ms", value: Double(hop.valueAtPercentile(50)) / 1000),
            BenchResult(name: "nats_hop_p99_ms_shards", unit: "ms", value: Double(hop.valueAtPercentile(99)) / 1000),
        ]
    }
}

extension Array {
    func asyncMap<T>(_ f: (Element) async throws -> T) async rethrows -> [T] {
        var out: [T] = []
        for e in self { out.append(try await f(e)) }
        return out
    }
}
