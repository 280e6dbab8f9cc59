import CoreMetrics
import NATSClient
import NIOCore
import Scenarios
import SceneCore
import SceneWire

/// A scene's feed on NATS, published from the scene's tick thread (docs/SCALEOUT.md). After
/// each tick's fan-out: the delta block of every cell that changed (`scene.S.cell.X.Y`), the
/// tick's attribute changes and events (`scene.S.extras`), the answers to the key requests
/// that came since the last tick, then the tick's end (`scene.S.tick`). One connection
/// publishes them in this order, and NATS keeps a publisher's order for each subscriber, so
/// a gateway has the whole tick when its end arrives. Owned by `RunnerState`.
final class ScenePublisher {
    let connection: NATSConnection
    let metrics: ServerMetrics
    private let cellSubjects: [String]
    private let tickSubject: String
    private let extrasSubject: String
    /// Key requests to answer after the next tick, in arrival order.
    var pendingKeys: [(request: FeedKeyRequest, reply: String)] = []
    /// Said once in the next tick's end.
    var reset = false
    var geometryChanged = false

    init(connection: NATSConnection, scene: String, columns: Int, rows: Int, metrics: ServerMetrics) {
        self.connection = connection
        self.metrics = metrics
        var subjects: [String] = []
        subjects.reserveCapacity(columns * rows)
        for r in 0..<rows { for c in 0..<columns { subjects.append(FeedSubjects.cell(scene, column: c, row: r)) } }
        cellSubjects = subjects
        tickSubject = FeedSubjects.tick(scene)
        extrasSubject = FeedSubjects.extras(scene)
    }

    /// Largest payload the NATS server takes (its INFO), less room for the protocol line.
    var payloadLimit: Int { max(4096, (connection.serverInfo?.maxPayload ?? (1 << 20)) - 256) }

    func publish(_ subject: String, _ payload: ByteBuffer) {
        do {
            try connection.publish(subject, payload: payload)
            metrics.feedMessagesOut.increment()
            metrics.feedBytesOut.increment(by: Int64(payload.readableBytes))
        } catch {
            metrics.feedRefused.increment()
        }
    }

    /// A cell's message of this tick on its subject.
    func publishCell(_ cell: FeedCell, of c: Int) {
        guard c < cellSubjects.count else { return }
        publish(cellSubjects[c], cell.encoded())
    }

    func publishExtras(tick: UInt64, frames: [SharedFrame]) {
        guard !frames.isEmpty else { return }
        // Parts under the payload limit (a frame over it alone is refused and counted).
        var part: [SharedFrame] = [], size = 16
        for f in frames {
            if size + f.tail.readableBytes + 6 > payloadLimit && !part.isEmpty {
                publish(extrasSubject, FeedExtras(tick: tick, frames: part).encoded())
                part = []; size = 16
            }
            part.append(f); size += f.tail.readableBytes + 6
        }
        publish(extrasSubject, FeedExtras(tick: tick, frames: part).encoded())
    }

    func publishEnd(_ end: FeedTick) {
        var e = end
        e.reset = reset
        e.geometryChanged = geometryChanged
        reset = false
        geometryChanged = false
        publish(tickSubject, e.encoded())
    }
}

