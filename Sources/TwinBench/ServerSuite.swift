import Foundation
import SceneClient
import SceneWire

/// `twinscene bench server`: a real `twinscene serve` child process on loopback, loaded by
/// in-process clients; figures from the clients and the server's resident memory.
package enum ServerSuite {
    package static func run(quick: Bool, scenesDir: String, log: (String) -> Void = { _ in }) async throws -> [BenchResult] {
        var results: [BenchResult] = []
        let seconds = quick ? 8.0 : 60.0
        // 1: many clients, each watching an area of about 1k of 10k walkers.
        let (small, smallRSS) = try await runCase(walkers: 10_000, clients: quick ? 200 : 1000, seconds: seconds,
                                                  areaFraction: 0.1, scenesDir: scenesDir, log: log)
        results += figures(small, rss: smallRSS, suffix: "")
        // 2: fewer clients, each watching the whole of a 100k scene.
        let (big, bigRSS) = try await runCase(walkers: 100_000, clients: quick ? 20 : 100, seconds: quick ? 8 : 30,
                                              areaFraction: 1, scenesDir: scenesDir, log: log)
        results += figures(big, rss: bigRSS, suffix: "_100k")
        // 3: WebSocket clients, each with a 100 m area of the bundled 10k-runner marathon.
        let (ws, wsRSS) = try await runCase(walkers: 0, clients: quick ? 100 : 500, seconds: quick ? 8 : 30, areaFraction: 0,
                                            scenesDir: scenesDir, scene: "marathon", areaSide: 100, webSocket: true, log: log)
        results += figures(ws, rss: wsRSS, prefix: "ws_", suffix: "")
        return results
    }

    static func figures(_ r: LoadReport, rss: Double, prefix: String = "", suffix: String) -> [BenchResult] {
        [
            BenchResult(name: "\(prefix)clients\(suffix)", unit: "clients", value: Double(r.connected)),
            BenchResult(name: "\(prefix)delivered_ratio\(suffix)", unit: "ratio", value: r.deliveredRatio),
            BenchResult(name: "\(prefix)latency_p50_ms\(suffix)", unit: "ms", value: r.latencyP50Ms),
            BenchResult(name: "\(prefix)latency_p99_ms\(suffix)", unit: "ms", value: r.latencyP99Ms),
            BenchResult(name: "\(prefix)consumed_latency_p99_ms\(suffix)", unit: "ms", value: r.consumedLatencyP99Ms),
            BenchResult(name: "\(prefix)server_rss_mb\(suffix)", unit: "MB", value: rss),
            BenchResult(name: "\(prefix)skipped_ticks\(suffix)", unit: "ticks", value: Double(r.skippedTicks)),
            BenchResult(name: "\(prefix)bytes_received_mb\(suffix)", unit: "MB", value: Double(r.bytes) / 1e6),
        ]
    }

    /// `scene`: a bundled scene by name instead of `walkers` walkers; `areaSide`: square areas
    /// of that side instead of `areaFraction`; `webSocket`: clients on /ws instead of TCP.
    static func runCase(walkers: Int, clients: Int, seconds: Double, areaFraction: Double, scenesDir: String,
                        scene: String? = nil, areaSide: Double? = nil, webSocket: Bool = false,
                        log: (String) -> Void) async throws -> (LoadReport, Double) {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("twinscene-load-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let tiles = URL(fileURLWithPath: scenesDir).appendingPathComponent("tiles/district.city.jsonl").standardizedFileURL.path
        guard FileManager.default.fileExists(atPath: tiles) else {
            throw BenchError("the bundled tiles \(tiles) are missing: run from the repository root or pass --scenes-dir")
        }
        let manifest = """
            {"name":"load","scenario":"walkers","tiles":["\(tiles)"],"bounds":[85000,446000,85576,446336],
             "seed":5,"tickRate":20,"wireCellSize":32,"parameters":{"walkers":\(walkers)}}
            """
        try manifest.write(toFile: "\(dir)/load.scene.json", atomically: true, encoding: .utf8)
        let port = ServedChild.randomPort(), httpPort = port + 1000
        let sceneArgument = scene.map { "\(scenesDir)/\($0).scene.json" } ?? "\(dir)/load.scene.json"
        let server = try await ServedChild(port: port, arguments: ["--scene", sceneArgument, "--catalog", "\(dir)/c.sqlite"]
                                           + (webSocket ? ["--http-port", "\(httpPort)"] : ["--no-http"]))
        defer { server.stop() }
        log("\(clients) \(webSocket ? "WebSocket" : "TCP") clients on \(scene ?? "\(walkers) walkers") for \(Int(seconds)) s ...")
        var config = LoadConfiguration()
        config.port = port
        config.clients = clients
        config.seconds = seconds
        config.scene = scene ?? "load"
        if webSocket {
            config.transport = .webSocket()
            config.port = httpPort
            // The page is served once the HTTP side listens (the TCP port comes up first).
            for _ in 0..<200 {
                if let probe = try? await SceneClient.connect(host: "127.0.0.1", port: httpPort, transport: .webSocket()) {
                    await probe.close()
                    break
                }
                try await Task.sleep(nanoseconds: 100_000_000)
            }
        }
        if areaFraction < 1 || areaSide != nil {
            // Square areas holding about `areaFraction` of the walkers (the district is 576 x 336 m).
            let side = areaSide ?? (576.0 * 336.0 * areaFraction).squareRoot()
            var state: UInt64 = 9
            func next() -> Double { state = state &* 6364136223846793005 &+ 1442695040888963407; return Double(state >> 11) / Double(1 << 53) }
            config.areas = (0..<clients).map { _ in
                let x = next() * (576 - side), y = next() * (336 - side)
                return WireArea(minX: x, minY: y, maxX: x + side, maxY: y + side)
            }
        }
        let report = await LoadGenerator.run(config)
        let rss = residentMegabytes(pid: server.pid)
        log(String(format: "delivered %.4f, p99 %.1f ms, server %.0f MB", report.deliveredRatio, report.latencyP99Ms, rss))
        return (report, rss)
    }

    static func residentMegabytes(pid: Int32) -> Double {
        guard let s = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return .nan }
        for line in s.split(separator: "\n") where line.hasPrefix("VmRSS:") {
            return Double(line.split(separator: " ").compactMap { Int($0) }.first ?? 0) / 1024
        }
        return .nan
    }
}

struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}
