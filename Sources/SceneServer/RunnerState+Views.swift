import NIOCore
import Scenarios
import SceneCore
import SceneWire

/// Version 2's per-subscriber views: who is inside an area, whose identity a subscriber
/// still needs, and the attributes and events an area lets through.
extension RunnerState {
    /// Largest EntityInfo entry: id gap, kind, three texts of 64 bytes, a number.
    static let entityInfoEntryBytes = 10 + 1 + 3 * (1 + WireEntityInfo.maxTextBytes) + 5
    var identitiesPerMessage: Int { max(1, (runner.maxFrameBytes - 32) / Self.entityInfoEntryBytes) }

    /// Who the entities in `slots` are (ascending slots), as the scenario says; asked once
    /// per entity (`identityCache`, by slot, forgotten when the slot's entity is new).
    func identities(_ slots: [UInt32]) -> [WireEntityInfo] {
        let world = scene.world
        if identityCache.count < aliveGeneration.count { identityCache += repeatElement(nil, count: aliveGeneration.count - identityCache.count) }
        return slots.compactMap { slot in
            let k = Int(slot)
            if identityAsked.contains(k) { return k < identityCache.count ? identityCache[k] : nil }
            guard let d = world.store.dense(ofSlot: k) else { return nil }
            let info = scene.scenario.identity(slot: slot, in: world).map {
                WireEntityInfo(entity: slot, kind: world.store.kind[d], key: $0.key, label: $0.label, group: $0.group, number: $0.number)
            }
            identityAsked.insert(k)
            if k < identityCache.count { identityCache[k] = info }
            return info
        }
    }

    /// EntityInfo messages for `slots`, each under the frame limit.
    func identityMessages(_ slots: [UInt32], subscription: UInt32) -> [WireMessage] {
        Self.parts(identities(slots), of: identitiesPerMessage).map { .entityInfo(subscription: subscription, entities: $0) }
    }

    /// A slot whose entity is new holds someone no subscriber has met: forget that each
    /// version 2 subscription was told about the slot (and, for areas, that it was in view).
    /// Once per encode, before any subscription is served or skipped.
    func forgetNewSlots() {
        guard newSlotsUnseen else { return }
        newSlotsUnseen = false
        guard !newSlots.isEmpty else { return }
        for slot in newSlots {
            identityAsked.remove(Int(slot))
            if Int(slot) < identityCache.count { identityCache[Int(slot)] = nil }
        }
        for s in subscriptions where s.version >= 2 {
            for slot in newSlots { s.told.remove(Int(slot)); s.previousView.remove(Int(slot)) }
        }
    }

    /// Identities a whole-scene version 2 subscriber needs before this tick's frame: after a
    /// resync, those of every entity it was not yet told about (all of them the first time,
    /// coded once per tick for every newcomer); else those of the entities new this tick.
    /// A catch-up resync does not send identities the subscriber already holds.
    func sendWholeIdentities(to s: Subscription, resync: Bool) {
        s.told.grow(count: aliveGeneration.count)
        if resync {
            var unknown: [UInt32] = []
            for slot in 0..<aliveGeneration.count where aliveGeneration[slot] != 0 && !s.told.contains(slot) { unknown.append(UInt32(slot)) }
            if unknown.count == store.count {
                if identityAllFrames == nil { identityAllFrames = identityMessages(unknown, subscription: 0).compactMap(SharedFrame.init) }
                for f in identityAllFrames! { resyncBytesThisTick += f.tail.readableBytes; send(f, to: s) }
            } else {
                for m in identityMessages(unknown, subscription: s.id) {
                    let frame = m.frame()
                    resyncBytesThisTick += frame.readableBytes
                    send(frame, to: s)
                }
            }
            for slot in unknown { s.told.insert(Int(slot)) }
        } else if !newSlots.isEmpty {
            if identityNewFrames == nil { identityNewFrames = identityMessages(newSlots, subscription: 0).compactMap(SharedFrame.init) }
            for f in identityNewFrames! { send(f, to: s) }
            for slot in newSlots { s.told.insert(Int(slot)) }
        }
    }

    var store: EntityStore { scene.world.store }

