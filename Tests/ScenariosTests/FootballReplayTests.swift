import StrictJSON
import CityTiles
import Foundation
import Testing
@testable import Scenarios
@testable import SceneCore

@Suite struct FootballReplayTests {

    @Test(.enabled(if: SharedTracking.available, "../shared/data is absent"))
    func hawkEyeReplayEqualsTheSourceAtEveryFrameAndGapsAreAbsences() throws {
        let manifest = try SceneManifest.load(path: SharedTracking.root.appendingPathComponent("Scenes/football-replay.scene.json").path)
        let scene = try SceneLoader.load(manifest, catalog: try Catalog(), workers: 2)
        let replay = try #require(scene.scenario as? FootballReplayScenario)
        #expect(replay.ids.count == 26)   // 22 players, 3 referees, the ball
        let world = scene.world
        var ballAbsent = 0
        for _ in 0..<400 {
            _ = scene.tick()
            // Frame-true: after tick k the world shows frame k, positions, presence and height.
            let shown = replay.frame(at: world.tick)
            #expect(world.store.count == shown.count)
            for s in shown {
                let h = try #require(world.entity(key: s.id), "\(s.id) is found by its key")
                let p = try #require(world.store.position(of: h))
                let expected = replay.centre + SIMD2(Float(s.x), Float(s.y))
                #expect(abs(p.x - expected.x) < 0.005 && abs(p.y - expected.y) < 0.005, "\(s.id) at tick \(world.tick)")
                if s.id == "ball", let z = s.z {
                    #expect(world.attributes.float(slot: h.index, attribute: 0) == Float(z), "the ball's height of the same frame")
                }
            }
            if !shown.contains(where: { $0.id == "ball" }) {
                ballAbsent += 1
                #expect(world.entity(key: "ball") == nil, "the ball is absent in a gap, not frozen")
            }
        }
        _ = ballAbsent
    }

    @Test(.enabled(if: SharedTracking.available, "../shared/data is absent"))
    func metricaAndEPTSAreReadIntoPitchMetres() throws {
        let home = try MetricaCSV.read(path: "\(SharedTracking.tracking)/metrica_home.csv", team: "home", includeBall: true)
        // Independently: the frame column of every data row (after the three header rows).
        let rows = try String(contentsOfFile: "\(SharedTracking.tracking)/metrica_home.csv", encoding: .utf8).split(whereSeparator: \.isNewline).dropFirst(3)
        #expect(Set(home.compactMap(\.frame)) == Set(rows.compactMap { Int($0.split(separator: ",")[1]) }))
        #expect(home.contains { $0.id == "ball" })
        #expect(home.allSatisfy { abs($0.x) <= 52.5 + 1 && abs($0.y) <= 34 + 1 })
        let first = try #require(home.first { $0.id == "home_Player11" && $0.frame == 1 })
        #expect(abs(first.x - (0.00082 - 0.5) * 105) < 1e-9 && abs(first.y - (0.5 - 0.48238) * 68) < 1e-9)
        let layout = try EPTSReader.layout(metadata: "\(SharedTracking.tracking)/epts_metrica_metadata.xml")
        #expect(layout.frameRate == 25 && layout.players.count == 22 && layout.hasBall)
        let epts = try EPTSReader.read(tracking: "\(SharedTracking.tracking)/epts_metrica_tracking.txt", metadata: "\(SharedTracking.tracking)/epts_metrica_metadata.xml")
        let lines = try String(contentsOfFile: "\(SharedTracking.tracking)/epts_metrica_tracking.txt", encoding: .utf8).split(whereSeparator: \.isNewline)
        #expect(Set(epts.compactMap(\.frame)) == Set(lines.compactMap { Int($0.split(separator: ":")[0]) }))
        #expect(epts.allSatisfy { abs($0.x) <= 60 && abs($0.y) <= 40 })
    }

    @Test func badTrackingFilesNameTheProblem() throws {
        let dir = FileManager.default.temporaryDirectory.path
        let wrong = "\(dir)/metrica-\(UUID().uuidString).csv"
        try "a,b\nc,d\nX,Y,Z\n1,2,3\n".write(toFile: wrong, atomically: true, encoding: .utf8)
        #expect(throws: TrackingError.self) { try MetricaCSV.read(path: wrong, team: "home", includeBall: true) }
        let meta = "\(dir)/meta-\(UUID().uuidString).xml"
        try "<main><FrameRate>25</FrameRate></main>".write(toFile: meta, atomically: true, encoding: .utf8)
        #expect(throws: TrackingError.self) { try EPTSReader.layout(metadata: meta) }
        let manifest = #"{"name":"f","scenario":"football-replay","bounds":[0,0,10,10]}"#
        #expect(throws: ManifestError.self) { _ = try SceneManifest.parse(try JSONParser.parse(Array(manifest.utf8)), file: "f.json") }
    }

    /// A tracking file with its header and no rows is refused with file and line, never served
    /// as an empty scene.
    @Test func aHeaderWithoutRowsIsRefused() throws {
        let dir = FileManager.default.temporaryDirectory.path
        func refusal(_ body: () throws -> Void) -> TrackingError? {
            do { try body(); return nil } catch { return error as? TrackingError }
        }
        let csv = "\(dir)/long-\(UUID().uuidString).csv"
        try "frame,id,x,y,z\n\n".write(toFile: csv, atomically: true, encoding: .utf8)
        let e1 = refusal { _ = try TrackingCSV.read(path: csv) }
        #expect(e1?.file == csv && e1?.line == 1 && e1?.problem.contains("no rows") == true, "\(String(describing: e1))")
        let metrica = "\(dir)/metrica-\(UUID().uuidString).csv"
        try ",,,Home,,Ball,\n,,,1,,,\nPeriod,Frame,Time [s],Player1,,Ball,\n".write(toFile: metrica, atomically: true, encoding: .utf8)
        let e2 = refusal { _ = try MetricaCSV.read(path: metrica, team: "home", includeBall: true) }
        #expect(e2?.line == 3 && e2?.problem.contains("no data rows") == true, "\(String(describing: e2))")
        let meta = "\(dir)/meta-\(UUID().uuidString).xml"
        try #"<main><FrameRate>25</FrameRate><DataFormatSpecification><PlayerChannelRef playerChannelId="P1_x"/><PlayerChannelRef playerChannelId="P1_y"/></DataFormatSpecification></main>"#
            .write(toFile: meta, atomically: true, encoding: .utf8)
        #expect(try EPTSReader.layout(metadata: meta).players == ["P1"], "the metadata itself is fine")
        let epts = "\(dir)/epts-\(UUID().uuidString).txt"
        try "\n".write(toFile: epts, atomically: true, encoding: .utf8)
        let e3 = refusal { _ = try EPTSReader.read(tracking: epts, metadata: meta) }
        #expect(e3?.file == epts && e3?.problem.contains("no frames") == true, "\(String(describing: e3))")
    }
}
