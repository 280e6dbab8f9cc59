import ArgumentParser
import Foundation
import Scenarios

struct Scenes: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List and validate scene manifests.", subcommands: [List.self, Validate.self])

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the scenes in the scenes folder.")
        @Option(help: "Folder of scene manifests.") var scenesDir = "Scenes"
        func run() throws {
            for name in SceneFiles.list(in: scenesDir) {
                let path = "\(scenesDir)/\(name).scene.json"
                do {
                    let m = try SceneManifest.load(path: path)
                    print("\(name)  scenario \(m.scenario)  \(m.tickRate) Hz  tiles \(m.tiles.count + m.catalogTiles.count)  seed \(m.seed)")
                } catch {
                    print("\(name)  INVALID: \(error)")
                }
            }
        }
    }

    struct Validate: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Check a manifest; every error names its JSON path.")
        @Argument var file: String
        func run() throws {
            let m = try SceneManifest.load(path: file)
            for path in m.resolvedTilePaths where !FileManager.default.fileExists(atPath: path) {
                throw ManifestError(file: file, path: "$.tiles", problem: "tile file \(path) does not exist")
            }
            print("\(file): valid (\(m.scenario), \(m.tickRate) Hz)")
        }
    }
}
