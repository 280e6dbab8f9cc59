import CoreMetrics
import Dispatch
import Foundation
import Logging
import NATSClient
import NIOCore
import Scenarios
import SceneCore
import SceneWire
import Synchronization

/// Border messages from the neighbours' shards, from the connection's event loop to the tick
/// thread, which waits on `arrived`. Bounded: a neighbour far ahead cannot grow it.
final class BorderInbox: Sendable {
    private let queue = Mutex<[NATSMessage]>([])
    let arrived = DispatchSemaphore(value: 0)
    let limit: Int
    init(limit: Int = 4096) { self.limit = limit }
    func add(_ m: NATSMessage) -> Bool {
        let taken = queue.withLock { q -> Bool in
            guard q.count < limit else { return false }
            q.append(m)
            return true
        }
        if taken { arrived.signal() }
        return taken
    }
    func take() -> [NATSMessage] { queue.withLock { q in defer { q.removeAll(keepingCapacity: true) }; return q } }
}

/// A region shard's lockstep with its neighbours on NATS (docs/SCALEOUT.md, "Region shards"):
/// after each tick it publishes its border to each neighbour (`scene.S.region.J.border`) and
/// waits for theirs of the same tick before coding the tick and stepping the next. The
/// exchange is the barrier: no region steps T+1 before its neighbours stepped T. A neighbour
/// silent for `tickWait` seconds is said missing (logged, `twinscene_region_missing`), and
/// the region goes on without its ghosts, keeping the entities bound for it, until its borders
/// come again. Owned by the scene's tick thread.
final class RegionLink {
    let shard: RegionShard
    let connection: NATSConnection
    let assignment: RegionAssignment
    let logger: Logger
    let metrics: ServerMetrics
    private let inbox = BorderInbox()
    private var subscription: NATSSubscription?
    private var outSubjects: [Int: String] = [:]
    /// Borders that came for ticks still to come, by neighbour.
    private var early: [Int: [BorderMessage]] = [:]
    private(set) var missing = Set<Int>()
    /// Per neighbour: the latest tick it sent a border of, and when (uptime ns).
    private var heard: [Int: (tick: UInt64, at: UInt64)] = [:]
    private var lastMissingLog: [Int: UInt64] = [:]
    private var first = true

    init(shard: RegionShard, connection: NATSConnection, assignment: RegionAssignment, logger: Logger, metrics: ServerMetrics) {
        self.shard = shard
        self.connection = connection
        self.assignment = assignment
        self.logger = logger
        self.metrics = metrics
        let scene = shard.scene.name
        // Borders go to neighbours; rankings to every region.
        for k in 0..<shard.layout.regions where k != shard.index { outSubjects[k] = FeedSubjects.border(scene, region: k) }
        let inbox = self.inbox
        do {
            subscription = try connection.subscribe(FeedSubjects.border(scene, region: shard.index)) { inbox.add($0) }
        } catch {
            logger.error("the region cannot subscribe to its neighbours' borders", metadata: ["error": "\(error)"])
        }
    }

    deinit { subscription?.unsubscribe() }

    /// Before the first border: a border published before its neighbour subscribed would be
    /// lost, so each region says it is ready (a border of tick 0, after subscribing) every
    /// 100 ms until every neighbour said so, then once more (a neighbour that said so is
    /// subscribed and hears it). Borders that come meanwhile are kept for their tick.
    func greetNeighbours() {
        let wanted = Set(outSubjects.keys)
        var ready = Set<Int>()
        let deadline = DispatchTime.now().uptimeNanoseconds + UInt64(assignment.firstWait * 1e9)
        func hello() {
            for (k, subject) in outSubjects {
                try? connection.publish(subject, payload: FeedBorder.encode(BorderMessage(tick: 0, from: shard.index, to: k)))
            }
        }
        while !ready.isSuperset(of: wanted) && DispatchTime.now().uptimeNanoseconds < deadline {
            hello()
            let until = DispatchTime.now() + .milliseconds(100)
            while DispatchTime.now() < until {
                _ = inbox.arrived.wait(timeout: until)
                for m in inbox.take() {
                    guard let b = try? FeedBorder.decode(m.payload), wanted.contains(b.from) else { continue }
                    if b.tick == 0 { ready.insert(b.from) } else { early[b.from, default: []].append(b) }
                }
            }
        }
        hello()
        if !ready.isSuperset(of: wanted) {
            logger.warning("neighbouring regions did not say they are ready; starting without them", metadata: [
                "missing": "\(wanted.subtracting(ready).sorted())", "waited": "\(assignment.firstWait) s"])
        }
    }

