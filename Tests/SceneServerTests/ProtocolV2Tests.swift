import CityTiles
import Foundation
import Logging
import NIOCore
import Scenarios
import SceneClient
import SceneCore
import SceneServer
import SceneWire
import Testing

/// Version 2 against a real server: identities, area-filtered attributes and events,
/// MoveArea answered with the tick it applies from; and version 1 sessions served as before.
@Suite struct ProtocolV2Tests {
    /// A server on one scene loaded from a bundled manifest, changed by `edit`.
    static func serve(_ file: String, configure: (inout ServerConfiguration) -> Void = { _ in },
                      _ edit: (inout SceneManifest) -> Void) async throws -> (SceneServer, Int) {
        var manifest = try SceneManifest.load(path: TestServer.packageRoot.appendingPathComponent("Scenes/\(file)").path)
        edit(&manifest)
        let scene = try SceneLoader.load(manifest, catalog: try Catalog(), workers: 2)
        var config = ServerConfiguration.forTests()
        configure(&config)
        let server = SceneServer(configuration: config, scenes: [scene], catalog: nil, logger: .init(label: "t"))
        return (server, try await server.start().port!)
    }

    static func marathon() async throws -> (SceneServer, Int) {
        try await serve("marathon.scene.json") {
            $0.parameters["runners"] = 600
            $0.parameters["spectators"] = 40
            $0.parameters["waveGapSeconds"] = 0.5
        }
    }

    @Test func aVersionOneSessionGetsNoVersionTwoMessagesAndMayNotSendThem() async throws {
        let (server, port) = try await Self.marathon()
        let client = try await SceneClient.connect(host: "127.0.0.1", port: port, maxVersion: 1)
        #expect(client.version == 1)
        // An area holding no one: version 1 still sends every runner's attributes.
        let area = WireArea(minX: 0, minY: 0, maxX: 1, maxY: 1)
        client.send(.subscribe(subscription: 1, scene: "marathon", area: area))
        var view = SceneView(subscription: 1, area: area)
        var outside = 0, frames = 0
        var types: [MessageType] = []
        for try await m in client.messages {
            types.append(m.type)
            switch m {
            case .entityInfo, .areaMoved: Issue.record("a version 1 session got \(m.type)")
            case .attributes(_, _, _, let values):
                // Version 1: attributes of every entity of the scene, wherever the area is.
                outside += values.filter { !view.visible.contains($0.entity) }.count
            default: break
            }
            if try view.apply(m) != nil { frames += 1 }
            if frames >= 30 { break }
        }
        #expect(outside > 0, "attributes of entities outside the area: \(types.prefix(20))")
        // A version 2 message from a version 1 session: Error 4, and the connection closes.
        client.send(.moveAreaRequest(subscription: 1, request: 1, area: nil))
        var error: UInt16?
        for try await m in client.messages { if case .error(let code, _) = m { error = code } }
        #expect(error == ErrorCode.unexpectedMessage.rawValue)
        await client.close()
        await server.shutdown()
    }

    @Test func aVersionTwoSessionMovesAreasOnlyWithARequestId() async throws {
        let (server, port) = try await Self.marathon()
        let client = try await SceneClient.connect(host: "127.0.0.1", port: port, maxVersion: 2)
        #expect(client.version == 2)
        client.send(.subscribe(subscription: 1, scene: "marathon", area: nil))
        client.send(.moveArea(subscription: 1, area: nil))
        var error: (UInt16, String)?
        for try await m in client.messages { if case .error(let code, let text) = m { error = (code, text) } }
        #expect(error?.0 == ErrorCode.unexpectedMessage.rawValue && error?.1.contains("version 2") == true)
        await client.close()
        await server.shutdown()
    }

    /// Per tick, what each subscription held after its frame: visible entities with their
    /// positions, and the attribute values and events that came with the frame.
    struct Tick {
        var visible: [UInt32: SIMD2<Double>] = [:]
        var attributes: [UInt32: [UInt8: UInt32]] = [:]
        var events: [WireEvent] = []
        var snapshot = false
        /// Every entity the view holds (its covered cells).
        var held: Set<UInt32> = []
    }

