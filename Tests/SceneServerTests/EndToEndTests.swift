import Foundation
import Logging
import NIOCore
import CityTiles
import Scenarios
import SceneClient
import SceneCore
import SceneServer
import SceneWire
import Testing

@Suite(.serialized) struct EndToEndTests {
    @Test func ticksAdvanceEntitiesMatchAndNobodyIsInsideABuilding() async throws {
        let t = try await TestServer.start(walkers: 300)
        let client = try await t.connect()
        client.send(.listScenes)
        guard case .sceneList(let scenes)? = try await nextControlMessage(client) else { Issue.record("no scene list"); return }
        #expect(scenes.map(\.name) == ["district"])
        #expect(scenes.first?.entities == 300)
        client.send(.subscribe(subscription: 1, scene: "district", area: nil))
        var view = SceneView(subscription: 1)
        let obstacles = t.obstacles
        let quantum = Float(t.manifest.quantum)
        var inside = 0
        let updates = try await collect(client, view: &view, frames: 40) { v, _ in
            for e in v.entities() {
                let x = Float(e.position.x), y = Float(e.position.y)
                // Decoded positions are within half a quantum of the engine's, which never
                // ends a tick inside a building: a point inside by more than that is a bug.
                if obstacles.isBlocked(x, y), (obstacles.nearestWall(x: x, y: y, maxDistance: quantum)?.distance ?? .infinity) > quantum {
                    inside += 1
                }
            }
        }
        #expect(updates.count == 40)
        #expect(updates.first?.resync == true)
        let ticks = updates.map(\.tick)
        #expect(zip(ticks, ticks.dropFirst()).allSatisfy { $1 == $0 + 1 }, "ticks advance one by one: \(ticks)")
        #expect(view.visible.count == 300)
        #expect(view.info?.epsg == 7415)
        #expect(view.buildings.count == 120)
        #expect(inside == 0)
        #expect(client.bytesReceived > 0)
        await client.close()
        await t.server.shutdown()
    }

    @Test func lateJoinerGetsAKeyframeThenTheSameStateAsAnEarlyClient() async throws {
        let t = try await TestServer.start(walkers: 200)
        let early = try await t.connect("early")
        early.send(.subscribe(subscription: 1, scene: "district", area: nil))
        var earlyView = SceneView(subscription: 1)
        _ = try await collect(early, view: &earlyView, frames: 20)
        let late = try await t.connect("late")
        late.send(.subscribe(subscription: 5, scene: "district", area: nil))
        var lateView = SceneView(subscription: 5)
        let lateUpdates = try await collect(late, view: &lateView, frames: 5)
        #expect(lateUpdates.first?.resync == true)
        #expect(lateUpdates.dropFirst().allSatisfy { !$0.resync })
        // Bring the early client to the late one's tick and compare whole states.
        let target = try #require(lateView.tick)
        if earlyView.tick! < target {
            _ = try await collect(early, view: &earlyView, frames: Int(target - earlyView.tick!))
        }
        #expect(earlyView.tick == target)
        #expect(earlyView.decoder.cells == lateView.decoder.cells)
        await early.close(); await late.close()
        await t.server.shutdown()
    }