    /// After the shard's tick: sends its borders, waits for the neighbours' of the same tick
    /// (or says them missing), and takes them in; on a ranking tick, every region's ranking.
    func exchange() {
        if first { greetNeighbours() }
        let (handedOut, resent) = (shard.handedOut, shard.resent)
        let borders = shard.border(absent: missing)
        metrics.regionHandovers.increment(by: Int64(shard.handedOut - handedOut))
        metrics.regionHandoversResent.increment(by: Int64(shard.resent - resent))
        for b in borders {
            guard let subject = outSubjects[b.to] else { continue }
            let payload = FeedBorder.encode(b)
            metrics.regionBorderBytes.increment(by: Int64(payload.readableBytes))
            do { try connection.publish(subject, payload: payload) } catch { metrics.feedRefused.increment() }
        }
        let tick = shard.expecting
        // On a tick the scenario ranks, every region's ranking is waited for too. Borders from
        // any region are kept for their tick, even one not waited for now: a region that is no
        // neighbour may be two ticks ahead, its ranking here before this region ranks.
        let everyone = Set(outSubjects.keys)
        let wanted = shard.ranking != nil ? everyone : Set(shard.layout.neighbours(shard.index))
        var got: [Int: BorderMessage] = [:]
        var late: [BorderMessage] = []
        func sort(_ messages: [BorderMessage]) {
            let now = DispatchTime.now().uptimeNanoseconds
            for m in messages where everyone.contains(m.from) && m.tick >= 1 {
                if m.tick >= heard[m.from]?.tick ?? 0 { heard[m.from] = (m.tick, now) }
                if m.tick == tick { got[m.from] = m } else if m.tick > tick { early[m.from, default: []].append(m) } else {
                    // A border of an earlier tick (a neighbour said missing, NATS away and back):
                    // its ghosts are stale, but its handovers are nobody's but this region's now.
                    late.append(m)
                }
            }
        }
        for k in everyone { if let list = early[k] { early[k] = nil; sort(list) } }
        let limit = first ? assignment.firstWait : assignment.tickWait
        let deadline = DispatchTime.now().uptimeNanoseconds + UInt64(limit * 1e9)
        while true {
            sort(inbox.take().compactMap { m in
                do { return try FeedBorder.decode(m.payload) } catch {
                    logger.warning("a bad border message", metadata: ["subject": "\(m.subject)", "error": "\(error)"])
                    return nil
                }
            })
            // A missing neighbour is not waited for, unless it was heard from within the wait
            // (it is alive, and behind: its borders of this tick are still to come). Waiting
            // for it, however far behind, is what brings the two back into lockstep: both tick
            // at the same rate, so a region that went on alone would otherwise stay ahead by
            // the same gap for good, its neighbour said missing all along. Each tick waits at
            // most the wait, so the one ahead slows to a tick per wait until the other catches
            // up; it is back when its border of this tick came.
            let returning = missing.filter { k in
                guard let h = heard[k] else { return false }
                return DispatchTime.now().uptimeNanoseconds < h.at + UInt64(limit * 1e9)
            }
            let waiting = wanted.subtracting(got.keys).subtracting(missing.subtracting(returning))
            if waiting.isEmpty { break }
            let now = DispatchTime.now().uptimeNanoseconds
            if now >= deadline {
                for k in waiting where !missing.contains(k) { declareMissing(k, tick: tick) }
                metrics.regionWaitsTimedOut.increment()
                break
            }
            _ = inbox.arrived.wait(timeout: .now() + .nanoseconds(Int(min(deadline - now, 50_000_000))))
        }
        first = false
        for k in got.keys where missing.contains(k) {
            missing.remove(k)
            metrics.regionMissing(k).record(0)
            logger.notice("region is back", metadata: ["region": "\(k)", "tick": "\(tick)"])
        }
        do {
            try shard.receive(Array(got.values))
        } catch {
            logger.error("a neighbour's border could not be taken in", metadata: ["error": "\(error)"])
        }
        for m in late { shard.acknowledged(m) }
        if late.contains(where: { !$0.handovers.isEmpty }) {
            let taken = shard.adopt(late: late.flatMap(\.handovers))
            metrics.regionLateHandovers.increment(by: Int64(taken))
            logger.notice("handovers of an earlier tick taken in", metadata: ["entities": "\(taken)", "tick": "\(tick)"])
        }
    }

    private func declareMissing(_ k: Int, tick: UInt64) {
        let fresh = missing.insert(k).inserted
        metrics.regionMissing(k).record(1)
        let rate = UInt64(max(1, (1 / shard.scene.world.dt).rounded()))
        if fresh || tick - (lastMissingLog[k] ?? 0) >= 30 * rate {
            lastMissingLog[k] = tick
            logger.warning("a neighbouring region is missing: going on without its ghosts, keeping the entities bound for it", metadata: [
                "region": "\(k)", "tick": "\(tick)", "waited": "\(first ? assignment.firstWait : assignment.tickWait) s"])
        }
    }
}
