import Foundation
import Logging
import NATSClient
import NATSTestSupport
import Scenarios
import SceneClient
import SceneServer
import SceneWire
import Synchronization
import Testing

/// Participants through a gateway: the client's Join, Input and Leave go to the scene's
/// process over NATS and its answers come back unchanged. The independent checks are the
/// scene's own server: its participant count, its clients' decoded positions of the
/// participant, and its resume tokens.
@Suite(.serialized, .enabled(if: NATSServerProcess.available || NATSServerProcess.required, "nats-server is not installed (.ci/run installs Debian's)"))
struct GatewayParticipantTests {
    /// The first message `match` takes within `limit` seconds (nil after it, or when the
    /// stream ends).
    static func next<T>(_ c: SceneClient, limit: Double = 60, _ match: (WireMessage) -> T?) async throws -> T? {
        let watchdog = Task { try await Task.sleep(nanoseconds: UInt64(limit * 1e9)); await c.close() }
        defer { watchdog.cancel() }
        for try await m in c.messages { if let t = match(m) { return t } }
        return nil
    }

    static func joined(_ c: SceneClient) async throws -> (participant: UInt32, token: String)? {
        try await next(c) { m in
            if case .joined(_, let p, _, _, _, _, _, let token) = m { return (p, token) }
            if case .refused(_, let code, _, let text) = m { Issue.record("refused \(code): \(text)"); return nil }
            return nil
        }
    }

    static func refusal(_ c: SceneClient) async throws -> (request: UInt32, code: UInt16)? {
        try await next(c) { m in if case .refused(let r, let code, _, _) = m { return (r, code) } else { return nil } }
    }

    static func participants(_ server: SceneServer) -> Double {
        server.metrics.exposition().split(separator: "\n").first { $0.hasPrefix("twinscene_participants{scene=\"factory\"}") }
            .flatMap { Double($0.split(separator: " ").last!) } ?? 0
    }

    static func join(_ c: SceneClient, name: String = "Ann", resume: String = "", request: UInt32 = 1) {
        c.send(.join(request: request, scene: "factory", name: name, start: .line, joinToken: "", resumeToken: resume))
    }