    @Test func areaOfInterestHoldsExactlyTheEntitiesInsideIt() async throws {
        let t = try await TestServer.start(walkers: 400)
        let area = WireArea(minX: 50, minY: 40, maxX: 250, maxY: 200)
        // Version 1: the client filters by the new area from the move on, and waits out the
        // frames already on their way (version 2's AreaMoved says when; see AreaTests).
        let whole = try await t.connect("whole", version: 1)
        let part = try await t.connect("part", version: 1)
        whole.send(.subscribe(subscription: 1, scene: "district", area: nil))
        part.send(.subscribe(subscription: 2, scene: "district", area: area))
        var wholeView = SceneView(subscription: 1)
        var partView = SceneView(subscription: 2, area: area)
        _ = try await collect(whole, view: &wholeView, frames: 10)
        _ = try await collect(part, view: &partView, frames: 10)
        // Align the two on one tick, then compare.
        while wholeView.tick! < partView.tick! { _ = try await collect(whole, view: &wholeView, frames: 1) }
        while partView.tick! < wholeView.tick! { _ = try await collect(part, view: &partView, frames: 1) }
        let expected = Set(wholeView.entities().filter { area.contains(x: $0.position.x, y: $0.position.y) }.map(\.id))
        #expect(!expected.isEmpty)
        #expect(partView.visible == expected)
        #expect(partView.buildings.count < wholeView.buildings.count)
        // Move the area: new cells arrive as keyframes, old ones are dropped, the view follows.
        let moved = WireArea(minX: 300, minY: 100, maxX: 560, maxY: 330)
        part.send(.moveArea(subscription: 2, area: moved))
        partView.area = moved
        // Frames already on their way still show the old area (none of whose walkers are in
        // the new one): wait for the first frame after the move, however slow the machine.
        var waited = 0
        repeat {
            _ = try await collect(part, view: &partView, frames: 1)
            waited += 1
        } while partView.visible.isEmpty && waited < 2_000
        while wholeView.tick! < partView.tick! { _ = try await collect(whole, view: &wholeView, frames: 1) }
        while partView.tick! < wholeView.tick! { _ = try await collect(part, view: &partView, frames: 1) }
        let expectedMoved = Set(wholeView.entities().filter { moved.contains(x: $0.position.x, y: $0.position.y) }.map(\.id))
        #expect(partView.visible == expectedMoved)
        await whole.close(); await part.close()
        await t.server.shutdown()
    }

    @Test func aBadFrameClosesThatClientOnly() async throws {
        let t = try await TestServer.start(walkers: 100)
        let good = try await t.connect("good")
        let bad = try await t.connect("bad")
        good.send(.subscribe(subscription: 1, scene: "district", area: nil))
        var goodView = SceneView(subscription: 1)
        _ = try await collect(good, view: &goodView, frames: 3)
        bad.sendRaw([3, 0x7E, 1, 2])   // a 3-byte frame of unknown type 0x7e
        let reply = try await nextControlMessage(bad)
        #expect(reply == .error(code: ErrorCode.unknownMessageType.rawValue, message: "unknown message type 0x7e"))
        try await bad.channel.closeFuture.get()
        let before = goodView.tick!
        _ = try await collect(good, view: &goodView, frames: 5)
        #expect(goodView.tick! >= before + 5)
        await good.close()
        await t.server.shutdown()
    }

    @Test func oversizedFrameAndMessagesBeforeHelloAreRefused() async throws {
        let t = try await TestServer.start(walkers: 50) { $0.maxClientFrameBytes = 1024 }
        let c = try await t.connect()
        let huge: [UInt8] = [0x80, 0x80, 0x04, 0x05]   // announces 65536 bytes
        c.sendRaw(huge)
        let reply = try await nextControlMessage(c)
        #expect(reply == .error(code: ErrorCode.frameTooLarge.rawValue, message: "frame of 65536 bytes exceeds the limit of 1024"))
        await t.server.shutdown()
    }

    @Test func unknownSceneIsAnErrorWithACode() async throws {
        let t = try await TestServer.start(walkers: 50)
        let c = try await t.connect()
        c.send(.subscribe(subscription: 1, scene: "atlantis", area: nil))
        guard case .error(let code, let text)? = try await nextControlMessage(c) else { Issue.record("no error"); return }
        #expect(code == ErrorCode.unknownScene.rawValue)
        #expect(text.contains("district"))
        await t.server.shutdown()
    }

