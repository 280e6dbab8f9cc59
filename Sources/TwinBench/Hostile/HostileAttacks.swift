import Foundation
import NIOCore
import SceneCore
import SceneWire

/// One attack of the hostile suite: what it did and whether the server held (answered as
/// docs/PROTOCOL.md says and went on serving).
struct AttackResult: Sendable {
    var name: String
    var held: Bool
    var detail: String
    /// A number the suite reports (the storm's slow ticks), where the attack has one.
    var figure: Double? = nil
}

/// The attacks, each bounded in connections, bytes and time. `port` is the stream, `metrics`
/// the metrics endpoint; the server runs a "district" and a "marathon" scene with admin token
/// `token`.
struct HostileAttacks {
    let port: Int
    let metrics: Int
    let token: String
    let quick: Bool
    var rng = SeededGenerator(seed: 20_261_201)

    init(port: Int, metrics: Int, token: String, quick: Bool) {
        self.port = port; self.metrics = metrics; self.token = token; self.quick = quick
    }

    mutating func all() -> [AttackResult] {
        [randomBytes(), hugeLength(), endlessVarint(), manySubscriptions(), absurdAreas(), pingFlood(), listFlood(),
         longNames(), wrongTokens(), httpOnTheStream(), hugeHeaders(), connectionFlood(), subscriptionStorm(), slowReader()]
    }

    /// Runs `body` on `count` fresh connections; a connection that cannot be made counts as not held.
    func each(_ count: Int, _ body: (RawPeer) -> Bool) -> (held: Int, of: Int) {
        var held = 0
        for _ in 0..<count {
            guard let p = RawPeer.connect(port: port) else { continue }
            if body(p) { held += 1 }
            p.shut()
        }
        return (held, count)
    }

    static func result(_ name: String, _ r: (held: Int, of: Int), _ what: String) -> AttackResult {
        AttackResult(name: name, held: r.held == r.of, detail: "\(r.held)/\(r.of) \(what)")
    }

    mutating func randomBytes() -> AttackResult {
        var payloads: [[UInt8]] = []
        for _ in 0..<(quick ? 10 : 40) { payloads.append((0..<4096).map { _ in UInt8(truncatingIfNeeded: rng.next()) }) }
        var k = 0
        let r = each(payloads.count) { p in
            defer { k += 1 }
            p.send(payloads[k])
            let (messages, closed) = p.read()
            return closed || messages.contains { if case .error = $0 { return true } else { return false } }
        }
        return Self.result("random-bytes", r, "closed with an Error")
    }

    func hugeLength() -> AttackResult {
        Self.result("huge-length-prefix", each(5) { p in p.send([0xFF, 0xFF, 0xFF, 0x7F, 0x01]); return p.errorCode() == ErrorCode.frameTooLarge.rawValue }, "got Error 2")
    }

    func endlessVarint() -> AttackResult {
        Self.result("endless-varint", each(5) { p in p.send([UInt8](repeating: 0xFF, count: 64)); return p.errorCode() == ErrorCode.frameTooLarge.rawValue }, "got Error 2")
    }

    func manySubscriptions() -> AttackResult {
        Self.result("5000-subscriptions", each(2) { p in
            _ = p.hello()
            var bytes: [UInt8] = []
            for id in 1...5000 { bytes += Array(WireMessage.subscribe(subscription: UInt32(id), scene: "district", area: nil).frame().readableBytesView) }
            p.send(bytes)
            return p.errorCode() == ErrorCode.tooManySubscriptions.rawValue
        }, "got Error 7")
    }

    func absurdAreas() -> AttackResult {
        let areas = [WireArea(minX: .nan, minY: 0, maxX: 10, maxY: 10), WireArea(minX: -1e308, minY: -1e308, maxX: 1e308, maxY: 1e308),
                     WireArea(minX: .infinity, minY: 5, maxX: -.infinity, maxY: 1)]
        var k = 0
        let r = each(areas.count) { p in
            defer { k += 1 }
            _ = p.hello()
            _ = p.send(.subscribe(subscription: 1, scene: "district", area: areas[k]))
            // Either refused as malformed or served as an area clamped to the scene.
            let (messages, _) = p.read(limit: 40) { m in if case .error = m { return true }; if case .stateFrame = m { return true }; return false }
            return messages.contains { m in
                if case .error(let code, _) = m { return code == ErrorCode.malformedFrame.rawValue }
                if case .stateFrame = m { return true }
                return false
            }
        }
        return Self.result("nan-and-huge-areas", r, "refused or served")
    }

