import CityTiles
import Foundation
import StrictJSON
import Testing
@testable import Scenarios
@testable import SceneCore

/// Participants in the marathon, without a server: the scene's side of joining, inputs within
/// human limits, away and back, and the input log replayed to the same state hash.
@Suite struct ParticipantTests {
    static func manifest(runners: Int = 200, distance: Double = 3_000, max: Int = 500, tickRate: Int = 10) throws -> SceneManifest {
        var m = try MarathonTests.manifest(runners: runners, distance: distance, waves: 2, tickRate: tickRate)
        m.participants = JoinPolicy(access: .open, maxParticipants: max)
        return m
    }

    static func scene(_ m: SceneManifest, workers: Int = 2) throws -> LoadedScene {
        try SceneLoader.load(m, catalog: try Catalog(), workers: workers)
    }

    /// Speed between two ticks from positions, m/s.
    static func speed(_ a: SIMD2<Float>, _ b: SIMD2<Float>, dt: Float) -> Float { (((b - a) * (b - a)).sum()).squareRoot() / dt }

    @Test func treadmillRunsTheCourseWithinTheLimitsGetsSplitsAFinishAndTheLeaderboard() async throws {
        try await offThePool { try Self.treadmill() }
    }

    static func treadmill() throws {
        let scene = try Self.scene(try Self.manifest(runners: 30, distance: 2_100))
        let h = try scene.join(name: "Ann Example", start: .line)
        #expect(scene.world.store.kind[scene.world.store.dense(of: h)!] == MarathonScenario.participant.code)
        #expect(scene.scenario.identity(slot: h.index, in: scene.world)?.label == "Ann Example")
        #expect(scene.scenario.identity(slot: h.index, in: scene.world)?.group == "participants")
        try scene.input(.treadmill(speed: 12.5), to: h)
        let dt = scene.world.dt
        var last = scene.world.store.position(of: h)!
        var lastSpeed: Float = 0
        var splits: [Float] = [], finish: Float?, onBoard = false, started = false
        var fastest: Float = 0, hardest: Float = 0
        for _ in 0..<1_800 {
            let out = scene.tick()
            for e in out.events where e.entity == h.index {
                switch e.kind {
                case MarathonScenario.Event.start: started = true
                case MarathonScenario.Event.split: splits.append(e.value)
                case MarathonScenario.Event.finish: finish = e.value
                case MarathonScenario.Event.leaderboard: onBoard = true
                default: break
                }
            }
            let now = scene.world.store.position(of: h)!
            let v = Self.speed(last, now, dt: dt)
            fastest = max(fastest, v)
            // The ramp, on the first leg (560 m straight): speed from positions is exact there.
            if scene.world.tick < 100 { hardest = max(hardest, (v - lastSpeed) / dt) }
            last = now; lastSpeed = v
        }
        #expect(started)
        #expect(fastest <= 12.5 * 1.001, "fastest \(fastest) m/s")
        #expect(hardest <= 5 * 1.05, "hardest acceleration \(hardest) m/s²")
        #expect(splits.count == 2)
        // 2,100 m at 12.5 m/s after a 2.5 s ramp: 169.25 s, within a tick.
        let expected: Float = 2.5 + (2_100 - 12.5 * 2.5 / 2) / 12.5
        #expect(abs((finish ?? 0) - expected) < 0.3, "finish \(String(describing: finish)), expected about \(expected)")
        #expect(onBoard, "the fastest runner leads the leaderboard")
        #expect(scene.world.attributes.float(slot: h.index, attribute: MarathonScenario.Attribute.finishTime.rawValue) == finish)
    }

