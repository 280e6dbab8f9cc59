import Foundation
import SceneServer
import SceneWeb
import SceneWire
import Testing

/// The HTTP side: the scenes as JSON, the page's files by exact name, and every refusal the
/// issue lists, each tested with raw bytes on a plain TCP connection.
@Suite(.serialized) struct HTTPFrontTests {
    @Test func scenesAsJSONMatchWhatTheServerRuns() async throws {
        let t = try await WebTestServer.start(walkers: 120)
        let list = await rawGet(port: t.httpPort, "/api/scenes")
        #expect(statusCode(list) == 200)
        #expect(list.lowercased().contains("content-type: application/json"))
        let scenes = try JSONSerialization.jsonObject(with: Data(body(list).utf8)) as? [[String: Any]]
        #expect(scenes?.count == 1)
        #expect(scenes?.first?["name"] as? String == "district")
        #expect(scenes?.first?["entities"] as? Int == 120)
        #expect(scenes?.first?["tickRate"] as? Int == 20)
        let one = await rawGet(port: t.httpPort, "/api/scenes/district")
        #expect(statusCode(one) == 200)
        let info = try JSONSerialization.jsonObject(with: Data(body(one).utf8)) as? [String: Any]
        let expected = try #require(t.server.sceneInfo(named: "district"))
        #expect(info?["quantum"] as? Double == expected.quantum)
        #expect(info?["cellColumns"] as? Int == Int(expected.cellColumns))
        let bounds = info?["bounds"] as? [String: Double]
        #expect(bounds?["maxX"] == expected.bounds.maxX && bounds?["minY"] == expected.bounds.minY)
        let kinds = info?["kinds"] as? [[String: Any]]
        #expect(kinds?.map { $0["name"] as? String } == expected.kinds.map { $0.name })
        #expect(statusCode(await rawGet(port: t.httpPort, "/api/scenes/nowhere")) == 404)
        await t.stop()
    }

    @Test func thePageIsServedAndNoPathClimbsOut() async throws {
        let t = try await WebTestServer.start(walkers: 20)
        let page = await rawGet(port: t.httpPort, "/")
        #expect(statusCode(page) == 200)
        #expect(page.lowercased().contains("content-type: text/html"))
        #expect(body(page).contains("twinscene"))
        let wire = await rawGet(port: t.httpPort, "/wire.js")
        #expect(statusCode(wire) == 200 && wire.lowercased().contains("text/javascript"))
        for path in ["/../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd", "/..%2f..%2fetc%2fpasswd", "/wire.js/../../Package.swift",
                     "/%252e%252e/etc/passwd", "//etc/passwd", "/Viewer/index.html", "/nothing.js", "/.%2e/.%2e/etc/passwd"] {
            let r = await rawGet(port: t.httpPort, path)
            #expect([400, 404].contains(statusCode(r)), "\(path): \(r.prefix(40))")
            #expect(!r.contains("root:"), "\(path) reached /etc/passwd")
        }
        await t.stop()
    }

    static func upgrade(port: Int, path: String = "/ws", origin: String?, key: Bool = true) -> [UInt8] {
        var text = "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
        if key { text += "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" }
        if let origin { text += "Origin: \(origin)\r\n" }
        return Array((text + "\r\n").utf8)
    }

    @Test func upgradesAreRefusedAsDocumented() async throws {
        let t = try await WebTestServer.start(walkers: 20) { _ in } web: { $0.allowedOrigins = ["https://dashboard.example"] }
        let p = t.httpPort
        // The page's own origin, an allowed one, and no Origin at all (not a browser) upgrade.
        for origin in ["http://127.0.0.1:\(p)", "https://dashboard.example", nil] {
            let r = await rawHTTP(port: p, Self.upgrade(port: p, origin: origin), headOnly: true)
            #expect(statusCode(r) == 101, "\(origin ?? "no origin"): \(r.prefix(60))")
        }
        // A foreign origin: 403, with what to do about it.
        for origin in ["http://evil.example", "http://127.0.0.1:1", "null", "https://dashboard.example.evil"] {
            let r = await rawHTTP(port: p, Self.upgrade(port: p, origin: origin))
            #expect(statusCode(r) == 403, "\(origin): \(r.prefix(60))")
            #expect(r.contains("--allow-origin"))
        }
        #expect(statusCode(await rawHTTP(port: p, Self.upgrade(port: p, origin: nil, key: false))) == 400, "an upgrade without a key")
        #expect(statusCode(await rawHTTP(port: p, Self.upgrade(port: p, path: "/other", origin: nil))) == 404)
        #expect(statusCode(await rawGet(port: p, "/ws")) == 400, "a plain GET of /ws")
        await t.stop()
    }

    @Test func hugeHeadersAndGarbageAreRefusedAndHalfOpenConnectionsClosed() async throws {
        let t = try await WebTestServer.start(walkers: 20) { _ in } web: { $0.requestHeadTimeout = 1 }
        let p = t.httpPort
        // Several MB of headers: 431 long before the end.
        var big = Array("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n".utf8)
        let line = Array("X-Pad: \(String(repeating: "a", count: 8000))\r\n".utf8)
        for _ in 0..<400 { big += line }
        big += Array("\r\n".utf8)
        #expect(statusCode(await rawHTTP(port: p, big)) == 431)
        #expect(statusCode(await rawHTTP(port: p, Array("NOT HTTP AT ALL\r\n\r\n".utf8))) == 400)
        // A connection that never finishes its request head is closed after the deadline.
        let start = Date()
        let r = await rawHTTP(port: p, Array("GET / HTTP/1.1\r\nHost: x\r\n".utf8), seconds: 60)
        #expect(Date().timeIntervalSince(start) < 30, "a half-open request held its connection \(Date().timeIntervalSince(start)) s")
        #expect(r.isEmpty)
        // Two hundred half-open requests at once: the front still answers others at once, and
        // closes every one of them after the deadline.
        let started = Date()
        async let halfOpen: [String] = withTaskGroup(of: String.self) { group in
            for _ in 0..<200 { group.addTask { await rawHTTP(port: p, Array("GET / HTTP/1.1\r\nHost: x\r\nX-Slow:".utf8), seconds: 60) } }
            var out: [String] = []
            for await r in group { out.append(r) }
            return out
        }
        try await Task.sleep(nanoseconds: 300_000_000)
        #expect(statusCode(await rawGet(port: p, "/api/scenes")) == 200)
        let held = await halfOpen
        #expect(held.count == 200 && held.allSatisfy(\.isEmpty))
        #expect(Date().timeIntervalSince(started) < 40, "the half-open requests were held \(Date().timeIntervalSince(started)) s")
        await t.stop()
    }
}
