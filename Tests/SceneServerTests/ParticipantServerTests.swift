import CityTiles
import Foundation
import Logging
import NIOCore
import Scenarios
import SceneClient
import SceneCore
import SceneServer
import SceneWire
import Testing

/// Participants over a real server (protocol version 3): Join, inputs and their
/// acknowledgement, every refusal with its code, drops and returns with the resume token, the
/// grace period, floods, and the server's input log replayed to its own checkpoints.
@Suite(.serialized) struct ParticipantServerTests {
    static func serve(policy: JoinPolicy = JoinPolicy(access: .open, maxParticipants: 200, graceSeconds: 30),
                      configure: (inout ServerConfiguration) -> Void = { _ in }) async throws -> (SceneServer, Int) {
        try await ProtocolV2Tests.serve("marathon.scene.json", configure: configure) {
            $0.parameters["runners"] = 300
            $0.parameters["spectators"] = 20
            $0.parameters["waveGapSeconds"] = 0.5
            $0.participants = policy
        }
    }

    static func client(_ port: Int, _ name: String = "p") async throws -> SceneClient {
        let c = try await SceneClient.connect(host: "127.0.0.1", port: port, name: name)
        #expect(c.version == 3)
        return c
    }

    /// The first message `match` takes (it returns non-nil), within `limit` seconds.
    static func next<T>(_ client: SceneClient, limit: Double = 60, _ match: (WireMessage) -> T?) async throws -> T? {
        let (expired, watchdog) = Deadline.watch(client, limit: limit)
        defer { watchdog.cancel() }
        for try await m in client.messages { if let t = match(m) { return t } }
        if expired.fired { Issue.record("nothing matching within \(limit) s") }
        return nil
    }

    static func joined(_ client: SceneClient) async throws -> (participant: UInt32, token: String, tick: UInt64)? {
        try await next(client) { m in
            if case .joined(_, let p, let tick, _, _, _, _, let token) = m { return (p, token, tick) }
            if case .refused(_, let code, _, let text) = m { Issue.record("refused \(code): \(text)"); return nil }
            return nil
        }
    }

    static func refusal(_ client: SceneClient) async throws -> (request: UInt32, code: UInt16, count: UInt32, text: String)? {
        try await next(client) { m in
            if case .refused(let r, let code, let count, let text) = m { return (r, code, count, text) }
            if case .error(let code, let text) = m { Issue.record("error \(code): \(text)") }
            return nil
        }
    }

    /// Where the view has an entity, metres from the scene origin.
    static func position(_ view: SceneView, _ id: UInt32) -> SIMD2<Double>? {
        let q = view.info?.quantum ?? 0.01
        var at: SIMD2<Double>?
        view.decoder.forEach { e, _, x, y in if e == id { at = SIMD2(Double(x) * q, Double(y) * q) } }
        return at
    }

    static func join(_ c: SceneClient, name: String = "Ann", start: WireStart = .line, joinToken: String = "", resume: String = "", request: UInt32 = 1) {
        c.send(.join(request: request, scene: "marathon", name: name, start: start, joinToken: joinToken, resumeToken: resume))
    }

