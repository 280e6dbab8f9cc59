import Foundation
import Histogram
import NIOCore
import SceneWire

/// What `twinscene load` asks for: how many clients, for how long, watching what.
public struct LoadConfiguration: Sendable {
    public var host = "127.0.0.1"
    public var port = 7420
    public var clients = 100
    public var seconds = 10.0
    public var scene: String?
    /// Areas handed out round-robin; nil entries watch the whole scene.
    public var areas: [WireArea?] = [nil]
    /// Decode every frame fully (cell states), not just its header.
    public var decode = false
    /// TCP, or the WebSocket on the server's HTTP port (`port` is then that port).
    public var transport: SceneClient.Transport = .tcp

    public init() {}
}

/// What a load run measured, across all clients.
public struct LoadReport: Codable, Sendable {
    public var clients: Int
    public var connected: Int
    public var seconds: Double
    /// Frames received / ticks that passed while each client was subscribed.
    public var deliveredRatio: Double
    public var deliveredTicks: Int
    public var skippedTicks: Int
    public var resyncs: Int
    public var latencyP50Ms: Double
    public var latencyP99Ms: Double
    public var latencyMaxMs: Double
    public var bytes: Int
    public var errors: [String]
}

/// N concurrent clients for D seconds: delivered and skipped ticks, tick-to-client latency
/// percentiles (HdrHistogram, microseconds) and bytes.
public enum LoadGenerator {
    struct ClientResult: Sendable {
        var delivered = 0, expected = 0, resyncs = 0, bytes = 0
        var latencies: [UInt64] = []
        var error: String?
    }

    public static func run(_ config: LoadConfiguration) async -> LoadReport {
        let deadline = Date().addingTimeInterval(config.seconds)
        let results = await withTaskGroup(of: ClientResult.self) { group in
            for k in 0..<config.clients {
                group.addTask { await runClient(k, config, deadline: deadline) }
            }
            var all: [ClientResult] = []
            for await r in group { all.append(r) }
            return all
        }
        var histogram = Histogram<UInt64>(highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: .three)
        var delivered = 0, expected = 0, resyncs = 0, bytes = 0, connected = 0
        var errors: [String] = []
        for r in results {
            delivered += r.delivered; expected += r.expected; resyncs += r.resyncs; bytes += r.bytes
            if r.error == nil { connected += 1 } else if errors.count < 5 { errors.append(r.error!) }
            for l in r.latencies { _ = histogram.record(min(l, 60_000_000)) }
        }
        return LoadReport(
            clients: config.clients, connected: connected, seconds: config.seconds,
            deliveredRatio: expected > 0 ? Double(delivered) / Double(expected) : 0,
            deliveredTicks: delivered, skippedTicks: max(0, expected - delivered), resyncs: resyncs,
            latencyP50Ms: Double(histogram.valueAtPercentile(50)) / 1000,
            latencyP99Ms: Double(histogram.valueAtPercentile(99)) / 1000,
            latencyMaxMs: Double(histogram.max) / 1000, bytes: bytes, errors: errors)
    }

    static func runClient(_ k: Int, _ config: LoadConfiguration, deadline: Date) async -> ClientResult {
        var result = ClientResult()
        let client: SceneClient
        do {
            client = try await SceneClient.connect(host: config.host, port: config.port, name: "load-\(k)", transport: config.transport)
        } catch {
            result.error = "\(error)"
            return result
        }
        let area = config.areas.isEmpty ? nil : config.areas[k % config.areas.count]
        if let scene = config.scene {
            client.send(.subscribe(subscription: 1, scene: scene, area: area))
        } else {
            client.send(.listScenes)
        }
        var view = SceneView(subscription: 1, area: area, version: client.version)
        var first: UInt64?, last: UInt64 = 0
        let startBytes = client.bytesReceived
        let watchdog = Task {
            try? await Task.sleep(nanoseconds: UInt64(max(0, deadline.timeIntervalSinceNow) * 1e9))
            await client.close()
        }
        var lastPing = Date()
        do {
            for try await message in client.messages {
                if Date() >= deadline { break }
                switch message {
                case .sceneList(let scenes):
                    guard let s = scenes.first else { result.error = "no scenes"; break }
                    client.send(.subscribe(subscription: 1, scene: s.name, area: area))
                case .stateFrame(_, let given, let time, let resync, _, _):
                    // Frames carry the server time once a second (and on resync): latency samples.
                    if let time {
                        let now = UInt64(Date().timeIntervalSince1970 * 1_000_000)
                        result.latencies.append(now > time ? now - time : 0)
                    }
                    let tick = given ?? (last + 1)
                    if first == nil { first = tick }
                    last = tick
                    result.delivered += 1
                    if resync { result.resyncs += 1 }
                    if config.decode { _ = try view.apply(message) }
                case .error(let code, let text):
                    result.error = "server error \(code): \(text)"
                default:
                    if config.decode { _ = try view.apply(message) }
                }
                if Date().timeIntervalSince(lastPing) > 10 {
                    client.send(.ping(nonce: 1, timeMicros: 0))
                    lastPing = Date()
                }
            }
        } catch {
            if Date() < deadline { result.error = "\(error)" }
        }
        watchdog.cancel()
        if let first { result.expected = Int(last - first + 1) }
        result.bytes = client.bytesReceived - startBytes
        await client.close()
        return result
    }
}
