import CityTiles
import Foundation
import Logging
import NATSClient
import NATSTestSupport
import NIOCore
import Scenarios
import SceneClient
import SceneServer
import SceneWeb
import SceneWire
import ServiceLifecycle
import Synchronization
import Testing

/// A scene process publishing on a real nats-server and a gateway relaying it, both in this
/// process on 127.0.0.1. The independent check is a client of the scene's own server: what a
/// gateway's client decodes must be, tick by tick, what it decodes.
struct FeedRig {
    let nats: NATSServerProcess
    let scenes: SceneServer
    let gateway: SceneServer
    let scenesPort: Int
    let gatewayPort: Int

    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static func config() -> ServerConfiguration {
        var c = ServerConfiguration()
        c.port = 0
        c.handshakeTimeout = 600
        c.idleTimeout = 1200
        c.adminToken = "a-long-enough-admin-token-for-tests"
        return c
    }

    static func start(nats: NATSServerProcess? = nil, sceneBuffer: Int? = nil, factoryCell: Double? = nil) async throws -> FeedRig {
        let nats = try nats ?? NATSServerProcess()
        let (scenes, scenesPort) = try await scenesServer(nats: nats, buffer: sceneBuffer, factoryCell: factoryCell)
        var logger = Logger(label: "feed-test")
        logger.logLevel = .warning
        var g = NATSOptions(port: nats.port, name: "gateway")
        g.connectTimeout = 30
        let gateway = try await SceneServer.gateway(configuration: config(), nats: g, wait: 60, logger: logger)
        let gatewayPort = try await gateway.start().port!
        return FeedRig(nats: nats, scenes: scenes, gateway: gateway, scenesPort: scenesPort, gatewayPort: gatewayPort)
    }

    /// The scenes' process: the district with 300 walkers and the factory, publishing on `nats`
    /// (keeping `buffer` bytes of its feed while NATS is away, if given).
    static func scenesServer(nats: NATSServerProcess, buffer: Int? = nil, factoryCell: Double? = nil) async throws -> (SceneServer, Int) {
        var district = try SceneManifest.load(path: root.appendingPathComponent("Scenes/district.scene.json").path)
        district.parameters["walkers"] = 300
        var factory = try SceneManifest.load(path: root.appendingPathComponent("Scenes/factory.scene.json").path)
        if let factoryCell { factory.wireCellSize = factoryCell }
        let catalog = try Catalog()
        var logger = Logger(label: "feed-test")
        logger.logLevel = .warning
        var c = config()
        var options = NATSOptions(port: nats.port, name: "scenes")
        options.connectTimeout = 30
        if let buffer { options.reconnectBufferBytes = buffer }
        c.nats = options
        let (manifests, config, log) = ([district, factory], c, logger)
        let scenes = try await offThePool {
            SceneServer(configuration: config, scenes: try manifests.map { try SceneLoader.load($0, catalog: catalog, workers: 2) }, catalog: nil, logger: log)
        }
        return (scenes, try await scenes.start().port!)
    }

    func stop() async {
        await gateway.shutdown()
        await scenes.shutdown()
    }
}

/// Where a reference recording stops: at the last tick the compared recording saw, however late
/// that one started or however slowly it ran, so the two overlap by a count of frames, not by
/// how much a few seconds delivered on a loaded machine.
final class FinishLine: Sendable {
    private let tick = Mutex<UInt64?>(nil)
    func cross(at t: UInt64) { tick.withLock { $0 = max($0 ?? 0, t) } }
    func passed(_ t: UInt64) -> Bool { tick.withLock { $0.map { t >= $0 } ?? false } }
}

/// Two recordings of one scene that both stop once they hold `needed` ticks in common: a frame
/// one of them skipped (a resync under back-pressure on a starved machine) is made up by the
/// next, so the comparison has its count of ticks however the machine ran.
final class Overlap: Sendable {
    let needed: Int
    private let state = Mutex<(seen: [Set<UInt64>], common: Int)>(([[], []], 0))
    init(needed: Int) { self.needed = needed }
    /// Notes that `side` (0 or 1) decoded `tick`; true once the two have `needed` in common.
    func note(_ tick: UInt64, side: Int) -> Bool {
        state.withLock { s in
            if s.seen[side].insert(tick).inserted, s.seen[1 - side].contains(tick) { s.common += 1 }
            return s.common >= needed
        }
    }
    var reached: Bool { state.withLock { $0.common >= needed } }
}

