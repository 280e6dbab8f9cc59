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
        let unknown = entered.filter { !s.told.contains(Int($0)) }
        for slot in unknown { s.told.insert(Int(slot)) }
        for m in identityMessages(unknown, subscription: s.id) {
            let frame = m.frame()
            if resync { resyncBytesThisTick += frame.readableBytes }
            send(frame, to: s)
        }
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
}
