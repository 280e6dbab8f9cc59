import CityTiles
import Foundation
import Logging
import NIOCore
import Scenarios
import SceneClient
import SceneServer
import SceneWire
import Testing

/// The browser's decoder (Sources/SceneWeb/Viewer/wire.js) against the protocol document and the Swift
/// client: its own tests are PROTOCOL.md's worked examples, and a recorded stream decodes to
/// the same states in both.
@Suite struct JavaScriptDecoderTests {
    static let node: String? = {
        for path in ["/usr/bin/node", "/usr/local/bin/node", "/usr/bin/nodejs"] where FileManager.default.isExecutableFile(atPath: path) { return path }
        return nil
    }()

    /// Runs node with its output sent by a shell into a file: no pipe of this process that a
    /// child of another test could inherit and hold open.
    static func run(_ arguments: [String]) throws -> (status: Int32, out: String) {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("node-\(UUID().uuidString).txt").path
        defer { try? FileManager.default.removeItem(atPath: out) }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-c", "exec \"$0\" \"$@\" > '\(out)' 2>&1", node!] + arguments
        p.currentDirectoryURL = TestServer.packageRoot
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        return (p.terminationStatus, (try? String(contentsOfFile: out, encoding: .utf8)) ?? "")
    }

    @Test(.enabled(if: node != nil, "node is not installed (.ci/run installs Debian's nodejs)"))
    func theJavaScriptDecodersTestsPass() throws {
        let r = try Self.run(["--test", "Tests/ViewerJS"])
        #expect(r.status == 0, "\(r.out.suffix(3000))")
        #expect(r.out.contains("# fail 0"))
    }

    /// Records `frames` StateFrames of subscription 1 as whole frames, with the Swift
    /// decoder's state after each, then decodes the recording with node.
    func crossCheck(scene file: String, version: UInt16, frames: Int, edit: (inout SceneManifest) -> Void = { _ in }) async throws {
        let (server, port) = try await ProtocolV2Tests.serve(file, edit)
        let client = try await SceneClient.connect(host: "127.0.0.1", port: port, maxVersion: version)
        let name = try SceneManifest.load(path: TestServer.packageRoot.appendingPathComponent("Scenes/\(file)").path).name
        client.send(.subscribe(subscription: 1, scene: name, area: nil))
        var view = SceneView(subscription: 1, version: version)
        var recording: [UInt8] = []
        var expected: [String] = []
        let (deadline, watchdog) = Deadline.watch(client, limit: 120)
        defer { watchdog.cancel() }
        for try await m in client.messages {
            recording += Array(m.frame().readableBytesView)
            guard let u = try view.apply(m) else { continue }
            var rows: [(UInt32, UInt8, Int32, Int32, Int32?)] = []
            view.decoder.forEach3 { rows.append(($0, $1, $2, $3, $4)) }
            rows.sort { $0.0 < $1.0 }
            let list = rows.map { "[\($0.0),\($0.1),\($0.2),\($0.3),\($0.4.map(String.init) ?? "null")]" }.joined(separator: ",")
            expected.append("{\"tick\":\(u.tick),\"entities\":[\(list)]}")
            if expected.count >= frames || deadline.fired { break }
        }
        await client.close()
        await server.shutdown()
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("stream-\(UUID().uuidString).bin").path
        try Data(recording).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let r = try Self.run(["Tests/ViewerJS/decode-stream.mjs", path])
        #expect(r.status == 0, "\(r.out.prefix(2000))")
        let got = r.out.split(separator: "\n").map(String.init)
        #expect(got.count == expected.count)
        for (k, (a, b)) in zip(got, expected).enumerated() where a != b {
            Issue.record("frame \(k): node and Swift differ:\n\(a.prefix(300))\n\(b.prefix(300))")
            break
        }
    }

    @Test(.enabled(if: node != nil, "node is not installed"))
    func aVersionTwoMarathonStreamDecodesAlikeInBoth() async throws {
        try await crossCheck(scene: "marathon.scene.json", version: 2, frames: 60) { $0.parameters["runners"] = 800; $0.parameters["waveGapSeconds"] = 0.5 }
    }

    @Test(.enabled(if: node != nil, "node is not installed"))
    func aVersionOneDistrictStreamDecodesAlikeInBoth() async throws {
        try await crossCheck(scene: "district.scene.json", version: 1, frames: 40) { $0.parameters["walkers"] = 1500 }
    }

    @Test(.enabled(if: node != nil && ProtocolV2Tests.sharedData, "node or ../shared/data is absent"))
    func theReplaysHeightsDecodeAlikeInBoth() async throws {
        try await crossCheck(scene: "football-replay.scene.json", version: 2, frames: 120)
    }
}