    @Test func inputsOutsideTheLimitsAreRefusedAndChangeNothing() throws {
        let scene = try Self.scene(try Self.manifest())
        let h = try scene.join(name: "Bo", start: .line)
        let before = scene.world.stateHash()
        let bad: [(ParticipantInput, String)] = [
            (.treadmill(speed: .nan), "badValue"), (.treadmill(speed: .infinity), "badValue"), (.treadmill(speed: -1), "badValue"),
            (.treadmill(speed: 12.6), "overLimit"), (.heading(radians: .nan, speed: 3), "badValue"),
            (.heading(radians: 100, speed: 3), "badValue"), (.heading(radians: 1, speed: 99), "overLimit"),
            (.fix(x: .nan, y: 3, timeMicros: 1), "badValue"), (.fix(x: -5, y: 3, timeMicros: 1), "badValue"),
            (.fix(x: 300, y: 300, timeMicros: 1), "jump"),
        ]
        for (input, kind) in bad {
            do {
                try scene.input(input, to: h)
                Issue.record("\(input) was accepted")
            } catch {
                #expect("\(Mirror(reflecting: error).children.first?.label ?? "")" == kind, "\(input): \(error)")
            }
        }
        #expect(scene.world.stateHash() == before)
        // Fixes: from the participant's place, then no faster than 12.5 m/s plus 25 m of noise.
        let here = scene.world.store.position(of: h)!
        try scene.input(.fix(x: here.x + 3, y: here.y, timeMicros: 1_000_000), to: h)
        #expect(throws: ParticipationRefusal.self) { try scene.input(.fix(x: here.x + 4, y: here.y, timeMicros: 1_000_000), to: h) }
        #expect(throws: ParticipationRefusal.self) { try scene.input(.fix(x: here.x + 3 + 12.5 + 26, y: here.y, timeMicros: 2_000_000), to: h) }
        try scene.input(.fix(x: here.x + 3 + 12.5 + 24, y: here.y, timeMicros: 2_000_000), to: h)
    }

    @Test func nobodyEntersABuildingAndAwayStandsStillThenLeaves() throws {
        let scene = try Self.scene(try Self.manifest())
        var hs: [EntityHandle] = []
        for k in 0..<24 {
            let h = try scene.join(name: "p\(k)", start: .line)
            try scene.input(.heading(radians: Float(k) * .pi / 12, speed: 6), to: h)
            hs.append(h)
        }
        for _ in 0..<300 { _ = scene.tick() }
        for h in hs {
            let p = scene.world.store.position(of: h)!
            #expect(!scene.footprints.contains { $0.contains(x: p.x, y: p.y) }, "participant at \(p) inside a building")
        }
        let h = hs[0]
        scene.setAway(true, h)
        #expect(scene.world.attributes.int(slot: h.index, attribute: MarathonScenario.Attribute.away.rawValue) == 1)
        let p0 = scene.world.store.position(of: h)!
        for _ in 0..<20 { _ = scene.tick() }
        #expect(scene.world.store.position(of: h)! == p0)
        scene.setAway(false, h)
        try scene.input(.treadmill(speed: 4), to: h)
        for _ in 0..<20 { _ = scene.tick() }
        #expect(scene.world.store.position(of: h)! != p0)
        let count = scene.world.store.count
        scene.leave(h)
        #expect(scene.world.store.count == count - 1)
        #expect(scene.roster.present == 23)
        #expect(!scene.world.store.isValid(h))
    }

    @Test func theMaximumHoldsAndClosedScenesTakeNobody() throws {
        let scene = try Self.scene(try Self.manifest(max: 3))
        for k in 0..<3 { _ = try scene.join(name: "p\(k)", start: .wave(1)) }
        #expect(throws: ParticipationRefusal.full("the scene holds its maximum of 3 participants")) { try scene.join(name: "late", start: .line) }
        #expect(throws: ParticipationRefusal.self) { try scene.join(name: "x", start: .wave(7)) }
        var closed = try Self.manifest()
        closed.participants = .closed
        let c = try Self.scene(closed)
        #expect(!c.joinable)
        #expect(throws: ParticipationRefusal.self) { try c.join(name: "x", start: .line) }
    }

    @Test func namesAreBoundedAndFreeOfControlCharacters() {
        #expect(ParticipantName.problem("Zoë de Vries") == nil)
        #expect(ParticipantName.problem("跑者 🏃") == nil)
        #expect(ParticipantName.problem(String(repeating: "a", count: 33)) != nil)
        #expect(ParticipantName.problem(String(repeating: "é", count: 17)) != nil)   // 34 bytes
        #expect(ParticipantName.problem("") != nil)
        #expect(ParticipantName.problem("   ") != nil)
        for bad in ["a\u{0}b", "a\nb", "a\tb", "\u{7F}", "a\u{202E}b", "a\u{2028}b", "\u{1B}[31m"] {
            #expect(ParticipantName.problem(bad) != nil, "\(bad.unicodeScalars.map { $0.value })")
        }
    }

    /// Hundreds of participants with seeded random inputs: the same hash for 1 and 3 workers,
    /// and the recorded log, through its text, replayed into a fresh scene gives the same hash
    /// at every checkpoint.
    @Test func theInputLogReplaysToTheSameStateHashWhateverTheWorkers() async throws {
        // Seconds of work: on a Dispatch thread, not one of the test pool's two.
        try await offThePool { try Self.replayTheLog() }
    }

