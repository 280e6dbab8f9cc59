import CityTiles
import Foundation
import Scenarios
import SceneCore

/// The bundled marathon with more runners and one start wave, for the benchmarks.
enum MarathonBench {
    static func world(runners: Int, scenesDir: String) throws -> LoadedScene {
        var m = try SceneManifest.load(path: "\(scenesDir)/marathon.scene.json")
        m.parameters["runners"] = Double(runners)
        m.parameters["waves"] = 1
        return try SceneLoader.load(m, catalog: try Catalog(), workers: 2)
    }
}
