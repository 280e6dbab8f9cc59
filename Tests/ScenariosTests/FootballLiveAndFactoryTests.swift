import CityTiles
import Foundation
import Testing
@testable import Scenarios
@testable import SceneCore

@Suite struct FootballLiveTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    @Test func playersStayWithinHumanLimitsAndTheMatchHasPassesShotsAndGoals() throws {
        let manifest = try SceneManifest.load(path: Self.root.appendingPathComponent("Scenes/football-live.scene.json").path)
        let scene = try SceneLoader.load(manifest, catalog: try Catalog(), workers: 2)
        let match = try #require(scene.scenario as? FootballLiveScenario)
        let world = scene.world
        #expect(world.store.count == 23)
        var passes = 0, shots = 0, goals = 0
        var previous: [Int: SIMD2<Float>] = [:]
        var maxSpeed: Float = 0, maxAcceleration: Float = 0
        let ball = try #require(world.entity(key: "ball"))
        #expect(world.store.kind[world.store.dense(of: ball)!] == FootballLiveScenario.ball.code)
        var goalsChecked = 0
        for _ in 0..<(25 * 240) {   // four minutes of play
            let before = (0..<22).map { slot -> SIMD2<Float> in
                let d = world.store.dense(ofSlot: slot)!
                return SIMD2(world.store.vx[d], world.store.vy[d])
            }
            // Where the ball will be after this tick's step: a goal must cross a goal line
            // between the posts (7.32 m apart), checked from the positions, not the scenario.
            let bd = world.store.dense(of: ball)!
            let rolling = SIMD2(world.store[match.columns!.rollX, dense: bd], world.store[match.columns!.rollY, dense: bd]) * 0.985
            let next = SIMD2(world.store.x[bd], world.store.y[bd]) + rolling * world.dt - match.centre
            for e in scene.tick().events {
                if e.kind == FootballLiveScenario.Event.pass { passes += 1 }
                if e.kind == FootballLiveScenario.Event.shot { shots += 1 }
                if e.kind == FootballLiveScenario.Event.goal {
                    goals += 1
                    if abs(next.x) > 52.4 && abs(next.y) < 3.67 && Int(e.value) == (next.x > 0 ? 0 : 1) { goalsChecked += 1 }
                    let after = world.store.position(of: ball)! - match.centre
                    #expect(abs(after.x) < 0.01 && abs(after.y) < 0.01, "after a goal the ball is back on the centre spot")
                }
            }
            for slot in 0..<22 {
                let d = world.store.dense(ofSlot: slot)!
                let v = SIMD2(world.store.vx[d], world.store.vy[d])
                maxSpeed = max(maxSpeed, (v * v).sum().squareRoot())
                let dv = v - before[slot]
                maxAcceleration = max(maxAcceleration, (dv * dv).sum().squareRoot() / world.dt)
                previous[slot] = SIMD2(world.store.x[d], world.store.y[d])
            }
        }
        #expect(maxSpeed <= 10.001, "top speed \(maxSpeed) m/s")
        #expect(maxAcceleration <= 5.01, "top acceleration \(maxAcceleration) m/s²")
        #expect(passes > 20)
        #expect(shots > 0)
        #expect(goalsChecked == goals, "every goal event is a ball crossing a goal line between the posts, for the right team")
        #expect(match.score.reduce(0, +) == goals)
    }
}

@Suite struct FactoryTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    @Test func faultRaisesAlarmsThatClearWithHysteresisAndAGVsStayOutOfMachines() throws {
        let manifest = try SceneManifest.load(path: Self.root.appendingPathComponent("Scenes/factory.scene.json").path)
        let scene = try SceneLoader.load(manifest, catalog: try Catalog(), workers: 2)
        let factory = try #require(scene.scenario as? FactoryScenario)
        let world = scene.world
        let machines = ObstacleIndex(footprints: factory.footprints, bounds: world.bounds)
        var alarms: [(UInt16, Float)] = []
        var inside = 0
        var moved: Float = 0
        let agvStart = (factory.machines..<(factory.machines + factory.agvs)).map { world.store.position(of: world.store.handle(slot: $0)!)! }
        func run(_ seconds: Int) {
            for _ in 0..<(20 * seconds) {
                for e in scene.tick().events where e.entity == 3 { alarms.append((e.kind.rawValue, e.value)) }
                for i in 0..<world.store.count where world.store.kind[i] != FactoryScenario.machine.code {
                    if machines.isBlocked(world.store.x[i], world.store.y[i]) { inside += 1 }
                }
            }
        }
        run(60)
        #expect(alarms.isEmpty, "a healthy machine raises no alarm: \(alarms)")
        #expect(factory.injectFault(slot: 3, in: world))
        #expect(!factory.injectFault(slot: 9_999, in: world))
        #expect(!factory.injectFault(slot: UInt32(factory.machines), in: world), "an AGV is no machine")
        run(90)
        let raised = alarms.first { $0.0 == FactoryScenario.Event.temperatureAlarm.rawValue }
        #expect(raised != nil && raised!.1 > 80, "the fault heats the machine past 80 °C")
        #expect(alarms.contains { $0.0 == FactoryScenario.Event.vibrationAlarm.rawValue })
        #expect(world.attributes.int(slot: 3, attribute: FactoryScenario.Attribute.state.rawValue) == FactoryScenario.State.fault.rawValue)
        factory.repair(slot: 3, in: world)
        run(120)
        let cleared = alarms.first { $0.0 == FactoryScenario.Event.temperatureClear.rawValue }
        #expect(cleared != nil && cleared!.1 < 75, "cleared only below 75 °C")
        #expect(inside == 0, "nobody drives or walks into a machine")
        for (k, slot) in (factory.machines..<(factory.machines + factory.agvs)).enumerated() {
            let p = world.store.position(of: world.store.handle(slot: slot)!)!
            moved += abs(p.x - agvStart[k].x) + abs(p.y - agvStart[k].y)
        }
        #expect(moved > 10, "AGVs drive between stations")
        // Telemetry is sent only on change: a second with no sample changes nothing.
        _ = world.attributes.takeChanges()
        let quiet = scene.tick()
        if quiet.tick % 20 != 0 { #expect(quiet.attributeChanges.isEmpty) }
    }
}

@Suite struct BundledScenesTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    @Test func everyBundledSceneIsDeterministicForAnyWorkerCount() throws {
        let dir = Self.root.appendingPathComponent("Scenes").path
        let shared = FileManager.default.fileExists(atPath: Self.root.deletingLastPathComponent().appendingPathComponent("shared/data").path)
        for name in try FileManager.default.contentsOfDirectory(atPath: dir).filter({ $0.hasSuffix(".scene.json") }).sorted() {
            var m = try SceneManifest.load(path: "\(dir)/\(name)")
            if m.replay != nil && !shared { continue }
            switch m.scenario {
            case .marathon: m.parameters["runners"] = 300; m.parameters["spectators"] = 20
            case .walkers: m.parameters["walkers"] = 300
            default: break
            }
            var hashes = Set<UInt64>()
            for workers in [1, 3] {
                let scene = try SceneLoader.load(m, catalog: try Catalog(), workers: workers)
                for _ in 0..<120 { _ = scene.tick() }
                hashes.insert(scene.world.stateHash())
            }
            #expect(hashes.count == 1, "\(name) differs between 1 and 3 workers")
        }
    }
}
