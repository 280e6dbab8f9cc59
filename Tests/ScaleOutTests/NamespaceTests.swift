import Foundation
import NATSTestSupport
import SceneWire
import Testing

/// Shards, a gateway, NATS and the reference process as hosts of their own (network
/// namespaces on one machine, joined by a bridge): the real `twinscene` and `nats-server`
/// executables, talking over addresses that are not loopback. Runs when asked for
/// (`TWINSCENE_NETNS=1`; `.ci/run` runs it on its own after the suite: in two CI runs with
/// it beside the other suites the whole test process stalled for minutes, cause not found)
/// where the machine lets a test make namespaces (root and `ip netns`).
@Suite(.serialized, .enabled(if: NetworkNamespaces.requested && NetworkNamespaces.usable && NATSServerProcess.available,
                             "asked for with TWINSCENE_NETNS=1; needs root, ip netns and nats-server"))
struct NamespaceTests {
    static let binary: String = {
        var dir = Bundle.main.bundleURL
        for _ in 0..<4 {
            let candidate = dir.appendingPathComponent("twinscene")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate.path }
            dir = dir.deletingLastPathComponent()
        }
        return FeedRig.root.appendingPathComponent(".build/debug/twinscene").path
    }()

    /// Waits until `address:port` accepts a connection, or the process ended, or `seconds`
    /// passed (off the cooperative pool, as every call here that waits on the system).
    func ready(_ address: String, _ port: Int, _ p: Process, seconds: Double) async -> Bool {
        (try? await offThePool {
            let deadline = Date().addingTimeInterval(seconds)
            while Date() < deadline && p.isRunning {
                if NetworkNamespaces.accepts(address, port) { return true }
                usleep(100_000)
            }
            return false
        }) ?? false
    }

    /// Two region shards, a gateway, NATS and a single process of the same marathon, each on a
    /// host of its own: a client of the gateway decodes what a client of the single process
    /// decodes, tick by tick (the whole marathon with identities and values, version 3, and
    /// an area across the border, version 1), as runners are handed over between the hosts.
    @Test func shardsAndAGatewayOnHostsOfTheirOwnServeWhatOneProcessServes() async throws {
        // `ip` runs and waits off the cooperative pool: the other suites' tasks share it.
        let hosts = try await offThePool { try NetworkNamespaces() }
        do {
            try await exercise(hosts)
        } catch {
            _ = try? await offThePool { hosts.tearDown() }
            throw error
        }
        _ = try? await offThePool { hosts.tearDown() }
    }

    func exercise(_ hosts: NetworkNamespaces) async throws {
        let (natsAddress, shard0, shard1, gateway, single) = try await offThePool {
            (try hosts.add("nats", 10), try hosts.add("shard0", 11), try hosts.add("shard1", 12), try hosts.add("gw", 13), try hosts.add("single", 14))
        }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ns-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        // A small marathon (the test runs beside the other suites on two cores): 400 runners,
        // waves half a second apart.
        let scenes = dir.appendingPathComponent("scenes")
        try FileManager.default.createDirectory(at: scenes, withIntermediateDirectories: true)
        var manifest = try JSONSerialization.jsonObject(with: Data(contentsOf: FeedRig.root.appendingPathComponent("Scenes/marathon.scene.json"))) as! [String: Any]
        var parameters = manifest["parameters"] as? [String: Any] ?? [:]
        parameters["runners"] = 400; parameters["spectators"] = 40; parameters["waveGapSeconds"] = 0.5
        manifest["parameters"] = parameters
        try JSONSerialization.data(withJSONObject: manifest).write(to: scenes.appendingPathComponent("marathon.scene.json"))
        // Its tiles, where the manifest names them (beside it).
        try FileManager.default.createSymbolicLink(at: scenes.appendingPathComponent("tiles"), withDestinationURL: FeedRig.root.appendingPathComponent("Scenes/tiles"))
        let conf = dir.appendingPathComponent("nats.conf").path
        try "authorization {\n  timeout: 30\n}\n".write(toFile: conf, atomically: true, encoding: .utf8)
        let log = { (name: String) in dir.appendingPathComponent("\(name).log").path }

        let nats = try hosts.start(on: "nats", NATSServerProcess.binary!, ["-a", natsAddress, "-p", "4222", "-c", conf], log: log("nats"))
        let natsUp = await ready(natsAddress, 4222, nats, seconds: 120)
        #expect(natsUp, "nats-server on its host: \((try? String(contentsOfFile: log("nats"), encoding: .utf8)) ?? "")")
        guard natsUp else { return }
        let url = "nats://\(natsAddress):4222"
        func serve(_ name: String, _ address: String, _ extra: [String]) throws -> Process {
            try hosts.start(on: name, Self.binary, ["serve", "--host", address, "--port", "7450", "--no-http", "--scene", "marathon",
                                                     "--scenes-dir", scenes.path, "--catalog", dir.appendingPathComponent("\(name).sqlite").path,
                                                     "--log-level", "warning"] + extra, log: log(name), directory: FeedRig.root)
        }
        let p0 = try serve("shard0", shard0, ["--nats", url, "--shard", "0/2", "--region-borders", "1", "--region-wait", "10"])
        let p1 = try serve("shard1", shard1, ["--nats", url, "--shard", "1/2", "--region-borders", "1", "--region-wait", "10"])
        for (p, address, name) in [(p0, shard0, "shard0"), (p1, shard1, "shard1")] {
            let up = await ready(address, 7450, p, seconds: 120)
            #expect(up, "\(name) on its host: \((try? String(contentsOfFile: log(name), encoding: .utf8)) ?? "")")
            guard up else { return }
        }
        let pg = try hosts.start(on: "gw", Self.binary, ["gateway", "--host", gateway, "--port", "7430", "--no-http", "--nats", url, "--wait", "120",
                                                         "--log-level", "warning"], log: log("gw"), directory: FeedRig.root)
        let gatewayUp = await ready(gateway, 7430, pg, seconds: 150)
        #expect(gatewayUp, "the gateway on its host: \((try? String(contentsOfFile: log("gw"), encoding: .utf8)) ?? "")")
        guard gatewayUp else { return }
        // The single process starts last, behind the shards: it ticks at least as fast as they
        // do (they wait for each other), so it comes to the ticks the gateway's client records.
        let ps = try serve("single", single, [])
        let singleUp = await ready(single, 7450, ps, seconds: 120)
        #expect(singleUp, "single on its host: \((try? String(contentsOfFile: log("single"), encoding: .utf8)) ?? "")")
        guard singleUp else { return }

        // The start is in region 0, one wire column west of the border at x = 32 m.
        let across = WireArea(minX: 0, minY: -20, maxX: 70, maxY: 40)
        let whole = Overlap(needed: 110), area = Overlap(needed: 110)
        async let directWhole = record(host: single, port: 7450, scene: "marathon", version: 3, limit: 180, withAttributes: true, overlap: (whole, 0))
        async let viaWhole = record(host: gateway, port: 7430, scene: "marathon", version: 3, limit: 180, withAttributes: true, overlap: (whole, 1))
        async let directArea = record(host: single, port: 7450, scene: "marathon", area: across, limit: 180, overlap: (area, 0))
        async let viaArea = record(host: gateway, port: 7430, scene: "marathon", area: across, limit: 180, overlap: (area, 1))
        let (dw, gw, da, ga) = try await (directWhole, viaWhole, directArea, viaArea)
        #expect(gw.version == 3)
        for (name, d, v) in [("whole marathon, version 3", dw, gw), ("an area across the border", da, ga)] {
            let (common, differing) = compare(d.states, v.states, skipFirst: 2)
            #expect(common.count >= 100, "\(name): \(common.count) ticks in common")
            #expect(differing.isEmpty, "\(name): states differ at ticks \(differing.prefix(5)) of \(common.count)")
        }
        #expect(gw.states.values.contains { $0.contains { $0.contains(" is bib-") } }, "identities came through the gateway")
        #expect(ga.states.values.contains { $0.count > 10 }, "the area holds runners")
    }
}