/// What a client holds after each state frame: its entities' positions (and, in `withAttributes`,
/// the attribute values of its entities as of the frame before), one line per entity. It stops
/// after `frames` frames, or, with `until`, once that line is crossed (by a recording given it
/// as `finish`, whenever that one ends), or, with `overlap`, once it and the other side hold
/// enough ticks in common, or after `limit` seconds, a bound for a broken run only.
func record(host: String = "127.0.0.1", port: Int, scene: String, area: WireArea? = nil, frames: Int = .max, version: UInt16 = 1, limit: Double = 120,
            transport: SceneClient.Transport = .tcp, withAttributes: Bool = false, until: FinishLine? = nil, finish: FinishLine? = nil,
            overlap: (Overlap, side: Int)? = nil,
            after: (@Sendable (UInt64) -> WireArea??)? = nil)
    async throws -> (version: UInt16, states: [UInt64: [String]], resyncs: [UInt64], events: [UInt64: [String]], moves: [UInt64], extras: [UInt64: [String]]) {
    let client = try await SceneClient.connect(host: host, port: port, name: "feed-test", maxVersion: version, transport: transport)
    client.send(.subscribe(subscription: 1, scene: scene, area: area))
    var view = SceneView(subscription: 1, area: area, version: client.version)
    var states: [UInt64: [String]] = [:]
    var resyncs: [UInt64] = []
    var events: [UInt64: [String]] = [:], moves: [UInt64] = []
    // Each tick's identities (sent before its frame) and values (after it), as they came.
    var extras: [UInt64: [String]] = [:], identitiesBefore: [String] = []
    defer { finish?.cross(at: states.keys.max() ?? 0) }
    let deadline = Date().addingTimeInterval(limit)
    let watchdog = Task { try await Task.sleep(nanoseconds: UInt64(limit * 1e9)); await client.close() }
    defer { watchdog.cancel() }
    for try await m in client.messages {
        if case .error(let code, let text) = m { Issue.record("error \(code): \(text)"); break }
        if case .events(1, let tick, let list) = m { events[tick, default: []] += list.map { "\($0.entity) \($0.kind) \($0.value)" } }
        if case .areaMoved(1, _, let tick) = m { moves.append(tick) }
        if case .entityInfo(1, let list) = m { identitiesBefore += list.map { "info \($0.entity) \($0.key)" } }
        if case .attributes(1, let tick, let snapshot, let values) = m {
            extras[tick, default: []] += (snapshot ? ["snapshot"] : []) + values.map { "value \($0.entity).\($0.attribute)=\($0.bits)" }
        }
        guard let u = try view.apply(m) else { continue }
        if u.resync { resyncs.append(u.tick) }
        extras[u.tick, default: []] += identitiesBefore
        identitiesBefore = []
        var lines = view.entities().map { e in "\(e.id) \(e.kind) \(e.position.x) \(e.position.y)" + (e.z.map { " \($0)" } ?? "") }
        if withAttributes {
            // Version 3 keeps the values of every entity its cells hold, in its area or not.
            let scope = client.version >= 3 ? view.heldIds() : view.visible
            for id in scope { for (a, bits) in view.attributes[id] ?? [:] { lines.append("\(id).\(a)=\(bits)") } }
            for id in view.visible { if let i = view.identities[id] { lines.append("\(id) is \(i.key) \(i.label) \(i.group) \(i.number)") } }
        }
        states[u.tick] = lines.sorted()
        if case .some(let area)? = after?(u.tick) { client.send(view.move(to: area)) }
        let together = overlap.map { $0.0.note(u.tick, side: $0.side) } ?? false
        if states.count >= frames || together || until?.passed(u.tick) == true || Date() > deadline { break }
    }
    await client.close()
    return (client.version, states, resyncs, events, moves, extras)
}

/// Ticks both recorded, and those of them whose states differ.
func compare(_ a: [UInt64: [String]], _ b: [UInt64: [String]], skipFirst: Int = 0) -> (common: [UInt64], differing: [UInt64]) {
    let firstA = a.keys.sorted().dropFirst(skipFirst).first ?? 0, firstB = b.keys.sorted().dropFirst(skipFirst).first ?? 0
    let common = Set(a.keys).intersection(b.keys).filter { $0 >= max(firstA, firstB) }.sorted()
    return (common, common.filter { a[$0] != b[$0] })
}

