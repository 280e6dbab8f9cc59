import CityTiles
import Foundation
import Logging
import NATSClient
import NATSTestSupport
import NIOCore
import Scenarios
import SceneClient
import SceneCore
import SceneServer
import SceneWire
import Synchronization
import Testing

/// Two processes' worth of region shards (two servers in this process, each with its own NATS
/// connection) running the marathon in lockstep over a real nats-server. The independent
/// check: the same scene run whole in this test, tick by tick; each shard's tick end carries
/// the hash sum of the entities it owns, and the two sums add up to the whole scene's.
@Suite(.serialized, .enabled(if: NATSServerProcess.available || NATSServerProcess.required, "nats-server is not installed (.ci/run installs Debian's)"))
struct RegionShardServerTests {
    static func manifest() throws -> SceneManifest {
        var m = try SceneManifest.load(path: FeedRig.root.appendingPathComponent("Scenes/marathon.scene.json").path)
        m.parameters["runners"] = 1200
        m.parameters["spectators"] = 80
        m.parameters["waveGapSeconds"] = 0.5
        return m
    }

    static func shard(_ k: Int, nats: NATSServerProcess, catalog: Catalog, wait: Double = 10, borders: [Int] = [1]) async throws -> SceneServer {
        var c = FeedRig.config()
        var options = NATSOptions(port: nats.port, name: "region-\(k)")
        options.connectTimeout = 30
        c.nats = options
        var a = RegionAssignment(index: k, regions: borders.count + 1, borders: borders)
        a.tickWait = wait   // a bound for a starved machine; the kill below waits it out
        c.region = a
        var logger = Logger(label: "region-\(k)")
        logger.logLevel = .warning
        // Loading is seconds of synchronous work in a debug build: off the cooperative pool,
        // which other suites' tasks share (three loads at once held it long enough to stall them).
        let config = c, log = logger
        let server = try await offThePool { SceneServer(configuration: config, scenes: [try SceneLoader.load(try manifest(), catalog: catalog, workers: 2)], catalog: nil, logger: log) }
        _ = try await server.start()
        return server
    }

    /// The regions' tick ends on NATS as they come, by tick: region -> (hash sum, entities).
    static func watchTickEnds(_ nats: NATSServerProcess) async throws -> (NATSConnection, TickEnds) {
        var o = NATSOptions(port: nats.port, name: "watcher")
        o.connectTimeout = 30
        let watcher = try await NATSConnection.connect(o)
        let ends = TickEnds()
        _ = try watcher.subscribe("scene.marathon.tick") { m in
            guard let t = try? FeedTick.decode(m.payload), let r = t.region else { return true }
            ends.seen.withLock { $0[t.tick, default: [:]][r.index] = (r.hash, t.entities) }
            return true
        }
        try await watcher.flush()
        return (watcher, ends)
    }

    final class TickEnds: Sendable {
        let seen = Mutex<[UInt64: [Int: (UInt64, UInt32)]]>([:])
        func withLock<R>(_ body: (inout [UInt64: [Int: (UInt64, UInt32)]]) -> R) -> R { seen.withLock { body(&$0) } }
    }

    /// The same scene run whole for `ticks` ticks, off the cooperative pool: after each tick
    /// its hash sum and its entities.
    static func reference(ticks: UInt64) async throws -> [(hash: UInt64, entities: Int)] {
        try await offThePool {
            let whole = try SceneLoader.load(try Self.manifest(), catalog: try Catalog(), workers: 1)
            return (1...ticks).map { _ in _ = whole.tick(); return (whole.world.regionHash(), whole.world.store.count) }
        }
    }