    /// Version 2 scopes an area's identities, attributes and events to the entities inside
    /// the area; version 3 to those in its covered cells (the entities it gets positions of).
    @Test(arguments: [UInt16(2), 3])
    func anAreaGetsIdentitiesAttributesAndEventsOfItsEntitiesOnly(version: UInt16) async throws {
        // The first wave runs at once; the other three wait in the corral for five minutes, so
        // the start area still holds runners however late a starved test gets to subscribe
        // (in CI this test once subscribed after the whole field had left).
        let (server, port) = try await Self.serve("marathon.scene.json") {
            $0.parameters["runners"] = 600
            $0.parameters["spectators"] = 40
            $0.parameters["waveGapSeconds"] = 300
        }
        let client = try await SceneClient.connect(host: "127.0.0.1", port: port, maxVersion: version)
        #expect(client.version == version)
        // The start area, where the runners are at the beginning of the race.
        var whole = SceneView(subscription: 1, version: version)
        client.send(.subscribe(subscription: 1, scene: "marathon", area: nil))
        _ = try await collect(client, view: &whole, frames: 1)
        // Around the last runner: its wave waits at the start for minutes (the first runner may
        // have run out of any area by the time a starved test gets here, taking its values along).
        let start = try #require(whole.entities().filter { $0.kind == 1 }.max { $0.id < $1.id }).position
        let area = WireArea(minX: start.x - 60, minY: start.y - 60, maxX: start.x + 60, maxY: start.y + 60)
        var part = SceneView(subscription: 2, area: area, version: version)
        client.send(.subscribe(subscription: 2, scene: "marathon", area: area))
        var ticks: [UInt32: [UInt64: Tick]] = [1: [:], 2: [:]]
        var infoCount: [UInt32: [UInt32: Int]] = [1: [:], 2: [:]]
        var pending: [UInt32: Tick] = [1: Tick(), 2: Tick()]
        var lastTick: [UInt32: UInt64] = [:]
        var identityLate = 0
        var frames = 0
        let (expired, watchdog) = Deadline.watch(client, limit: 120)
        defer { watchdog.cancel() }
        for try await m in client.messages {
            switch m {
            case .entityInfo(let s, let list): for e in list { infoCount[s]![e.entity, default: 0] += 1 }
            case .attributes(let s, let t, let snapshot, let values) where t == lastTick[s]:
                for v in values { pending[s]!.attributes[v.entity, default: [:]][v.attribute] = v.bits }
                if snapshot { pending[s]!.snapshot = true }
                ticks[s]![t] = pending[s]!
            case .events(let s, let t, let list) where t == lastTick[s]:
                pending[s]!.events += list
                ticks[s]![t] = pending[s]!
            default: break
            }
            for s: UInt32 in [1, 2] {
                var view = s == 1 ? whole : part
                let result = try view.apply(m)
                if s == 1 { whole = view } else { part = view }
                guard let update = result else { continue }
                var t = Tick()
                for e in view.entities() where view.visible.contains(e.id) { t.visible[e.id] = e.position }
                t.held = view.heldIds()
                // Who an entity is arrives before (or with) the frame in which it first shows.
                identityLate += update.entered.filter { view.identities[$0] == nil }.count
                if version >= 3 && s == 2 { identityLate += t.held.filter { view.identities[$0] == nil }.count }
                ticks[s]![update.tick] = t
                pending[s] = t
                lastTick[s] = update.tick
                if s == 2 { frames += 1 }
            }
            if frames >= 120 || expired.fired { break }
        }
        #expect(!expired.fired)
        #expect(identityLate == 0)
        // Once per entity per subscriber (a single resync each here; the whole scene's came
        // with its first frame, before the counting started, and none again since).
        #expect(infoCount[1]!.isEmpty && infoCount[2]!.values.allSatisfy { $0 == 1 })
        #expect(infoCount[2]!.count > 0 && infoCount[2]!.count < whole.identities.count, "identities: area \(infoCount[2]!.count), whole \(whole.identities.count)")
        #expect(whole.identities.count == whole.entities().count)
        // The identities say who runners are: bib as key and number, the same bib the attributes carry.
        for (id, info) in part.identities where info.kind == 1 {
            #expect(info.key == "bib-\(info.number)" && info.group.hasPrefix("wave ") && !info.label.isEmpty)
            #expect(whole.attributes[id]?[0] == info.number, "bib of \(id)")
        }
        // Tick by tick against the whole-scene subscription, filtered by the area here.
        var compared = 0, enteredWithValues = 0
        let wide: Set<UInt16> = [MarathonScenario.Event.leaderboard.rawValue]
        for (t, mine) in ticks[2]! {
            // The last tick's attributes and events may not have arrived when the loop stopped.
            guard t < lastTick[2]!, let all = ticks[1]![t], let before = ticks[2]![t - 1], ticks[1]![t - 1] != nil else { continue }
            compared += 1
            let inside = Set(all.visible.filter { area.contains(x: $0.value.x, y: $0.value.y) }.keys)
            #expect(Set(mine.visible.keys) == inside, "tick \(t): visible")
            // What the area's identities, attributes and events are about: version 2, the
            // entities inside it; version 3, every entity of its covered cells.
            let scope = version >= 3 ? mine.held : inside
            let scopeBefore = version >= 3 ? before.held : Set(before.visible.keys)
            #expect(inside.isSubset(of: mine.held))
            // Attributes: nothing of entities outside; an entity entering brings all its values;
            // the others in view get exactly the whole scene's changes.
            #expect(Set(mine.attributes.keys).isSubset(of: scope), "tick \(t): attributes of entities outside the scope")
            for id in scope {
                if !scopeBefore.contains(id) {
                    if whole.attributes[id] != nil { #expect(mine.attributes[id]?.count == 4, "tick \(t): entering \(id)"); enteredWithValues += 1 }
                } else {
                    #expect(mine.attributes[id] == all.attributes[id], "tick \(t): changes of \(id)")
                }
            }
            // Events: those of entities in view, and the scene-wide leaderboard, exactly.
            let expected = all.events.filter { wide.contains($0.kind) || scope.contains($0.entity) }
            #expect(mine.events == expected, "tick \(t): events")
        }
        #expect(compared > 80)
        #expect(enteredWithValues > 0 || part.attributes.count > 0)
        await client.close()
        await server.shutdown()
    }

    @Test func areaMovesAreAnsweredWithTheTickTheyApplyFrom() async throws {
        // 2,000 walkers at 50 Hz; the area moves 100 times a second, faster than the ticks.
        let (server, port) = try await Self.serve("district.scene.json") {
            $0.parameters["walkers"] = 2000
            $0.tickRate = 50
        }
        let client = try await SceneClient.connect(host: "127.0.0.1", port: port)
        var whole = SceneView(subscription: 1, version: 2)
        var part = SceneView(subscription: 2, area: WireArea(minX: 0, minY: 0, maxX: 150, maxY: 150), version: 2)
        client.send(.subscribe(subscription: 1, scene: "district", area: nil))
        client.send(.subscribe(subscription: 2, scene: "district", area: part.area))
        var rng = SeededGenerator(seed: 20261201)
        var wholeAt: [UInt64: Set<UInt32>] = [:]
        var wholePositions: [UInt64: [UInt32: SIMD2<Double>]] = [:]
        var partAt: [UInt64: (visible: Set<UInt32>, area: WireArea?)] = [:]
        var moves = 0, answers = 0, geometries = 0, partFrames = 0
        var lastMove = Date.distantPast
        let (expired, watchdog) = Deadline.watch(client, limit: 120)
        defer { watchdog.cancel() }
        for try await m in client.messages {
            if case .error(let code, let text) = m { Issue.record("error \(code): \(text)"); break }
            if case .areaMoved(2, _, _) = m { answers += 1 }
            if case .staticGeometry(2, _) = m { geometries += 1 }
            if let u = try whole.apply(m) {
                wholeAt[u.tick] = whole.visible
                var p: [UInt32: SIMD2<Double>] = [:]
                for e in whole.entities() { p[e.id] = e.position }
                wholePositions[u.tick] = p
            }
            if let u = try part.apply(m) {
                partAt[u.tick] = (part.visible, part.area)
                partFrames += 1
            }
            // 100 moves a second, whenever messages come (in bursts, a tick's worth at a time).
            if partFrames > 0 && lastMove == .distantPast { lastMove = Date() }
            // After a stall (a starved run) no catching up: a burst of the moves missed would be
            // over the server's 120 a second, and rightly closed with Error 16.
            if partFrames > 0 { lastMove = max(lastMove, Date().addingTimeInterval(-0.03)) }
            while partFrames > 0 && Date().timeIntervalSince(lastMove) >= 0.01 {
                let w = Double.random(in: 60...250, using: &rng), h = Double.random(in: 60...250, using: &rng)
                let x = Double.random(in: -20...560, using: &rng), y = Double.random(in: -20...320, using: &rng)
                client.send(part.move(to: WireArea(minX: x, minY: y, maxX: x + w, maxY: y + h)))
                moves += 1
                lastMove += 0.01
            }
            if partFrames >= 300 || expired.fired { break }
        }
        #expect(!expired.fired)
        var compared = 0, wrong = 0
        for (t, p) in partAt {
            guard let positions = wholePositions[t] else { continue }
            compared += 1
            let expected = Set(positions.filter { p.area?.contains(x: $0.value.x, y: $0.value.y) ?? true }.keys)
            if expected != p.visible { wrong += 1 }
        }
        #expect(compared >= 290)
        #expect(wrong == 0, "\(wrong) of \(compared) ticks differ from the scene filtered by the area in force")
        // Faster than ticks: moves were coalesced, each tick's geometry sent once.
        #expect(moves > partFrames, "moves \(moves), frames \(partFrames)")
        #expect(answers > 0 && answers <= partFrames && geometries <= answers + 1, "answers \(answers), geometries \(geometries)")
        await client.close()
        await server.shutdown()
    }

    static var sharedData: Bool {
        FileManager.default.fileExists(atPath: TestServer.packageRoot.deletingLastPathComponent().appendingPathComponent("shared/data/tracking").path)
    }

    @Test(.enabled(if: sharedData, "../shared/data is absent"))
    func theBallsHeightTravelsInTheVersionTwoStream() async throws {
        let (server, port) = try await Self.serve("football-replay.scene.json") { _ in }
        // Version 1 gets the height as the ball's attribute z; version 2 in the position stream.
        let old = try await SceneClient.connect(host: "127.0.0.1", port: port, maxVersion: 1)
        let new = try await SceneClient.connect(host: "127.0.0.1", port: port)
        old.send(.subscribe(subscription: 1, scene: "football-replay", area: nil))
        new.send(.subscribe(subscription: 1, scene: "football-replay", area: nil))
        var oldView = SceneView(subscription: 1, version: 1), newView = SceneView(subscription: 1, version: 2)
        var oldZ: [UInt64: Double] = [:], newZ: [UInt64: Double] = [:]
        var newAttributes = 0
        do {
            // A tick's Attributes follow its frame: the height of tick T is read once they arrived.
            let (expired, watchdog) = Deadline.watch(old, limit: 120)
            defer { watchdog.cancel() }
            var frames = 0
            for try await m in old.messages {
                _ = try oldView.apply(m)
                if case .stateFrame = m { frames += 1 }
                if case .attributes(_, let t, _, _) = m, let ball = oldView.entities().first(where: { $0.kind == 2 }),
                   let bits = oldView.attributes[ball.id]?[0] {
                    oldZ[t] = Double(Float(bitPattern: bits))
                }
                if frames >= 150 || expired.fired { break }
            }
        }
        let (expired, watchdog) = Deadline.watch(new, limit: 120)
        defer { watchdog.cancel() }
        var frames = 0
        for try await m in new.messages {
            if case .attributes(_, _, _, let values) = m { newAttributes += values.count }
            if let u = try newView.apply(m) {
                frames += 1
                if let ball = newView.entities().first(where: { $0.kind == 2 }), let z = ball.z { newZ[u.tick] = z }
            }
            if frames >= 150 || expired.fired { break }
        }
        let kinds = try #require(newView.info?.kinds)
        #expect(kinds.first { $0.code == 2 }?.zRange == -1...60 && kinds.first { $0.code == 1 }?.zRange == nil)
        #expect(oldView.info?.kinds.allSatisfy { $0.zRange == nil } == true)
        #expect(newAttributes == 0, "version 2 is not sent the height again as an attribute")
        var compared = 0
        for (t, z) in newZ { if let a = oldZ[t] { compared += 1; #expect(abs(z - a) <= 0.005 + 1e-6, "tick \(t): \(z) against \(a)") } }
        #expect(compared > 20)
        await old.close(); await new.close()
        await server.shutdown()
    }

    @Test func aResyncDoesNotSendIdentitiesAgain() async throws {
        // A resync of a subscription that already holds the identities (here: a move while
        // paused, which resends the current tick; a catch-up after skipped ticks takes the same
        // path) sends none again.
        let token = "test-token-0123456789"
        let (server, port) = try await Self.serve("factory.scene.json", configure: { $0.adminToken = token }) { _ in }
        let client = try await SceneClient.connect(host: "127.0.0.1", port: port)
        client.send(.subscribe(subscription: 1, scene: "factory", area: nil))
        var view = SceneView(subscription: 1, version: 2)
        _ = try await collect(client, view: &view, frames: 3)
        let known = view.identities.count
        #expect(known == view.entities().count && known > 20)
        client.send(.control(token: token, scene: "factory", command: .pause))
        client.send(view.move(to: nil))
        var again = 0, resyncs = 0
        let (expired, watchdog) = Deadline.watch(client, limit: 60)
        defer { watchdog.cancel() }
        for try await m in client.messages {
            if case .entityInfo(_, let list) = m { again += list.count }
            if let u = try view.apply(m), u.resync { resyncs += 1 }
            if resyncs > 0 || expired.fired { break }
        }
        #expect(resyncs == 1, "the paused move resends the current tick as a resync")
        #expect(again == 0, "\(again) identities sent again with the resync")
        #expect(view.identities.count == known)
        await client.close()
        await server.shutdown()
    }
}