/// Moves two clients' areas at the same tick: 20 after the later of their first frames.
final class Mover: Sendable {
    let area: WireArea
    private let firsts = Mutex<[Int: UInt64]>([:])
    init(to area: WireArea) { self.area = area }
    var tick: UInt64? { firsts.withLock { $0.count == 2 ? $0.values.max()! + 20 : nil } }
    func at(_ tick: UInt64, who: Int) -> WireArea?? {
        let target = firsts.withLock { f -> UInt64? in
            if f[who] == nil { f[who] = tick }
            return f.count == 2 ? f.values.max()! + 20 : nil
        }
        return tick == target ? .some(area) : nil
    }
}

@Suite(.serialized, .enabled(if: NATSServerProcess.available || NATSServerProcess.required, "nats-server is not installed (.ci/run installs Debian's)"))
struct GatewayTests {
    @Test func aGatewaysClientsDecodeWhatTheScenesOwnClientsDecode() async throws {
        try #require(NATSServerProcess.available, "TWINSCENE_REQUIRE_TOOLS=1 but nats-server is missing")
        let rig = try await FeedRig.start()
        // The whole district, an area of it, and the factory with its telemetry attributes.
        let area = WireArea(minX: -200, minY: -150, maxX: 100, maxY: 120)
        // Each pair records until it holds 64 ticks in common: the gateway's first frame comes a
        // round trip later (seconds later on a starved machine).
        let pairs = (Overlap(needed: 64), Overlap(needed: 64), Overlap(needed: 64))
        async let directWhole = record(port: rig.scenesPort, scene: "district", overlap: (pairs.0, 0))
        async let gatewayWhole = record(port: rig.gatewayPort, scene: "district", overlap: (pairs.0, 1))
        async let directArea = record(port: rig.scenesPort, scene: "district", area: area, overlap: (pairs.1, 0))
        async let gatewayArea = record(port: rig.gatewayPort, scene: "district", area: area, overlap: (pairs.1, 1))
        async let directFactory = record(port: rig.scenesPort, scene: "factory", withAttributes: true, overlap: (pairs.2, 0))
        async let gatewayFactory = record(port: rig.gatewayPort, scene: "factory", withAttributes: true, overlap: (pairs.2, 1))
        let (dw, gw, da, ga, df, gf) = try await (directWhole, gatewayWhole, directArea, gatewayArea, directFactory, gatewayFactory)
        for (name, d, g, skip) in [("whole district", dw, gw, 0), ("district area", da, ga, 0), ("factory with attributes", df, gf, 2)] {
            let (common, differing) = compare(d.states, g.states, skipFirst: skip)
            #expect(common.count >= 60, "\(name): \(common.count) ticks in common")
            #expect(differing.isEmpty, "\(name): states differ at ticks \(differing.prefix(5)) of \(common.count)")
            #expect(g.states.values.contains { !$0.isEmpty }, "\(name): the gateway's client saw entities")
        }
        #expect(gw.resyncs.count == 1 && ga.resyncs.count == 1, "one resync each: \(gw.resyncs) \(ga.resyncs)")
        await rig.stop()
    }

    /// The gateway's WebSocket (its web front, as `twinscene gateway` serves it): the same
    /// frames as over TCP, so the same state as the scene's own clients.
    @Test func aGatewaysWebSocketClientsDecodeTheSameState() async throws {
        try #require(NATSServerProcess.available, "TWINSCENE_REQUIRE_TOOLS=1 but nats-server is missing")
        let rig = try await FeedRig.start()
        var web = WebFront.Configuration()
        web.port = 0
        web.allowedOrigins = ["ws://127.0.0.1"]
        web.idleTimeout = 600
        web.requestHeadTimeout = 600
        var logger = Logger(label: "feed-web")
        logger.logLevel = .warning
        let (ports, continuation) = AsyncStream<Int>.makeStream()
        let front = try WebFront(server: rig.gateway, configuration: web, logger: logger) { continuation.yield($0) }
        let group = ServiceGroup(services: [front], gracefulShutdownSignals: [], logger: logger)
        let task = Task { try await group.run() }
        var httpPort = 0
        for await p in ports { httpPort = p; break }
        let pair = Overlap(needed: 64)
        async let direct = record(port: rig.scenesPort, scene: "district", overlap: (pair, 0))
        async let overWeb = record(port: httpPort, scene: "district", transport: .webSocket(), overlap: (pair, 1))
        let (d, w) = try await (direct, overWeb)
        let (common, differing) = compare(d.states, w.states)
        #expect(common.count >= 60 && differing.isEmpty, "\(common.count) ticks in common, differing \(differing.prefix(5))")
        #expect(w.version == 1)
        await rig.stop()
        await group.triggerGracefulShutdown()
        _ = try? await task.value
    }