    func pingFlood() -> AttackResult {
        Self.result("ping-flood-unread", each(3) { p in
            _ = p.hello()
            var bytes: [UInt8] = []
            for k in 0..<20_000 { bytes += Array(WireMessage.ping(nonce: UInt64(k), timeMicros: 0).frame().readableBytesView) }
            p.send(bytes)
            return p.errorCode() == ErrorCode.rateLimited.rawValue
        }, "got Error 16")
    }

    func listFlood() -> AttackResult {
        Self.result("list-scenes-flood", each(3) { p in
            _ = p.hello()
            var bytes: [UInt8] = []
            for _ in 0..<2000 { bytes += Array(WireMessage.listScenes.frame().readableBytesView) }
            p.send(bytes)
            return p.errorCode() == ErrorCode.rateLimited.rawValue
        }, "got Error 16")
    }

    func longNames() -> AttackResult {
        // About 60 KB (under the 64 KiB frame limit) of terminal escapes and newlines.
        let name = String(repeating: "\u{1B}[31mx\n", count: 8_500)
        return Self.result("65k-names", each(quick ? 10 : 50) { p in
            _ = p.hello(name)
            _ = p.send(.subscribe(subscription: 1, scene: name, area: nil))
            for m in p.read().messages {
                if case .error(let code, let text) = m { return code == ErrorCode.unknownScene.rawValue && text.utf8.count < 400 }
            }
            return false
        }, "got a short Error 6")
    }

    func wrongTokens() -> AttackResult {
        var refusedLater = false
        let r = each(8) { p in
            _ = p.hello()
            _ = p.send(.control(token: "not-the-token-at-all", scene: "district", command: .pause))
            return p.errorCode() == ErrorCode.unauthorized.rawValue
        }
        // After several wrong ones, even the right token waits (per-address back-off).
        if let p = RawPeer.connect(port: port) {
            _ = p.hello()
            _ = p.send(.control(token: token, scene: "district", command: .listClients))
            for m in p.read().messages { if case .error(let code, let text) = m { refusedLater = code == ErrorCode.unauthorized.rawValue && text.contains("refused") } }
            p.shut()
        }
        return AttackResult(name: "wrong-tokens", held: r.held == r.of && refusedLater,
                            detail: "\(r.held)/\(r.of) got Error 11; then back-off: \(refusedLater)")
    }

