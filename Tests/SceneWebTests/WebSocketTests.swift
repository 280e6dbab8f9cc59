import Foundation
import Logging
import NIOCore
import NIOWebSocket
import SceneClient
import SceneServer
import SceneWire
import Synchronization
import Testing

let helloV2 = WSOut.message(.hello(minVersion: 1, maxVersion: 2, client: "ws-test"))

func frames(_ ms: [WireMessage]) -> Int { ms.filter { if case .stateFrame = $0 { return true } else { return false } }.count }

@Suite(.serialized) struct WebSocketTests {
    /// The same scene over TCP and over the WebSocket: for every tick both saw, the same
    /// entities at the same positions (decoded by the same SceneView).
    @Test func theWebSocketCarriesTheSameStreamAsTCP() async throws {
        let t = try await WebTestServer.start(walkers: 300)
        let tcp = try await SceneClient.connect(host: "127.0.0.1", port: t.tcpPort, name: "tcp", maxVersion: 2)
        tcp.send(.subscribe(subscription: 1, scene: "district", area: nil))
        // The TCP client reads until the WebSocket one has its 60 frames (the WebSocket starts
        // later, so every tick it saw is among the TCP client's latest), keeping the last 600
        // ticks; at most 400 s (a starved run can hold the WebSocket's upgrade for a minute).
        let wsDone = Flag()
        let ws = Task {
            defer { wsDone.set() }
            return try await wsRun(port: t.httpPort, outs: [helloV2, .message(.subscribe(subscription: 1, scene: "district", area: nil))],
                                   seconds: 400) { frames($0) >= 60 }
        }
        var tcpView = SceneView(subscription: 1, version: 2)
        var tcpStates: [UInt64: [String]] = [:]
        var n = 0
        let started = Date()
        // Once the WebSocket is done, the TCP client reads on to the last tick it saw: on a
        // starved machine the TCP client may still be reading ticks from before its first.
        var wsLast: UInt64?
        for try await m in tcp.messages {
            if let u = try tcpView.apply(m) {
                tcpStates[u.tick] = Self.state(tcpView)
                if u.tick >= 600 { tcpStates[u.tick - 600] = nil }
                n += 1
                if wsLast == nil, wsDone.isSet { wsLast = try Self.lastTick(await ws.value.messages) }
                if let last = wsLast, n >= 60, u.tick >= last { break }
                if Date().timeIntervalSince(started) > 400 { break }
            }
        }
        await tcp.close()
        let r = try await ws.value
        #expect(r.notOneFrame == 0, "\(r.notOneFrame) WebSocket messages did not hold exactly one frame")
        guard case .welcome(let version, _, _, _)? = r.messages.first else { Issue.record("no Welcome first: \(r.messages.prefix(1))"); return }
        #expect(version == 2)
        var wsView = SceneView(subscription: 1, version: 2)
        var compared = 0
        for m in r.messages {
            if let u = try wsView.apply(m), let other = tcpStates[u.tick] {
                #expect(Self.state(wsView) == other, "tick \(u.tick) differs")
                compared += 1
            }
        }
        #expect(compared >= 50, "only \(compared) ticks in common")
        #expect(wsView.visible.count == 300)
        #expect(wsView.buildings.count == tcpView.buildings.count && !wsView.buildings.isEmpty)
        await t.stop()
    }

    /// The last tick a stream of messages brings a version 2 subscriber of subscription 1 to.
    static func lastTick(_ messages: [WireMessage]) throws -> UInt64 {
        var view = SceneView(subscription: 1, version: 2)
        var last: UInt64 = 0
        for m in messages { if let u = try view.apply(m) { last = max(last, u.tick) } }
        return last
    }

    /// The Swift client over the WebSocket (NIO's WebSocket client, not Hummingbird's) and the
    /// load generator on it: the same scene, every frame delivered.
    @Test func theSwiftClientAndTheLoadGeneratorSpeakWebSocket() async throws {
        let t = try await WebTestServer.start(walkers: 150)
        let client = try await SceneClient.connect(host: "127.0.0.1", port: t.httpPort, name: "ws-client", transport: .webSocket())
        #expect(client.version == WireProtocol.version)
        client.send(.subscribe(subscription: 1, scene: "district", area: WireArea(minX: 0, minY: 0, maxX: 300, maxY: 200)))
        var view = SceneView(subscription: 1, area: WireArea(minX: 0, minY: 0, maxX: 300, maxY: 200), version: 2)
        var frames = 0
        for try await m in client.messages where try view.apply(m) != nil {
            frames += 1
            if frames >= 30 { break }
        }
        #expect(!view.visible.isEmpty && view.visible.count < 150)
        #expect(view.entities().allSatisfy { $0.position.x < 300 && $0.position.y < 200 })
        #expect(client.bytesReceived > 0)
        await client.close()
        var config = LoadConfiguration()
        config.port = t.httpPort
        config.transport = .webSocket()
        config.clients = 6
        // Forty frames each, however long a busy machine takes (two minutes at the most):
        // a count, not a window of seconds (a starved run once delivered nothing in 2 s).
        config.framesPerClient = 40
        config.seconds = 120
        config.decode = true
        config.scene = "district"
        let report = await LoadGenerator.run(config)
        #expect(report.connected == 6, "\(report.errors)")
        #expect(report.deliveredTicks == 6 * 40, "\(report.deliveredTicks) frames")
        #expect(report.deliveredRatio > 0.95)
        #expect(report.bytes > 0)
        // A foreign Origin is refused at the upgrade, and the client says so.
        do {
            _ = try await SceneClient.connect(host: "127.0.0.1", port: t.httpPort, transport: .webSocket(origin: "http://evil.example"))
            Issue.record("a foreign origin was upgraded")
        } catch let e as ClientError {
            #expect("\(e)".contains("403"), "\(e)")
        }
        await t.stop()
    }

