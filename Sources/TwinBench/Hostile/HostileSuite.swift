import Dispatch
import Foundation
import SceneClient
import SceneWire
import Synchronization

/// `twinscene bench hostile`: a real `twinscene serve` child process on loopback, attacked as a
/// hostile client would (docs/PROTOCOL.md's limits, one attack after another, each bounded),
/// with a well-behaved client watching beside it. Figures: how many attacks, how many held,
/// the server's peak resident memory, and the reference client's longest gap between frames.
package enum HostileSuite {
    package static func run(quick: Bool, scenesDir: String, log: (String) -> Void = { _ in }) async throws -> [BenchResult] {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("twinscene-hostile-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try writeManifest(from: "\(scenesDir)/district.scene.json", to: "\(dir)/district.scene.json", scenesDir: scenesDir, parameters: [:])
        try writeManifest(from: "\(scenesDir)/marathon.scene.json", to: "\(dir)/marathon.scene.json", scenesDir: scenesDir,
                          parameters: ["runners": quick ? 2000 : 10_000])
        let port = Int.random(in: 20_000...26_000), metricsPort = port + 6000
        let token = "hostile-suite-token-\(UInt64.random(in: 0...UInt64.max))"
        let server = Process()
        server.executableURL = URL(fileURLWithPath: CommandLine.arguments[0])
        server.arguments = ["serve", "--scene", "\(dir)/district.scene.json", "--scene", "\(dir)/marathon.scene.json",
                            "--catalog", "\(dir)/c.sqlite", "--port", "\(port)", "--no-http", "--metrics-port", "\(metricsPort)", "--log-level", "info"]
        var env = ProcessInfo.processInfo.environment
        env["TWINSCENE_ADMIN_TOKEN"] = token
        server.environment = env
        let logFile = "\(dir)/server.log"
        _ = FileManager.default.createFile(atPath: logFile, contents: nil)
        server.standardError = FileHandle(forWritingAtPath: logFile)
        try server.run()
        defer { if server.isRunning { server.terminate(); server.waitUntilExit() } }
        var reference: SceneClient?
        for _ in 0..<600 where reference == nil {
            reference = try? await SceneClient.connect(host: "127.0.0.1", port: port, name: "reference")
            if reference == nil { try await Task.sleep(nanoseconds: 100_000_000) }
        }
        guard let reference else { throw BenchError("the server did not start on port \(port)") }
        // The reference client watches the district throughout and notes its longest gap.
        reference.send(.subscribe(subscription: 1, scene: "district", area: nil))
        let gaps = GapMeter()
        let watcher = Task {
            var view = SceneView(subscription: 1, version: reference.version)
            for try await m in reference.messages {
                if (try? view.apply(m)) ?? nil != nil { gaps.frame() }
                if case .error = m { break }
            }
        }
        while gaps.frames < 20 { try await Task.sleep(nanoseconds: 50_000_000) }
        gaps.reset()
        log("attacking \(port) ...")
        let results: [AttackResult] = await withCheckedContinuation { c in
            DispatchQueue.global().async {
                var attacks = HostileAttacks(port: port, metrics: metricsPort, token: token, quick: quick)
                c.resume(returning: attacks.all())
            }
        }
        let alive = server.isRunning
        let maxGap = gaps.maxGapMs
        // The server logs at its default level (info): what the attacks made it write.
        let logBytes = (try? FileManager.default.attributesOfItem(atPath: logFile)[.size] as? Int) ?? 0
        let peak = peakMegabytes(pid: server.processIdentifier)
        watcher.cancel()
        await reference.close()
        for r in results { log("\(r.held ? "held  " : "BROKE ") \(r.name): \(r.detail)") }
        log(String(format: "server %@, peak RSS %.0f MB, reference client's longest gap %.0f ms, %.0f kB of log", alive ? "alive" : "DEAD",
                   peak, maxGap, Double(logBytes) / 1024))
        let held = alive ? results.filter(\.held).count : 0
        return [
            BenchResult(name: "hostile_attacks", unit: "attacks", value: Double(results.count)),
            BenchResult(name: "hostile_held", unit: "attacks", value: Double(held)),
            BenchResult(name: "hostile_rss_peak_mb", unit: "MB", value: peak),
            BenchResult(name: "hostile_max_gap_ms", unit: "ms", value: maxGap),
            BenchResult(name: "hostile_server_alive", unit: "bool", value: alive ? 1 : 0),
            BenchResult(name: "hostile_log_kb", unit: "kB", value: Double(logBytes) / 1024),
            BenchResult(name: "hostile_storm_ticks_over_100ms", unit: "ticks",
                        value: results.first { $0.name == "subscription-storm" }?.figure ?? .nan),
        ]
    }

    /// A bundled manifest with its tiles made absolute and some parameters changed.
    static func writeManifest(from: String, to: String, scenesDir: String, parameters: [String: Double]) throws {
        guard let data = FileManager.default.contents(atPath: from),
              var object = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw BenchError("cannot read \(from): run from the repository root or pass --scenes-dir")
        }
        if let tiles = object["tiles"] as? [String] {
            object["tiles"] = tiles.map { URL(fileURLWithPath: scenesDir).appendingPathComponent($0).standardizedFileURL.path }
        }
        var p = object["parameters"] as? [String: Any] ?? [:]
        for (k, v) in parameters { p[k] = v }
        if !p.isEmpty { object["parameters"] = p }
        try JSONSerialization.data(withJSONObject: object).write(to: URL(fileURLWithPath: to))
    }

    /// The kernel's high-water mark of the process's resident memory.
    static func peakMegabytes(pid: Int32) -> Double {
        guard let s = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return .nan }
        for line in s.split(separator: "\n") where line.hasPrefix("VmHWM:") {
            return Double(line.split(separator: " ").compactMap { Int($0) }.first ?? 0) / 1024
        }
        return .nan
    }
}

/// Arrival times of the reference client's frames: the longest gap between two.
final class GapMeter: Sendable {
    private let state = Mutex<(last: UInt64, maxGap: UInt64, frames: Int)>((0, 0, 0))
    func frame() {
        let now = DispatchTime.now().uptimeNanoseconds
        state.withLock { s in
            if s.last != 0 { s.maxGap = max(s.maxGap, now - s.last) }
            s.last = now
            s.frames += 1
        }
    }
    func reset() { state.withLock { $0.maxGap = 0 } }
    var frames: Int { state.withLock { $0.frames } }
    var maxGapMs: Double { Double(state.withLock { $0.maxGap }) / 1e6 }
}
