import Foundation
import Synchronization
import SceneWire

/// What a participant measured in a load run: inputs sent and acknowledged, and each
/// acknowledged input's time from its send to its InputAck (which follows the frame that
/// first shows it).
struct ParticipantResult: Sendable {
    var joined = false
    var inputsSent = 0, inputsAcked = 0, refusals = 0
    /// The highest sequence an InputAck named.
    var lastAcked: UInt32 = 0
    var inputLatencies: [UInt64] = []
    var frames = LoadGenerator.ClientResult()
}

/// Send times of a participant's inputs not yet acknowledged (the last 64 at most).
final class InputClock: Sendable {
    private let sent = Mutex<[UInt32: UInt64]>([:])

    func sent(_ sequence: UInt32, at micros: UInt64) {
        sent.withLock { s in
            s[sequence] = micros
            if s.count > 64, let oldest = s.keys.min() { s[oldest] = nil }
        }
    }

    /// The latency of the acknowledged input, forgetting it and every earlier one.
    func acknowledged(_ sequence: UInt32, at micros: UInt64) -> UInt64? {
        sent.withLock { s in
            let t = s[sequence]
            s = s.filter { $0.key > sequence }
            return t.map { micros > $0 ? micros - $0 : 0 }
        }
    }
}

extension LoadGenerator {
    static func nowMicros() -> UInt64 { UInt64(Date().timeIntervalSince1970 * 1_000_000) }

    /// One participant: joins the scene (the start line or a wave), watches a square of
    /// `participantAreaSide` metres centred on itself (moved when an InputAck says it nears the
    /// edge; frames are decoded only with `decode`), and sends
    /// a treadmill speed `inputRate` times a second, changing its pace now and then.
    static func runParticipant(_ k: Int, _ config: LoadConfiguration, scene: String, deadline: Date) async -> ParticipantResult {
        var result = ParticipantResult()
        let client: SceneClient
        do {
            client = try await SceneClient.connect(host: config.host, port: config.port, name: "load-participant-\(k)", transport: config.transport)
        } catch {
            result.frames.error = "\(error)"
            return result
        }
        guard client.version >= 3 else {
            result.frames.error = "the server speaks protocol \(client.version); participants need 3"
            await client.close()
            return result
        }
        client.send(.join(request: 1, scene: scene, name: "load \(k)", start: k % 5 == 0 ? .line : .wave(UInt8(1 + k % 4)),
                          joinToken: config.joinToken, resumeToken: ""))
        let watchdog = Task {
            try? await Task.sleep(nanoseconds: UInt64(max(0, deadline.timeIntervalSinceNow) * 1e9))
            await client.close()
        }
        let clock = InputClock()
        var sender: Task<Int, Never>?
        var view = SceneView(subscription: 1, version: client.version)
        var me: UInt32?
        var first: UInt64?, last: UInt64 = 0
        var lastMove = Date.distantPast, moves = 1
        let half = config.participantAreaSide / 2
        func area(around x: Double, _ y: Double) -> WireArea { WireArea(minX: x - half, minY: y - half, maxX: x + half, maxY: y + half) }
        do {
            reading: for try await message in client.messages {
                if Date() >= deadline { break }
                switch message {
                case .joined(_, let id, _, let x, let y, _, _, _):
                    me = id
                    result.joined = true
                    let a = area(around: Double(x), Double(y))
                    client.send(.subscribe(subscription: 1, scene: scene, area: a))
                    view.area = a
                    sender = Task { await sendInputs(client, participant: id, rate: config.inputRate, clock: clock, seed: UInt64(k),
                                                     deadline: deadline, limit: config.inputsPerParticipant) }
                case .inputAck(_, let seq, _, let x, let y):
                    if let l = clock.acknowledged(seq, at: nowMicros()) { result.inputLatencies.append(l); result.inputsAcked += 1 }
                    result.lastAcked = max(result.lastAcked, seq)
                    // A run measured in inputs ends once the last one is applied.
                    if let n = config.inputsPerParticipant, seq >= UInt32(clamping: n) { break reading }
                    // Keep the area on the participant (the ack says where it is): recentre
                    // once it is a quarter side off, at most once a second.
                    if Date().timeIntervalSince(lastMove) > 1, let a = view.area {
                        let cx = (a.minX + a.maxX) / 2, cy = (a.minY + a.maxY) / 2
                        if abs(Double(x) - cx) > half / 2 || abs(Double(y) - cy) > half / 2 {
                            let moved = area(around: Double(x), Double(y))
                            view.area = moved
                            client.send(.moveAreaRequest(subscription: 1, request: UInt32(moves), area: moved))
                            moves += 1
                            lastMove = Date()
                        }
                    }
                case .refused:
                    result.refusals += 1
                    if me == nil { result.frames.error = "join refused: \(message)" }
                case .stateFrame(_, let given, _, let resync, _, _):
                    let tick = given ?? (last + 1)
                    if first == nil { first = tick }
                    last = tick
                    result.frames.delivered += 1
                    if resync { result.frames.resyncs += 1 }
                    if config.decode { _ = try view.apply(message) }
                case .error(let code, let text):
                    result.frames.error = "server error \(code): \(text)"
                default:
                    if config.decode { _ = try view.apply(message) }
                }
            }
        } catch {
            if Date() < deadline { result.frames.error = "\(error)" }
        }
        watchdog.cancel()
        sender?.cancel()
        result.inputsSent = await sender?.value ?? 0
        if let first { result.frames.expected = Int(last - first + 1) }
        result.frames.bytes = client.bytesReceived
        await client.close()
        return result
    }

    /// Sends treadmill inputs at `rate` a second until the deadline (or `limit` of them);
    /// returns how many.
    static func sendInputs(_ client: SceneClient, participant: UInt32, rate: Double, clock: InputClock, seed: UInt64, deadline: Date,
                           limit: Int? = nil) async -> Int {
        var rng = SplitMixRandom(seed: seed)
        var speed = 2.5 + Float(rng.unit()) * 3.5
        var sequence: UInt32 = 0
        let period = UInt64(1e9 / max(rate, 0.1))
        // Spread the participants' phases over the period.
        try? await Task.sleep(nanoseconds: UInt64(rng.unit() * Double(period)))
        while Date() < deadline && !Task.isCancelled && sequence < UInt32(clamping: limit ?? Int(UInt32.max)) {
            sequence += 1
            if sequence % 20 == 0 { speed = min(12, max(2, speed + Float(rng.unit() - 0.5) * 2)) }
            clock.sent(sequence, at: nowMicros())
            client.send(.input(participant: participant, sequence: sequence, input: .treadmill(speed: speed)))
            try? await Task.sleep(nanoseconds: period)
        }
        return Int(sequence)
    }
}

/// A small seeded generator for the load's paces (no dependency on the engine's).
struct SplitMixRandom {
    var state: UInt64
    init(seed: UInt64) { state = seed &+ 0x9E37_79B9_7F4A_7C15 }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func unit() -> Double { Double(next() >> 11) / Double(1 << 53) }
}
