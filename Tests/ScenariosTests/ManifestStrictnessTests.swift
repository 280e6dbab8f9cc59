import StrictJSON
import CityTiles
import Foundation
import Testing
@testable import Scenarios
@testable import SceneCore

@Suite struct ManifestStrictnessTests {
    static func parse(_ text: String) throws -> SceneManifest {
        try SceneManifest.parse(try JSONParser.parse(Array(text.utf8)), file: "m.scene.json")
    }

    static func problem(_ text: String) -> ManifestError? {
        do { _ = try parse(text); return nil } catch { return error as? ManifestError }
    }

    static let route = #""route":[[0,0],[50,0],[50,50]]"#

    @Test(arguments: [
        // A misspelt parameter of each scenario, with its path.
        (#"{"name":"m","scenario":"marathon","bounds":[0,0,100,100],\#(route),"parameters":{"runner":5}}"#, "$.parameters.runner", "unknown parameter"),
        (#"{"name":"w","scenario":"walkers","bounds":[0,0,100,100],"parameters":{"walkers":5,"minspeed":1}}"#, "$.parameters.minspeed", "unknown parameter"),
        (#"{"name":"f","scenario":"factory","bounds":[0,0,100,100],"parameters":{"agv":2}}"#, "$.parameters.agv", "unknown parameter"),
        (#"{"name":"l","scenario":"football-live","bounds":[0,0,100,100],"parameters":{"players":2}}"#, "$.parameters.players", "takes no parameters"),
        // Values out of range or not whole.
        (#"{"name":"m","scenario":"marathon","bounds":[0,0,100,100],\#(route),"parameters":{"runners":0}}"#, "$.parameters.runners", "out of range"),
        (#"{"name":"f","scenario":"factory","bounds":[0,0,100,100],"parameters":{"agvs":2.5}}"#, "$.parameters.agvs", "whole number"),
        // The replay block: unknown keys, formats and file counts.
        (#"{"name":"r","scenario":"football-replay","bounds":[0,0,100,100],"replay":{"fromat":"hawkeye","files":["a"]}}"#, "$.replay.fromat", "unknown field"),
        (#"{"name":"r","scenario":"football-replay","bounds":[0,0,100,100],"replay":{"format":"hawkeye","files":["a"],"sourceRate":30}}"#, "$.replay.sourceRate", "unknown field"),
        (#"{"name":"r","scenario":"football-replay","bounds":[0,0,100,100],"replay":{"format":"statsbomb","files":["a"]}}"#, "$.replay.format", "expected one of"),
        (#"{"name":"r","scenario":"football-replay","bounds":[0,0,100,100],"replay":{"format":"metrica","files":["a"]}}"#, "$.replay.files", "home and the away"),
        (#"{"name":"w","scenario":"walkers","bounds":[0,0,100,100],"replay":{"format":"hawkeye","files":["a"]}}"#, "$.replay", "only a football-replay"),
        (#"{"name":"x","scenario":"walker","bounds":[0,0,100,100]}"#, "$.scenario", "unknown scenario"),
    ])
    func badManifestsNameThePathAndTheProblem(text: String, path: String, words: String) {
        let e = Self.problem(text)
        #expect(e?.path == path, "\(e.map(String.init(describing:)) ?? "accepted")")
        #expect(e?.problem.contains(words) == true, "\(e.map(String.init(describing:)) ?? "accepted")")
    }

    @Test func goodParametersAreReadIntoTheirStructs() throws {
        let m = try Self.parse(#"{"name":"m","scenario":"marathon","bounds":[0,0,100,100],\#(Self.route),"parameters":{"runners":12,"waves":3}}"#)
        #expect(m.scenario == .marathon)
        let p = try MarathonParameters(m.parameters, file: "m")
        #expect(p.runners == 12 && p.waves == 3 && p.spectators == 300 && p.distance == 42_195)
        // A parameter changed after parsing is still checked when the scene is made.
        var bad = m
        bad.parameters["runnerz"] = 1
        #expect(throws: ManifestError.self) {
            _ = try makeScenario(bad, origin: .zero, bounds: Rect(minX: 0, minY: 0, maxX: 100, maxY: 100))
        }
    }

    @Test func everyBundledManifestIsStillValid() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let dir = root.appendingPathComponent("Scenes").path
        let names = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".scene.json") }
        #expect(names.count >= 5)
        for name in names { _ = try SceneManifest.load(path: "\(dir)/\(name)") }
    }
}

/// A scenario that raises more events in one tick than the cap.
final class Chatty: Scenario {
    let perTick: Int
    init(perTick: Int) { self.perTick = perTick }
    var kinds: [EntityKind] { [EntityKind(code: 1, name: "dot")] }
    var capacity: Int { 1 }
    func populate(_ world: World, seed: UInt64) throws -> any Behaviour {
        try world.spawn(kind: 1, x: 1, y: 1)
        return StandStill()
    }
    func afterStep(_ world: World) -> [SceneEvent] {
        (0..<perTick).map { SceneEvent(tick: world.tick, entity: 0, kind: SceneEvent.Kind(rawValue: 200), value: Float($0)) }
    }
}

@Suite struct TickOutputTests {
    @Test func eventsOverTheCapAreCountedNotSilentlyLost() throws {
        let bounds = Rect(minX: 0, minY: 0, maxX: 10, maxY: 10)
        for (raised, kept) in [(10, 10), (LoadedScene.maxEventsPerTick, LoadedScene.maxEventsPerTick), (LoadedScene.maxEventsPerTick + 123, LoadedScene.maxEventsPerTick)] {
            let world = World(bounds: bounds, capacity: 1, seed: 1, dt: 0.05, behaviour: StandStill())
            let scenario = Chatty(perTick: raised)
            world.behaviour = try scenario.populate(world, seed: 1)
            let scene = LoadedScene(manifest: SceneManifest(name: "c", scenario: .walkers, bounds: [0, 0, 10, 10]), world: world,
                                    scenario: scenario, origin: .zero, epsg: 0, footprints: [], tileNames: [])
            let out = scene.tick()
            #expect(out.tick == 1)
            #expect(out.events.count == kept)
            #expect(out.droppedEvents == raised - kept)
            #expect(out.events.last?.value == Float(kept - 1), "the first events are kept, in order")
        }
    }
}
