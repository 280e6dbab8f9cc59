import Foundation
import Histogram
import NIOCore
import SceneWire

/// What `twinscene load` asks for: how many clients, for how long, watching what.
public struct LoadConfiguration: Sendable {
    public var host = "127.0.0.1"
    public var port = 7420
    public var clients = 100
    /// How long the run lasts; with `framesPerClient`, the most it may last.
    public var seconds = 10.0
    /// When set, a watching client stops once it has received this many state frames (a run
    /// measured in frames, not wall time: what a test on a busy machine wants).
    public var framesPerClient: Int?
    public var scene: String?
    /// Areas handed out round-robin; nil entries watch the whole scene.
    public var areas: [WireArea?] = [nil]
    /// Decode every frame fully (cell states), not just its header.
    public var decode = false
    /// Highest protocol version the watching clients speak (participants need 3).
    public var maxVersion: UInt16 = WireProtocol.version
    /// TCP, or the WebSocket on the server's HTTP port (`port` is then that port).
    public var transport: SceneClient.Transport = .tcp
    /// Participants besides the watching clients (protocol version 3; they need `scene`):
    /// each joins, watches a square of `participantAreaSide` metres around itself and sends
    /// `inputRate` inputs a second.
    public var participants = 0
    public var participantAreaSide = 100.0
    public var inputRate = 10.0
    /// When set, a participant sends this many inputs and leaves once the last of them is
    /// acknowledged (`seconds` is then the most it may take): a run measured in inputs.
    public var inputsPerParticipant: Int?
    /// The scene's join token, when it is joined by token.
    public var joinToken = ""

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
    /// From the tick's timestamp on the server to the frame's arrival at the client (taken as
    /// it comes off the socket, on the client's event loop).
    public var latencyP50Ms: Double
    public var latencyP99Ms: Double
    public var latencyMaxMs: Double
    /// The same to when the client's task took the frame from its stream: adds the wait behind
    /// the other clients' decoding when many share a few cores (the figure before 2026-12-07).
    public var consumedLatencyP50Ms = 0.0
    public var consumedLatencyP99Ms = 0.0
    public var bytes: Int
    public var errors: [String]
    /// Participants asked for, and those that joined.
    public var participants = 0
    public var participantsJoined = 0
    public var inputsSent = 0
    /// InputAcks received: one a tick at most per participant, naming the last input applied.
    public var inputsAcked = 0
    /// Participants whose last input was acknowledged (every input they sent was applied).
    public var participantsFullyAcked = 0
    /// From an input's send to its InputAck, which follows the first frame showing it.
    public var inputToFrameP50Ms = 0.0
    public var inputToFrameP99Ms = 0.0
    public var inputToFrameMaxMs = 0.0
    /// Frames participants received / ticks that passed while they were subscribed.
    public var participantDeliveredRatio = 0.0
    public var refusals = 0
}

/// N concurrent clients for D seconds: delivered and skipped ticks, tick-to-client latency
/// percentiles (HdrHistogram, microseconds) and bytes.
public enum LoadGenerator {
    struct ClientResult: Sendable {
        var delivered = 0, expected = 0, resyncs = 0, bytes = 0
        var latencies: [UInt64] = []
        var consumedLatencies: [UInt64] = []
        var error: String?
    }

