import CoreMetrics
import NIOCore
import Scenarios
import SceneCore
import SceneWire
import Synchronization

extension RunnerState {
    /// Sends this tick to every subscription: deltas of the cells it already has,
    /// keyframes of cells new to it, drops of cells it left; a whole resync after a skip.
    func publish(advanced: Bool) {
        // Whole-scene subscribers in steady state get the same frame: build it once per
        // subscription id and write the same buffer to each of them.
        var shared: [UInt64: ByteBuffer] = [:]
        resyncBytesThisTick = 0
        forgetNewSlots()
        for s in subscriptions {
            if !advanced && !s.needsResync && s.covered == s.sentCells && !s.needsStatic { continue }
            guard runner.admits(s) else { continue }
            // Newcomers beyond this tick's budget for geometry and snapshots wait for the next.
            if (s.needsStatic || s.needsResync) && resyncBytesThisTick >= Self.resyncBudgetPerTick {
                s.needsResync = true
                continue
            }
            if let request = s.movedRequest {
                // Version 2: the moved area applies from the frame that follows.
                send(WireMessage.areaMoved(subscription: s.id, request: request, tick: scene.world.tick).frame(), to: s)
                s.movedRequest = nil
            }
            if s.needsStatic {
                // Buildings of the area rounded out to the geometry grid: areas that move a
                // little (a participant's, a panning viewer's) share one coded message, and get
                // none again while the rounded area stays the same.
                let rounded = Self.geometryArea(s.area)
                if s.geometrySent != .some(rounded) {
                    let geometry = staticGeometry(area: rounded)
                    resyncBytesThisTick += geometry.tail.readableBytes
                    send(geometry, to: s)
                    s.geometrySent = .some(rounded)
                }
                s.needsStatic = false
            }
            var blocks: [ByteBuffer] = []
            let heights = usesHeights(s)
            let sharedKey = UInt64(s.id) << 1 | (heights ? 1 : 0)
            let resync = s.needsResync || !advanced
            let stamp = resync || scene.world.tick % UInt64(max(1, scene.manifest.tickRate)) == 0
            let steadyWhole = !resync && s.area == nil && s.sentCells == s.covered
            // Version 2: identities before the frame in which their entities appear.
            var entered: [UInt32] = []
            let views = s.filtersByArea && viewsNeeded
            if views { entered = updateView(s, resync: resync) } else if s.version >= 2 && !scene.scenario.anonymous { sendWholeIdentities(to: s, resync: resync) }
            if steadyWhole, let frame = shared[sharedKey] {
                send(frame, to: s)
                sendEvents(to: s, advanced: advanced)
                continue
            }
            if resync {
                for c in s.coveredSorted { if let k = keyframe(c, heights: heights) { blocks.append(k) } }
            } else {
                let deltas = heights ? lastBlocks3 : lastBlocks
                for c in s.sentCells.subtracting(s.covered).sorted() { blocks.append(CellBlock.drop(cell: UInt32(c))) }
                for c in s.coveredSorted {
                    if s.sentCells.contains(c) {
                        if let b = deltas[c] { blocks.append(b) }
                    } else if let k = keyframe(c, heights: heights) {
                        blocks.append(k)
                    }
                }
            }
            if s.sentCells != s.covered { s.sentCells = s.covered }
            s.needsResync = false
            // Tick and time ride on resyncs and once a second; other frames are the previous + 1.
            let frame = WireMessage.stateFrameBuffer(subscription: s.id, tick: stamp ? scene.world.tick : nil,
                                                     serverTimeMicros: stamp ? tickTimeMicros : nil, resync: resync, cells: blocks,
                                                     countsCells: s.version < 2)
            if steadyWhole { shared[sharedKey] = frame }
            send(frame, to: s)
            if views {
                sendAreaExtras(to: s, entered: entered, advanced: advanced, resync: resync)
            } else {
                sendEvents(to: s, advanced: advanced, resync: resync)
            }
        }
    }

    /// Every attribute value of every entity (for subscribers that just resynchronised).
    func attributeSnapshot() -> [WireAttribute] {
        var out: [WireAttribute] = []
        let world = scene.world
        // A region shard's snapshot holds the entities it owns (its ghosts are its neighbours').
        let ghosts = region?.shard.ghosts ?? []
        for slot in 0..<world.store.slotCount where world.store.dense(ofSlot: slot) != nil && !ghosts.contains(UInt32(slot)) {
            for a in world.attributes.all(slot: UInt32(slot)) { out.append(WireAttribute(entity: a.slot, attribute: a.attribute, bits: a.bits)) }
        }
        return out
    }

    /// Values per Attributes message and events per Events message that keep each under the
    /// frame limit (a value codes in at most 10 bytes, an event in 11, a header in 32).
    var attributesPerMessage: Int { max(1, (runner.maxFrameBytes - 32) / 10) }
    var eventsPerMessage: Int { max(1, (runner.maxFrameBytes - 32) / 11) }