    /// Version 3 through a gateway: identities, values scoped to the covered cells, events,
    /// moves answered by AreaMoved, all from the feed's comings and goings without decoding a
    /// block. The factory on 16 m cells (its workers and AGVs cross them all the time): a
    /// whole-scene client and an area client of the gateway decode, tick by tick, what the
    /// scene's own clients decode; the area moves at the same tick for both, and the two
    /// agree before the move and again from the gateway's AreaMoved on.
    /// Versions 2 and 3 through a gateway against the scene's own server: the whole factory and
    /// an area of it moved across, with identities, values and events (version 2's area by the
    /// positions decoded, version 3's by the cells covered).
    @Test(arguments: [UInt16(2), 3]) func versionsTwoAndThreeThroughAGatewayAreWhatTheScenesOwnServerSends(version: UInt16) async throws {
        try #require(NATSServerProcess.available, "TWINSCENE_REQUIRE_TOOLS=1 but nats-server is missing")
        let rig = try await FeedRig.start(factoryCell: 16)
        let b = rig.scenes.runners.first { $0.name == "factory" }!.info.bounds
        let midX = (b.minX + b.maxX) / 2
        let west = WireArea(minX: b.minX, minY: b.minY, maxX: midX, maxY: b.maxY), east = WireArea(minX: midX, minY: b.minY, maxX: b.maxX, maxY: b.maxY)
        let mover = Mover(to: east)
        let whole = Overlap(needed: 100), area = Overlap(needed: 160)
        async let directWhole = record(port: rig.scenesPort, scene: "factory", version: version, withAttributes: true, overlap: (whole, 0))
        async let gatewayWhole = record(port: rig.gatewayPort, scene: "factory", version: version, withAttributes: true, overlap: (whole, 1))
        async let directArea = record(port: rig.scenesPort, scene: "factory", area: west, version: version, withAttributes: true, overlap: (area, 0),
                                      after: { mover.at($0, who: 0) })
        async let gatewayArea = record(port: rig.gatewayPort, scene: "factory", area: west, version: version, withAttributes: true, overlap: (area, 1),
                                       after: { mover.at($0, who: 1) })
        let (dw, gw, da, ga) = try await (directWhole, gatewayWhole, directArea, gatewayArea)
        #expect(gw.version == version && ga.version == version, "the gateway speaks version \(version)")
        // A first frame's values come after it: the first two frames of each are not compared.
        let (common, differing) = compare(dw.states, gw.states, skipFirst: 2)
        #expect(common.count >= 90 && differing.isEmpty, "whole factory: \(common.count) in common, differing \(differing.prefix(5))")
        #expect(gw.states.values.contains { $0.contains { $0.contains(" is machine-") } }, "identities came through the gateway")
        #expect(gw.states.values.contains { $0.contains { $0.contains(".") && $0.contains("=") } }, "values came through the gateway")
        let eventTicks = Set(dw.events.keys).intersection(gw.events.keys).filter { $0 >= common.first ?? 0 && $0 <= common.last ?? 0 }
        #expect(eventTicks.allSatisfy { dw.events[$0] == gw.events[$0] }, "events differ at \(eventTicks.filter { dw.events[$0] != gw.events[$0] }.sorted().prefix(5))")
        #expect(Set(dw.events.keys.filter { $0 > (common.first ?? 0) && $0 < (common.last ?? 0) }) == Set(gw.events.keys.filter { $0 > (common.first ?? 0) && $0 < (common.last ?? 0) }),
                "events came at the same ticks")

