import CityTiles
import Foundation
import Testing
@testable import Scenarios
@testable import SceneCore

/// Frame-true replays of every shared tracking layout: after tick T the world holds
/// exactly the objects of source frame T, where that frame puts them, checked against the
/// readers' samples (not the scenario's own grouping).
@Suite struct ReplayFrameTrueTests {

    static func scene(format: String, files: [String], tickRate: Int) throws -> LoadedScene {
        let list = files.map { "\"\(SharedTracking.tracking)/\($0)\"" }.joined(separator: ",")
        let text = """
            {"name":"r","scenario":"football-replay","bounds":[85600,446000,85725,446088],"epsg":7415,"seed":1,
             "tickRate":\(tickRate),"wireCellSize":128,"replay":{"format":"\(format)","files":[\(list)]}}
            """
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("replay-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let path = dir.appendingPathComponent("r.scene.json").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return try SceneLoader.load(try SceneManifest.load(path: path), catalog: try Catalog(), workers: 2)
    }

    /// The source frame tick T shows, computed from the readers' samples alone: periods
    /// played one after another (half-time skipped), each from its first to its last frame,
    /// `step` source frames a tick, starting over at the end.
    static func expectedFrame(_ samples: [TrackingSample], step: Int, tick: UInt64) -> Int {
        var ranges: [Int: ClosedRange<Int>] = [:]
        for s in samples {
            let f = s.frame!, p = s.period ?? 1
            ranges[p] = ranges[p].map { min($0.lowerBound, f)...max($0.upperBound, f) } ?? f...f
        }
        let played = ranges.keys.sorted().map { ranges[$0]! }
        let length = played.reduce(0) { $0 + $1.count }
        let loop = (length + step - 1) / step
        var position = Int(tick % UInt64(loop)) * step
        for r in played {
            if position < r.count { return r.lowerBound + position }
            position -= r.count
        }
        return played.last!.upperBound
    }

    /// Ticks the scene and compares each tick with the source frame it should show.
    static func check(_ scene: LoadedScene, samples: [TrackingSample], step: Int, ticks: Int, atLeast: Int) throws {
        let replay = try #require(scene.scenario as? FootballReplayScenario)
        var byFrame: [Int: [TrackingSample]] = [:]
        for s in samples { byFrame[s.frame!, default: []].append(s) }
        let world = scene.world
        var compared = 0
        for _ in 0..<ticks {
            _ = scene.tick()
            let source = byFrame[expectedFrame(samples, step: step, tick: world.tick)] ?? []
            #expect(world.store.count == source.count, "tick \(world.tick): \(world.store.count) entities, source frame has \(source.count)")
            for s in source {
                guard let h = world.entity(key: s.id), let p = world.store.position(of: h) else { Issue.record("\(s.id) absent at tick \(world.tick)"); continue }
                let expected = replay.centre + SIMD2(Float(s.x), Float(s.y))
                #expect(abs(p.x - expected.x) < 0.001 && abs(p.y - expected.y) < 0.001, "\(s.id) at tick \(world.tick)")
                compared += 1
            }
        }
        #expect(compared >= atLeast, "\(compared) samples compared")
    }

    @Test(.enabled(if: SharedTracking.available, "../shared/data is absent"))
    func metricaIsFrameTrue() throws {
        let scene = try Self.scene(format: "metrica", files: ["metrica_home.csv", "metrica_away.csv"], tickRate: 25)
        let samples = try MetricaCSV.read(path: "\(SharedTracking.tracking)/metrica_home.csv", team: "home", includeBall: true)
            + MetricaCSV.read(path: "\(SharedTracking.tracking)/metrica_away.csv", team: "away", includeBall: false)
        // The shared file holds three frames of each half (frames 1-3 and 145004-145006): six
        // ticks a loop, not 145,006 mostly empty ones.
        #expect((scene.scenario as? FootballReplayScenario)?.timeline.loopTicks == 6)
        try Self.check(scene, samples: samples, step: 1, ticks: 300, atLeast: 1000)
    }

    @Test(.enabled(if: SharedTracking.available, "../shared/data is absent"))
    func eptsIsFrameTrue() throws {
        let scene = try Self.scene(format: "epts", files: ["epts_metrica_tracking.txt", "epts_metrica_metadata.xml"], tickRate: 25)
        let samples = try EPTSReader.read(tracking: "\(SharedTracking.tracking)/epts_metrica_tracking.txt", metadata: "\(SharedTracking.tracking)/epts_metrica_metadata.xml")
        // Frames 450-499 and 650-699, the metadata's two halves: the break between is skipped.
        #expect((scene.scenario as? FootballReplayScenario)?.timeline.loopTicks == 100)
        try Self.check(scene, samples: samples, step: 1, ticks: 300, atLeast: 2000)
    }

    @Test(.enabled(if: SharedTracking.available, "../shared/data is absent"))
    func hawkEyeAt25HzIsFrameTrueToEveryOtherFrame() throws {
        let scene = try Self.scene(format: "hawkeye", files: ["hawkeye_period1_min1_players.csv", "hawkeye_period1_min1_ball.csv"], tickRate: 25)
        // Hawk-Eye has times only: its frames are the times on the 50 Hz grid the data shows.
        let samples = try (TrackingCSV.read(path: "\(SharedTracking.tracking)/hawkeye_period1_min1_players.csv").samples
            + TrackingCSV.read(path: "\(SharedTracking.tracking)/hawkeye_period1_min1_ball.csv", fixedId: "ball").samples)
            .map { s in var s = s; s.frame = Int((s.time! * 50).rounded()); return s }
        try Self.check(scene, samples: samples, step: 2, ticks: 300, atLeast: 3000)
    }
}