    /// The scenario's events and attribute changes of this tick, to every subscriber; after a
    /// resync, a snapshot of every attribute value instead of the changes. Each list is coded
    /// once per tick for all subscribers (`SharedFrame`); a list longer than one frame allows
    /// goes as several messages of the same tick (a snapshot's first one says snapshot, the
    /// rest add to it).
    func sendEvents(to s: Subscription, advanced: Bool, resync: Bool = false) {
        // Version 2 with heights in the stream is not sent them again as attributes.
        let strip = usesHeights(s)
        if resync {
            for f in snapshot(strip: strip) { resyncBytesThisTick += f.tail.readableBytes; send(f, to: s) }
        } else if advanced {
            for f in attributeChanges(strip: strip) { send(f, to: s) }
        }
        guard advanced else { return }
        for f in tickEvents() { send(f, to: s) }
    }

    /// Every attribute value, coded once per tick (with or without the heights a version 2
    /// stream carries).
    func snapshot(strip: Bool) -> [SharedFrame] {
        if let frames = snapshotFrames[strip] { return frames }
        let tick = scene.world.tick
        let values = strip ? withoutHeights(attributeSnapshot()) : attributeSnapshot()
        let frames = Self.parts(values, of: attributesPerMessage).enumerated().compactMap { k, part in
            // Only region 0's first part starts a snapshot: a gateway sends the regions' parts
            // in region order, and each region's values add to those before.
            SharedFrame(.attributes(subscription: 0, tick: tick, snapshot: k == 0 && (region?.shard.index ?? 0) == 0, values: part))
        }
        snapshotFrames[strip] = frames
        return frames
    }

    /// The tick's attribute changes, coded once per tick.
    func attributeChanges(strip: Bool) -> [SharedFrame] {
        guard !pendingAttributes.isEmpty else { return [] }
        if let frames = changeFrames[strip] { return frames }
        let tick = scene.world.tick
        let frames = Self.parts(strip ? withoutHeights(pendingAttributes) : pendingAttributes, of: attributesPerMessage).compactMap { part in
            SharedFrame(.attributes(subscription: 0, tick: tick, snapshot: false, values: part))
        }
        changeFrames[strip] = frames
        return frames
    }

    /// The tick's scenario events, coded once per tick.
    func tickEvents() -> [SharedFrame] {
        guard !pendingEvents.isEmpty else { return [] }
        if let frames = eventFrames { return frames }
        let tick = scene.world.tick
        let events = pendingEvents.map { WireEvent(entity: $0.entity, kind: $0.kind.rawValue, value: $0.value) }
        let frames = Self.parts(events, of: eventsPerMessage).compactMap { SharedFrame(.events(subscription: 0, tick: tick, events: $0)) }
        eventFrames = frames
        return frames
    }

    /// A list cut into consecutive parts of at most `size` (none for an empty list).
    static func parts<T>(_ list: [T], of size: Int) -> [[T]] {
        stride(from: 0, to: list.count, by: size).map { Array(list[$0..<min(list.count, $0 + size)]) }
    }

    /// Side of the grid static geometry's areas are rounded out to, metres.
    static let geometryGrid = 64.0

    /// An area rounded out to the geometry grid (nil, the whole scene, stays nil).
    static func geometryArea(_ area: WireArea?) -> WireArea? {
        guard let a = area else { return nil }
        let g = geometryGrid
        return WireArea(minX: (a.minX / g).rounded(.down) * g, minY: (a.minY / g).rounded(.down) * g,
                        maxX: (a.maxX / g).rounded(.up) * g, maxY: (a.maxY / g).rounded(.up) * g)
    }

    /// The static geometry of an area, coded once per area until the obstacles change.
    func staticGeometry(area: WireArea?) -> SharedFrame {
        if let cached = geometryFrames[area] { return cached }
        if geometryFrames.count >= Self.geometryCacheLimit { geometryFrames.removeAll(keepingCapacity: true) }
        let frame = SharedFrame(Self.staticGeometryMessage(subscription: 0, footprints: scene.footprints, area: area, quantum: encoder.quantum))!
        geometryFrames[area] = frame
        return frame
    }

    /// Buildings touching an area (all for nil), in quanta from the origin.
    static func staticGeometryMessage(subscription: UInt32, footprints: [Footprint], area: WireArea?, quantum q: Double) -> WireMessage {
        var buildings: [WireBuilding] = []
        let rect = area.map { Rect(minX: Float($0.minX), minY: Float($0.minY), maxX: Float($0.maxX), maxY: Float($0.maxY)) }
        for fp in footprints where rect == nil || fp.boundingBox.intersects(rect!) {
            let rings = fp.rings.map { ring in ring.map { SIMD2(Int32((Double($0.x) / q).rounded()), Int32((Double($0.y) / q).rounded())) } }
            buildings.append(WireBuilding(rings: rings, heightDecimetres: UInt16(min(max(fp.height * 10, 0), 65535))))
        }
        return WireMessage.staticGeometry(subscription: subscription, buildings: buildings)
    }
}
