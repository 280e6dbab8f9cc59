import Foundation
import Testing

/// The hostile suite as a test: a real `twinscene serve` child process, every attack of
/// docs/PROTOCOL.md's limits run against it (seeded, bounded in count and time), with a
/// well-behaved client watching beside it.
@Suite(.serialized) struct HostileSuiteTests {
    @Test func everyAttackIsAnsweredAsDocumentedAndTheWatcherKeepsItsFrames() async throws {
        let r = try await offThePool { try CommandLineTests.runBlocking(["bench", "hostile", "--quick", "--json"], timeout: 400) }
        #expect(r.status == 0, "\(r.err.suffix(2000))")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [String: Any])
        let results = try #require(json["results"] as? [[String: Any]])
        func figure(_ name: String) -> Double? { results.first { $0["name"] as? String == name }?["median"] as? Double }
        let attacks = try #require(figure("hostile_attacks")), held = try #require(figure("hostile_held"))
        #expect(attacks >= 14)
        #expect(held == attacks, "broke: \(r.err.split(separator: "\n").filter { $0.contains("BROKE") })")
        #expect(figure("hostile_server_alive") == 1)
        // Bounds for a debug build sharing two cores with the attacks and the other test suites
        // (the release figures and their goals are in BENCHMARKS.md): memory under 400 MB, no
        // frame gap over 2.5 s.
        #expect((figure("hostile_rss_peak_mb") ?? .infinity) < 400)
        #expect((figure("hostile_max_gap_ms") ?? .infinity) < 2500, "the watcher waited \(figure("hostile_max_gap_ms") ?? -1) ms")
        // The log at info level: 60 KB names and floods of bad connections leave it small.
        #expect((figure("hostile_log_kb") ?? .infinity) < 512, "\(figure("hostile_log_kb") ?? -1) kB of log")
    }
}
