import StrictJSON
import CityTiles
import Foundation
import Testing
@testable import Scenarios
@testable import SceneCore

@Suite struct MarathonTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static func manifest(runners: Int, distance: Double, waves: Int = 1, tickRate: Int = 10) throws -> SceneManifest {
        var m = try SceneManifest.load(path: root.appendingPathComponent("Scenes/marathon.scene.json").path)
        m.parameters["runners"] = Double(runners)
        m.parameters["spectators"] = 20
        m.parameters["distance"] = distance
        m.parameters["waves"] = Double(waves)
        m.parameters["waveGapSeconds"] = 5
        m.tickRate = tickRate
        return m
    }

    @Test func finishOrderFollowsPacesAndNobodyEntersABuilding() throws {
        let scene = try SceneLoader.load(try Self.manifest(runners: 40, distance: 1_500), catalog: try Catalog(), workers: 2)
        let world = scene.world
        let fps = scene.footprints
        var finishes: [UInt32] = []
        var splits: [UInt32: Int] = [:]
        var starts = 0
        var inside = 0
        for _ in 0..<12_000 {
            for e in scene.tick().events {
                switch e.kind {
                case MarathonScenario.Event.finish: finishes.append(e.entity)
                case MarathonScenario.Event.split: splits[e.entity, default: 0] += 1
                case MarathonScenario.Event.start: starts += 1
                default: break
                }
            }
            if world.tick % 50 == 0 {
                for i in 0..<world.store.count where fps.contains(where: { $0.contains(x: world.store.x[i], y: world.store.y[i]) }) { inside += 1 }
            }
            if finishes.count == 40 { break }
        }
        #expect(inside == 0)
        #expect(starts == 40)
        #expect(finishes.count == 40, "all runners finish 1.5 km")
        #expect(splits.values.allSatisfy { $0 == 1 } && splits.count == 40, "one split at 1 km each")
        // Paces: bib order is fastest first (slots 0..<40). Rank correlation of finish order with pace.
        let paceRank = Dictionary(uniqueKeysWithValues: (0..<40).map { (UInt32($0), Double($0)) })
        let n = Double(finishes.count)
        let d2 = finishes.enumerated().reduce(0.0) { $0 + pow(Double($1.offset) - paceRank[$1.element]!, 2) }
        let spearman = 1 - 6 * d2 / (n * (n * n - 1))
        #expect(spearman > 0.9, "finish order follows pace (Spearman \(spearman))")
        // Finish times come with the events and the attribute table.
        let first = try #require(finishes.first)
        #expect((world.attributes.float(slot: first, attribute: MarathonScenario.Attribute.finishTime.rawValue) ?? 0) > 0)
    }

    @Test func sameSeedSameRaceForAnyWorkerCount() throws {
        var hashes = Set<UInt64>()
        for workers in [1, 2, 3] {
            let scene = try SceneLoader.load(try Self.manifest(runners: 300, distance: 42_195, waves: 2), catalog: try Catalog(), workers: workers)
            for _ in 0..<200 { _ = scene.tick() }
            hashes.insert(scene.world.stateHash())
        }
        #expect(hashes.count == 1)
    }

    @Test func aRouteThroughABuildingOrMissingIsRefusedWithItsPath() throws {
        var m = try Self.manifest(runners: 10, distance: 1000)
        m.route[2] = SIMD2(85_060, 446_050)   // inside the first block of buildings
        #expect {
            _ = try SceneLoader.load(m, catalog: try Catalog())
        } throws: { e in
            guard let e = e as? ManifestError else { return false }
            return e.path.hasPrefix("$.route[") && e.problem.contains("passes through a building")
        }
        let text = #"{"name":"m","scenario":"marathon","bounds":[0,0,10,10]}"#
        #expect(throws: ManifestError.self) { _ = try SceneManifest.parse(try JSONParser.parse(Array(text.utf8)), file: "m.json") }
        let bad = #"{"name":"m","scenario":"marathon","bounds":[0,0,10,10],"route":[[0,0],[1,"x"]]}"#
        #expect(throws: ManifestError(file: "m.json", path: "$.route[1]", problem: "expected [x, y], two numbers in the scene's CRS")) {
            _ = try SceneManifest.parse(try JSONParser.parse(Array(bad.utf8)), file: "m.json")
        }
    }

    @Test func everyBundledSceneValidatesAndLoads() throws {
        let dir = Self.root.appendingPathComponent("Scenes").path
        let names = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".scene.json") }
        #expect(names.count >= 2)
        let shared = FileManager.default.fileExists(atPath: Self.root.deletingLastPathComponent().appendingPathComponent("shared/data").path)
        for name in names {
            var m = try SceneManifest.load(path: "\(dir)/\(name)")
            if m.replay != nil && !shared { continue }   // replays read ../shared/data
            switch m.scenario {
            case .marathon: m.parameters["runners"] = 50; m.parameters["spectators"] = 5
            case .walkers: m.parameters["walkers"] = 50
            default: break
            }
            let scene = try SceneLoader.load(m, catalog: try Catalog())
            #expect(scene.world.store.count > 0, "\(name)")
        }
    }
}
