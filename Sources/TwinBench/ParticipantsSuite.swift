import Foundation
import SceneClient
import SceneWire

/// `twinscene bench participants`: the bundled marathon with 100k simulated runners served by
/// a real `twinscene serve` child, joined by 10,000 participants (then 1,000), each sending a
/// treadmill input 10 times a second and watching a 100 m square around itself.
package enum ParticipantsSuite {
    package static func run(quick: Bool, scenesDir: String, log: (String) -> Void = { _ in }) async throws -> [BenchResult] {
        var results: [BenchResult] = []
        let runners = quick ? 10_000 : 100_000
        let seconds = quick ? 10.0 : 60.0
        for (count, suffix) in quick ? [(500, "")] : [(10_000, ""), (1_000, "_1k")] {
            results += try await runCase(runners: runners, participants: count, seconds: seconds, scenesDir: scenesDir, suffix: suffix, log: log)
        }
        return results
    }

    static func runCase(runners: Int, participants: Int, seconds: Double, scenesDir: String, suffix: String,
                        log: (String) -> Void) async throws -> [BenchResult] {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("twinscene-participants-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // The bundled marathon, with the field and the participants' maximum of this case.
        let source = URL(fileURLWithPath: scenesDir).appendingPathComponent("marathon.scene.json").standardizedFileURL
        guard let data = FileManager.default.contents(atPath: source.path),
              var manifest = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw BenchError("cannot read \(source.path): run from the repository root or pass --scenes-dir")
        }
        var parameters = manifest["parameters"] as? [String: Any] ?? [:]
        parameters["runners"] = runners
        manifest["parameters"] = parameters
        manifest["participants"] = ["join": "open", "max": participants + 100, "graceSeconds": 30]
        manifest["tiles"] = (manifest["tiles"] as? [String] ?? []).map { source.deletingLastPathComponent().appendingPathComponent($0).path }
        try JSONSerialization.data(withJSONObject: manifest).write(to: URL(fileURLWithPath: "\(dir)/marathon.scene.json"))
        let port = ServedChild.randomPort(), metricsPort = port + 1000
        let server = try await ServedChild(port: port, arguments: [
            "--scene", "\(dir)/marathon.scene.json", "--catalog", "\(dir)/c.sqlite", "--metrics-port", "\(metricsPort)",
            "--max-connections", "\(participants + 200)", "--join-rate", "\(participants)", "--no-http"], waitSeconds: 60)
        defer { server.stop() }
        log("\(participants) participants on the marathon with \(runners) runners for \(Int(seconds)) s ...")
        let before = try await Self.metrics(port: metricsPort)
        let serverCPU0 = cpuSeconds(pid: server.pid), ownCPU0 = cpuSeconds(pid: getpid())
        var config = LoadConfiguration()
        config.port = port
        config.clients = 0
        config.participants = participants
        config.participantAreaSide = 100
        config.inputRate = 10
        config.seconds = seconds
        config.scene = "marathon"
        let started = Date()
        let report = await LoadGenerator.run(config)
        let elapsed = Date().timeIntervalSince(started)
        let rss = ServerSuite.residentMegabytes(pid: server.pid)
        let after = try await Self.metrics(port: metricsPort)
        let serverCPU = cpuSeconds(pid: server.pid) - serverCPU0, ownCPU = cpuSeconds(pid: getpid()) - ownCPU0
        func delta(_ name: String) -> Double { (after[name] ?? 0) - (before[name] ?? 0) }
        let ticks = delta("twinscene_ticks_total{scene=\"marathon\"}")
        let tickSeconds = delta("twinscene_tick_duration_seconds_sum{scene=\"marathon\"}")
        log(String(format: "joined %d, input to frame p99 %.1f ms, delivered %.4f, overruns %.0f, tick %.1f ms, server %.0f MB, cpu server %.0f s load %.0f s",
                   report.participantsJoined, report.inputToFrameP99Ms, report.participantDeliveredRatio, delta("twinscene_tick_overruns_total{scene=\"marathon\"}"),
                   ticks > 0 ? tickSeconds / ticks * 1000 : 0, rss, serverCPU, ownCPU))
        for e in report.errors.prefix(3) { log("error: \(e)") }
        return [
            BenchResult(name: "participants\(suffix)", unit: "participants", value: Double(report.participantsJoined)),
            BenchResult(name: "input_to_frame_p50_ms\(suffix)", unit: "ms", value: report.inputToFrameP50Ms),
            BenchResult(name: "input_to_frame_p99_ms\(suffix)", unit: "ms", value: report.inputToFrameP99Ms),
            BenchResult(name: "delivered_ratio\(suffix)", unit: "ratio", value: report.participantDeliveredRatio),
            BenchResult(name: "tick_overruns\(suffix)", unit: "ticks", value: delta("twinscene_tick_overruns_total{scene=\"marathon\"}")),
            BenchResult(name: "server_rss_mb\(suffix)", unit: "MB", value: rss),
            BenchResult(name: "tick_ms_mean\(suffix)", unit: "ms", value: ticks > 0 ? tickSeconds / ticks * 1000 : 0),
            // Ticks the scene ran a second over the load (its rate is 20): overruns stretch it.
            BenchResult(name: "tick_rate_hz\(suffix)", unit: "Hz", value: ticks / max(elapsed, 1e-9)),
            BenchResult(name: "inputs_acked_ratio\(suffix)", unit: "ratio", value: report.inputsSent > 0 ? Double(report.inputsAcked) / Double(report.inputsSent) : 0),
            BenchResult(name: "server_cpu_s\(suffix)", unit: "s", value: serverCPU),
            BenchResult(name: "load_cpu_s\(suffix)", unit: "s", value: ownCPU),
        ]
    }

    /// The server's metrics as name (with labels) to value.
    static func metrics(port: Int) async throws -> [String: Double] {
        let text = try await MetricsScrape.get(port: port)
        var out: [String: Double] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            let parts = line.split(separator: " ")
            if parts.count >= 2, let v = Double(parts[parts.count - 1]) { out[parts[0...(parts.count - 2)].joined(separator: " ")] = v }
        }
        return out
    }

    /// User plus system CPU seconds of a process (/proc/PID/stat, clock ticks of 100 Hz).
    static func cpuSeconds(pid: Int32) -> Double {
        guard let s = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8), let close = s.lastIndex(of: ")") else { return 0 }
        let fields = s[s.index(after: close)...].split(separator: " ")
        guard fields.count > 13, let u = Double(fields[11]), let k = Double(fields[12]) else { return 0 }
        return (u + k) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }
}

/// One HTTP GET of /metrics on loopback, over a plain socket.
enum MetricsScrape {
    static func get(port: Int) async throws -> String {
        try await withCheckedThrowingContinuation { c in
            DispatchQueue.global().async {
                c.resume(with: Result { try fetch(port: port) })
            }
        }
    }

    static func fetch(port: Int) throws -> String {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw BenchError("socket: \(errno)") }
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let ok = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard ok == 0 else { throw BenchError("cannot connect to the metrics port \(port)") }
        let request = Array("GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".utf8)
        _ = request.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 65_536)
        while true {
            let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { break }
            out += buf[0..<n]
        }
        let text = String(decoding: out, as: UTF8.self)
        guard let body = text.range(of: "\r\n\r\n") else { return text }
        return String(text[body.upperBound...])
    }
}
