import Foundation
import NATSTestSupport
import NIOCore
import Synchronization
import Testing
@testable import NATSClient

/// Messages as a reader takes them.
final class Collected: Sendable {
    private let state = Mutex<(items: [NATSMessage], finished: Bool)>(([], false))
    func add(_ m: NATSMessage) { state.withLock { $0.items.append(m) } }
    func finish() { state.withLock { $0.finished = true } }
    var items: [NATSMessage] { state.withLock { $0.items } }
    var isFinished: Bool { state.withLock { $0.finished } }
}

/// What a connection's events were, collected as they come.
final class EventLog: Sendable {
    private let seen = Mutex<[NATSEvent]>([])
    init(_ connection: NATSConnection) {
        Task { [self] in for await e in connection.events { seen.withLock { $0.append(e) } } }
    }
    var events: [NATSEvent] { seen.withLock { $0 } }
    func count(_ match: (NATSEvent) -> Bool) -> Int { events.filter(match).count }
}

func isReconnected(_ e: NATSEvent) -> Bool { if case .reconnected = e { true } else { false } }
func isDisconnected(_ e: NATSEvent) -> Bool { if case .disconnected = e { true } else { false } }

/// The client against a real `nats-server`, each test with a server of its own. What the
/// server's monitoring says (connections, subscriptions, message counts) is the independent
/// check of what the client did.
@Suite(.serialized, .enabled(if: NATSServerProcess.available || NATSServerProcess.required, "nats-server is not installed (.ci/run installs Debian's)"))
struct NATSServerTests {
    static func options(_ server: NATSServerProcess, _ name: String) -> NATSOptions {
        var o = NATSOptions(port: server.port, name: name)
        o.connectTimeout = 30
        return o
    }

    /// The next `n` messages of a subscription. If they do not come within `seconds`, the
    /// subscription is ended (so no reader is left waiting on it) and what came is returned.
    static func take(_ sub: NATSSubscription, _ n: Int, seconds: Double = 120) async -> [NATSMessage] {
        let got = Collected()
        Task {
            var k = 0
            for await m in sub {
                got.add(m)
                k += 1
                if k == n { break }
            }
            got.finish()
        }
        if !(await eventually(seconds: seconds) { got.isFinished }) { sub.unsubscribe() }
        _ = await eventually(seconds: 5) { got.isFinished }
        return got.items
    }

    @Test func publishSubscribeWildcardsQueueGroupsAndHeaders() async throws {
        try #require(NATSServerProcess.available, "TWINSCENE_REQUIRE_TOOLS=1 but nats-server is missing")
        let server = try NATSServerProcess()
        let a = try await NATSConnection.connect(Self.options(server, "publisher"))
        let b = try await NATSConnection.connect(Self.options(server, "subscriber"))
        let c = try await NATSConnection.connect(Self.options(server, "worker"))
        #expect(a.serverInfo?.version.hasPrefix("2.") == true && a.serverInfo?.headers == true)
        let all = try b.subscribe("scene.d.cell.>")
        let column = try b.subscribe("scene.d.cell.*.7")
        let w1 = try b.subscribe("work", queue: "q"), w2 = try c.subscribe("work", queue: "q")
        try await b.flush()
        try await c.flush()
        for x in 0..<10 { for y in 0..<10 { try a.publish("scene.d.cell.\(x).\(y)", bytes: [UInt8(x), UInt8(y)]) } }
        for k in 0..<200 { try a.publish("work", bytes: Array("job \(k)".utf8)) }
        var h = NATSHeaders()
        h.add("Tick", "42")
        h.add("Tick", "43")
        try a.publish("scene.d.cell.3.7", payload: ByteBuffer(string: "with headers"), headers: h)
        try await a.flush()

        let got = await Self.take(all, 101)
        #expect(got.count == 101)
        var cells: [[UInt8]] = []
        for x in 0..<10 { for y in 0..<10 { cells.append([UInt8(x), UInt8(y)]) } }
        #expect(got.prefix(100).map(\.bytes) == cells, "in order, each once")
        #expect(got.prefix(100).allSatisfy { $0.subject == "scene.d.cell.\($0.bytes[0]).\($0.bytes[1])" && $0.headers == nil })
        #expect(got.last?.headers?.fields.map(\.value) == ["42", "43"] && got.last?.headers?["Tick"] == "42")
        #expect(String(decoding: got.last?.bytes ?? [], as: UTF8.self) == "with headers")
        let col = await Self.take(column, 11)
        #expect(col.map(\.subject) == (0..<10).map { "scene.d.cell.\($0).7" } + ["scene.d.cell.3.7"])
        // The queue group: each job to exactly one of the two workers.
        #expect(await eventually { w1.delivered + w2.delivered == 200 })
        let (n1, n2) = (w1.delivered, w2.delivered)
        #expect(n1 + n2 == 200 && n1 > 0 && n2 > 0, "\(n1) + \(n2)")

        // The server's own counts: three connections with our names, the subscriptions made,
        // and at least what we published taken in.
        let connz = try await server.monitor("connz?subs=1")
        let conns = connz["connections"] as? [[String: Any]] ?? []
        #expect(Set(conns.compactMap { $0["name"] as? String }) == ["publisher", "subscriber", "worker"])
        let subs = conns.first { $0["name"] as? String == "subscriber" }?["subscriptions_list"] as? [String] ?? []
        #expect(Set(subs) == ["scene.d.cell.>", "scene.d.cell.*.7", "work"], "\(subs)")
        let pub = conns.first { $0["name"] as? String == "publisher" }
        #expect(pub?["in_msgs"] as? Int == 301, "\(String(describing: pub?["in_msgs"]))")
        #expect(a.statistics.messagesOut == 301)
        for x in [a, b, c] { await x.close() }
    }

