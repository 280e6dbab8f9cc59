import Foundation
import Testing

/// `twinscene scenes replay`: a participants' input log replayed into its scene; its hash
/// checkpoints are checked, a bad log is named by its line, and a wrong checkpoint fails.
@Suite struct ReplayCommandTests {
    static func log(_ lines: [String]) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("replay-\(UUID().uuidString).inputs").path
        try ("twinscene-inputs 1\n" + lines.map { $0 + "\n" }.joined()).write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test func aLogReplaysAndItsCheckpointsAreChecked() async throws {
        // Two participants on the bundled marathon (10,300 simulated entities: slots 10300 on).
        let good = try Self.log(["0 join 1 line Ann", "0 join 2 wave:1 Bo", "3 input 10300 treadmill 4.5", "5 input 10301 heading 1.5 2.0", "40 leave 10301"])
        defer { try? FileManager.default.removeItem(atPath: good) }
        let ok = try await offThePool { try CommandLineTests.runBlocking(["scenes", "replay", "Scenes/marathon.scene.json", good], timeout: 240) }
        #expect(ok.status == 0, "\(ok.err)")
        #expect(ok.out.contains("5 entries replayed to tick 40, 0 state-hash checkpoints matched"), "\(ok.out)")
        // Its own final hash, as a checkpoint, matches; a different one does not.
        let hash = try #require(ok.out.split(separator: " ").last.map { String($0).trimmingCharacters(in: .whitespacesAndNewlines) })
        let checked = try Self.log(["0 join 1 line Ann", "0 join 2 wave:1 Bo", "3 input 10300 treadmill 4.5", "5 input 10301 heading 1.5 2.0",
                                    "40 leave 10301", "40 hash \(hash)"])
        let wrong = try Self.log(["0 join 1 line Ann", "3 input 10300 treadmill 4.5", "40 hash 123456789abcdef"])
        let bad = try Self.log(["0 join 1 line Ann", "2 input 10300 sprint 9"])
        defer { for p in [checked, wrong, bad] { try? FileManager.default.removeItem(atPath: p) } }
        let same = try await offThePool { try CommandLineTests.runBlocking(["scenes", "replay", "Scenes/marathon.scene.json", checked], timeout: 240) }
        #expect(same.status == 0 && same.out.contains("1 state-hash checkpoints matched"), "\(same.out) \(same.err)")
        let differs = try await offThePool { try CommandLineTests.runBlocking(["scenes", "replay", "Scenes/marathon.scene.json", wrong], timeout: 240) }
        #expect(differs.status != 0 && differs.err.contains("replay at tick 40: state hash"), "\(differs.err)")
        let malformed = try await offThePool { try CommandLineTests.runBlocking(["scenes", "replay", "Scenes/marathon.scene.json", bad], timeout: 240) }
        #expect(malformed.status != 0 && malformed.err.contains("input log line 3"), "\(malformed.err)")
    }
}