    /// Recomputes which entities lie inside an area subscription's area, by their quantised
    /// positions exactly as a client filters them, and sends the identities of those it was
    /// not yet told about (ever: leaving and coming back, or a resync, sends none again).
    /// Returns the slots that entered the view since the last frame (every slot in view
    /// after a resync), ascending.
    /// The smallest quantum count n with `Double(n) * q >= v` (the client's side of a bound).
    static func firstQuantum(atLeast v: Double, _ q: Double) -> Int64 {
        guard v.isFinite else { return v > 0 ? Int64.max : Int64.min }
        var n = Int64(max(-9e18, min(9e18, (v / q).rounded(.up))))
        while Double(n - 1) * q >= v { n -= 1 }
        while Double(n) * q < v { n += 1 }
        return n
    }

    func updateView(_ s: Subscription, resync: Bool) -> [UInt32] {
        guard let area = s.area else { return [] }
        if s.version >= 3 { return updateCellView(s, resync: resync) }
        let slots = aliveGeneration.count
        swap(&s.inView, &s.previousView)
        s.inView.reset(count: slots)
        s.told.grow(count: slots)
        // After a resync every entity in view counts as entering (its attributes come again);
        // identities only for those the subscriber was not yet told about.
        if resync { s.previousView.reset(count: slots) }
        let q = encoder.quantum
        // The area in whole quanta, exactly as a client's `Double(qx) * quantum` test decides
        // (the product grows with qx, so thresholds found by that same test are exact).
        let x0 = Self.firstQuantum(atLeast: area.minX, q), x1 = Self.firstQuantum(atLeast: area.maxX, q)
        let y0 = Self.firstQuantum(atLeast: area.minY, q), y1 = Self.firstQuantum(atLeast: area.maxY, q)
        var entered: [UInt32] = []
        // The sets as locals: class properties in the loop would pay an exclusivity check per access.
        var now = SlotBits(), before = SlotBits()
        swap(&now, &s.inView); swap(&before, &s.previousView)
        now.grow(count: slots)
        encoder.withCells { cells in
            // Raw buffers: the inner loop runs over every entity of every covered cell, for
            // every area subscriber, each tick (a crowded start puts thousands in one area).
            now.withWords { nowWords in
                before.withWords { beforeWords in
                    for c in s.coveredSorted {
                        cells[c].ids.withUnsafeBufferPointer { ids in
                            cells[c].qx.withUnsafeBufferPointer { qx in
                                cells[c].qy.withUnsafeBufferPointer { qy in
                                    for i in 0..<ids.count {
                                        let x = Int64(qx[i]), y = Int64(qy[i])
                                        guard x >= x0 && x < x1 && y >= y0 && y < y1 else { continue }
                                        let slot = Int(ids[i]), w = slot >> 6, bit = UInt64(1) << UInt64(slot & 63)
                                        guard w < nowWords.count else { continue }
                                        nowWords[w] |= bit
                                        if w >= beforeWords.count || beforeWords[w] & bit == 0 { entered.append(ids[i]) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        swap(&now, &s.inView); swap(&before, &s.previousView)
        entered.sort()
        sendIdentities(of: entered, to: s, resync: resync)
        return entered
    }

    /// An area subscription's attributes and events after its frame: after a resync a
    /// snapshot of the entities in view; else the values of entities that just entered and
    /// the changes of the others in view; events of entities in view and scene-wide ones.
    func sendAreaExtras(to s: Subscription, entered: [UInt32], advanced: Bool, resync: Bool) {
        let world = scene.world, tick = world.tick
        var values: [WireAttribute] = []
        for slot in entered {
            for a in world.attributes.all(slot: slot) { values.append(WireAttribute(entity: a.slot, attribute: a.attribute, bits: a.bits)) }
        }
        if !resync && advanced {
            let fresh = Set(entered)
            for v in pendingAttributes where s.inView.contains(Int(v.entity)) && !fresh.contains(v.entity) { values.append(v) }
            values.sort { ($0.entity, $0.attribute) < ($1.entity, $1.attribute) }
        }
        if usesHeights(s) { values = withoutHeights(values) }
        // A snapshot after a resync even when empty, so the client clears what it held.
        if resync && world.attributes.hasAttributes || !values.isEmpty {
            let parts = Self.parts(values, of: attributesPerMessage)
            for (k, part) in (parts.isEmpty ? [[]] : parts).enumerated() {
                let frame = WireMessage.attributes(subscription: s.id, tick: tick, snapshot: resync && k == 0, values: part).frame()
                if resync { resyncBytesThisTick += frame.readableBytes }
                send(frame, to: s)
            }
        }
        guard advanced, !pendingEvents.isEmpty else { return }
        let wide = scene.scenario.sceneWideEvents
        let mine = pendingEvents.filter { wide.contains($0.kind) || s.inView.contains(Int($0.entity)) }
            .map { WireEvent(entity: $0.entity, kind: $0.kind.rawValue, value: $0.value) }
        for part in Self.parts(mine, of: eventsPerMessage) { send(WireMessage.events(subscription: s.id, tick: tick, events: part).frame(), to: s) }
    }

    /// Version 3: the view is every entity in the covered cells (the cells whose blocks the
    /// subscriber gets), so it follows the cells' comings and goings: a subscriber costs its
    /// cells and the changes in them, not the entities in them. Rebuilt after a resync or
    /// when the covered cells change. Returns the slots that entered the view, and sends the
    /// identities the subscriber was not yet told about.
    func updateCellView(_ s: Subscription, resync: Bool) -> [UInt32] {
        let slots = aliveGeneration.count
        s.told.grow(count: slots)
        s.inView.grow(count: slots)
        var entered: [UInt32] = []
        if resync || s.viewCells != s.coveredSorted {
            swap(&s.inView, &s.previousView)
            s.inView.reset(count: slots)
            if resync { s.previousView.reset(count: slots) }
            var now = SlotBits(), before = SlotBits()
            swap(&now, &s.inView); swap(&before, &s.previousView)
            encoder.withCells { cells in
                for c in s.coveredSorted {
                    for id in cells[c].ids {
                        now.insert(Int(id))
                        if !before.contains(Int(id)) { entered.append(id) }
                    }
                }
            }
            swap(&now, &s.inView); swap(&before, &s.previousView)
            s.viewCells = s.coveredSorted
        } else {
            var removed = Set<UInt32>()
            for c in s.coveredSorted {
                for id in cellDiff(c).left where s.inView.contains(Int(id)) { s.inView.remove(Int(id)); removed.insert(id) }
            }
            for c in s.coveredSorted {
                for id in cellDiff(c).entered where !s.inView.contains(Int(id)) {
                    s.inView.insert(Int(id))
                    // Moving from one covered cell to another is not entering the view.
                    if !removed.contains(id) { entered.append(id) }
                }
            }
            // A slot whose entity is new this tick holds someone else now: in view, it entered
            // (even where the old entity was in the same cell and no cell saw a change).
            if !newSlots.isEmpty {
                let already = Set(entered)
                for slot in newSlots where s.inView.contains(Int(slot)) && !already.contains(slot) { entered.append(slot) }
            }
        }
        entered.sort()
        sendIdentities(of: entered, to: s, resync: resync)
        return entered
    }

    /// The identities of the entered slots a subscriber was never told about.
    func sendIdentities(of entered: [UInt32], to s: Subscription, resync: Bool) {
        let unknown = entered.filter { !s.told.contains(Int($0)) }
        for slot in unknown { s.told.insert(Int(slot)) }
        for m in identityMessages(unknown, subscription: s.id) {
            let frame = m.frame()
            if resync { resyncBytesThisTick += frame.readableBytes }
            send(frame, to: s)
        }
    }

    /// Who entered and left cell `c` at the last encode, computed once a tick.
    func cellDiff(_ c: Int) -> CellDiff {
        if let d = cellDiffs[c] { return d }
        let before = c < previousCellIds.count ? previousCellIds[c] : []
        let now = encoder.withCells { c < $0.count ? $0[c].ids : [] }
        let d = CellDiff(before: before, now: now)
        cellDiffs[c] = d
        return d
    }
}

/// Ids that entered and left a cell between two encodes.
struct CellDiff {
    var entered: [UInt32] = []
    var left: [UInt32] = []

    init(before: [UInt32], now: [UInt32]) {
        // Cells list their ids ascending (the encoder fills them in slot order): one merge.
        guard Self.ascending(before), Self.ascending(now) else {
            let a = Set(before), b = Set(now)
            entered = now.filter { !a.contains($0) }; left = before.filter { !b.contains($0) }
            return
        }
        var i = 0, j = 0
        while i < before.count || j < now.count {
            if j == now.count || (i < before.count && before[i] < now[j]) { left.append(before[i]); i += 1 }
            else if i == before.count || now[j] < before[i] { entered.append(now[j]); j += 1 }
            else { i += 1; j += 1 }
        }
    }

    static func ascending(_ a: [UInt32]) -> Bool {
        guard a.count > 1 else { return true }
        for k in 1..<a.count where a[k] <= a[k - 1] { return false }
        return true
    }
}
