import CityTiles
import Foundation
import Testing
@testable import Scenarios
@testable import SceneCore

/// The bundled scenes keep their state for a given seed across refactorings: these hashes were
/// computed by the code before the core was reshaped (scenario state in goalX/goalY, the ball at
/// slot 22, ticks rebuilt by hand) after 300 ticks of each scene, with 2 workers. A change of
/// behaviour that changes them must be intended and named in its commit.
@Suite struct BundledSceneHashTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let shared = FileManager.default.fileExists(atPath: root.deletingLastPathComponent().appendingPathComponent("shared/data").path)

    @Test(arguments: [
        ("district", UInt64(4097633641512083952), 2000),   // grid cells list walkers by slot since the district splits into regions (was 2126036552269796889)
        ("marathon", 6288311333642762140, 2300),   // grid cells list runners by slot since region shards (was 14028899088350864767)
        ("football-live", 10710045785625170238, 23),
        ("factory", 4386051732389523183, 50),
        ("football-replay", 9962789833270959803, 26),   // frame-true since protocol v2 (was 4349835501945881493)
    ])
    func stateHashAfter300Ticks(name: String, hash: UInt64, entities: Int) throws {
        var m = try SceneManifest.load(path: Self.root.appendingPathComponent("Scenes/\(name).scene.json").path)
        if m.replay != nil && !Self.shared { return }   // replays read ../shared/data
        if name == "marathon" { m.parameters["runners"] = 2000; m.parameters["waveGapSeconds"] = 2 }
        let scene = try SceneLoader.load(m, catalog: try Catalog(), workers: 2)
        for _ in 0..<300 { _ = scene.tick() }
        #expect(scene.world.store.count == entities)
        #expect(scene.world.stateHash() == hash, "\(name): state hash \(scene.world.stateHash())")
    }
}