    /// Several subjects into one sequence: taken in the order the server sent them, across
    /// subjects; one unsubscribed stops its subject only.
    @Test func subscriptionsIntoOneSinkKeepTheServersOrder() async throws {
        try #require(NATSServerProcess.available, "TWINSCENE_REQUIRE_TOOLS=1 but nats-server is missing")
        let server = try NATSServerProcess()
        let a = try await NATSConnection.connect(Self.options(server, "publisher"))
        let b = try await NATSConnection.connect(Self.options(server, "subscriber"))
        let sink = try b.subscribe("tick")
        let cells = try (0..<4).map { k in try b.subscribe("cell.\(k)", into: sink) }
        try await b.flush()
        var sent: [String] = []
        // Seeded order of subjects, the tick marker after each round.
        var rng = UInt64(0x5eed)
        for round in 0..<50 {
            for _ in 0..<3 {
                rng = rng &* 6364136223846793005 &+ 1442695040888963407
                let k = Int(rng >> 62)
                try a.publish("cell.\(k)", bytes: Array("\(round)".utf8))
                sent.append("cell.\(k) \(round)")
            }
            try a.publish("tick", bytes: Array("\(round)".utf8))
            sent.append("tick \(round)")
        }
        try await a.flush()
        let got = await Self.take(sink, sent.count)
        #expect(got.map { "\($0.subject) \(String(decoding: $0.bytes, as: UTF8.self))" } == sent)
        cells[2].unsubscribe()
        try await b.flush()
        try a.publish("cell.2", bytes: [2])
        try a.publish("cell.1", bytes: [1])
        try a.publish("tick", bytes: [9])
        try await a.flush()
        let after = await Self.take(sink, 2)
        #expect(after.map(\.subject) == ["cell.1", "tick"])
        let connz = try await server.monitor("connz?subs=1")
        let subs = (connz["connections"] as? [[String: Any]] ?? []).first { $0["name"] as? String == "subscriber" }?["subscriptions_list"] as? [String] ?? []
        #expect(Set(subs) == ["tick", "cell.0", "cell.1", "cell.3"], "\(subs)")
        for x in [a, b] { await x.close() }
    }

    /// A handler takes messages on the event loop in order; what it refuses is dropped,
    /// counted, and reported as a slow consumer once.
    @Test func aHandlerTakesMessagesInOrderAndWhatItRefusesIsDropped() async throws {
        try #require(NATSServerProcess.available, "TWINSCENE_REQUIRE_TOOLS=1 but nats-server is missing")
        let server = try NATSServerProcess()
        let a = try await NATSConnection.connect(Self.options(server, "publisher"))
        let b = try await NATSConnection.connect(Self.options(server, "subscriber"))
        let log = EventLog(b)
        let taken = Collected()
        // Takes the first 30, refuses the rest (its own bound).
        let sub = try b.subscribe("h") { m in
            guard taken.items.count < 30 else { return false }
            taken.add(m)
            return true
        }
        let other = try b.subscribe("h.more", into: sub)
        try await b.flush()
        for k in 0..<40 { try a.publish(k % 2 == 0 ? "h" : "h.more", bytes: [UInt8(k)]) }
        try await a.flush()
        #expect(await eventually { sub.dropped == 10 })
        #expect(taken.items.map(\.bytes) == (0..<30).map { [UInt8($0)] }, "in order across both subjects")
        #expect(sub.delivered == 30 && other.dropped == 0)
        #expect(await eventually { log.count { if case .slowConsumer(let sid, _) = $0 { sid == sub.sid } else { false } } == 1 })
        for x in [a, b] { await x.close() }
    }

