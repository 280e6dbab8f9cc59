import CityTiles
import Foundation
import Testing
@testable import Scenarios
@testable import SceneCore

/// Each scenario says who its entities are (protocol version 2's EntityInfo), from its own
/// state or its source data, without touching the simulation.
@Suite struct IdentityTests {

    static func load(_ file: String, _ edit: (inout SceneManifest) -> Void = { _ in }) throws -> LoadedScene {
        var m = try SceneManifest.load(path: SharedTracking.root.appendingPathComponent("Scenes/\(file)").path)
        edit(&m)
        return try SceneLoader.load(m, catalog: try Catalog(), workers: 2)
    }

    static func identities(_ scene: LoadedScene) -> [UInt32: EntityIdentity] {
        var out: [UInt32: EntityIdentity] = [:]
        for slot in 0..<scene.world.store.slotCount {
            if let i = scene.scenario.identity(slot: UInt32(slot), in: scene.world) { out[UInt32(slot)] = i }
        }
        return out
    }

    @Test func marathonRunnersHaveTheirBibANameAndTheirWave() throws {
        let edit: (inout SceneManifest) -> Void = { $0.parameters["runners"] = 400; $0.parameters["spectators"] = 30; $0.parameters["waves"] = 4 }
        let scene = try Self.load("marathon.scene.json", edit)
        let marathon = try #require(scene.scenario as? MarathonScenario)
        let ids = Self.identities(scene)
        #expect(ids.count == scene.world.store.count)
        var waves = Set<String>()
        for (slot, i) in ids {
            let d = try #require(scene.world.store.dense(ofSlot: Int(slot)))
            if scene.world.store.kind[d] == MarathonScenario.runner.code {
                let bib = try #require(scene.world.attributes.int(slot: slot, attribute: 0))
                #expect(i.key == "bib-\(bib)" && i.number == UInt32(bib))
                #expect(i.group == "wave \(scene.world.store[marathon.columns!.wave, dense: d] + 1)")
                #expect(i.label.split(separator: " ").count >= 2, "a first and a last name: \(i.label)")
                waves.insert(i.group)
            } else {
                #expect(i.group == "spectators" && i.number == 0)
            }
        }
        #expect(waves == ["wave 1", "wave 2", "wave 3", "wave 4"])
        #expect(Set(ids.values.map(\.key)).count == ids.count, "keys are unique")
        // The same bib always gets the same name, and asking changes nothing in the simulation.
        let again = try Self.load("marathon.scene.json", edit)
        #expect(Self.identities(again) == ids)
        for _ in 0..<20 { _ = scene.tick(); _ = again.tick(); _ = Self.identities(scene) }
        #expect(scene.world.stateHash() == again.world.stateHash())
    }

    @Test func footballPlayersHaveTeamShirtAndRole() throws {
        let ids = Self.identities(try Self.load("football-live.scene.json"))
        let players = ids.values.filter { $0.group == "home" || $0.group == "away" }
        #expect(players.count == 22)
        for team in ["home", "away"] {
            #expect(Set(players.filter { $0.group == team }.map(\.number)) == Set(1...11))
        }
        #expect(players.filter { $0.label.hasSuffix("goalkeeper") }.count == 2)
        #expect(players.filter { $0.label.hasSuffix("defender") }.count == 8)
        #expect(ids.values.filter { $0.key == "ball" && $0.label == "ball" }.count == 1)
    }

    @Test func factoryMachinesHaveIdNameAndLine() throws {
        let scene = try Self.load("factory.scene.json")
        let factory = try #require(scene.scenario as? FactoryScenario)
        let ids = Self.identities(scene)
        let machines = ids.values.filter { $0.key.hasPrefix("machine-") }
        #expect(machines.count == factory.machines)
        for m in machines {
            #expect(m.key == "machine-\(m.number)")
            #expect(m.label.hasPrefix("CNC mill ") || m.label.hasPrefix("lathe "))
            #expect(m.group.hasPrefix("line "))
        }
        #expect(ids.values.filter { $0.key.hasPrefix("agv-") && $0.label.hasPrefix("AGV ") && $0.number > 0 }.count == factory.agvs)
        #expect(ids.values.filter { $0.key.hasPrefix("worker-") && $0.group == "workers" }.count == factory.workers)
    }

    @Test(.enabled(if: SharedTracking.available, "../shared/data is absent"))
    func metricaAndEPTSSayTeamsAndShirtNumbers() throws {
        // Metrica: the first header row names the team, the second the shirt of each player's columns.
        let home = MetricaCSV.objects(path: "\(SharedTracking.tracking)/metrica_home.csv", team: "home")
        let text = try String(contentsOfFile: "\(SharedTracking.tracking)/metrica_home.csv", encoding: .utf8)
        let rows = text.split(whereSeparator: \.isNewline).prefix(3).map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
        var expected: [String: UInt32] = [:]
        for (k, name) in rows[2].enumerated() where name.hasPrefix("Player") { expected["home_\(name)"] = UInt32(rows[1][k]) }
        #expect(home.count == 14 && home.mapValues(\.jersey) == expected)
        #expect(home["home_Player11"]?.jersey == 11)
        // EPTS: channels map to players, players to a team and a shirt number.
        let epts = EPTSReader.objects(metadata: "\(SharedTracking.tracking)/epts_metrica_metadata.xml")
        let layout = try EPTSReader.layout(metadata: "\(SharedTracking.tracking)/epts_metrica_metadata.xml")
        #expect(Set(epts.keys) == Set(layout.players))
        #expect(epts["player1"] == TrackedObject(team: "TEAM_A", jersey: 1))
        #expect(Set(epts.values.map(\.team)).count == 2)
        #expect(epts.values.allSatisfy { $0.jersey > 0 })
    }

    @Test(.enabled(if: SharedTracking.available, "../shared/data is absent"))
    func hawkEyeReplayEntitiesCarryTheSourcesIdAndRole() throws {
        let scene = try Self.load("football-replay.scene.json")
        let ids = Self.identities(scene)
        #expect(!ids.isEmpty)
        // The roles straight from the file: track_id is column 1, role column 2.
        let text = try String(contentsOfFile: "\(SharedTracking.tracking)/hawkeye_period1_min1_players.csv", encoding: .utf8)
        var roles: [String: String] = [:]
        for line in text.split(whereSeparator: \.isNewline).dropFirst() {
            let c = line.split(separator: ",", omittingEmptySubsequences: false)
            if roles[String(c[1])] == nil { roles[String(c[1])] = String(c[2]) }
        }
        for (slot, i) in ids {
            #expect(i.key == scene.world.key(ofSlot: Int(slot)))
            if i.key != "ball" { #expect(i.group == roles[i.key], "\(i.key): \(i.group)") }
        }
        #expect(Set(roles.values).isSuperset(of: ["Outfielder", "Goalkeeper", "Referee"]))
    }
}