    static func replayTheLog() throws {
        let m = try Self.manifest(runners: 400, distance: 5_000, max: 400)
        func run(workers: Int) throws -> (UInt64, InputLog) {
            let scene = try Self.scene(m, workers: workers)
            scene.roster.log = InputLog()
            var rng = SeededGenerator(seed: 77)
            var hs: [EntityHandle] = []
            let probe = try scene.join(name: "probe", start: .line)
            for tick in 0..<240 {
                if tick == 150 { try scene.input(.treadmill(speed: 10), to: probe) }
                if tick < 60 {
                    for _ in 0..<5 {
                        let start: ParticipantStart = Bool.random(using: &rng) ? .line : .wave(Int.random(in: 0..<2, using: &rng))
                        hs.append(try scene.join(name: "runner \(hs.count)", start: start))
                    }
                }
                for h in hs where scene.world.store.isValid(h) && Int.random(in: 0..<4, using: &rng) == 0 {
                    switch Int.random(in: 0..<10, using: &rng) {
                    case 0..<5: try scene.input(.treadmill(speed: Float.random(in: 0...12.5, using: &rng)), to: h)
                    case 5..<8: try scene.input(.heading(radians: Float.random(in: -3...3, using: &rng), speed: Float.random(in: 0...8, using: &rng)), to: h)
                    case 8: scene.setAway(Bool.random(using: &rng), h)
                    default: if Int.random(in: 0..<20, using: &rng) == 0 { scene.leave(h) }
                    }
                }
                _ = scene.tick()
                if tick % 60 == 59 { scene.roster.log?.append(tick: scene.world.tick, .hash(scene.world.stateHash())) }
            }
            return (scene.world.stateHash(), scene.roster.log!)
        }
        let (one, log) = try run(workers: 1)
        let (three, log3) = try run(workers: 3)
        #expect(one == three)
        #expect(log == log3)
        #expect(log.entries.count > 3_000)
        let parsed = try InputLog.parse(log.text)
        #expect(parsed == log)
        let fresh = try Self.scene(m, workers: 2)
        let checked = try fresh.replay(parsed, throughTick: 240)
        #expect(checked == 4)
        #expect(fresh.world.stateHash() == one)
        // A log altered in one input no longer reproduces its checkpoints.
        let probe = try #require(log.entries.first { $0.tick == 150 && { if case .input(_, .treadmill(10)) = $0 { true } else { false } }($0.op) })
        guard case .input(let slot, _) = probe.op else { return }
        let text = log.text.replacingOccurrences(of: "\n150 input \(slot) treadmill 10.0\n", with: "\n150 input \(slot) treadmill 2.0\n")
        #expect(text != log.text, "the probe's input is in the log")
        let other = try Self.scene(m, workers: 2)
        #expect(throws: ReplayMismatch.self) { try other.replay(try InputLog.parse(text)) }
    }

    /// An operator walks the factory floor by position fixes: within a person's limits, never
    /// inside a machine, and the AGVs give way to it.
    @Test func anOperatorWalksTheFloorAndAGVsGiveWay() async throws {
        try await offThePool { try Self.factoryOperator() }
    }