    /// Publications from a thread that is not the connection's event loop, back to back, go
    /// out without any later write to push them (a flush scheduled before the second write
    /// once missed it, and it waited for the next publication: a gateway's key request sat
    /// two seconds).
    @Test func publicationsFromAnotherThreadGoOutWithoutAnotherWrite() async throws {
        try #require(NATSServerProcess.available, "TWINSCENE_REQUIRE_TOOLS=1 but nats-server is missing")
        let server = try NATSServerProcess()
        let a = try await NATSConnection.connect(Self.options(server, "publisher"))
        let b = try await NATSConnection.connect(Self.options(server, "subscriber"))
        let sub = try b.subscribe("t")
        try await b.flush()
        for round in 0..<60 {
            let thread = Thread {
                for k in 0..<(1 + round % 3) { try? a.publish("t", bytes: [UInt8(round), UInt8(k)]) }
            }
            thread.start()
            // A bound for a starved machine (a round takes milliseconds; beside the browser test
            // and the scale-out suites one took over 10 s).
            let got = await Self.take(sub, 1 + round % 3, seconds: 60)
            #expect(got.map(\.bytes) == (0..<(1 + round % 3)).map { [UInt8(round), UInt8($0)] }, "round \(round)")
            if got.count != 1 + round % 3 { break }
        }
        for x in [a, b] { await x.close() }
    }