    @Test func aParticipantJoinsMovesAndIsAcknowledgedThroughAGateway() async throws {
        try #require(NATSServerProcess.available, "TWINSCENE_REQUIRE_TOOLS=1 but nats-server is missing")
        let rig = try await FeedRig.start()
        // The scene's own server says who may join the factory; the gateway says the same.
        let c = try await SceneClient.connect(host: "127.0.0.1", port: rig.gatewayPort, name: "operator", maxVersion: 3)
        #expect(c.version == 3)
        #expect(rig.gateway.joinPolicies["factory"]?.joinable == true && rig.gateway.joinPolicies["district"]?.joinable == false)
        // A resume token nobody holds: Refused by the scene's process, and the session may join after it.
        Self.join(c, resume: "00000000000000000000000000000000", request: 4)
        let wrong = try await Self.refusal(c)
        #expect(wrong?.request == 4 && wrong?.code == ErrorCode.badResumeToken.rawValue, "\(String(describing: wrong))")
        Self.join(c, name: "Olga", request: 5)
        let seat = try #require(try await Self.joined(c))
        #expect(Self.participants(rig.scenes) == 1, "the scene's process holds the participant")
        // A second Join on the same connection is the gateway session's to refuse.
        Self.join(c, name: "again", request: 6)
        #expect(try await Self.refusal(c).map { [$0.request, UInt32($0.code)] } == [6, UInt32(ErrorCode.alreadyJoined.rawValue)])

        // A watcher of the scene's own server decodes where the participant is, tick by tick.
        let watcher = try await SceneClient.connect(host: "127.0.0.1", port: rig.scenesPort, name: "watcher", maxVersion: 3)
        watcher.send(.subscribe(subscription: 1, scene: "factory", area: nil))
        let positions = PositionLog()
        let watching = Task {
            var view = SceneView(subscription: 1, version: watcher.version)
            for try await m in watcher.messages {
                guard let u = try view.apply(m) else { continue }
                let q = view.info?.quantum ?? 0.01
                view.decoder.forEach { e, _, x, y in if e == seat.participant { positions.note(u.tick, SIMD2(Double(x) * q, Double(y) * q)) } }
            }
        }
        // Walks east at 1 m/s: each InputAck says where it is at a tick, as the scene's clients see it.
        var acks: [(sequence: UInt32, tick: UInt64, at: SIMD2<Double>)] = []
        for k in UInt32(1)...5 {
            c.send(.input(participant: seat.participant, sequence: k, input: .heading(radians: 0, speed: 1)))
            if let a = try await Self.next(c, { m -> (UInt32, UInt64, SIMD2<Double>)? in
                if case .inputAck(let p, let s, let t, let x, let y) = m, p == seat.participant { return (s, t, SIMD2(Double(x), Double(y))) }
                if case .refused(_, let code, _, let text) = m { Issue.record("input refused \(code): \(text)") }
                return nil
            }) { acks.append(a) }
            try await Task.sleep(nanoseconds: 200_000_000)
        }
        #expect(acks.map(\.sequence) == [1, 2, 3, 4, 5], "\(acks.map(\.sequence))")
        try await Task.sleep(nanoseconds: 500_000_000)
        watching.cancel()
        await watcher.close()
        var compared = 0
        for a in acks {
            guard let seen = positions.at(a.tick) else { continue }
            compared += 1
            #expect(abs(seen.x - a.at.x) <= 0.011 && abs(seen.y - a.at.y) <= 0.011, "tick \(a.tick): acknowledged at \(a.at), decoded at \(seen)")
        }
        #expect(compared >= 3, "\(compared) acknowledgements compared with the scene's own stream")
        if let first = acks.first, let last = acks.last { #expect(last.at.x > first.at.x + 0.3, "it moved east: \(first.at) to \(last.at)") }

        // The gateway's connection closes: the participant is away, and its resume token takes
        // it back at the scene's own server (refused there while the gateway's session held it).
        await c.close()
        let back = try await SceneClient.connect(host: "127.0.0.1", port: rig.scenesPort, name: "back", maxVersion: 3)
        var resumed: UInt32?
        for attempt in 1...20 where resumed == nil {
            Self.join(back, resume: seat.token, request: UInt32(attempt))
            let answer = try await Self.next(back) { m -> UInt32?? in
                if case .joined(_, let p, _, _, _, _, _, _) = m { return .some(p) }
                if case .refused(_, let code, _, _) = m, code == ErrorCode.resumeTokenInUse.rawValue { return .some(nil) }
                return nil
            }
            if case .some(.some(let p)) = answer { resumed = p } else { try await Task.sleep(nanoseconds: 500_000_000) }
        }
        #expect(resumed == seat.participant, "taken back at the scene's server with the token from the gateway")
        back.send(.leave(participant: seat.participant))
        try await Task.sleep(nanoseconds: 300_000_000)
        #expect(await eventually(seconds: 10) { Self.participants(rig.scenes) == 0 }, "left")
        await back.close()
        await rig.stop()
    }

    /// A gateway that goes away without a word (as when its host dies), played by this test
    /// on NATS as docs/SCALEOUT.md describes a gateway: it sends a Join and nothing more.
    /// After 10 s without word from it the scene's process takes its participant for dropped,
    /// and the participant's token takes it back through the real gateway.
    @Test func aSilentGatewaysParticipantIsAwayAfterTenSecondsAndTakenBackElsewhere() async throws {
        try #require(NATSServerProcess.available, "TWINSCENE_REQUIRE_TOOLS=1 but nats-server is missing")
        let rig = try await FeedRig.start()
        var o = NATSOptions(port: rig.nats.port, name: "silent-gateway")
        o.connectTimeout = 30
        let nats = try await NATSConnection.connect(o)
        let inbox = "_GW.silent.factory.desk"
        let replies = try nats.subscribe(inbox)
        let join = WireMessage.join(request: 7, scene: "factory", name: "Max", start: .line, joinToken: "", resumeToken: "")
        try nats.publish(FeedSubjects.desk("factory"), payload: FeedDeskRequest(op: .message, gateway: inbox, session: 42, address: "10.0.0.9", frame: join.frame()).encoded())
        var token: String?, participant: UInt32?
        for await m in replies {
            let reply = try FeedDeskReply.decode(m.payload)
            #expect(reply.session == 42)
            if case .joined(7, let p, _, _, _, _, _, let t) = try FeedWire.message(reply.frame) { participant = p; token = t; break }
        }
        let joinedAt = Date()
        let seat = try #require(participant), resume = try #require(token)
        #expect(Self.participants(rig.scenes) == 1)
        let other = try await SceneClient.connect(host: "127.0.0.1", port: rig.gatewayPort, name: "returning", maxVersion: 3)
        var resumed: UInt32?, refusedInUse = 0
        for attempt in 1...30 where resumed == nil {
            Self.join(other, resume: resume, request: UInt32(attempt))
            let answer = try await Self.next(other) { m -> UInt32?? in
                if case .joined(_, let p, _, _, _, _, _, _) = m { return .some(p) }
                if case .refused(_, let code, _, _) = m, code == ErrorCode.resumeTokenInUse.rawValue { return .some(nil) }
                return nil
            }
            if case .some(.some(let p)) = answer { resumed = p } else { refusedInUse += 1; try await Task.sleep(nanoseconds: 1_000_000_000) }
        }
        #expect(resumed == seat, "taken back through the gateway")
        #expect(refusedInUse >= 2 && Date().timeIntervalSince(joinedAt) >= 8, "held while its gateway was within its 10 s: \(refusedInUse) refusals")
        #expect(Self.participants(rig.scenes) == 1)
        await other.close()
        await nats.close()
        await rig.stop()
    }
}

final class PositionLog: Sendable {
    private let seen = Mutex<[UInt64: SIMD2<Double>]>([:])
    func note(_ tick: UInt64, _ at: SIMD2<Double>) { seen.withLock { $0[tick] = at } }
    func at(_ tick: UInt64) -> SIMD2<Double>? { seen.withLock { $0[tick] } }
}