    static func factoryOperator() throws {
        var m = try SceneManifest.load(path: MarathonTests.root.appendingPathComponent("Scenes/factory.scene.json").path)
        m.participants = JoinPolicy(access: .open, maxParticipants: 5)
        let scene = try SceneLoader.load(m, catalog: try Catalog(), workers: 2)
        let factory = try #require(scene.scenario as? FactoryScenario)
        #expect(throws: ParticipationRefusal.self) { try scene.join(name: "late wave", start: .wave(0)) }
        let h = try scene.join(name: "Olga", start: .line)
        #expect(scene.scenario.identity(slot: h.index, in: scene.world)?.group == "operators")
        #expect(throws: ParticipationRefusal.self) { try scene.input(.treadmill(speed: 1), to: h) }
        #expect(throws: ParticipationRefusal.self) { try scene.input(.heading(radians: 0, speed: 3), to: h) }   // over 2.5 m/s
        // To the aisle of station 0, where AGVs load, by two fixes.
        let station = factory.stations[0]
        let start = scene.world.store.position(of: h)!
        let mid = (start + station) / 2
        try scene.input(.fix(x: mid.x, y: mid.y, timeMicros: 1_000_000), to: h)
        try scene.input(.fix(x: station.x, y: station.y, timeMicros: 4_000_000), to: h)
        let dt = scene.world.dt
        var last = start, fastest: Float = 0
        var nearest = Float.infinity
        for k in 0..<2_400 {
            _ = scene.tick()
            let now = scene.world.store.position(of: h)!
            fastest = max(fastest, ((now - last) * (now - last)).sum().squareRoot() / dt)
            last = now
            #expect(!scene.footprints.contains { $0.contains(x: now.x, y: now.y) }, "the operator inside a machine at \(now)")
            if k > 200 {
                let store = scene.world.store
                for i in 0..<store.count where store.kind[i] == FactoryScenario.agv.code {
                    let d = SIMD2(store.x[i], store.y[i]) - now
                    nearest = min(nearest, (d * d).sum().squareRoot())
                }
            }
        }
        let end = scene.world.store.position(of: h)!
        #expect(((end - station) * (end - station)).sum().squareRoot() < 0.5, "reached the station aisle: \(end) for \(station)")
        #expect(fastest <= 2.5 * 1.001, "walked at most 2.5 m/s: \(fastest)")
        #expect(nearest > 0.9, "AGVs keep off a person standing in their aisle: nearest \(nearest) m")
        #expect(nearest < 4, "an AGV did come to the station (the test means something): nearest \(nearest) m")
    }

    @Test func badLogLinesAreNamed() {
        #expect(throws: InputLogError(line: 1, problem: "expected the header \"twinscene-inputs 1\"")) { try InputLog.parse("hello\n") }
        for (text, line) in [("0 join x line a", 2), ("0 input 1 treadmill", 2), ("0 input 1 fly 3", 2), ("5 leave 1\n4 leave 2", 3),
                             ("0 away 1 2", 2), ("0 hash zz", 2), ("x join 1 line a", 2), ("0 join 1 wave:q a", 2)] {
            do {
                _ = try InputLog.parse(InputLog.header + text + "\n")
                Issue.record("\(text) was accepted")
            } catch {
                #expect(error.line == line, "\(text): \(error)")
            }
        }
    }

    @Test func manifestsSayWhoMayJoin() throws {
        func parse(_ participants: String, scenario: String = "marathon") throws -> SceneManifest {
            let text = """
            {"name": "m", "scenario": "\(scenario)", "bounds": [0, 0, 100, 100], "route": [[1, 1], [90, 1], [90, 90]], "participants": \(participants)}
            """
            return try SceneManifest.parse(try JSONParser.parse(Array(text.utf8)), file: "m.scene.json")
        }
        #expect(try parse(#"{"join": "open", "max": 10}"#).participants == JoinPolicy(access: .open, maxParticipants: 10))
        #expect(try parse(#"{"join": "token", "token": "let-me-in-please", "graceSeconds": 5}"#).participants
                == JoinPolicy(access: .token("let-me-in-please"), maxParticipants: 1000, graceSeconds: 5))
        #expect(try parse(#"{}"#).participants == .closed)
        for (bad, path) in [(#"{"join": "maybe"}"#, "$.participants.join"), (#"{"join": "token", "token": "short"}"#, "$.participants.token"),
                            (#"{"join": "open", "max": -1}"#, "$.participants.max"), (#"{"join": "open", "colour": 1}"#, "$.participants.colour"),
                            (#"{"join": "open", "token": "abcdefghij"}"#, "$.participants.token"), (#""open""#, "$.participants"),
                            (#"{"join": "open", "graceSeconds": 1e9}"#, "$.participants.graceSeconds")] {
            #expect(throws: ManifestError.self) { try parse(bad) }
            do { _ = try parse(bad) } catch let e as ManifestError { #expect(e.path == path, "\(bad): \(e)") }
        }
        #expect(throws: ManifestError.self) { try parse(#"{"join": "open"}"#, scenario: "walkers") }
    }
}

/// Runs CPU-bound test work on a Dispatch thread, so the cooperative pool (two threads here)
/// stays free for the suites' async tests meanwhile.
func offThePool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { c in
        // A thread of its own, not Dispatch's global queue: that queue has about as many
        // threads as cores, and tests that block one for minutes (a browser run, a command's
        // wait) left the others queued behind them for minutes on a 2-core machine.
        let t = Thread { c.resume(with: Result { try body() }) }
        t.stackSize = 8 << 20
        t.start()
    }
}
