import ArgumentParser
import Foundation
import TwinBench

struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a benchmark suite and print its figures (use a release build: swift run -c release twinscene bench ...).")

    @Argument(help: "Suite: engine, tiles, server, wire, hostile, viewer, participants, scaleout.") var suite: String
    @Option(help: "Folder of scene manifests and bundled tiles (for the server suite).") var scenesDir = "Scenes"
    @Option(help: "Folder of the shared real data (for the tiles suite).") var sharedData = "../shared/data"
    @Flag(help: "One JSON object on stdout.") var json = false
    @Flag(help: "Smaller sizes and fewer runs, for a quick look or CI.") var quick = false

    func run() async throws {
        let log: (String) -> Void = { FileHandle.standardError.write(Data("bench: \($0)\n".utf8)) }
        let results: [BenchResult]
        switch suite {
        case "engine": results = EngineSuite.run(quick: quick, scenesDir: scenesDir, log: log)
        case "tiles": results = try TilesSuite.run(quick: quick, sharedData: sharedData, log: log)
        case "server": results = try await ServerSuite.run(quick: quick, scenesDir: scenesDir, log: log)
        case "viewer": results = try ViewerSuite.run(quick: quick, scenesDir: scenesDir, log: log)
        case "wire":
            results = try WireSuite.run(quick: quick, sharedData: sharedData, scenesDir: scenesDir, log: log)
                + (try await ServedWire.run(quick: quick, scenesDir: scenesDir, sharedData: sharedData, log: log))
        case "hostile": results = try await HostileSuite.run(quick: quick, scenesDir: scenesDir, log: log)
        case "participants": results = try await ParticipantsSuite.run(quick: quick, scenesDir: scenesDir, log: log)
        case "scaleout": results = try await ScaleOutSuite.run(quick: quick, scenesDir: scenesDir, log: log)
        default: throw ValidationError("unknown suite '\(suite)'; suites: engine, tiles, server, wire, hostile, viewer, participants, scaleout")
        }
        let report = BenchReport(suite: suite, results: results)
        print(json ? report.json() : report.table())
    }
}
