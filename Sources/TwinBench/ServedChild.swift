import Foundation
import SceneClient

/// A `twinscene serve` child process for a suite: started with the given arguments (this
/// executable, its output to /dev/null so `--json` stays one JSON object), ready once its TCP
/// port answers. Terminated when the suite lets go of it.
final class ServedChild {
    let process = Process()
    let port: Int

    /// A port below Linux's ephemeral range (32768 and up), where the load's own client sockets live.
    static func randomPort() -> Int { Int.random(in: 20_000...30_000) }

    init(port: Int, arguments: [String], waitSeconds: Double = 20, command: String = "serve") async throws {
        self.port = port
        process.executableURL = URL(fileURLWithPath: CommandLine.arguments[0])
        process.arguments = [command, "--port", "\(port)", "--log-level", "warning"] + arguments
        process.standardError = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        for _ in 0..<Int(waitSeconds * 10) {
            if let probe = try? await SceneClient.connect(host: "127.0.0.1", port: port) {
                await probe.close()
                return
            }
            try await Task.sleep(nanoseconds: 100_000_000)
        }
        stop()
        throw BenchError("twinscene \(command) did not start on port \(port)")
    }

    var pid: Int32 { process.processIdentifier }

    func stop() {
        if process.isRunning { process.terminate(); process.waitUntilExit() }
    }

    deinit { stop() }
}