    func httpOnTheStream() -> AttackResult {
        Self.result("http-on-the-stream", each(5) { p in
            p.send(Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8) + [UInt8](repeating: 0x41, count: 200))
            return p.errorCode() != nil
        }, "got an Error")
    }

    func hugeHeaders() -> AttackResult {
        var held = 0
        let n = 3
        for _ in 0..<n {
            guard let p = RawPeer.connect(port: metrics) else { continue }
            var request = Array("GET /metrics HTTP/1.1\r\nHost: x\r\n".utf8)
            let header = Array("X-Pad: \(String(repeating: "a", count: 8_000))\r\n".utf8)
            for _ in 0..<(quick ? 200 : 1250) { request += header }   // 1.6 or 10 MB of headers
            p.send(request + Array("\r\n".utf8))
            var buf = [UInt8](repeating: 0, count: 4096)
            let got = buf.withUnsafeMutableBytes { recv(p.fd, $0.baseAddress, $0.count, 0) }
            let text = got > 0 ? String(decoding: buf[0..<got], as: UTF8.self) : ""
            if got <= 0 || text.contains(" 400 ") || text.contains(" 431 ") { held += 1 }
            p.shut()
        }
        return Self.result("10mb-headers-on-metrics", (held, n), "refused (400/431 or closed)")
    }

    func connectionFlood() -> AttackResult {
        var peers: [RawPeer] = []
        let count = quick ? 300 : 1500
        for _ in 0..<count { if let p = RawPeer.connect(port: port, timeout: 2) { peers.append(p) } }
        // Each silent peer is closed by the handshake timeout or refused with Error 8.
        var answered = 0
        for p in peers {
            let code = p.errorCode()
            if code == ErrorCode.handshakeTimeout.rawValue || code == ErrorCode.tooManyConnections.rawValue { answered += 1 }
        }
        for p in peers { p.shut() }
        return AttackResult(name: "connection-flood", held: peers.count >= count / 2,
                            detail: "\(peers.count) connected, \(answered) timed out or refused by the server")
    }

    /// Ticks of a scene so far, and how many of them took over 100 ms, from the metrics endpoint.
    func tickCounts(scene: String) -> (total: Double, over100ms: Double)? {
        guard let p = RawPeer.connect(port: metrics) else { return nil }
        defer { p.shut() }
        p.send(Array("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
        var text: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buf.withUnsafeMutableBytes { recv(p.fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { break }
            text += buf[0..<n]
        }
        var total: Double?, fast: Double?
        for line in String(decoding: text, as: UTF8.self).split(separator: "\n") where line.contains("scene=\"\(scene)\"") {
            let value = line.split(separator: " ").last.flatMap { Double($0) }
            if line.hasPrefix("twinscene_tick_duration_seconds_count") { total = value }
            if line.hasPrefix("twinscene_tick_duration_seconds_bucket") && line.contains("le=\"0.1\"") { fast = value }
        }
        guard let total, let fast else { return nil }
        return (total, total - fast)
    }

    func subscriptionStorm() -> AttackResult {
        let count = quick ? 100 : 1000
        let before = tickCounts(scene: "marathon")
        var peers: [RawPeer] = []
        for _ in 0..<count {
            guard let p = RawPeer.connect(port: port, timeout: 30) else { continue }
            _ = p.hello()
            _ = p.send(.subscribe(subscription: 1, scene: "marathon", area: nil))
            peers.append(p)
        }
        var served = 0
        for p in peers {
            if p.read(limit: 100_000, until: { if case .stateFrame = $0 { return true }; if case .error = $0 { return true }; return false })
                .messages.contains(where: { if case .stateFrame = $0 { return true } else { return false } }) { served += 1 }
            p.shut()
        }
        let after = tickCounts(scene: "marathon")
        let slow = (after?.over100ms ?? .nan) - (before?.over100ms ?? .nan)
        let ticks = (after?.total ?? .nan) - (before?.total ?? .nan)
        return AttackResult(name: "subscription-storm", held: served == peers.count && peers.count == count,
                            detail: "\(served)/\(count) got their first frame; \(Int(slow)) of the marathon's \(Int(ticks)) ticks meanwhile took over 100 ms",
                            figure: slow)
    }

    func slowReader() -> AttackResult {
        guard let p = RawPeer.connect(port: port, timeout: 30, receiveBuffer: 4096) else {
            return AttackResult(name: "slow-reader", held: false, detail: "no connection")
        }
        _ = p.hello()
        // Eight whole-scene subscriptions fill the 1 MiB budget within seconds; then the server
        // waits its 10 s drain timeout before giving up. This peer never reads meanwhile.
        // It pings now and then, so it is not simply idle.
        for id in 1...8 { _ = p.send(.subscribe(subscription: UInt32(id), scene: id % 2 == 0 ? "marathon" : "district", area: nil)) }
        for k in 0..<15 {
            Thread.sleep(forTimeInterval: 2)
            _ = p.send(.ping(nonce: UInt64(k), timeMicros: 0))
        }
        let (messages, _) = p.read()
        p.shut()
        var last: UInt16?
        for m in messages { if case .error(let code, _) = m { last = code } }
        return AttackResult(name: "slow-reader", held: last == ErrorCode.tooSlow.rawValue, detail: "last Error \(last.map(String.init) ?? "none")")
    }
}
