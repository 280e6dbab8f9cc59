import SceneCore

/// One region of a scene split into region shards: the scene populated whole (so every
/// entity has the slot and generation it has in one process), then holding only the entities
/// of its region and, as ghosts, its neighbours' entities within the ghost depth of its border.
///
/// A tick, in lockstep with the other regions: `tick()` steps owned entities and ghosts and
/// keeps the events and attribute changes of owned ones; `border()` drops the ghosts,
/// releases the entities that left the region and copies those near each neighbour;
/// `receive(_:)` takes every neighbour's border of the same tick in (handovers become owned,
/// ghosts are added). Then the world holds what the next step reads and what the encoder
/// needs to code the region's cells as one process would. Owned by the scene's tick thread.
public final class RegionShard {
    public let scene: LoadedScene
    public let layout: RegionLayout
    public let index: Int
    /// Slots held as ghosts now.
    public private(set) var ghosts = Set<UInt32>()
    /// Entities handed over to other regions and taken from them, since the start.
    public private(set) var handedOut = 0
    public private(set) var handedIn = 0
    /// Entities that left the region for one that is not a neighbour (kept here meanwhile).
    public private(set) var strays = 0
    /// Handovers sent to each neighbour and not yet acknowledged (its border saying it took
    /// in ours of that tick), by the tick they were sent: sent again until they are, so a
    /// border lost on the way (NATS away) loses nobody. The last tick of each neighbour's
    /// border taken in, which this region's borders acknowledge.
    private var unacknowledged: [Int: [(tick: UInt64, records: [EntityRecord])]] = [:]
    private var lastReceived: [Int: UInt64] = [:]
    /// Handovers sent again so far.
    public private(set) var resent = 0

    /// The tick whose borders `receive` expects next (0: none yet, the first tick's ghosts are
    /// made from the whole scene at the start).
    public private(set) var expecting: UInt64 = 0

    /// Region `index` of the scene split into `regions` equal strips, or at `borders` (wire-cell
    /// columns) when given.
    public init(scene: LoadedScene, regions: Int, borders: [Int]? = nil, index: Int) throws {
        let layout = try Self.layout(of: scene, regions: regions, borders: borders, index: index)
        self.scene = scene
        self.layout = layout
        self.index = index
        let store = scene.world.store
        var leave: [UInt32] = []
        for d in 0..<store.count where layout.region(x: store.x[d]) != index {
            if layout.nearRegion(index, x: store.x[d]) { ghosts.insert(store.slot[d]) } else { leave.append(store.slot[d]) }
        }
        for s in leave { _ = scene.world.release(slot: s) }
    }

    /// The layout region `index` of the scene would have, or why the scene cannot be split so.
    public static func layout(of scene: LoadedScene, regions: Int, borders: [Int]? = nil, index: Int) throws -> RegionLayout {
        guard let reach = scene.scenario.regionReach(dt: scene.world.dt) else {
            throw RegionError.notSplittable(scenario: scene.manifest.scenario.rawValue)
        }
        let b = scene.world.bounds, cell = scene.manifest.wireCellSize
        let layout = try borders.map { try RegionLayout(borders: $0, bounds: b, cellSize: cell, ghostDepth: reach) }
            ?? RegionLayout(regions: regions, bounds: b, cellSize: cell, ghostDepth: reach)
        guard index >= 0, index < layout.regions else { throw RegionError.badRegion(index, of: layout.regions) }
        // A region narrower than the reach would need ghosts from beyond its neighbours.
        for k in 1..<max(1, layout.regions - 1) where Double(layout.starts[k + 1] - layout.starts[k]) * cell < Double(reach) {
            throw RegionError.narrowRegion(k, metres: Double(layout.starts[k + 1] - layout.starts[k]) * cell, reach: reach)
        }
        return layout
    }

    /// Whether the entity at dense index `d` is this region's (not a ghost).
    @inline(__always)
    public func owns(dense d: Int) -> Bool { !ghosts.contains(scene.world.store.slot[d]) }

    /// The entities this region owns.
    public var owned: Int { scene.world.store.count - ghosts.count }

    /// This tick's ranking of the region's own entities, until `receive` merged the others'.
    public private(set) var ranking: SceneRanking?
    /// The ranking's events of the region's own entities, with their ranks in the whole scene
    /// (made by `receive`, taken by the server).
    private var rankEvents: [SceneEvent] = []

    /// The scene's tick, keeping the events and attribute changes of owned entities only (a
    /// ghost's are its owner's to send). The scene's ranking events are left out: they come
    /// from `takeRankEvents()` once every region's ranking is merged.
    public func tick() -> TickOutput {
        var out = scene.tick()
        if !ghosts.isEmpty {
            out.events.removeAll { ghosts.contains($0.entity) }
            out.attributeChanges.removeAll { ghosts.contains($0.slot) }
        }
        ranking = scene.scenario.ranking(scene.world) { owns(dense: $0) }
        if let r = ranking { out.events.removeAll { $0.kind == r.kind } }
        return out
    }

    /// The ranking events of this region's entities with their ranks among every region's
    /// (after `receive`), in rank order.
    public func takeRankEvents() -> [SceneEvent] {
        defer { rankEvents = [] }
        return rankEvents
    }

