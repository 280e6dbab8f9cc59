import ArgumentParser
import Foundation
import SceneClient
import SceneWire

struct Load: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "N concurrent clients for D seconds: delivered ticks, skips, latency percentiles, bytes.")

    @Option(help: "Server address.") var host = "127.0.0.1"
    @Option(help: "Server port.") var port = 7420
    @Option(help: "Concurrent clients.") var clients = 100
    @Option(help: "Seconds to run.") var seconds = 10.0
    @Option(help: "Scene (default: the first the server lists).") var scene: String?
    @Option(help: "Side of each client's square area of interest in metres, placed at random; 0 = whole scene.")
    var areaSize = 0.0
    @Option(help: "Scene extent for placing areas: WIDTH,HEIGHT in metres.") var extent = "576,336"
    @Flag(help: "Decode every frame fully, as a real client would.") var decode = false
    @Flag(help: "JSON output.") var json = false
    @Flag(help: "Connect over the WebSocket at /ws on --http-port instead of TCP.") var websocket = false
    @Option(help: "The server's HTTP port, for --websocket.") var httpPort = 7421
    @Option(help: "Participants besides the clients (protocol 3; needs --scene): each joins, watches --participant-area metres around itself and sends --input-rate inputs a second.")
    var participants = 0
    @Option(help: "Side of each participant's square area, metres.") var participantArea = 100.0
    @Option(help: "Inputs a second per participant.") var inputRate = 10.0
    @Option(help: "The scene's join token, when it is joined by token.") var joinToken = ""
    @Option(help: "Highest protocol version the clients speak (1 to \(WireProtocol.version)).") var maxVersion = WireProtocol.version

    func run() async throws {
        var config = LoadConfiguration()
        config.host = host; config.port = port; config.clients = clients; config.seconds = seconds
        config.scene = scene; config.decode = decode
        guard maxVersion >= WireProtocol.minimumVersion && maxVersion <= WireProtocol.version else {
            throw ValidationError("--max-version must be \(WireProtocol.minimumVersion) to \(WireProtocol.version)")
        }
        config.maxVersion = maxVersion
        if websocket { config.transport = .webSocket(); config.port = httpPort }
        if participants > 0 && scene == nil { throw ValidationError("--participants needs --scene (the scene they join)") }
        config.participants = participants; config.participantAreaSide = participantArea
        config.inputRate = inputRate; config.joinToken = joinToken
        let e = extent.split(separator: ",").compactMap { Double($0) }
        guard e.count == 2 else { throw ValidationError("--extent needs WIDTH,HEIGHT") }
        config.areas = LoadAreas.make(count: clients, side: areaSize, width: e[0], height: e[1])
        let report = await LoadGenerator.run(config)
        if json {
            let enc = JSONEncoder()
            enc.outputFormatting = [.sortedKeys]
            print(String(decoding: try enc.encode(report), as: UTF8.self))
        } else {
            print(String(format: "%d/%d clients for %.0f s: delivered %.2f%% of ticks (%d skipped, %d resyncs), latency p50 %.1f ms p99 %.1f ms max %.1f ms, %.1f MB received",
                         report.connected, report.clients, report.seconds, report.deliveredRatio * 100, report.skippedTicks, report.resyncs,
                         report.latencyP50Ms, report.latencyP99Ms, report.latencyMaxMs, Double(report.bytes) / 1e6))
            if report.participants > 0 {
                print(String(format: "%d/%d participants joined: %d inputs sent, %d acknowledged, input to frame p50 %.1f ms p99 %.1f ms max %.1f ms, delivered %.2f%% of their ticks, %d refusals",
                             report.participantsJoined, report.participants, report.inputsSent, report.inputsAcked, report.inputToFrameP50Ms,
                             report.inputToFrameP99Ms, report.inputToFrameMaxMs, report.participantDeliveredRatio * 100, report.refusals))
            }
            for e in report.errors { print("error: \(e)") }
        }
        if report.connected == 0 && report.participantsJoined == 0 { throw CommandFailure("no client could connect to \(host):\(port)") }
    }
}

/// Areas of interest for load clients: squares at seeded random places, or the whole scene.
enum LoadAreas {
    static func make(count: Int, side: Double, width: Double, height: Double, seed: UInt64 = 1) -> [WireArea?] {
        guard side > 0 else { return [nil] }
        var state = seed
        func next() -> Double {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Double(state >> 11) / Double(1 << 53)
        }
        return (0..<max(1, count)).map { _ in
            let x = next() * max(0, width - side), y = next() * max(0, height - side)
            return WireArea(minX: x, minY: y, maxX: x + side, maxY: y + side)
        }
    }
}
