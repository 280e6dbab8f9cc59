import CityTiles
import Foundation
import Testing
@testable import Scenarios
@testable import SceneCore

/// Replays at any tick rate, in real time, from the layouts people have: the rate read from
/// the data, periods and their break, interpolation between frames, gaps, empty values,
/// gzip, samples outside the scene, and strict manifests. Expectations are computed from
/// the written samples, not from the scenario's own grouping.
@Suite struct ReplayTimelineTests {

    static func temp() -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("replay-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    /// A football-replay scene on a 125 x 88 m pitch area with `replay` as its `$.replay`.
    static func scene(_ dir: URL, tickRate: Int, replay: String) throws -> LoadedScene {
        let path = dir.appendingPathComponent("r.scene.json").path
        try """
            {"name":"r","scenario":"football-replay","bounds":[85600,446000,85725,446088],"epsg":7415,"seed":1,
             "tickRate":\(tickRate),"wireCellSize":128,"replay":\(replay)}
            """.write(toFile: path, atomically: true, encoding: .utf8)
        return try SceneLoader.load(try SceneManifest.load(path: path), catalog: try Catalog(), workers: 2)
    }

    /// A written row of the generated broadcast stream.
    struct Row { var frame: Int; var period: Int; var time: Double; var id: String; var x: Double?; var y: Double?; var z: Double? }

    /// Broadcast tracking as its long CSV has it: 22 players and the ball (object 55) at 10 Hz,
    /// period 1 frames 0-299 and period 2 frames 1000-1299 (the break between), objects
    /// leaving the picture for a few frames now and then, some rows with empty x and y, the
    /// ball's z and nobody else's. Seeded.
    static func broadcast(seed: UInt64) -> [Row] {
        var rng = SeededGenerator(seed: seed)
        var rows: [Row] = []
        var position = (0..<23).map { _ in SIMD2(Double.random(in: -45...45, using: &rng), Double.random(in: -30...30, using: &rng)) }
        var away = [Int](repeating: 0, count: 23)
        for (period, frames, start) in [(1, 0..<300, 0.0), (2, 1000..<1300, 2700.0)] {
            for frame in frames {
                let time = start + Double(frame - frames.lowerBound) / 10
                for k in 0..<23 {
                    position[k] += SIMD2(Double.random(in: -0.6...0.6, using: &rng), Double.random(in: -0.6...0.6, using: &rng))
                    position[k] = SIMD2(min(max(position[k].x, -52), 52), min(max(position[k].y, -34), 34))
                    if away[k] > 0 { away[k] -= 1; continue }                       // out of the picture: no row at all
                    if Int.random(in: 0..<60, using: &rng) == 0 { away[k] = Int.random(in: 2...8, using: &rng); continue }
                    let id = k == 22 ? "55" : "\(k + 1)"
                    if Int.random(in: 0..<80, using: &rng) == 0 {                     // a row with empty values: not seen
                        rows.append(Row(frame: frame, period: period, time: time, id: id, x: nil, y: nil, z: nil)); continue
                    }
                    rows.append(Row(frame: frame, period: period, time: time, id: id, x: position[k].x, y: position[k].y,
                                    z: k == 22 ? Double.random(in: 0...3, using: &rng) : nil))
                }
            }
        }
        return rows
    }

    static func csv(_ rows: [Row]) -> String {
        func clock(_ t: Double) -> String { String(format: "%d:%04.1f", Int(t) / 60, t.truncatingRemainder(dividingBy: 60)) }
        func v(_ d: Double?) -> String { d.map { String(format: "%.3f", $0) } ?? "" }
        return "frame,period,time,trackable_object,track_id,x_m,y_m,z_m\n"
            + rows.map { "\($0.frame),\($0.period),\(clock($0.time)),\($0.id),\($0.id)00,\(v($0.x)),\(v($0.y)),\(v($0.z))" }.joined(separator: "\n") + "\n"
    }

    /// Where tick T falls in the generated stream when breaks are skipped: frame and fraction.
    static func sourcePosition(tick: UInt64, rate: Double, tickRate: Int) -> (frame: Int, fraction: Double) {
        let p = (Double(tick % 1500) * rate / Double(tickRate))   // 600 frames at 10 Hz = 60 s = 1500 ticks at 25 Hz
        let whole = (p + 1e-9).rounded(.down)
        let index = Int(whole)
        return (index < 300 ? index : 1000 + index - 300, p - whole < 1e-9 ? 0 : p - whole)
    }

    @Test func broadcastAt25HzIsInterpolatedNeverBlinksAndSkipsTheBreak() throws {
        let dir = Self.temp()
        let rows = Self.broadcast(seed: 20261207)
        try Self.csv(rows).write(to: dir.appendingPathComponent("b.csv"), atomically: true, encoding: .utf8)
        let scene = try Self.scene(dir, tickRate: 25, replay: #"{"format":"broadcast","files":["b.csv"],"ball":"55"}"#)
        let replay = try #require(scene.scenario as? FootballReplayScenario)
        #expect(replay.timeline.rate == 10 && replay.timeline.rateSource == "frame numbers and times")
        #expect(replay.timeline.loopTicks == 1500)
        #expect(replay.notes.contains { $0.contains("10 Hz") && $0.contains("interpolated") && $0.contains("skipped") }, "\(replay.notes)")
        #expect(replay.notes.contains { $0.contains("rows without a position") })
        var seen: [Int: [String: Row]] = [:]
        for r in rows where r.x != nil { seen[r.frame, default: [:]][r.id == "55" ? "ball" : r.id] = r }
        let world = scene.world
        var compared = 0, between = 0
        var clocks: [(UInt64, Float, Float)] = []
        for _ in 0..<900 {
            let events = scene.tick().events
            if let c = events.first(where: { $0.kind == FootballReplayScenario.Event.clock }),
               let p = events.first(where: { $0.kind == FootballReplayScenario.Event.period }) { clocks.append((world.tick, p.value, c.value)) }
            let (frame, fraction) = Self.sourcePosition(tick: world.tick, rate: 10, tickRate: 25)
            let now = seen[frame] ?? [:], next = seen[frame + 1] ?? [:]
            // Present: everyone seen in the frame at or before the position; nobody else.
            #expect(world.store.count == now.count, "tick \(world.tick): \(world.store.count) entities, frame \(frame) has \(now.count)")
            for (id, r) in now {
                guard let h = world.entity(key: id), let p = world.store.position(of: h) else { Issue.record("\(id) absent at tick \(world.tick)"); continue }
                var x = r.x!, y = r.y!
                if fraction > 0, let n = next[id], frame + 1 != 300 { x += (n.x! - x) * fraction; y += (n.y! - y) * fraction; between += 1 }
                let expected = replay.centre + SIMD2(Float(x), Float(y))
                #expect(abs(p.x - expected.x) < 0.002 && abs(p.y - expected.y) < 0.002, "\(id) at tick \(world.tick)")
                compared += 1
            }
        }
        #expect(compared > 15_000 && between > 10_000, "\(compared) compared, \(between) between frames")
        // The source's clock once a second: tick 25 is 1.0 s of period 1; tick 750 is the
        // second half's kick-off (45:00), announced the tick it starts; 775 is 45:01.
        let byTick = Dictionary(clocks.map { ($0.0, ($0.1, $0.2)) }, uniquingKeysWith: { a, _ in a })
        #expect(byTick[25].map { $0.0 == 1 && abs($0.1 - 1) < 1e-3 } == true, "\(String(describing: byTick[25]))")
        #expect(byTick[750].map { $0.0 == 2 && abs($0.1 - 2700) < 1e-3 } == true, "\(String(describing: byTick[750]))")
        #expect(byTick[775].map { $0.0 == 2 && abs($0.1 - 2701) < 1e-3 } == true)
        #expect(replay.sceneWideEvents.contains(FootballReplayScenario.Event.clock))
    }

    @Test func theBreakCanBeHeldAsAPauseAndFramesHeldInsteadOfInterpolated() throws {
        let dir = Self.temp()
        let rows = Self.broadcast(seed: 7)
        try Self.csv(rows).write(to: dir.appendingPathComponent("b.csv"), atomically: true, encoding: .utf8)
        let scene = try Self.scene(dir, tickRate: 25, replay: #"{"format":"broadcast","files":["b.csv"],"ball":"55","halfTime":"pause","resample":"hold"}"#)
        let replay = try #require(scene.scenario as? FootballReplayScenario)
        // Frames 0 to 1299 played at their own places: 1300 frames at 10 Hz.
        #expect(replay.timeline.loopTicks == 3250)
        let t = replay.timeline
        #expect(t.frameIndex(at: 747) == nil && t.samples(at: 747) == t.samples(at: 745), "held, not interpolated")
        #expect(t.samples(at: 748).allSatisfy { $0.frame == 299 })
        for tick: UInt64 in [750, 1000, 2000, 2497] {
            #expect(t.samples(at: tick) == t.samples(at: 748), "the break holds frame 299 (tick \(tick))")
            #expect(t.clock(at: tick).period == 1)
        }
        #expect(t.frameIndex(at: 2500) == 1000 && t.clock(at: 2500).period == 2 && abs(t.clock(at: 2500).seconds - 2700) < 1e-9)
    }

    @Test func aSecondHalfNumberedFromZeroAgainFollowsTheFirst() throws {
        let dir = Self.temp()
        // As some providers number frames: from 0 again in each period.
        let rows = Self.broadcast(seed: 5).map { r -> Row in var r = r; if r.period == 2 { r.frame -= 1000 }; return r }
        try Self.csv(rows).write(to: dir.appendingPathComponent("b.csv"), atomically: true, encoding: .utf8)
        let scene = try Self.scene(dir, tickRate: 25, replay: #"{"format":"broadcast","files":["b.csv"],"ball":"55"}"#)
        let t = try #require(scene.scenario as? FootballReplayScenario).timeline
        #expect(t.loopTicks == 1500 && t.segments.map(\.period) == [1, 2])
        // Tick 750 is the second half's first frame, not the first half's frame 0 again.
        let second = Set(rows.filter { $0.period == 2 && $0.frame == 0 && $0.x != nil }.map { $0.id == "55" ? "ball" : $0.id })
        #expect(Set(t.samples(at: 750).map(\.id)) == second)
        #expect(t.samples(at: 750).allSatisfy { $0.period == 2 })
        #expect(t.samples(at: 0).allSatisfy { $0.period == 1 })
        #expect(t.clock(at: 750).period == 2 && abs(t.clock(at: 750).seconds - 2700) < 1e-9)
    }

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/bin/gzip") || FileManager.default.isExecutableFile(atPath: "/usr/bin/gzip")))
    func aGzippedFileReadsAsItsText() throws {
        let dir = Self.temp()
        let text = Self.csv(Self.broadcast(seed: 3))
        let plain = dir.appendingPathComponent("b.csv"), packed = dir.appendingPathComponent("b.csv.gz")
        try text.write(to: plain, atomically: true, encoding: .utf8)
        let gzip = Process()
        gzip.executableURL = URL(fileURLWithPath: FileManager.default.isExecutableFile(atPath: "/bin/gzip") ? "/bin/gzip" : "/usr/bin/gzip")
        gzip.arguments = ["-k", "-9", plain.path]
        try gzip.run(); gzip.waitUntilExit()
        #expect(gzip.terminationStatus == 0)
        let a = try TrackingCSV.read(path: plain.path, columns: .broadcast), b = try TrackingCSV.read(path: packed.path, columns: .broadcast)
        #expect(a.samples == b.samples && a.rowsWithoutPosition == b.rowsWithoutPosition && !a.samples.isEmpty)
        // A cut archive is an error that says so, not a shorter replay.
        let bytes = try Data(contentsOf: packed)
        let cut = dir.appendingPathComponent("cut.csv.gz")
        try bytes.prefix(bytes.count / 2).write(to: cut)
        #expect(throws: TrackingError.self) { try TrackingCSV.read(path: cut.path, columns: .broadcast) }
    }

    @Test(.enabled(if: SharedTracking.available, "../shared/data is absent"))
    func hawkEyeAt30HzPlaysInRealTimeBetweenItsFrames() throws {
        let dir = Self.temp()
        let files = "[\"\(SharedTracking.tracking)/hawkeye_period1_min1_players.csv\",\"\(SharedTracking.tracking)/hawkeye_period1_min1_ball.csv\"]"
        let scene = try Self.scene(dir, tickRate: 30, replay: "{\"format\":\"hawkeye\",\"files\":\(files)}")
        let replay = try #require(scene.scenario as? FootballReplayScenario)
        #expect(replay.timeline.rate == 50 && replay.timeline.rateSource == "times")
        // 3001 frames of 50 Hz are 60.02 s: 1801 ticks at 30 Hz (the old reader took a tick per
        // step of 2 frames whatever the tick rate, and played it 1.2 times too fast).
        #expect(replay.timeline.loopTicks == 1801)
        let players = try TrackingCSV.read(path: "\(SharedTracking.tracking)/hawkeye_period1_min1_players.csv").samples
        var byFrame: [Int: [String: TrackingSample]] = [:]
        for s in players { byFrame[Int((s.time! * 50).rounded()), default: [:]][s.id] = s }
        let world = scene.world
        var lastClock: Float = -1
        for _ in 0..<300 {
            let events = scene.tick().events
            if let c = events.first(where: { $0.kind == FootballReplayScenario.Event.clock }) { lastClock = c.value }
            let p = Double(world.tick) * 50 / 30, k = Int((p + 1e-9).rounded(.down)), f = p - Double(k)
            // Every tracked player at every tick: nobody blinks between frames.
            for (id, s) in byFrame[k] ?? [:] {
                guard let h = world.entity(key: id), let at = world.store.position(of: h) else { Issue.record("\(id) absent at tick \(world.tick)"); continue }
                let n = byFrame[k + 1]?[id] ?? s
                let expected = replay.centre + SIMD2(Float(s.x + (n.x - s.x) * (f < 1e-9 ? 0 : f)), Float(s.y + (n.y - s.y) * (f < 1e-9 ? 0 : f)))
                #expect(abs(at.x - expected.x) < 0.002 && abs(at.y - expected.y) < 0.002, "\(id) at tick \(world.tick)")
            }
            #expect(world.store.count >= 25, "tick \(world.tick): \(world.store.count)")
        }
        // 300 ticks at 30 Hz are 10 s of the source.
        #expect(abs(lastClock - 10) < 0.03, "clock \(lastClock)")
    }

    @Test func samplesOutsideTheSceneAreLeftOutAndCountedNeverClamped() throws {
        let dir = Self.temp()
        var rows = Self.broadcast(seed: 11)
        // Player 3 runs 20 m beyond the touchline in frames 100-119 (the scene ends 44 m from the centre).
        var moved = 0
        for i in rows.indices where rows[i].id == "3" && (100..<120).contains(rows[i].frame) && rows[i].x != nil { rows[i].y = 54; moved += 1 }
        try Self.csv(rows).write(to: dir.appendingPathComponent("b.csv"), atomically: true, encoding: .utf8)
        let scene = try Self.scene(dir, tickRate: 10, replay: #"{"format":"broadcast","files":["b.csv"],"ball":"55"}"#)
        let replay = try #require(scene.scenario as? FootballReplayScenario)
        #expect(moved > 10 && replay.outside.samples == moved && abs(replay.outside.furthest - 10) < 1e-6)
        #expect(replay.notes.contains { $0.contains("\(moved) samples lie outside") && $0.contains("10.0 m beyond") })
        let world = scene.world
        for _ in 0..<130 {
            _ = scene.tick()
            let present = world.entity(key: "3") != nil
            if (100..<120).contains(Int(world.tick)) { #expect(!present, "tick \(world.tick): shown although outside") }
        }
    }

    @Test func theRateIsReadFromTheDataOrStatedForFramesAlone() throws {
        let dir = Self.temp()
        try "frame,id,x,y\n0,a,1,1\n1,a,2,1\n2,a,3,1\n".write(to: dir.appendingPathComponent("f.csv"), atomically: true, encoding: .utf8)
        let columns = #""columns":{"frame":"frame","id":"id","x":"x","y":"y"}"#
        do {
            _ = try Self.scene(dir, tickRate: 25, replay: #"{"format":"csv","files":["f.csv"],\#(columns)}"#)
            Issue.record("frames without times and without a stated rate were replayed")
        } catch {
            #expect("\(error)".contains("rate") && "\(error)".contains("$.replay"), "\(error)")
        }
        let stated = try Self.scene(dir, tickRate: 25, replay: #"{"format":"csv","files":["f.csv"],\#(columns),"rate":5}"#)
        let replay = try #require(stated.scenario as? FootballReplayScenario)
        #expect(replay.timeline.rate == 5 && replay.timeline.rateSource == "$.replay.rate" && replay.timeline.loopTicks == 15)
        // Times that say 10 Hz against a stated 5 Hz: refused.
        try "time,id,x,y\n0,a,1,1\n0.1,a,2,1\n0.2,a,3,1\n".write(to: dir.appendingPathComponent("t.csv"), atomically: true, encoding: .utf8)
        do {
            _ = try Self.scene(dir, tickRate: 25, replay: #"{"format":"csv","files":["t.csv"],"columns":{"time":"time","id":"id","x":"x","y":"y"},"rate":5}"#)
            Issue.record("a rate against the data's was taken")
        } catch {
            #expect("\(error)".contains("10 Hz") && "\(error)".contains("5 Hz"), "\(error)")
        }
    }

    @Test(arguments: [
        (#"{"format":"broadcast","files":["b.csv"],"columns":{"fromat":"x"}}"#, "$.replay.columns.fromat", "unknown field"),
        (#"{"format":"metrica","files":["a","b"],"columns":{"x":"x"}}"#, "$.replay.columns", "fixed layout"),
        (#"{"format":"csv","files":["b.csv"]}"#, "$.replay.columns", "names its columns"),
        (#"{"format":"csv","files":["b.csv"],"columns":{"x":"x","y":"y","id":"id"}}"#, "$.replay.columns", "time or frame"),
        (#"{"format":"broadcast","files":["b.csv"],"resample":"cubic"}"#, "$.replay.resample", "interpolate"),
        (#"{"format":"broadcast","files":["b.csv"],"halfTime":"none"}"#, "$.replay.halfTime", "skip"),
        (#"{"format":"broadcast","files":["b.csv"],"rate":-25}"#, "$.replay.rate", "frames per second"),
        (#"{"format":"broadcast","files":["b.csv"],"ball":""}"#, "$.replay.ball", "id"),
        (#"{"format":"broadcast","files":["b.csv"],"sourceRate":10}"#, "$.replay.sourceRate", "unknown field"),
    ])
    func replayManifestsAreStrict(_ replay: String, _ path: String, _ mentions: String) throws {
        do {
            _ = try Self.scene(Self.temp(), tickRate: 25, replay: replay)
            Issue.record("\(replay) was accepted")
        } catch let e as ManifestError {
            #expect(e.path == path && e.problem.contains(mentions), "\(e)")
        }
    }
}