    static func state(_ v: SceneView) -> [String] {
        v.entities().map { "\($0.id) \($0.kind) \($0.position.x) \($0.position.y)" }.sorted()
    }

    /// Each kind of bad WebSocket input gets its protocol Error, then a Close frame whose code
    /// is 4000 + the error code; a watcher on another WebSocket keeps its frames throughout.
    @Test func badWebSocketInputGetsItsErrorAndOthersDoNotNotice() async throws {
        let t = try await WebTestServer.start(walkers: 100)
        async let watcher = wsRun(port: t.httpPort, outs: [helloV2, .message(.subscribe(subscription: 1, scene: "district", area: nil))],
                                  seconds: 60) { frames($0) >= 100 }
        let subscribe = WireMessage.subscribe(subscription: 1, scene: "district", area: nil).frame()
        let two = Array(subscribe.readableBytesView) + Array(subscribe.readableBytesView)
        let cases: [(String, [WSOut], ErrorCode)] = [
            ("text message", [helloV2, .text("hello")], .malformedFrame),
            ("text before Hello", [.text("{\"hello\": 1}")], .malformedFrame),
            ("two frames in one message", [helloV2, .raw(two)], .malformedFrame),
            ("half a frame", [helloV2, .raw(Array(subscribe.readableBytesView.dropLast(3)))], .malformedFrame),
            ("over the frame limit", [helloV2, .raw([0x80, 0x80, 0x08] + [UInt8](repeating: 0x22, count: 70_000))], .frameTooLarge),
            ("unknown message type", [helloV2, .raw([0x01, 0x7f])], .unknownMessageType),
            ("subscribe before Hello", [.message(.subscribe(subscription: 1, scene: "district", area: nil))], .unexpectedMessage),
            ("unknown scene", [helloV2, .message(.subscribe(subscription: 1, scene: "nowhere", area: nil))], .unknownScene),
            ("wrong admin token", [helloV2, .message(.control(token: "not-the-token", scene: "district", command: .pause))], .unauthorized),
        ]
        for (name, outs, code) in cases {
            let r = try await wsRun(port: t.httpPort, outs: outs, seconds: 20) { $0.contains { if case .error = $0 { return true } else { return false } } }
            #expect(r.errorCodes == [code.rawValue], "\(name): errors \(r.errorCodes)")
        }
        // The Close frame names the error too (read to the end this time).
        let r = try await wsRun(port: t.httpPort, outs: [helloV2, .text("x")], seconds: 20)
        #expect(r.close?.closeCode == .unknown(4000 + ErrorCode.malformedFrame.rawValue), "close \(String(describing: r.close))")
        let w = try await watcher
        #expect(frames(w.messages) >= 100, "the watcher got \(frames(w.messages)) frames")
        #expect(w.errorCodes.isEmpty)
        await t.stop()
    }

    /// The handshake timeout, the connection cap and the Goodbye on shutdown hold on the
    /// WebSocket as on TCP.
    @Test func limitsAndShutdownAreTheSameAsTCP() async throws {
        let t = try await WebTestServer.start(walkers: 50) { $0.handshakeTimeout = 1; $0.maxConnections = 2 }
        let silent = try await upgradeRetried { try await wsRun(port: t.httpPort, outs: [], seconds: 20) }
        #expect(silent.errorCodes == [ErrorCode.handshakeTimeout.rawValue])
        // Two held (one TCP, one WebSocket), the third refused with Error 8.
        let a = try await SceneClient.connect(host: "127.0.0.1", port: t.tcpPort, name: "a", maxVersion: 2)
        async let b = wsRun(port: t.httpPort, outs: [helloV2, .message(.subscribe(subscription: 1, scene: "district", area: nil))], seconds: 30)
        for _ in 0..<300 where t.server.clientCount < 2 { try await Task.sleep(nanoseconds: 100_000_000) }
        #expect(t.server.clientCount == 2)
        // The refusal comes at once, before any Hello (which could then meet a closed socket).
        let third = try await upgradeRetried { try await wsRun(port: t.httpPort, outs: [], seconds: 10) }
        #expect(third.errorCodes == [ErrorCode.tooManyConnections.rawValue], "\(third.errorCodes)")
        // Shutting down: the held WebSocket gets a Goodbye.
        await t.stop()
        let held = try await b
        // The Goodbye, or at least the normal Close that follows it: the test client's inbound
        // stream can end at the Close before its handler took the Goodbye queued ahead of it
        // (seen once in CI, under load); the TCP tests check the Goodbye itself.
        let goodbye = held.messages.contains { if case .goodbye = $0 { return true } else { return false } }
        #expect(goodbye || held.close?.closeCode == .normalClosure, "no Goodbye and no normal Close: \(String(describing: held.close))")
        await a.close()
    }
}

/// A probe whose server closed right after its 101 (an Error, then the close) can see the
/// close before its upgrade's end under load ("closed during the WebSocket upgrade", seen
/// once in CI): tried again, at most twice; any other outcome is the test's to judge.
func upgradeRetried(_ probe: () async throws -> WSResult) async throws -> WSResult {
    for attempt in 0..<3 {
        do { return try await probe() } catch let e as ClientError where "\(e)".contains("during the WebSocket upgrade") && attempt < 2 { continue }
    }
    return try await probe()
}

/// Set once, read from anywhere.
final class Flag: Sendable {
    private let value = Atomic<Bool>(false)
    func set() { value.store(true, ordering: .releasing) }
    var isSet: Bool { value.load(ordering: .acquiring) }
}
