import ArgumentParser
import Foundation
import CityTiles
import Scenarios
import SceneCore

struct Scenes: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List and validate scene manifests.", subcommands: [List.self, Validate.self, Replay.self])

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the scenes in the scenes folder.")
        @Option(help: "Folder of scene manifests.") var scenesDir = "Scenes"
        func run() throws {
            for name in SceneFiles.list(in: scenesDir) {
                let path = "\(scenesDir)/\(name).scene.json"
                do {
                    let m = try SceneManifest.load(path: path)
                    print("\(name)  scenario \(m.scenario.rawValue)  \(m.tickRate) Hz  tiles \(m.tiles.count + m.catalogTiles.count)  seed \(m.seed)")
                } catch {
                    print("\(name)  INVALID: \(error)")
                }
            }
        }
    }

    struct Validate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check a manifest by loading its scene in memory: fields, tiles, CRS, route, replay data. Errors name the JSON path.")
        @Argument var file: String
        func run() throws {
            let m = try SceneManifest.load(path: file)
            for (k, path) in m.resolvedTilePaths.enumerated() where !FileManager.default.fileExists(atPath: path) {
                throw ManifestError(file: file, path: "$.tiles[\(k)]", problem: "tile file \(path) does not exist")
            }
            for (k, path) in (m.replay?.files ?? []).map(m.resolve).enumerated() where !FileManager.default.fileExists(atPath: path) {
                throw ManifestError(file: file, path: "$.replay.files[\(k)]", problem: "tracking file \(path) does not exist")
            }
            // Load it for real, into an in-memory catalog: routes through buildings, CRS
            // mismatches and unreadable tracking data are found here, not at serve time.
            let scene = try SceneLoader.load(m, catalog: try Catalog(), workers: 1)
            print("\(file): valid (\(m.scenario.rawValue), \(m.tickRate) Hz, \(scene.world.store.count) entities, \(scene.footprints.count) obstacles)")
            for note in scene.scenario.notes { print("  \(note)") }
        }
    }

    struct Replay: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Replay a scene's input log (from `serve --input-log`) into the scene, checking its state-hash checkpoints.")
        @Argument(help: "The scene's manifest.") var file: String
        @Argument(help: "The input log (NAME.inputs).") var log: String
        @Option(help: "The seed the scene ran with, when a reset changed it (a NAME.resetN.inputs log).") var seed: UInt64?
        @Option(help: "Worker threads for the step.") var workers = 2
        func run() throws {
            var m = try SceneManifest.load(path: file)
            if let seed { m.seed = seed }
            guard let data = FileManager.default.contents(atPath: log), let text = String(data: data, encoding: .utf8) else {
                throw CommandFailure("cannot read the input log \(log)")
            }
            let entries = try InputLog.parse(text)
            let scene = try SceneLoader.load(m, catalog: try Catalog(), workers: workers)
            let checked = try scene.replay(entries)
            print("\(log): \(entries.entries.count) entries replayed to tick \(scene.world.tick), \(checked) state-hash checkpoints matched; hash \(String(scene.world.stateHash(), radix: 16))")
        }
    }
}