    /// Pauses `single` (a whole scene's server) and, until cancelled, steps it to the slowest
    /// of `shards`' ticks as they come, with the admin token over the wire as an operator would.
    static func pace(_ single: SceneServer, port: Int, by shards: [SceneServer]) async throws -> Task<Void, any Error> {
        let control = try await SceneClient.connect(host: "127.0.0.1", port: port, name: "pacer")
        let token = FeedRig.config().adminToken!
        control.send(.control(token: token, scene: "marathon", command: .pause))
        for try await m in control.messages {
            if case .controlResult(let ok, let text) = m { try #require(ok, "pause: \(text)"); break }
        }
        return Task {
            defer { Task { await control.close() } }
            let replies = Task { for try await _ in control.messages {} }
            defer { replies.cancel() }
            var stepped = single.runners[0].tick
            while !Task.isCancelled {
                let target = shards.map { $0.runners[0].tick }.min()!
                if target > stepped {
                    control.send(.control(token: token, scene: "marathon", command: .step(UInt32(target - stepped))))
                    stepped = target
                }
                try await Task.sleep(nanoseconds: 20_000_000)
            }
        }
    }

    static func figure(_ server: SceneServer, _ prefix: String) -> Double {
        server.metrics.exposition().split(separator: "\n").first { $0.hasPrefix(prefix) }.flatMap { Double($0.split(separator: " ").last!) } ?? 0
    }

    @Test func twoRegionShardsOnNATSAddUpToOneProcessTickByTickAndGoOnWithoutAMissingOne() async throws {
        try #require(NATSServerProcess.available, "TWINSCENE_REQUIRE_TOOLS=1 but nats-server is missing")
        let nats = try NATSServerProcess()
        // Every region's tick end, by tick: region -> (hash, entities).
        let (watcher, ends) = try await Self.watchTickEnds(nats)
        let catalog = try Catalog()
        async let a = Self.shard(0, nats: nats, catalog: catalog)
        async let b = Self.shard(1, nats: nats, catalog: try Catalog())
        let (s0, s1) = try await (a, b)

        let ticks: UInt64 = 160
        #expect(await eventually(seconds: 240) { ends.withLock { $0[ticks]?.count == 2 } }, "both regions reached tick \(ticks)")
        let reference = try await Self.reference(ticks: ticks)
        let seen = ends.withLock { $0 }
        var compared = 0
        for t in 1...ticks {
            let whole = reference[Int(t) - 1]
            guard let both = seen[t], both.count == 2 else { continue }
            compared += 1
            let sum = both.values.reduce(UInt64(0)) { $0 &+ $1.0 }
            let entities = both.values.reduce(0) { $0 + Int($1.1) }
            #expect(entities == whole.entities, "tick \(t): \(entities) entities in the regions, \(whole.entities) in one process")
            if sum != whole.hash { Issue.record("tick \(t): the regions' hashes do not add up to one process's"); break }
        }
        #expect(compared >= Int(ticks) - 5, "\(compared) ticks compared")
        let handovers = Self.figure(s0, "twinscene_region_handovers_total") + Self.figure(s1, "twinscene_region_handovers_total")
        #expect(handovers > 300, "\(handovers) runners handed over")
        #expect(Self.figure(s0, "twinscene_region_border_bytes_total") > 0)
        #expect(Self.figure(s0, "twinscene_region_waits_timed_out_total") == 0)

        // Region 1 gone: region 0 says so and keeps ticking, with the runners bound east.
        await s1.shutdown()
        #expect(await eventually(seconds: 60) { Self.figure(s0, "twinscene_region_missing{region=\"1\"}") == 1 }, "region 1 said missing")
        let after = s0.runners[0].tick
        #expect(await eventually(seconds: 60) { s0.runners[0].tick > after + 20 }, "region 0 keeps ticking without region 1")
        // A gateway that never heard from region 1 serves region 0 (it says region 1 missing
        // 2 s after the first region's tick end instead of holding every tick for it).
        var logger = Logger(label: "gateway")
        logger.logLevel = .error
        var g = NATSOptions(port: nats.port, name: "late-gateway")
        g.connectTimeout = 30
        let gateway = try await SceneServer.gateway(configuration: FeedRig.config(), nats: g, wait: 60, logger: logger)
        let gatewayPort = try await gateway.start().port!
        let late = try await record(port: gatewayPort, scene: "marathon", frames: 20, limit: 60)
        #expect(late.states.count == 20 && late.states.values.contains { !$0.isEmpty }, "frames of region 0 through a gateway: \(late.states.count)")
        await gateway.shutdown()
        await s0.shutdown()
        await watcher.close()
    }

    /// Two gateways in front of two region shards: their clients decode, tick by tick, what
    /// the clients of one process running the same marathon decode (the whole scene with its
    /// attributes, and an area across the regions' border), through handovers.
    @Test func aGatewaysClientsOfTwoRegionShardsDecodeWhatOneProcessDecodes() async throws {
        try #require(NATSServerProcess.available, "TWINSCENE_REQUIRE_TOOLS=1 but nats-server is missing")
        let nats = try NATSServerProcess()
        var logger = Logger(label: "gateway")
        logger.logLevel = .warning
        let log = logger
        // The single process is paced by the shards (paused, and stepped to the slower shard's
        // tick as they go): the ticks compared are the same ticks of each, and the two clocks
        // on their own drift apart on a loaded machine (the shards wait for each other, the
        // single process does not), so that its clients' ticks and the gateways' never meet.
        let single = try await offThePool {
            SceneServer(configuration: FeedRig.config(), scenes: [try SceneLoader.load(try Self.manifest(), catalog: try Catalog(), workers: 2)], catalog: nil, logger: log)
        }
        async let a = Self.shard(0, nats: nats, catalog: try Catalog())
        async let b = Self.shard(1, nats: nats, catalog: try Catalog())
        let (s0, s1) = try await (a, b)
        let singlePort = try await single.start().port!
        let pacer = try await Self.pace(single, port: singlePort, by: [s0, s1])
        var g = NATSOptions(port: nats.port, name: "gateway")
        g.connectTimeout = 30
        let gateway = try await SceneServer.gateway(configuration: FeedRig.config(), nats: g, wait: 60, logger: logger)
        let gatewayPort = try await gateway.start().port!
        g.name = "gateway-2"
        let gateway2 = try await SceneServer.gateway(configuration: FeedRig.config(), nats: g, wait: 60, logger: logger)
        let gateway2Port = try await gateway2.start().port!

        // The start is in region 0, one wire column west of the border at x = 32 m.
        let across = WireArea(minX: 0, minY: -20, maxX: 70, maxY: 40)
        let pairs = (Overlap(needed: 170), Overlap(needed: 170), Overlap(needed: 170))
        async let directWhole = record(port: singlePort, scene: "marathon", withAttributes: true, overlap: (pairs.0, 0))
        async let viaWhole = record(port: gatewayPort, scene: "marathon", withAttributes: true, overlap: (pairs.0, 1))
        // Version 3 for the area and the second gateway: identities and values follow the
        // runners across the border, from one region's cell to the other's.
        async let directArea = record(port: singlePort, scene: "marathon", area: across, version: 3, withAttributes: true, overlap: (pairs.1, 0))
        async let viaArea = record(port: gatewayPort, scene: "marathon", area: across, version: 3, withAttributes: true, overlap: (pairs.1, 1))
        async let directOther = record(port: singlePort, scene: "marathon", version: 3, withAttributes: true, overlap: (pairs.2, 0))
        async let viaOther = record(port: gateway2Port, scene: "marathon", version: 3, withAttributes: true, overlap: (pairs.2, 1))
        let (dw, gw, da, ga, d2, g2) = try await (directWhole, viaWhole, directArea, viaArea, directOther, viaOther)
        #expect(ga.version == 3 && g2.version == 3)
        #expect(ga.states.values.contains { $0.contains { $0.contains(" is bib-") } }, "runners' identities in the area")
        for (name, d, v) in [("whole marathon with attributes", dw, gw), ("an area across the border, version 3", da, ga), ("whole marathon, second gateway, version 3", d2, g2)] {
            let (common, differing) = compare(d.states, v.states, skipFirst: 1)
            #expect(common.count >= 160, "\(name): \(common.count) ticks in common")
            #expect(differing.isEmpty, "\(name): states differ at ticks \(differing.prefix(5)) of \(common.count)")
            #expect(v.resyncs.count == 1, "\(name): one resync: \(v.resyncs)")
        }
        #expect(ga.states.values.contains { $0.count > 100 }, "the area holds runners")
        let handovers = Self.figure(s0, "twinscene_region_handovers_total") + Self.figure(s1, "twinscene_region_handovers_total")
        #expect(handovers > 100, "\(handovers) runners handed over meanwhile")
        pacer.cancel()
        _ = await pacer.result
        await gateway.shutdown()
        await gateway2.shutdown()
        await single.shutdown()
        await s0.shutdown()
        await s1.shutdown()
    }

    /// NATS stopped for three seconds under two region shards: each says the other missing and
    /// goes on, keeping the runners bound for it; when NATS is back they find each other, tick
    /// in lockstep again, take in the handovers that were on their way, and every runner is
    /// owned by one region again (their tick ends' entities add up to the scene's).
    @Test func regionShardsFindEachOtherAgainAfterNATSWasAwayAndLoseNobody() async throws {
        try #require(NATSServerProcess.available, "TWINSCENE_REQUIRE_TOOLS=1 but nats-server is missing")
        let nats = try NATSServerProcess()
        let (watcher, ends) = try await Self.watchTickEnds(nats)
        async let a = Self.shard(0, nats: nats, catalog: try Catalog(), wait: 1.5)
        async let b = Self.shard(1, nats: nats, catalog: try Catalog(), wait: 1.5)
        let (s0, s1) = try await (a, b)
        let total = try await offThePool { try SceneLoader.load(try Self.manifest(), catalog: try Catalog(), workers: 1).world.store.count }
        #expect(await eventually(seconds: 120) { ends.withLock { $0.values.contains { $0.count == 2 } } && s0.runners[0].tick > 100 })
        nats.kill()
        try await Task.sleep(nanoseconds: 3_000_000_000)
        try nats.restart()
        let restartedAt = max(s0.runners[0].tick, s1.runners[0].tick)
        // Both back, and forty ticks in a row after it where both regions ended the tick and
        // their entities add up to the scene's.
        func settled() -> Bool {
            let seen = ends.withLock { $0 }
            let whole = seen.filter { $0.key > restartedAt && $0.value.count == 2 }.keys.sorted()
            guard whole.count >= 40 else { return false }
            return whole.suffix(40).allSatisfy { t in seen[t]!.values.reduce(0) { $0 + Int($1.1) } == total }
        }
        #expect(await eventually(seconds: 120) { settled() }, "forty whole ticks after NATS came back, every runner owned once")
        #expect(await eventually(seconds: 30) {
            Self.figure(s0, "twinscene_region_missing{region=\"1\"}") == 0 && Self.figure(s1, "twinscene_region_missing{region=\"0\"}") == 0
        }, "each region has the other back")
        #expect(Self.figure(s0, "twinscene_region_waits_timed_out_total") + Self.figure(s1, "twinscene_region_waits_timed_out_total") >= 1,
                "the outage was counted")
        // While a region's connection comes back (its client backs off), the runners handed to
        // it are on their way and the sums fall short; once settled, every whole tick adds up.
        let seen = ends.withLock { $0 }
        let whole = seen.filter { $0.key > restartedAt && $0.value.count == 2 }.keys.sorted()
        func addsUp(_ t: UInt64) -> Bool { seen[t]!.values.reduce(0) { $0 + Int($1.1) } == total }
        let settledFrom = whole.indices.first { i in i + 40 <= whole.count && whole[i..<(i + 40)].allSatisfy(addsUp) }
        let wrong = settledFrom.map { whole[$0...].filter { !addsUp($0) } } ?? whole
        #expect(wrong.isEmpty, "whole ticks after it settled where the regions' entities do not add up: \(wrong.prefix(8).map { t in (t, seen[t]!.mapValues(\.1)) }) of \(total)")
        await s0.shutdown()
        await s1.shutdown()
        await watcher.close()
    }
}

/// Runs synchronous work (loading a scene, ticking one) on a Dispatch thread instead of the
/// cooperative pool.
func offThePool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { c in
        // A thread of its own, not Dispatch's global queue: that queue has about as many
        // threads as cores, and tests that block one for minutes (a browser run, a command's
        // wait) left the others queued behind them for minutes on a 2-core machine.
        let t = Thread { c.resume(with: Result { try body() }) }
        t.stackSize = 8 << 20
        t.start()
    }
}