extension RunnerState {
    /// The tick on the feed, when the scene has one: after `publish(advanced:)`, on the tick thread.
    func publishFeed(advanced: Bool) {
        guard let feed else { return }
        let tick = scene.world.tick
        if advanced {
            publishCells(feed, tick: tick)
            // Version 1's extras: heights stay attributes.
            feed.publishExtras(tick: tick, frames: attributeChanges(strip: false) + tickEvents())
        }
        // A request for a later tick waits for it (region shards answer at the same tick);
        // one asking more than a minute ahead is answered now.
        let horizon = tick + 60 * UInt64(runner.tickRate)
        let due = feed.pendingKeys.filter { k in k.request.at.map { $0 <= tick || $0 > horizon } ?? true }
        feed.pendingKeys.removeAll { k in k.request.at.map { $0 <= tick || $0 > horizon } ?? true }
        let shard = region?.shard
        let answered = !due.isEmpty
        for (request, reply) in due {
            runner.metrics.feedKeyRequests.increment()
            // A region answers for its own cells and entities; region 0 for the static geometry.
            let keyframes = request.cells.filter { $0 >= 0 && $0 < encoder.columns * encoder.rows && (shard == nil || regionCells.contains($0)) }
                .compactMap { cellKey($0, members: request.members)?.encoded() }
            var frames: [SharedFrame] = []
            if case .some(let area) = request.geometry, shard == nil || shard?.index == 0 { frames.append(staticGeometry(area: area)) }
            if request.snapshot { frames += snapshot(strip: false) }
            for part in FeedKeyReply.parts(request: request.request, tick: tick, keyframes: keyframes, frames: frames, limit: feed.payloadLimit,
                                           region: shard.map { ($0.index, $0.layout.regions) }) {
                feed.publish(reply, part.encoded())
            }
        }
        if advanced || answered || feed.reset || feed.geometryChanged {
            var end = FeedTick(tick: tick, serverTimeMicros: tickTimeMicros, entities: UInt32(scene.world.store.count), advanced: advanced)
            if let shard = region?.shard {
                end.entities = UInt32(shard.owned)
                end.region = FeedRegion(index: shard.index, regions: shard.layout.regions, hash: scene.world.regionHash { shard.owns(dense: $0) })
            }
            feed.publishEnd(end)
        }
    }
}

extension RunnerState {
    /// Every cell that changed (a region shard's own only): its blocks, who left it and who
    /// came into it, with their identities and values (a gateway's version 3 views).
    func publishCells(_ feed: ScenePublisher, tick: UInt64) {
        let only = region == nil ? nil : regionCells
        // Entities new in a slot whose cell saw no coming or going still enter the views.
        var newIn: [Int: [UInt32]] = [:]
        if !newSlots.isEmpty {
            let fresh = Set(newSlots)
            encoder.withCells { cells in
                for c in lastBlocks.keys where c < cells.count {
                    for id in cells[c].ids where fresh.contains(id) { newIn[c, default: []].append(id) }
                }
            }
        }
        let fresh = Set(newSlots)
        for c in lastBlocks.keys where only?.contains(c) != false {
            let diff = cellDiff(c)
            var entering = diff.entered
            if let extra = newIn[c] {
                let seen = Set(entering)
                entering += extra.filter { !seen.contains($0) }
                entering.sort()
            }
            let cell = FeedCell(tick: tick, block: lastBlocks[c]!, block3: encoder3 != nil ? lastBlocks3[c] : nil, left: diff.left,
                                entrants: entering.compactMap { feedEntrant($0, new: fresh.contains($0)) })
            feed.publishCell(cell, of: c)
        }
    }

    /// Who is in slot `slot` for a gateway: generation, kind, identity and every value.
    func feedEntrant(_ slot: UInt32, new: Bool) -> FeedEntrant? {
        let world = scene.world
        guard let d = world.store.dense(ofSlot: Int(slot)), Int(slot) < aliveGeneration.count else { return nil }
        let values = world.attributes.all(slot: slot).map { WireAttribute(entity: $0.slot, attribute: $0.attribute, bits: $0.bits) }
        return FeedEntrant(slot: slot, generation: aliveGeneration[Int(slot)], new: new, kind: world.store.kind[d],
                           identity: scene.scenario.anonymous ? nil : identities([slot]).first, values: values)
    }

    /// A cell's keyframe for a key reply; with `members`, its keyframe with heights and the
    /// entities in it. nil for an empty cell.
    func cellKey(_ c: Int, members: Bool) -> FeedCellKey? {
        guard let block = keyframe(c) else { return nil }
        guard members else { return FeedCellKey(cell: c, block: block) }
        let ids = encoder.withCells { c < $0.count ? $0[c].ids : [] }
        return FeedCellKey(cell: c, block: block, block3: encoder3 != nil ? keyframe(c, heights: true) : nil,
                           members: ids.compactMap { feedEntrant($0, new: false) })
    }
}