    @Test func requestsAreAnsweredRefusedWithoutRespondersAndTimedOut() async throws {
        try #require(NATSServerProcess.available, "TWINSCENE_REQUIRE_TOOLS=1 but nats-server is missing")
        let server = try NATSServerProcess()
        let responder = try await NATSConnection.connect(Self.options(server, "responder"))
        let client = try await NATSConnection.connect(Self.options(server, "client"))
        let service = try responder.subscribe("svc.upper")
        let silent = try responder.subscribe("svc.silent")
        _ = silent
        Task {
            for await m in service {
                guard let reply = m.reply else { continue }
                try? responder.publish(reply, bytes: Array(String(decoding: m.bytes, as: UTF8.self).uppercased().utf8))
            }
        }
        try await responder.flush()
        for word in ["keyframe", "cell 3 7", ""] {
            let answer = try await client.request("svc.upper", payload: ByteBuffer(string: word), timeout: 30)
            #expect(String(decoding: answer.bytes, as: UTF8.self) == word.uppercased())
        }
        await #expect(throws: NATSError.noResponders(subject: "svc.nobody")) {
            _ = try await client.request("svc.nobody", payload: ByteBuffer(), timeout: 30)
        }
        do {
            _ = try await client.request("svc.silent", payload: ByteBuffer(), timeout: 0.5)
            Issue.record("a request nobody answers returned")
        } catch let e as NATSError {
            guard case .timeout = e else { Issue.record("\(e)"); return }
        }
        await #expect(throws: NATSError.self) { _ = try await client.request("bad subject", payload: ByteBuffer()) }
        await client.close()
        await responder.close()
    }

    @Test func theServersMaxPayloadIsKeptAndMaxMessagesEndASubscription() async throws {
        try #require(NATSServerProcess.available, "TWINSCENE_REQUIRE_TOOLS=1 but nats-server is missing")
        let server = try NATSServerProcess(config: "max_payload: 1024\n")
        let c = try await NATSConnection.connect(Self.options(server, "limits"))
        #expect(c.serverInfo?.maxPayload == 1024)
        #expect(throws: NATSError.payloadTooLarge(size: 1025, max: 1024)) { try c.publish("big", bytes: [UInt8](repeating: 1, count: 1025)) }
        let five = try c.subscribe("count", max: 5)
        try c.publish("big", bytes: [UInt8](repeating: 1, count: 1024))
        for k in 0..<10 { try c.publish("count", bytes: [UInt8(k)]) }
        try await c.flush()
        var seen: [UInt8] = []
        for await m in five { seen += m.bytes }
        #expect(seen == [0, 1, 2, 3, 4], "the sequence ends after its maximum")
        #expect(c.isConnected, "the oversized publication was refused here, not by the server")
        await c.close()
    }

    /// NATS killed and started again: the connection comes back by itself, its subscription
    /// is made again (the server says so), and what was published meanwhile arrives, after
    /// the subscription (one connection: CONNECT, SUB, then the kept PUBs, in one write).
    @Test func aKilledServerIsReconnectedWithSubscriptionsAndKeptPublications() async throws {
        try #require(NATSServerProcess.available, "TWINSCENE_REQUIRE_TOOLS=1 but nats-server is missing")
        let server = try NATSServerProcess()
        var o = Self.options(server, "survivor")
        o.reconnectWait = 0.05
        o.reconnectWaitMax = 0.5
        let c = try await NATSConnection.connect(o)
        let log = EventLog(c)
        var small = Self.options(server, "small-buffer")
        small.reconnectBufferBytes = 1000
        let s = try await NATSConnection.connect(small)
        var once = Self.options(server, "gives-up")
        once.maxReconnectAttempts = 2
        once.reconnectWait = 0.01
        let g = try await NATSConnection.connect(once)
        let gLog = EventLog(g)
        let sub = try c.subscribe("r.>")
        try c.publish("r.before", bytes: [0])
        let before = await Self.take(sub, 1).first
        #expect(before?.subject == "r.before")
        let firstConnection = before?.connection ?? 0
        #expect(firstConnection > 0, "a message says which connection delivered it")

        server.kill()
        #expect(await eventually { log.count(isDisconnected) == 1 && !c.isConnected && !s.isConnected })
        for k in 1...10 { try c.publish("r.kept.\(k)", bytes: [UInt8(k)]) }
        // 100-byte publications (and their PUB lines) against a 1,000-byte buffer.
        var refused = 0
        for _ in 0..<12 {
            do { try s.publish("x", bytes: [UInt8](repeating: 7, count: 100)) } catch {
                #expect(error == .reconnectBufferFull(limit: 1000)); refused += 1
            }
        }
        #expect(refused >= 3 && refused <= 4, "\(refused) refused")
        // The one that gives up after two attempts closes, and says so.
        #expect(await eventually { gLog.events.contains(.closed) })
        #expect(throws: NATSError.closed) { try g.publish("x", bytes: [1]) }
        await #expect(throws: NATSError.closed) { try await g.flush(timeout: 1) }
        // A flush begun while the server is away waits for the reconnect, within its timeout.
        let flushed = Task { try await c.flush(timeout: 120) }

        try server.restart()
        #expect(await eventually(seconds: 120) { log.count(isReconnected) == 1 && c.isConnected })
        try await flushed.value
        let kept = await Self.take(sub, 10)
        #expect(kept.map(\.subject) == (1...10).map { "r.kept.\($0)" })
        // Delivered by the new connection: a subscriber tells the reconnection from them.
        #expect(kept.allSatisfy { $0.connection > firstConnection }, "\(kept.map(\.connection)) after \(firstConnection)")
        try c.publish("r.after", bytes: [11])
        let after = await Self.take(sub, 1).first
        #expect(after?.subject == "r.after" && after?.connection == kept.first?.connection)
        #expect(c.statistics.reconnects == 1)
        let connz = try await server.monitor("connz?subs=1")
        let mine = (connz["connections"] as? [[String: Any]] ?? []).first { $0["name"] as? String == "survivor" }
        #expect(mine?["subscriptions_list"] as? [String] == ["r.>"], "the server has the subscription again")
        #expect(await eventually { s.isConnected })
        await c.close()
        await s.close()
    }

    /// A consumer that does not keep up: the subscription holds its limit, drops the rest,
    /// counts them and reports one slow-consumer episode; what it holds comes in order.
    @Test func aSlowConsumerIsBoundedCountedAndReported() async throws {
        try #require(NATSServerProcess.available, "TWINSCENE_REQUIRE_TOOLS=1 but nats-server is missing")
        let server = try NATSServerProcess()
        var o = Self.options(server, "slow")
        o.pendingMessages = 10
        let slow = try await NATSConnection.connect(o)
        let log = EventLog(slow)
        let pub = try await NATSConnection.connect(Self.options(server, "fast"))
        let sub = try slow.subscribe("flood")
        try await slow.flush()
        for k in 0..<100 { try pub.publish("flood", bytes: [UInt8(k)]) }
        try await pub.flush()
        #expect(await eventually { sub.dropped == 90 })
        #expect(sub.pending == 10 && slow.statistics.dropped == 90)
        #expect(await eventually { log.count { if case .slowConsumer(sub.sid, "flood") = $0 { true } else { false } } == 1 })
        let held = await Self.take(sub, 10)
        #expect(held.map(\.bytes) == (0..<10).map { [UInt8($0)] })
        // Caught up: the next message is taken, and a new episode would be reported again.
        try pub.publish("flood", bytes: [200])
        #expect(await Self.take(sub, 1).first?.bytes == [200])
        await slow.close()
        await pub.close()
    }
}
