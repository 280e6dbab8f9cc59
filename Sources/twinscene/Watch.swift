import ArgumentParser
import Foundation
import SceneClient
import SceneWire

struct Watch: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Connect to a server and watch a scene stream: a line per second, or JSON per frame.")

    @Option(help: "Server address.") var host = "127.0.0.1"
    @Option(help: "Server port.") var port = 7420
    @Option(help: "Scene to watch (default: the first the server lists).") var scene: String?
    @Option(help: "Area of interest in scene metres: MINX,MINY,MAXX,MAXY (default: the whole scene).") var aoi: String?
    @Option(help: "Exit after this many state frames.") var frames: Int?
    @Flag(help: "Print one JSON object per state frame instead of a line per second.") var json = false
    @Flag(help: "Print every frame's entities: id, kind, key, label, x, y, z (with --json: one object per frame).") var positions = false
    @Option(name: .customLong("also"), help: "Another server or gateway serving the same scenes (HOST:PORT), tried in turn when a connection is lost: watch subscribes again and goes on from its resync. Repeatable; needs --scene.")
    var alsoAddresses: [String] = []

    /// What the loop reads: a message, or (with --also) a connection made to another server.
    enum Input: Sendable {
        case message(WireMessage)
        case connected(host: String, port: Int, version: UInt16)
    }

    func run() async throws {
        let area = try aoi.map(parseArea)
        let (inputs, send, version, close) = try await connect(area: area)
        defer { Task { await close() } }
        var sceneName = scene
        var view = SceneView(subscription: 1, area: area, version: version)
        var received = 0
        // Bytes of the messages since the last frame, the frame included: counted per message
        // (re-encoded, which gives the bytes the server sent), not per socket read, which may
        // carry several frames at once.
        var pendingBytes = 0
        var windowStart = Date(), windowBytes = 0, windowEntityTicks = 0, windowFrames = 0
        if sceneName == nil { send(.listScenes) } else if alsoAddresses.isEmpty { send(.subscribe(subscription: 1, scene: sceneName!, area: area)) }
        // Keep the connection alive: the server closes clients that stay silent.
        let pinger = Task {
            var nonce: UInt64 = 0
            while !Task.isCancelled {
                try? await Task.sleep(nanoseconds: 10_000_000_000)
                nonce += 1
                send(.ping(nonce: nonce, timeMicros: UInt64(Date().timeIntervalSince1970 * 1e6)))
            }
        }
        defer { pinger.cancel() }
        for try await input in inputs {
            let message: WireMessage
            switch input {
            case .connected(let h, let p, let v):
                // Another server: the view starts over from its scene information and resync.
                FileHandle.standardError.write(Data("connected to \(h):\(p)\n".utf8))
                view = SceneView(subscription: 1, area: area, version: v)
                pendingBytes = 0
                continue
            case .message(let m): message = m
            }
            pendingBytes += message.frameBytes
            switch message {
            case .sceneList(let scenes):
                guard let first = scenes.first else { throw CommandFailure("the server runs no scenes") }
                sceneName = first.name
                send(.subscribe(subscription: 1, scene: first.name, area: area))
            case .error(let code, let text):
                throw CommandFailure("server error \(code): \(text)")
            case .goodbye(let reason):
                print("server said goodbye: \(reason)")
                return
            default:
                guard let update = try view.apply(message) else { continue }
                received += 1
                let bytes = pendingBytes
                pendingBytes = 0
                let entities = view.visible.count
                if positions {
                    emit(positionsText(view, tick: update.tick))
                } else if json {
                    emit(#"{"tick":\#(update.tick),"entities":\#(entities),"bytes":\#(bytes),"resync":\#(update.resync)}"#)
                } else {
                    windowBytes += bytes; windowEntityTicks += entities; windowFrames += 1
                    let elapsed = Date().timeIntervalSince(windowStart)
                    // A line a second, and one for the last frames when --frames ends it sooner.
                    if elapsed >= 1 || (frames.map { received >= $0 } ?? false) {
                        let bpet = windowEntityTicks > 0 ? Double(windowBytes) / Double(windowEntityTicks) : 0
                        emit(String(format: "%@ tick %llu  entities %d  %.1f frames/s  %.1f kB/s  %.3f B/entity/tick",
                                     sceneName ?? "?", update.tick, entities, Double(windowFrames) / max(elapsed, 1e-3),
                                     Double(windowBytes) / max(elapsed, 1e-3) / 1000, bpet))
                        windowStart = Date(); windowBytes = 0; windowEntityTicks = 0; windowFrames = 0
                    }
                }
                if let frames, received >= frames { return }
            }
        }
        throw CommandFailure("the server closed the connection")
    }

    /// The messages to read, how to send, the session's version and how to close: one server,
    /// or with --also a `FailoverClient` over all the addresses (subscribed to --scene).
    func connect(area: WireArea?) async throws -> (AsyncThrowingStream<Input, any Error>, @Sendable (WireMessage) -> Void, UInt16, @Sendable () async -> Void) {
        if alsoAddresses.isEmpty {
            let client = try await SceneClient.connect(host: host, port: port, name: "twinscene-watch")
            let inputs = AsyncThrowingStream<Input, any Error> { c in
                let t = Task {
                    do { for try await m in client.messages { c.yield(.message(m)) }; c.finish() } catch { c.finish(throwing: error) }
                }
                c.onTermination = { _ in t.cancel() }
            }
            return (inputs, { client.send($0) }, client.version, { await client.close() })
        }
        guard let scene else { throw CommandFailure("--also needs --scene: the scene to watch on every server") }
        var addresses = [(host: host, port: port)]
        for a in alsoAddresses {
            guard let colon = a.lastIndex(of: ":"), let p = Int(a[a.index(after: colon)...]), p > 0, p < 65536 else {
                throw CommandFailure("--also \(a): expected HOST:PORT, like 127.0.0.1:7430")
            }
            addresses.append((String(a[..<colon]).trimmingCharacters(in: CharacterSet(charactersIn: "[]")), p))
        }
        let client = FailoverClient(addresses: addresses, name: "twinscene-watch")
        client.subscribe(1, scene: scene, area: area)
        let inputs = AsyncThrowingStream<Input, any Error> { c in
            let t = Task {
                for await e in client.messages {
                    switch e {
                    case .switched(_, let h, let p, let v): c.yield(.connected(host: h, port: p, version: v))
                    case .message(let m): c.yield(.message(m))
                    }
                }
                c.finish()
            }
            c.onTermination = { _ in t.cancel() }
        }
        return (inputs, { client.send($0) }, WireProtocol.version, { await client.close() })
    }

    /// One frame's entities, as a JSON object (`--json`) or a table.
    func positionsText(_ view: SceneView, tick: UInt64) -> String {
        let rows = Self.positionRows(view)
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            let data = (try? encoder.encode(PositionFrame(tick: tick, entities: rows))) ?? Data()
            return String(decoding: data, as: UTF8.self)
        }
        var lines = ["tick \(tick)  entities \(rows.count)", "      id kind       key            label                                x         y z"]
        for r in rows {
            let z = r.z.map { String(format: "%.2f", $0) } ?? "-"
            func pad(_ t: String, _ n: Int) -> String { t.count >= n ? t : t + String(repeating: " ", count: n - t.count) }
            lines.append("  " + String(format: "%6u", r.id) + " " + pad(r.kind, 10) + " " + pad(r.key, 14) + " " + pad(r.label, 28)
                         + String(format: " %9.2f %9.2f ", r.x, r.y) + z)
        }
        return lines.joined(separator: "\n")
    }

    /// The view's entities with what version 2 says about them (key and label empty in a
    /// version 1 session); z from the stream (version 2) or an attribute named "z".
    static func positionRows(_ view: SceneView) -> [PositionRow] {
        let kinds = view.info?.kinds ?? []
        return view.entities().map { e in
            let kind = kinds.first { $0.code == e.kind }
            let zIndex = kind?.attributes.firstIndex { $0.name == "z" && $0.type == 0 }
            let z = e.z.map { ($0 * 100).rounded() / 100 } ?? zIndex.flatMap { view.attributes[e.id]?[UInt8($0)] }.map { Double(Float(bitPattern: $0)) }
            let who = view.identities[e.id]
            return PositionRow(id: e.id, kind: kind?.name ?? "\(e.kind)", key: who?.key ?? "", label: who?.label ?? "",
                               x: (e.position.x * 100).rounded() / 100, y: (e.position.y * 100).rounded() / 100, z: z)
        }
    }

    /// Writes a line straight to stdout (unbuffered, so pipes see each line as it comes).
    func emit(_ line: String) {
        FileHandle.standardOutput.write(Data((line + "\n").utf8))
    }

    func parseArea(_ text: String) throws -> WireArea {
        let v = text.split(separator: ",").compactMap { Double($0.trimmingCharacters(in: .whitespaces)) }
        guard v.count == 4, v[0] < v[2], v[1] < v[3] else {
            throw ValidationError("--aoi needs MINX,MINY,MAXX,MAXY with min below max, e.g. 0,0,200,150")
        }
        return WireArea(minX: v[0], minY: v[1], maxX: v[2], maxY: v[3])
    }
}

/// One entity of `watch --positions`.
struct PositionRow: Encodable {
    var id: UInt32
    var kind: String
    var key: String
    var label: String
    var x: Double
    var y: Double
    var z: Double?

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id); try c.encode(kind, forKey: .kind); try c.encode(key, forKey: .key)
        try c.encode(label, forKey: .label); try c.encode(x, forKey: .x); try c.encode(y, forKey: .y)
        // null rather than absent, so every entity has the same fields.
        try c.encode(z, forKey: .z)
    }
    enum CodingKeys: String, CodingKey { case id, kind, key, label, x, y, z }
}

/// One frame of `watch --positions --json`.
struct PositionFrame: Encodable {
    var tick: UInt64
    var entities: [PositionRow]
}