    public static func run(_ config: LoadConfiguration) async -> LoadReport {
        let deadline = Date().addingTimeInterval(config.seconds)
        let (results, participants) = await withTaskGroup(of: (ClientResult?, ParticipantResult?).self) { group in
            for k in 0..<config.clients {
                group.addTask { (await runClient(k, config, deadline: deadline), nil) }
            }
            if config.participants > 0 {
                for k in 0..<config.participants {
                    group.addTask {
                        guard let scene = config.scene else {
                            var r = ParticipantResult()
                            r.frames.error = "participants need a scene to join"
                            return (nil, r)
                        }
                        return (nil, await runParticipant(k, config, scene: scene, deadline: deadline))
                    }
                }
            }
            var all: [ClientResult] = [], people: [ParticipantResult] = []
            for await (c, p) in group {
                if let c { all.append(c) }
                if let p { people.append(p) }
            }
            return (all, people)
        }
        var histogram = Histogram<UInt64>(highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: .three)
        var consumed = Histogram<UInt64>(highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: .three)
        var delivered = 0, expected = 0, resyncs = 0, bytes = 0, connected = 0
        var errors: [String] = []
        for r in results {
            delivered += r.delivered; expected += r.expected; resyncs += r.resyncs; bytes += r.bytes
            if r.error == nil { connected += 1 } else if errors.count < 5 { errors.append(r.error!) }
            for l in r.latencies { _ = histogram.record(min(l, 60_000_000)) }
            for l in r.consumedLatencies { _ = consumed.record(min(l, 60_000_000)) }
        }
        var inputs = Histogram<UInt64>(highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: .three)
        var pDelivered = 0, pExpected = 0
        var report = LoadReport(
            clients: config.clients, connected: connected, seconds: config.seconds,
            deliveredRatio: expected > 0 ? Double(delivered) / Double(expected) : 0,
            deliveredTicks: delivered, skippedTicks: max(0, expected - delivered), resyncs: resyncs,
            latencyP50Ms: Double(histogram.valueAtPercentile(50)) / 1000,
            latencyP99Ms: Double(histogram.valueAtPercentile(99)) / 1000,
            latencyMaxMs: Double(histogram.max) / 1000, bytes: bytes, errors: errors)
        report.consumedLatencyP50Ms = Double(consumed.valueAtPercentile(50)) / 1000
        report.consumedLatencyP99Ms = Double(consumed.valueAtPercentile(99)) / 1000
        report.participants = config.participants
        for p in participants {
            if p.joined { report.participantsJoined += 1 }
            report.inputsSent += p.inputsSent
            report.inputsAcked += p.inputsAcked
            if p.inputsSent > 0, Int(p.lastAcked) >= p.inputsSent { report.participantsFullyAcked += 1 }
            report.refusals += p.refusals
            report.bytes += p.frames.bytes
            pDelivered += p.frames.delivered; pExpected += p.frames.expected
            for l in p.inputLatencies { _ = inputs.record(min(l, 60_000_000)) }
            if let e = p.frames.error, report.errors.count < 10 { report.errors.append(e) }
        }
        if inputs.totalCount > 0 {
            report.inputToFrameP50Ms = Double(inputs.valueAtPercentile(50)) / 1000
            report.inputToFrameP99Ms = Double(inputs.valueAtPercentile(99)) / 1000
            report.inputToFrameMaxMs = Double(inputs.max) / 1000
        }
        report.participantDeliveredRatio = pExpected > 0 ? Double(pDelivered) / Double(pExpected) : 0
        return report
    }

    static func runClient(_ k: Int, _ config: LoadConfiguration, deadline: Date) async -> ClientResult {
        var result = ClientResult()
        let client: SceneClient
        do {
            client = try await SceneClient.connect(host: config.host, port: config.port, name: "load-\(k)", maxVersion: config.maxVersion, transport: config.transport)
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
            reading: for try await message in client.messages {
                if Date() >= deadline { break }
                switch message {
                case .sceneList(let scenes):
                    guard let s = scenes.first else { result.error = "no scenes"; break }
                    client.send(.subscribe(subscription: 1, scene: s.name, area: area))
                case .stateFrame(_, let given, let time, let resync, _, _):
                    // Frames carry the server time once a second (and on resync): latency samples.
                    if let time {
                        let now = UInt64(Date().timeIntervalSince1970 * 1_000_000)
                        result.consumedLatencies.append(now > time ? now - time : 0)
                    }
                    let tick = given ?? (last + 1)
                    if first == nil { first = tick }
                    last = tick
                    result.delivered += 1
                    if resync { result.resyncs += 1 }
                    if config.decode { _ = try view.apply(message) }
                    if let n = config.framesPerClient, result.delivered >= n { break reading }
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
        result.latencies = client.arrivals.take()
        if let first { result.expected = Int(last - first + 1) }
        result.bytes = client.bytesReceived - startBytes
        await client.close()
        return result
    }
}