    /// After `tick()`: drops the ghosts, releases the entities that left the region, and
    /// returns each neighbour's border message.
    /// Entities bound for a region in `absent` (its shard is missing) stay here meanwhile.
    public func border(absent: Set<Int> = []) -> [BorderMessage] {
        let world = scene.world
        for s in ghosts { _ = world.release(slot: s) }
        ghosts.removeAll(keepingCapacity: true)
        let tick = world.tick
        var messages = layout.neighbours(index).map { BorderMessage(tick: tick, from: index, to: $0, received: lastReceived[$0] ?? 0) }
        func message(to k: Int) -> Int? { messages.firstIndex { $0.to == k } }
        var leaving: [(UInt32, Int)] = []
        let store = world.store
        for d in 0..<store.count {
            let k = layout.region(x: store.x[d])
            if k != index { leaving.append((store.slot[d], k)) }
        }
        var keptAsGhosts: [EntityRecord] = []
        for (slot, k) in leaving.sorted(by: { $0.0 < $1.0 }) {
            guard let m = message(to: k), !absent.contains(k) else { strays += 1; continue }
            guard let r = world.release(slot: slot) else { continue }
            messages[m].handovers.append(r)
            handedOut += 1
            // Still within reach of this region: a ghost here from now on. (Its new owner made
            // its own border before it had it, so this region would not get it from there.)
            if layout.nearRegion(index, x: r.x) { keptAsGhosts.append(r) }
        }
        // Ghosts, in slot order, so a border's bytes depend on the state alone.
        var near: [[UInt32]] = Array(repeating: [], count: messages.count)
        let staying = world.store
        for d in 0..<staying.count {
            for (m, message) in messages.enumerated() where layout.nearRegion(message.to, x: staying.x[d]) { near[m].append(staying.slot[d]) }
        }
        for m in messages.indices { messages[m].ghosts = near[m].sorted().compactMap { world.record(slot: $0) } }
        // Handovers: kept until acknowledged. A neighbour acknowledges ours of tick T in its
        // border of T + 1 at the latest, so those of T - 2 and before still unacknowledged were
        // lost or their region is away: sent again (a region that has one already ignores it).
        for m in messages.indices {
            let k = messages[m].to
            let again = (unacknowledged[k] ?? []).filter { $0.tick + 2 <= tick }.flatMap(\.records)
            if !again.isEmpty { resent += again.count }
            if !messages[m].handovers.isEmpty { unacknowledged[k, default: []].append((tick, messages[m].handovers)) }
            messages[m].handovers += again
        }
        // A ranking goes to every region.
        if let r = ranking {
            for m in messages.indices { messages[m].ranking = r.entries }
            for k in 0..<layout.regions where k != index && !layout.neighbours(index).contains(k) {
                messages.append(BorderMessage(tick: tick, from: index, to: k, ranking: r.entries))
            }
        }
        for r in keptAsGhosts where (try? world.adopt(r)) != nil { ghosts.insert(r.slot) }
        expecting = tick
        return messages
    }

    /// Takes in handovers that came in a border of an earlier tick (a neighbour that was
    /// missing, NATS away and back): their entity is this region's now, whatever tick its
    /// values are of (it stood still meanwhile), so it is never lost. One held here as a
    /// ghost becomes this region's as it is; one this region owns is left as it is. Returns
    /// how many were taken in.
    public func adopt(late records: [EntityRecord]) -> Int {
        records.reduce(0) { $0 + (take($1) ? 1 : 0) }
    }

    /// Takes in one handover, on time, late or sent again: a ghost becomes this region's as it
    /// is, an entity this region owns already is left alone (a handover sent again whose
    /// first copy came), else the record is adopted. It is no longer owed to a neighbour.
    @discardableResult
    private func take(_ r: EntityRecord) -> Bool {
        for k in unacknowledged.keys {
            for i in unacknowledged[k]!.indices { unacknowledged[k]![i].records.removeAll { $0.slot == r.slot } }
        }
        if ghosts.remove(r.slot) != nil { handedIn += 1; return true }
        guard scene.world.store.dense(ofSlot: Int(r.slot)) == nil, (try? scene.world.adopt(r)) != nil else { return false }
        handedIn += 1
        return true
    }

    /// A neighbour's border says which of this region's borders it took in.
    public func acknowledged(_ b: BorderMessage) {
        unacknowledged[b.from]?.removeAll { $0.tick <= b.received }
        if b.tick > lastReceived[b.from] ?? 0 { lastReceived[b.from] = b.tick }
    }

    /// Takes in every neighbour's border message of the tick `border()` last made: their
    /// handovers become this region's, their ghosts are added.
    public func receive(_ borders: [BorderMessage]) throws {
        for b in borders where b.tick != expecting || b.to != index {
            throw RegionError.unexpectedBorder(from: b.from, to: b.to, tick: b.tick, expected: expecting)
        }
        let world = scene.world
        for b in borders.sorted(by: { $0.from < $1.from }) {
            acknowledged(b)
            for r in b.handovers { take(r) }
        }
        for b in borders.sorted(by: { $0.from < $1.from }) {
            for r in b.ghosts where world.store.dense(ofSlot: Int(r.slot)) == nil {
                try world.adopt(r)
                ghosts.insert(r.slot)
            }
        }
        if let r = ranking {
            // The scene's best of every region's best; this region says the ranks of its own.
            let merged = SceneRanking.merge([r.entries] + borders.compactMap(\.ranking), size: r.size)
            let mine = Set(r.entries.map(\.slot))
            rankEvents = merged.enumerated().compactMap { rank, e in
                mine.contains(e.slot) ? SceneEvent(tick: world.tick, entity: e.slot, kind: r.kind, value: Float(rank + 1)) : nil
            }
            ranking = nil
        }
    }
}