        let moved = try #require(mover.tick)
        #expect(da.moves.count == 1 && ga.moves.count == 1, "one AreaMoved each: \(da.moves) \(ga.moves)")
        let applied = try #require(ga.moves.first)
        #expect(applied > moved, "the gateway's area applies after the move at \(moved): \(applied)")
        let (areaCommon, areaDiffering) = compare(da.states, ga.states, skipFirst: 2)
        // The frame that brings the new cells is followed by their entities' values: compared
        // from the one after it (as a first frame is).
        let before = areaDiffering.filter { $0 <= moved }, after = areaDiffering.filter { $0 > applied }
        #expect(before.isEmpty && after.isEmpty, "the area differs before the move at \(moved): \(before.prefix(5)), after the gateway's at \(applied): \(after.prefix(5))")
        #expect(areaCommon.filter { $0 >= applied }.count >= 40 && areaCommon.filter { $0 <= moved }.count >= 10, "ticks in common around the move: \(areaCommon.count)")
        #expect(ga.states.values.contains { $0.contains { $0.contains(" is ") } }, "the area's identities")
        // What came beside the frames, message by message: the same identities before each
        // frame and the same values after it (none of an entity outside what the area lets through).
        let steady = areaCommon.filter { ($0 <= moved || $0 > applied + 1) && $0 > (areaCommon.first ?? 0) + 1 }
        let extrasDiffer = steady.filter { (da.extras[$0] ?? []).sorted() != (ga.extras[$0] ?? []).sorted() }
        #expect(extrasDiffer.isEmpty, "identities and values differ at ticks \(extrasDiffer.prefix(5)): \(extrasDiffer.first.map { (da.extras[$0] ?? [], ga.extras[$0] ?? []) }.map { "\($0)" } ?? "")")
        #expect(steady.contains { !(ga.extras[$0] ?? []).isEmpty }, "values came beside the area's frames")
        let areaEvents = steady.filter { da.events[$0] != ga.events[$0] }
        #expect(areaEvents.isEmpty, "the area's events differ at \(areaEvents.prefix(5))")
        await rig.stop()
    }

    /// Versions through a gateway: each as asked; a Join to a scene that takes no participants
    /// is refused, and the session goes on.
    @Test func aGatewayAgreesOnEveryVersionAndRefusesJoinsToAClosedScene() async throws {
        try #require(NATSServerProcess.available, "TWINSCENE_REQUIRE_TOOLS=1 but nats-server is missing")
        let rig = try await FeedRig.start()
        for (asked, agreed) in [(UInt16(1), UInt16(1)), (2, 2), (3, 3)] {
            let c = try await SceneClient.connect(host: "127.0.0.1", port: rig.gatewayPort, name: "v\(asked)", maxVersion: asked)
            #expect(c.version == agreed, "asked for at most \(asked): \(c.version)")
            await c.close()
        }
        let c = try await SceneClient.connect(host: "127.0.0.1", port: rig.gatewayPort, name: "joiner", maxVersion: 3)
        c.send(.join(request: 9, scene: "district", name: "Ann", start: .line, joinToken: "", resumeToken: ""))
        var messages = c.messages.makeAsyncIterator()
        var refusal: (UInt32, UInt16)?
        while refusal == nil, let m = try await messages.next() { if case .refused(let r, let code, _, _) = m { refusal = (r, code) } }
        #expect(refusal?.0 == 9 && refusal?.1 == ErrorCode.notJoinable.rawValue, "\(String(describing: refusal))")
        c.send(.ping(nonce: 3, timeMicros: 1))
        var pong = false
        while let m = try await messages.next() { if case .pong(3, _, _) = m { pong = true; break } }
        #expect(pong, "the session goes on after the refusal")
        await c.close()
        await rig.stop()
    }

    /// A late joiner on the gateway, an area moved there and on the scene's server alike: a
    /// moved area's new cells come one round trip later through the gateway, then the two agree.
    @Test func aMovedAreaThroughTheGatewaySettlesOnTheScenesState() async throws {
        try #require(NATSServerProcess.available, "TWINSCENE_REQUIRE_TOOLS=1 but nats-server is missing")
        let rig = try await FeedRig.start()
        try await Task.sleep(nanoseconds: 500_000_000)
        // The district's west half, then its east half.
        let b = rig.scenes.runners.first { $0.name == "district" }!.info.bounds
        let midX = (b.minX + b.maxX) / 2
        let first = WireArea(minX: b.minX, minY: b.minY, maxX: midX - 1, maxY: b.maxY), second = WireArea(minX: midX + 1, minY: b.minY, maxX: b.maxX, maxY: b.maxY)
        // The move is sent at the same tick T by both clients, once both see frames: by the
        // direct client when it sees T, and by the gateway's client when it sees T.
        let mover = Mover(to: second)
        let pair = Overlap(needed: 160)
        async let direct = record(port: rig.scenesPort, scene: "district", area: first, overlap: (pair, 0), after: { mover.at($0, who: 0) })
        async let gateway = record(port: rig.gatewayPort, scene: "district", area: first, overlap: (pair, 1), after: { mover.at($0, who: 1) })
        let (d, g) = try await (direct, gateway)
        let moved = try #require(mover.tick)
        let (common, differing) = compare(d.states, g.states)
        #expect(common.count >= 60, "\(common.count) ticks in common")
        // Before the move equal; after it, equal again once the keyframes came (a round trip:
        // a few ticks, more on a starved machine), and equal from then on.
        let before = differing.filter { $0 <= moved }
        #expect(before.isEmpty, "differing before the move at \(moved): \(before.prefix(5))")
        let lastDiffering = differing.max() ?? moved
        #expect(lastDiffering < moved + 100, "the states agree again within 5 s of the move at \(moved): differing until \(lastDiffering)")
        let lastCommon = common.suffix(20)
        #expect(lastCommon.count == 20 && lastCommon.allSatisfy { $0 > lastDiffering && $0 > moved }, "the last 20 ticks in common agree, after the move")
        #expect(common.contains { $0 < moved && !(g.states[$0] ?? []).isEmpty }, "the first area holds entities")
        #expect(lastCommon.contains { !(g.states[$0] ?? []).isEmpty }, "the moved area holds entities")
        await rig.stop()
    }

    /// Subscribers that need the same keyframes at once share one request: six whole-scene
    /// subscriptions in one read cost the scene's process one answer, and all six decode the
    /// scene's state.
    @Test func subscribersJoiningTogetherShareOneKeyRequest() async throws {
        try #require(NATSServerProcess.available, "TWINSCENE_REQUIRE_TOOLS=1 but nats-server is missing")
        let rig = try await FeedRig.start()
        func requests() -> Double {
            rig.scenes.metrics.exposition().split(separator: "\n").first { $0.hasPrefix("twinscene_feed_key_requests_total ") }
                .flatMap { Double($0.split(separator: " ")[1]) } ?? 0
        }
        let before = requests()
        let client = try await SceneClient.connect(host: "127.0.0.1", port: rig.gatewayPort, name: "six", maxVersion: 1)
        var bytes = ByteBuffer()
        for id in UInt32(1)...6 { WireMessage.subscribe(subscription: id, scene: "district", area: nil).writeFrame(into: &bytes) }
        client.sendRaw(Array(bytes.readableBytesView))
        var views = (UInt32(1)...6).map { SceneView(subscription: $0) }
        var ticks: [UInt32: UInt64] = [:]
        let watchdog = Task { try await Task.sleep(nanoseconds: 120_000_000_000); await client.close() }
        for try await m in client.messages {
            for k in views.indices { if let u = try views[k].apply(m) { ticks[views[k].subscription] = u.tick } }
            if ticks.count == 6 { break }
        }
        watchdog.cancel()
        #expect(ticks.count == 6 && Set(ticks.values).count == 1, "every subscription's first frame at one tick: \(ticks)")
        #expect(requests() - before == 1, "key requests answered: \(requests() - before)")
        let states = views.map { v in v.entities().map { "\($0.id) \($0.position.x) \($0.position.y)" }.sorted() }
        #expect(states.allSatisfy { $0 == states[0] } && states[0].count == 300)
        await client.close()
        await rig.stop()
    }

    /// Control passes through the gateway once its token is checked there; a wrong token is
    /// the gateway's Error 11 as on a server.
    @Test func controlThroughTheGatewayReachesTheScenesProcess() async throws {
        try #require(NATSServerProcess.available, "TWINSCENE_REQUIRE_TOOLS=1 but nats-server is missing")
        let rig = try await FeedRig.start()
        let client = try await SceneClient.connect(host: "127.0.0.1", port: rig.gatewayPort, name: "operator", maxVersion: 1)
        client.send(.control(token: FeedRig.config().adminToken!, scene: "factory", command: .pause))
        var result: (Bool, String)?
        for try await m in client.messages { if case .controlResult(let ok, let text) = m { result = (ok, text); break } }
        #expect(result?.0 == true, "\(String(describing: result))")
        let pausedAt = rig.scenes.runners.first { $0.name == "factory" }!.tick
        try await Task.sleep(nanoseconds: 500_000_000)
        #expect(rig.scenes.runners.first { $0.name == "factory" }!.tick <= pausedAt + 1, "the scene's process paused")
        // A subscriber of the paused scene through the gateway still gets its resync.
        let paused = try await record(port: rig.gatewayPort, scene: "factory", frames: 1, limit: 60)
        #expect(paused.states.count == 1 && paused.resyncs.count == 1 && paused.states.values.first?.count == 50)
        client.send(.control(token: "wrong-token", scene: "factory", command: .resume))
        var code: UInt16?
        for try await m in client.messages { if case .error(let c, _) = m { code = c; break } }
        #expect(code == ErrorCode.unauthorized.rawValue)
        await client.close()
        await rig.stop()
    }

    /// The scene's process gone: the gateway keeps its clients, says the scene is missing
    /// (`twinscene_feed_silent`); a new process for the scenes: the clients are resynced and
    /// decode what the new process's own clients decode.
    @Test func aSceneProcessGoneIsSaidMissingAndItsSuccessorResyncsTheClients() async throws {
        try #require(NATSServerProcess.available, "TWINSCENE_REQUIRE_TOOLS=1 but nats-server is missing")
        let rig = try await FeedRig.start()
        func silent() -> Double {
            rig.gateway.metrics.exposition().split(separator: "\n").first { $0.hasPrefix("twinscene_feed_silent{scene=\"district\"} ") }
                .flatMap { Double($0.split(separator: " ")[1]) } ?? -1
        }
        let client = try await SceneClient.connect(host: "127.0.0.1", port: rig.gatewayPort, name: "stays", maxVersion: 1)
        client.send(.subscribe(subscription: 1, scene: "district", area: nil))
        var view = SceneView(subscription: 1)
        let watchdog = Task { try await Task.sleep(nanoseconds: 150_000_000_000); await client.close() }
        defer { watchdog.cancel() }
        var messages = client.messages.makeAsyncIterator()
        var frames = 0
        while frames < 5, let m = try await messages.next() { if try view.apply(m) != nil { frames += 1 } }
        #expect(frames == 5)
        await rig.scenes.shutdown()
        #expect(await eventually(seconds: 30) { silent() == 1 }, "the gateway says the scene is missing: \(silent())")
        client.send(.ping(nonce: 7, timeMicros: 1))
        var pong = false
        while let m = try await messages.next() { if case .pong(7, _, _) = m { pong = true; break } }
        #expect(pong, "the gateway's client is still served")

        let (successor, port) = try await FeedRig.scenesServer(nats: rig.nats)
        let line = FinishLine()
        async let direct = record(port: port, scene: "district", until: line)
        var states: [UInt64: [String]] = [:], resyncs: [UInt64] = []
        while states.count < 60, let m = try await messages.next() {
            guard let u = try view.apply(m) else { continue }
            if u.resync { resyncs.append(u.tick) }
            if !resyncs.isEmpty { states[u.tick] = view.entities().map { "\($0.id) \($0.kind) \($0.position.x) \($0.position.y)" }.sorted() }
        }
        line.cross(at: states.keys.max() ?? 0)
        let d = try await direct
        #expect(resyncs.count == 1, "one resync from the successor: \(resyncs)")
        let (common, differing) = compare(d.states, states)
        #expect(common.count >= 30 && differing.isEmpty, "\(common.count) ticks in common, differing \(differing.prefix(5))")
        #expect(silent() == 0)
        await client.close()
        await rig.gateway.shutdown()
        await successor.shutdown()
    }

    /// A gateway gone: a client given two gateways' addresses goes on through the other one,
    /// resynced, and decodes what the scene's own client decodes.
    @Test func aClientOfAGatewayThatIsGoneGoesOnThroughAnotherResynced() async throws {
        try #require(NATSServerProcess.available, "TWINSCENE_REQUIRE_TOOLS=1 but nats-server is missing")
        let rig = try await FeedRig.start()
        var logger = Logger(label: "feed-test")
        logger.logLevel = .warning
        var g = NATSOptions(port: rig.nats.port, name: "gateway-2")
        g.connectTimeout = 30
        let second = try await SceneServer.gateway(configuration: FeedRig.config(), nats: g, wait: 60, logger: logger)
        let secondPort = try await second.start().port!
        let client = FailoverClient(addresses: [("127.0.0.1", rig.gatewayPort), ("127.0.0.1", secondPort)], name: "failover", maxVersion: 1)
        client.subscribe(1, scene: "district")
        var view = SceneView(subscription: 1, version: 1)
        var before = 0, switches: [Int] = [], resyncs: [UInt64] = []
        var after: [UInt64: [String]] = [:]
        let line = FinishLine()
        async let direct = record(port: rig.scenesPort, scene: "district", limit: 180, until: line)
        let watchdog = Task { try await Task.sleep(nanoseconds: 150_000_000_000); await client.close() }
        for await e in client.messages {
            switch e {
            case .switched(let index, _, _, _):
                switches.append(index)
                // The view starts over with the new server's info and resync.
                view = SceneView(subscription: 1, version: 1)
            case .message(let m):
                guard let u = try view.apply(m) else { continue }
                if u.resync { resyncs.append(u.tick) }
                if switches.count == 1 {
                    before += 1
                    if before == 40 { Task { await rig.gateway.shutdown() } }
                } else {
                    after[u.tick] = view.entities().map { "\($0.id) \($0.kind) \($0.position.x) \($0.position.y)" }.sorted()
                }
            }
            if after.count >= 60 { break }
        }
        watchdog.cancel()
        line.cross(at: after.keys.max() ?? 0)
        let d = try await direct
        #expect(switches == [0, 1], "connected to the first gateway, then the second: \(switches)")
        #expect(resyncs.count == 2, "a resync from each gateway: \(resyncs)")
        let (common, differing) = compare(d.states, after)
        #expect(common.count >= 40 && differing.isEmpty, "after the switch: \(common.count) ticks in common, differing \(differing.prefix(5))")
        await client.close()
        await second.shutdown()
        await rig.scenes.shutdown()
    }

    /// NATS stopped for a few seconds and started again: the gateway's client is resynced and
    /// agrees with the scene's own client again; the gateway counts the resync. The scene's
    /// process keeps only 64 KiB of its feed meanwhile (what it could not keep is counted),
    /// and the gateway's client never gets a frame with a cell missing.
    @Test func natsAwayAndBackResyncsTheGatewaysClients() async throws {
        try #require(NATSServerProcess.available, "TWINSCENE_REQUIRE_TOOLS=1 but nats-server is missing")
        let rig = try await FeedRig.start(sceneBuffer: 64 << 10)
        let kicked = Mutex(false)
        let nats = rig.nats
        let outage: @Sendable (UInt64) -> WireArea?? = { _ in
            let go = kicked.withLock { k -> Bool in defer { k = true }; return !k }
            guard go else { return nil }
            Task.detached {
                try await Task.sleep(nanoseconds: 1_000_000_000)
                nats.kill()
                try await Task.sleep(nanoseconds: 2_000_000_000)
                try nats.restart()
            }
            return nil
        }
        let line = FinishLine()
        async let direct = record(port: rig.scenesPort, scene: "district", limit: 150, until: line)
        async let gateway = record(port: rig.gatewayPort, scene: "district", frames: 400, limit: 150, finish: line, after: outage)
        let (d, g) = try await (direct, gateway)
        #expect(g.resyncs.count >= 2, "resynced after NATS came back: \(g.resyncs)")
        let last = try #require(g.resyncs.last)
        let (common, differing) = compare(d.states.filter { $0.key >= last }, g.states.filter { $0.key >= last })
        #expect(common.count >= 20 && differing.isEmpty, "after the resync at \(last): \(common.count) common, differing \(differing.prefix(5))")
        let refused = rig.scenes.metrics.exposition().split(separator: "\n").first { $0.hasPrefix("twinscene_feed_refused_total ") }
            .flatMap { Double($0.split(separator: " ")[1]) } ?? 0
        #expect(refused > 0, "the scene's process counted what NATS refused while away")
        await rig.stop()
    }
}
