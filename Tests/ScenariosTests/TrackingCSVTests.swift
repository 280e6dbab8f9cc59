import Foundation
import Testing
@testable import Scenarios

@Suite struct TrackingCSVTests {
    static let data = URL(fileURLWithPath: SharedTracking.tracking)
    static var available: Bool { SharedTracking.available }

    func write(_ text: String) throws -> String {
        let p = FileManager.default.temporaryDirectory.appendingPathComponent("track-\(UUID().uuidString).csv").path
        try text.write(toFile: p, atomically: true, encoding: .utf8)
        return p
    }

    @Test(.enabled(if: available, "../shared/data is absent"))
    func readsTheHawkEyeMinute() throws {
        let players = try TrackingCSV.read(path: Self.data.appendingPathComponent("hawkeye_period1_min1_players.csv").path).samples
        #expect(players.count == 75_025)
        #expect(Set(players.map(\.id)).count == 25)
        #expect(abs(players[0].x - 0.40905365347862244) < 1e-12)
        let ball = try TrackingCSV.read(path: Self.data.appendingPathComponent("hawkeye_period1_min1_ball.csv").path, fixedId: "ball").samples
        #expect(ball.allSatisfy { $0.id == "ball" && $0.z != nil })
        #expect(ball.count > 2500)
    }

    @Test func columnsAreFoundByNameInAnyOrder() throws {
        let p = try write("y,id,frame,x\n1.5,a,0,2.5\n2.5,b,0,3.5\n")
        let s = try TrackingCSV.read(path: p).samples
        #expect(s.map(\.id) == ["a", "b"])
        #expect(s[0].x == 2.5 && s[0].y == 1.5 && s[0].frame == 0 && s[0].time == nil)
    }

    @Test func badFilesNameTheLineAndTheProblem() throws {
        let missing = try write("time_s,track_id,x_m\n0,1,2\n")
        #expect(throws: TrackingError(file: missing, line: 1, problem: "no x and y columns (looked for x_m, x and y_m, y)")) {
            try TrackingCSV.read(path: missing)
        }
        let text = try write("time_s,track_id,x_m,y_m\n0,1,2,3\n0.02,1,abc,3\n")
        #expect(throws: TrackingError(file: text, line: 3, problem: "x_m \"abc\" is not a number")) { try TrackingCSV.read(path: text) }
        let backwards = try write("time_s,track_id,x_m,y_m\n0.04,1,2,3\n0.02,1,2,3\n")
        #expect(throws: TrackingError(file: backwards, line: 3, problem: "time goes backwards (0.02 after 0.04)")) { try TrackingCSV.read(path: backwards) }
        let short = try write("time_s,track_id,x_m,y_m\n0,1,2\n")
        #expect(throws: TrackingError.self) { try TrackingCSV.read(path: short) }
        let noTime = try write("track_id,x_m,y_m\n1,2,3\n")
        #expect(throws: TrackingError.self) { try TrackingCSV.read(path: noTime) }
    }
}