    @Test func aParticipantJoinsRunsIsAcknowledgedAndSeenByWatchers() async throws {
        let (server, port) = try await Self.serve()
        let runner = try await Self.client(port, "runner")
        Self.join(runner, name: "Ann Example")
        let j = try #require(try await Self.joined(runner))
        runner.send(.input(participant: j.participant, sequence: 1, input: .treadmill(speed: 6)))
        let ack = try #require(try await Self.next(runner) { m -> (UInt32, UInt64)? in
            if case .inputAck(let p, let seq, let tick, _, _) = m, p == j.participant { return (seq, tick) }
            return nil
        })
        #expect(ack.0 == 1)
        #expect(ack.1 > j.tick, "the frame showing the input is after the join")
        // A watcher sees the participant by name, of kind participant, moving.
        let watcher = try await Self.client(port, "watcher")
        watcher.send(.subscribe(subscription: 1, scene: "marathon", area: nil))
        var view = SceneView(subscription: 1, version: 3)
        var first: (at: SIMD2<Double>, tick: UInt64)?, last: (at: SIMD2<Double>, tick: UInt64)?
        _ = try await collect(watcher, view: &view, frames: 40) { v, u in
            if let p = Self.position(v, j.participant) { if first == nil { first = (p, u.tick) }; last = (p, u.tick) }
        }
        let info = try #require(view.identities[j.participant])
        #expect(info.label == "Ann Example")
        #expect(info.group == "participants")
        #expect(view.info?.kinds.first { $0.code == info.kind }?.name == "participant")
        // Within the human limit (12.5 m/s) over the ticks between the first and last frame
        // that showed it, which may be more than 40 when frames were skipped for a slow reader.
        let a = try #require(first), b = try #require(last)
        let moved = ((b.at.x - a.at.x) * (b.at.x - a.at.x) + (b.at.y - a.at.y) * (b.at.y - a.at.y)).squareRoot()
        let seconds = Double(b.tick - a.tick) / Double(view.info?.tickRate ?? 20)
        #expect(b.tick - a.tick >= 20, "seen over \(b.tick - a.tick) ticks")
        #expect(moved > 0.5 && moved <= 12.5 * seconds + 0.1, "moved \(moved) m in \(seconds) s (ticks \(a.tick) to \(b.tick), joined at \(j.tick), acknowledged at \(ack.1), at \(a.at); its values \(view.attributes[j.participant] ?? [:]); participants \(server.metrics.exposition().split(separator: "\n").filter { $0.hasPrefix("twinscene_participants") })")
        runner.send(.leave(participant: j.participant))
        // Frames already on their way still show it; within a few hundred it is gone.
        var frames = 0
        _ = try await Self.next(watcher, limit: 120) { m -> Bool? in
            guard (try? view.apply(m)) ?? nil != nil else { return nil }
            frames += 1
            return view.visible.contains(j.participant) && frames < 400 ? nil : true
        }
        #expect(!view.visible.contains(j.participant), "a participant that left is gone")
        await runner.close(); await watcher.close()
        await server.shutdown()
    }

    @Test func badInputsAreRefusedWithTheirCodesAndNothingElseIsDisturbed() async throws {
        let (server, port) = try await Self.serve()
        let c = try await Self.client(port)
        // Before Join.
        c.send(.input(participant: 0, sequence: 1, input: .treadmill(speed: 3)))
        #expect(try await Self.refusal(c)?.code == ErrorCode.notJoined.rawValue)
        Self.join(c)
        let j = try #require(try await Self.joined(c))
        let cases: [(WireMessage, ErrorCode)] = [
            (.input(participant: j.participant + 1, sequence: 2, input: .treadmill(speed: 3)), .notYourEntity),
            (.input(participant: j.participant, sequence: 3, input: .treadmill(speed: .nan)), .badInputValue),
            (.input(participant: j.participant, sequence: 4, input: .heading(radians: .infinity, speed: 1)), .badInputValue),
            (.input(participant: j.participant, sequence: 5, input: .treadmill(speed: 50)), .overHumanLimit),
            (.input(participant: j.participant, sequence: 6, input: .fix(x: 400, y: 300, timeMicros: 1)), .positionJump),
            (.input(participant: j.participant, sequence: 6, input: .treadmill(speed: 3)), .staleSequence),
            (.join(request: 9, scene: "marathon", name: "again", start: .line, joinToken: "", resumeToken: ""), .alreadyJoined),
        ]
        var seen: Set<ErrorCode> = []
        for (m, code) in cases {
            // Refusals of one code are answered once a second.
            if !seen.insert(code).inserted { try await Task.sleep(nanoseconds: 1_050_000_000) }
            c.send(m)
            let r = try #require(try await Self.refusal(c))
            #expect(r.code == code.rawValue, "\(m): got \(r.code) \(r.text)")
        }
        // Still connected and still in control.
        c.send(.input(participant: j.participant, sequence: 7, input: .treadmill(speed: 3)))
        let ack = try await Self.next(c) { m -> UInt32? in if case .inputAck(_, let s, _, _, _) = m { return s } else { return nil } }
        #expect(ack == 7)
        let text = server.metrics.exposition()
        for code in ["notJoined", "notYourEntity", "badInputValue", "overHumanLimit", "positionJump", "staleSequence", "alreadyJoined"] {
            #expect(text.contains("twinscene_participant_refusals_total{code=\"\(code)\"}"), "metric for \(code)")
        }
        await c.close()
        await server.shutdown()
    }

    @Test func aThousandInputsASecondAreDroppedCountedAndAnsweredOnceASecond() async throws {
        let (server, port) = try await Self.serve()
        let c = try await Self.client(port)
        Self.join(c)
        let j = try #require(try await Self.joined(c))
        // Frames keep coming (an area with nobody in it), so waiting below is bounded by time.
        c.send(.subscribe(subscription: 1, scene: "marathon", area: WireArea(minX: 0, minY: 0, maxX: 1, maxY: 1)))
        // 1,000 inputs as fast as the client sends them: the burst of 20 passes, then 20 a
        // second; the rest are dropped, counted, and answered by one Refused a second at most.
        func metric(_ name: String) -> Double {
            server.metrics.exposition().split(separator: "\n").first { $0.hasPrefix(name + " ") }.flatMap { Double($0.split(separator: " ")[1]) } ?? 0
        }
        let applied = { metric("twinscene_inputs_applied_total") }
        let dropped = { metric("twinscene_participant_refusals_total{code=\"inputRateExceeded\"}") }
        let start = Date()
        for k in 1...1_000 { c.send(.input(participant: j.participant, sequence: UInt32(k), input: .treadmill(speed: 4))) }
        var refusals: [UInt32] = [], acks = 0
        _ = try await Self.next(c, limit: 120) { m -> Bool? in
            switch m {
            case .refused(_, let code, let count, _):
                #expect(code == ErrorCode.inputRateExceeded.rawValue)
                refusals.append(count)
            case .inputAck: acks += 1
            default: break
            }
            return applied() + dropped() >= 1_000 && acks >= 1 ? true : nil
        }
        let elapsed = Date().timeIntervalSince(start)
        let firstDropped = dropped()
        #expect(applied() >= 20 && applied() <= 20 + 20 * elapsed + 1, "applied \(applied()) in \(elapsed) s")
        #expect(applied() + firstDropped == 1_000)
        #expect(refusals.count <= Int(elapsed) + 1, "at most one Refused a second: \(refusals.count) in \(elapsed) s")
        // A second later, the next refusal carries the count of those held back meanwhile:
        // the counts of all Refused add up to every drop so far.
        try await Task.sleep(nanoseconds: 1_100_000_000)
        for k in 2_001...2_060 { c.send(.input(participant: j.participant, sequence: UInt32(k), input: .treadmill(speed: 4))) }
        _ = try await Self.next(c, limit: 120) { m -> Bool? in
            if case .refused(_, _, let count, _) = m { refusals.append(count); return true }
            return nil
        }
        let total = refusals.reduce(0) { $0 + Double($1) }
        #expect(total > firstDropped - 1 && total <= dropped(), "counts \(refusals) add up to \(total); dropped \(firstDropped), then \(dropped())")
        await c.close()
        await server.shutdown()
    }

    @Test func namesTokensAndPoliciesAreChecked() async throws {
        let (server, port) = try await Self.serve(policy: JoinPolicy(access: .token("sesame-street-42"), maxParticipants: 2))
        let c = try await Self.client(port)
        for (name, token, code) in [("Ann", "", ErrorCode.badJoinToken), ("Ann", "wrong-token-guess", .badJoinToken),
                                    (String(repeating: "x", count: 60_000), "sesame-street-42", .badName),
                                    ("a\u{1B}[2J", "sesame-street-42", .badName), ("", "sesame-street-42", .badName)] {
            Self.join(c, name: name, joinToken: token)
            let r = try #require(try await Self.refusal(c))
            #expect(r.code == code.rawValue, "\(name.prefix(10)): \(r.text)")
            // Refusals of one code are answered once a second.
            try await Task.sleep(nanoseconds: 1_050_000_000)
        }
        c.send(.join(request: 1, scene: "nowhere", name: "Ann", start: .line, joinToken: "", resumeToken: ""))
        #expect(try await Self.refusal(c)?.code == ErrorCode.unknownScene.rawValue)
        Self.join(c, name: "Ann", joinToken: "sesame-street-42")
        #expect(try await Self.joined(c) != nil)
        let d = try await Self.client(port), e = try await Self.client(port)
        Self.join(d, name: "Bo", joinToken: "sesame-street-42")
        #expect(try await Self.joined(d) != nil)
        Self.join(e, name: "Cy", joinToken: "sesame-street-42")
        #expect(try await Self.refusal(e)?.code == ErrorCode.sceneFull.rawValue)
        // A 10 MB name does not fit a client frame: Error 2, the connection closes.
        let f = try await Self.client(port)
        Self.join(f, name: String(repeating: "n", count: 10 << 20))
        let error = try await Self.next(f) { m -> UInt16? in if case .error(let code, _) = m { return code } else { return nil } }
        #expect(error == ErrorCode.frameTooLarge.rawValue)
        for x in [c, d, e, f] { await x.close() }
        await server.shutdown()

        let (closed, closedPort) = try await Self.serve(policy: .closed)
        let g = try await Self.client(closedPort)
        Self.join(g)
        #expect(try await Self.refusal(g)?.code == ErrorCode.notJoinable.rawValue)
        await g.close()
        await closed.shutdown()
    }

    @Test func wrongTokensAndJoinFloodsFromOneAddressAreThrottled() async throws {
        let (server, port) = try await Self.serve(policy: JoinPolicy(access: .token("sesame-street-42"), maxParticipants: 50)) {
            $0.joinsPerSecondPerAddress = 5; $0.joinBurstPerAddress = 10
        }
        // Five wrong tokens (over several connections) and the address backs off.
        for k in 0..<5 {
            let c = try await Self.client(port)
            Self.join(c, joinToken: "guess-\(k)-guess-guess")
            #expect(try await Self.refusal(c)?.code == ErrorCode.badJoinToken.rawValue)
            await c.close()
        }
        let late = try await Self.client(port)
        Self.join(late, joinToken: "sesame-street-42")
        let r = try #require(try await Self.refusal(late))
        #expect(r.code == ErrorCode.joinThrottled.rawValue, "\(r.text)")
        await late.close()
        await server.shutdown()

        let (open, openPort) = try await Self.serve(policy: JoinPolicy(access: .open, maxParticipants: 50)) {
            $0.joinsPerSecondPerAddress = 0.001; $0.joinBurstPerAddress = 10
        }
        var clients: [SceneClient] = [], joined = 0, throttled = 0
        for k in 0..<16 {
            let c = try await Self.client(openPort)
            Self.join(c, name: "flood \(k)")
            let m = try await Self.next(c) { m -> UInt16? in
                if case .joined = m { return 0 }
                if case .refused(_, let code, _, _) = m { return code }
                return nil
            }
            if m == 0 { joined += 1 } else if m == ErrorCode.joinThrottled.rawValue { throttled += 1 }
            clients.append(c)
        }
        #expect(joined == 10, "the burst of 10 (the rate refills one in 1,000 s): \(joined)")
        #expect(throttled == 16 - joined)
        for c in clients { await c.close() }
        await open.shutdown()
    }

    @Test func aDroppedParticipantIsAwayThenTakenBackWithItsTokenAndOnlyOnce() async throws {
        // The grace period is 10 s of ticks; everyone connects first, so slow connects under
        // load do not use it up.
        let (server, port) = try await Self.serve(policy: JoinPolicy(access: .open, maxParticipants: 10, graceSeconds: 10))
        let watcher = try await Self.client(port, "watcher"), b = try await Self.client(port, "b")
        let a = try await Self.client(port, "a")
        Self.join(a, name: "Dee")
        let j = try #require(try await Self.joined(a))
        a.send(.input(participant: j.participant, sequence: 1, input: .treadmill(speed: 5)))
        _ = try await Self.next(a) { m -> Bool? in if case .inputAck = m { return true } else { return nil } }
        // While a is connected, its token is in use.
        let thief = try await Self.client(port, "thief")
        Self.join(thief, resume: j.token)
        #expect(try await Self.refusal(thief)?.code == ErrorCode.resumeTokenInUse.rawValue)
        Self.join(thief, resume: "00000000000000000000000000000000", request: 2)
        try await Task.sleep(nanoseconds: 1_050_000_000)
        #expect(try await Self.refusal(thief)?.code == ErrorCode.badResumeToken.rawValue)
        await a.close()
        // Away: standing still, marked so.
        watcher.send(.subscribe(subscription: 1, scene: "marathon", area: nil))
        var view = SceneView(subscription: 1, version: 3)
        var positions: [SIMD2<Double>] = []
        _ = try await collect(watcher, view: &view, frames: 12) { v, _ in if let p = Self.position(v, j.participant) { positions.append(p) } }
        let away = view.info?.kinds.first { $0.name == "participant" }?.attributes.firstIndex { $0.name == "away" }
        #expect(view.attributes[j.participant]?[UInt8(try #require(away))] == 1)
        #expect(Set(positions.suffix(6).map { "\($0)" }).count == 1, "standing still while away")
        // Taken back within the grace period: the same entity, moving again.
        Self.join(b, resume: j.token)
        let back = try #require(try await Self.joined(b))
        #expect(back.participant == j.participant)
        b.send(.input(participant: j.participant, sequence: 1, input: .treadmill(speed: 5)))
        _ = try await collect(watcher, view: &view, frames: 20)
        #expect(view.attributes[j.participant]?[UInt8(away!)] == 0)
        // Dropped again and not taken back: gone after the grace period (200 ticks), token void.
        await b.close()
        var goneAfter = 0
        _ = try await Self.next(watcher, limit: 120) { m -> Bool? in
            guard (try? view.apply(m)) ?? nil != nil else { return nil }
            goneAfter += 1
            return view.visible.contains(j.participant) ? nil : true
        }
        #expect(!view.visible.contains(j.participant), "left after its grace period")
        #expect(goneAfter >= 190, "not before the grace period: gone after \(goneAfter) frames")
        Self.join(thief, resume: j.token, request: 3)
        try await Task.sleep(nanoseconds: 1_050_000_000)
        #expect(try await Self.refusal(thief)?.code == ErrorCode.badResumeToken.rawValue)
        await thief.close(); await watcher.close()
        await server.shutdown()
    }

    @Test func theLoadGeneratorDrivesParticipantsThatWatchTheirOwnArea() async throws {
        let (server, port) = try await Self.serve()
        var config = LoadConfiguration()
        config.port = port
        config.clients = 2
        config.participants = 20
        // Twenty inputs each, until the last is acknowledged, however long a busy machine
        // takes (two minutes at the most): a count, not a 4 s window. Acknowledgements are one
        // a tick naming the last input applied, so their number depends on the tick rate;
        // that every participant's last input was applied does not.
        config.inputsPerParticipant = 20
        config.framesPerClient = 40   // the two watchers: forty frames each
        config.seconds = 120
        config.scene = "marathon"
        let report = await LoadGenerator.run(config)
        #expect(report.errors.isEmpty, "\(report.errors)")
        #expect(report.participantsJoined == 20)
        #expect(report.inputsSent == 20 * 20, "sent \(report.inputsSent)")
        #expect(report.participantsFullyAcked == 20, "\(report.participantsFullyAcked) of 20 had their last input acknowledged")
        #expect(report.inputsAcked >= 20 && report.inputsAcked <= report.inputsSent, "acked \(report.inputsAcked)")
        #expect(report.inputToFrameP50Ms > 0 && report.inputToFrameP99Ms >= report.inputToFrameP50Ms)
        #expect(report.participantDeliveredRatio > 0.5)
        #expect(report.refusals == 0)
        // The server's own count agrees with what the clients had acknowledged.
        let applied = server.metrics.exposition().split(separator: "\n").first { $0.hasPrefix("twinscene_inputs_applied_total ") }
        #expect(applied.flatMap { Double($0.split(separator: " ")[1]) }.map { $0 >= Double(report.inputsAcked) } == true)
        await server.shutdown()
    }

    /// A hundred participants over the network with seeded inputs; the server's input log,
    /// replayed into the same scene and seed, reaches the hash the server wrote at its stop.
    @Test func theServersInputLogReplaysToItsFinalHash() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("inputs-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var manifest: SceneManifest?
        let (server, port) = try await ProtocolV2Tests.serve("marathon.scene.json", configure: { $0.inputLogDirectory = dir }) {
            $0.parameters["runners"] = 300
            $0.parameters["spectators"] = 20
            $0.parameters["waveGapSeconds"] = 0.5
            $0.participants = JoinPolicy(access: .open, maxParticipants: 200)
            manifest = $0
        }
        var clients: [(SceneClient, UInt32)] = []
        for k in 0..<100 {
            let c = try await Self.client(port, "p\(k)")
            Self.join(c, name: "runner \(k)", start: k % 3 == 0 ? .line : .wave(UInt8(1 + k % 4)))
            clients.append((c, try #require(try await Self.joined(c)).participant))
        }
        var rng = SeededGenerator(seed: 5)
        for round in 1...20 {
            for (c, p) in clients {
                let input: WireInput = Bool.random(using: &rng) ? .treadmill(speed: Float.random(in: 1...9, using: &rng))
                    : .heading(radians: Float.random(in: -3...3, using: &rng), speed: Float.random(in: 0...6, using: &rng))
                c.send(.input(participant: p, sequence: UInt32(round), input: input))
            }
            try await Task.sleep(nanoseconds: 100_000_000)
        }
        for (c, _) in clients.prefix(10) { await c.close() }   // ten drop: away in the log
        try await Task.sleep(nanoseconds: 300_000_000)
        await server.shutdown()
        for (c, _) in clients.dropFirst(10) { await c.close() }
        let text = try String(contentsOfFile: dir + "/marathon.inputs", encoding: .utf8)
        let log = try InputLog.parse(text)
        let joins = log.entries.filter { if case .join = $0.op { true } else { false } }.count
        let inputs = log.entries.filter { if case .input = $0.op { true } else { false } }.count
        let aways = log.entries.compactMap { if case .away(let slot, true) = $0.op { slot } else { nil } }
        #expect(joins == 100)
        #expect(inputs > 1_500, "inputs logged: \(inputs)")
        // The ten that dropped are away; the others may be too, if their connections closed
        // after the shutdown's Goodbye before the scene's last tick.
        let dropped = Set(clients.prefix(10).map(\.1))
        #expect(dropped.isSubset(of: Set(aways)), "dropped \(dropped.sorted()), away \(aways)")
        #expect(Set(aways).count == aways.count && aways.count <= 100)
        guard case .hash = log.entries.last?.op else { Issue.record("no final hash"); return }
        let scene = try SceneLoader.load(try #require(manifest), catalog: try Catalog(), workers: 3)
        #expect(try scene.replay(log) >= 1)
    }
}