    @Test func controlIsRefusedWithoutTokenOrWithAWrongOne() async throws {
        let open = try await TestServer.start(walkers: 50)
        let c = try await open.connect()
        c.send(.control(token: "anything", scene: "district", command: .pause))
        guard case .error(let code, _)? = try await nextControlMessage(c) else { Issue.record("no error"); return }
        #expect(code == ErrorCode.unauthorized.rawValue)
        await open.server.shutdown()

        let guarded = try await TestServer.start(walkers: 50) { $0.adminToken = "s3cret-s3cret-s3cret" }
        let wrong = try await guarded.connect()
        wrong.send(.control(token: "s3cret-s3cret-s3cres", scene: "district", command: .pause))
        guard case .error(let code2, _)? = try await nextControlMessage(wrong) else { Issue.record("no error"); return }
        #expect(code2 == ErrorCode.unauthorized.rawValue)
        let right = try await guarded.connect()
        right.send(.control(token: "s3cret-s3cret-s3cret", scene: "district", command: .pause))
        guard case .controlResult(let ok, _)? = try await nextControlMessage(right) else { Issue.record("no result"); return }
        #expect(ok)
        await guarded.server.shutdown()
    }

    @Test func gracefulShutdownSaysGoodbye() async throws {
        let t = try await TestServer.start(walkers: 50)
        let c = try await t.connect()
        c.send(.subscribe(subscription: 1, scene: "district", area: nil))
        var view = SceneView(subscription: 1)
        _ = try await collect(c, view: &view, frames: 2)
        let shutdown = Task { await t.server.shutdown() }
        var sawGoodbye = false
        for try await m in c.messages { if case .goodbye = m { sawGoodbye = true } }
        await shutdown.value
        #expect(sawGoodbye)
        #expect(t.server.state == .stopped)
    }

    @Test func aConnectionWhileTheServerDrainsGetsError14() async throws {
        let t = try await TestServer.start(walkers: 50)
        #expect(t.server.state == .running)
        let c = try await t.connect()
        t.server.drain()
        #expect(t.server.state == .draining)
        var sawGoodbye = false
        for try await m in c.messages { if case .goodbye = m { sawGoodbye = true } }
        #expect(sawGoodbye, "a connected client is told")
        do {
            _ = try await t.connect("late")
            Issue.record("a connection during the drain was welcomed")
        } catch ClientError.refused(let code, let message) {
            #expect(code == ErrorCode.serverShuttingDown.rawValue, "\(message)")
        }
        await t.server.shutdown()
        #expect(t.server.state == .stopped)
        await #expect(throws: ServerError.self) { try await t.server.start() }
    }
}

@Suite struct MarathonStreamTests {
    @Test func attributesAndEventsArriveExactly() async throws {
        var manifest = try SceneManifest.load(path: TestServer.packageRoot.appendingPathComponent("Scenes/marathon.scene.json").path)
        manifest.parameters["runners"] = 200
        manifest.parameters["spectators"] = 10
        manifest.parameters["waveGapSeconds"] = 0.5
        let scene = try SceneLoader.load(manifest, catalog: try Catalog(), workers: 2)
        var config = ServerConfiguration.forTests()
        config.port = 0
        let server = SceneServer(configuration: config, scenes: [scene], catalog: nil, logger: .init(label: "t"))
        let port = try await server.start().port!
        let client = try await SceneClient.connect(host: "127.0.0.1", port: port)
        client.send(.subscribe(subscription: 1, scene: "marathon", area: nil))
        var view = SceneView(subscription: 1)
        var leaders: [Float] = []
        var frames = 0
        for try await m in client.messages {
            // The leaderboard comes once a second whatever the race's state (starts may all
            // have happened before this client subscribed).
            if case .events(_, _, let events) = m { for e in events where e.kind == 103 { leaders.append(e.value) } }
            if try view.apply(m) != nil { frames += 1 }
            if frames >= 40 { break }
        }
        let runnerKind = try #require(view.info?.kinds.first { $0.name == "runner" })
        #expect(runnerKind.attributes.map(\.name) == ["bib", "pace", "lastSplit", "finishTime"])
        // Bibs are slot + 1 by construction: every runner's bib arrived, exactly.
        let runners = view.entities().filter { $0.kind == runnerKind.code }
        #expect(runners.count == 200)
        for r in runners { #expect(view.attributes[r.id]?[0] == r.id + 1, "bib of \(r.id)") }
        #expect(leaders.contains(1) && leaders.contains(10), "leaderboard events arrive: \(leaders)")
        await client.close()
        await server.shutdown()
    }
}
