import CityTiles
import CoreMetrics
import Foundation
import NIOCore
import Scenarios
import SceneCore
import SceneWire
import Synchronization

/// What a session asks of a scene runner.
enum RunnerCommand: Sendable {
    case subscribe(SessionOutlet, UInt32, WireArea?)
    case unsubscribe(SessionOutlet, UInt32)
    case moveArea(SessionOutlet, UInt32, WireArea?)
    case dropSession(SessionOutlet)
    case control(ControlCommand, catalog: Catalog?, reply: @Sendable (Bool, String) -> Void)
}

/// One client's subscription to the scene, owned by the tick thread.
final class Subscription {
    let outlet: SessionOutlet
    let id: UInt32
    var area: WireArea?
    var covered: Set<Int> = [] { didSet { coveredSorted = covered.sorted() } }
    var coveredSorted: [Int] = []
    var sentCells: Set<Int> = []
    var needsResync = true
    var needsStatic = true

    init(outlet: SessionOutlet, id: UInt32, area: WireArea?) {
        self.outlet = outlet; self.id = id; self.area = area
    }
}

/// The tick thread's state.
///
/// `@unchecked Sendable`: it lives in the runner's `NIOLockedValueBox` and is only touched
/// under that lock, in practice by the tick thread alone.
final class RunnerState: @unchecked Sendable {
    var scene: LoadedScene
    var encoder: SceneStateEncoder
    var metrics = ServerMetrics()
    var subscriptions: [Subscription] = []
    var paused = false
    var stepsLeft = 0
    var speed = 1.0
    var outboundBudget = 1 << 20
    var lastBlocks = TickBlocks.empty
    var keyframes: [Int: ByteBuffer?] = [:]
    var tickTimeMicros: UInt64 = 0
    /// Scenario events of the last tick, sent to every subscriber of the scene.
    var pendingEvents: [SceneEvent] = []
    /// Attribute values that changed in the last tick, sent to every subscriber.
    var pendingAttributes: [WireAttribute] = []
    /// Every attribute value, built when a resync needs it (once per tick at most).
    var snapshotCache: [WireAttribute]?

    init(scene: LoadedScene, encoder: SceneStateEncoder) {
        self.scene = scene
        self.encoder = encoder
        encodeTick()
    }

    func apply(_ command: RunnerCommand, runner: SceneRunner) {
        switch command {
        case .subscribe(let outlet, let id, let area):
            let s = Subscription(outlet: outlet, id: id, area: area)
            s.covered = Set(encoder.cells(covering: area))
            subscriptions.append(s)
        case .unsubscribe(let outlet, let id):
            subscriptions.removeAll { $0.outlet === outlet && $0.id == id }
        case .moveArea(let outlet, let id, let area):
            for s in subscriptions where s.outlet === outlet && s.id == id {
                s.area = area
                s.covered = Set(encoder.cells(covering: area))
                s.needsStatic = true
            }
        case .dropSession(let outlet):
            subscriptions.removeAll { $0.outlet === outlet }
        case .control(let command, let catalog, let reply):
            control(command, catalog: catalog, reply: reply)
        }
    }

    func control(_ command: ControlCommand, catalog: Catalog?, reply: @Sendable (Bool, String) -> Void) {
        switch command {
        case .pause: paused = true; reply(true, "paused at tick \(scene.world.tick)")
        case .resume: paused = false; stepsLeft = 0; reply(true, "resumed at tick \(scene.world.tick)")
        case .step(let n):
            guard paused else { reply(false, "step needs the scene paused first"); return }
            stepsLeft += Int(n); reply(true, "stepping \(n) ticks from \(scene.world.tick)")
        case .speed(let f):
            guard f.isFinite, f >= 0.05, f <= 20 else { reply(false, "speed must be between 0.05 and 20"); return }
            speed = Double(f); reply(true, "speed \(f)x")
        case .reset(let seed):
            // Rebuild the scene from its manifest with the new seed; every subscriber resyncs.
            var manifest = scene.manifest
            manifest.seed = seed
            do {
                let fresh = try SceneLoader.load(manifest, catalog: catalog ?? Catalog(), workers: scene.world.workers)
                scene = fresh
                let b = fresh.world.bounds
                encoder = SceneStateEncoder(bounds: WireArea(minX: Double(b.minX), minY: Double(b.minY), maxX: Double(b.maxX), maxY: Double(b.maxY)),
                                            quantum: manifest.quantum, cellSize: manifest.wireCellSize)
                encodeTick()
                for s in subscriptions { s.needsResync = true; s.needsStatic = true; s.sentCells = [] }
                reply(true, "reset with seed \(seed): tick 0, \(fresh.world.store.count) entities")
            } catch {
                reply(false, "reset failed: \(error)")
            }
        case .loadTile(let name):
            guard let catalog else { reply(false, "this server has no catalog"); return }
            do {
                let moved = try scene.addTile(name, catalog: catalog)
                for s in subscriptions { s.needsStatic = true }
                reply(true, "tile \(name) loaded: \(scene.footprints.count) obstacles, \(moved) entities moved out of new buildings")
            } catch {
                reply(false, "\(error)")
            }
        case .fault(let entity):
            if scene.scenario.injectFault(slot: entity) {
                reply(true, "entity \(entity) is in fault")
            } else {
                reply(false, "entity \(entity) cannot be put into fault in this scene")
            }
        case .listClients:
            let lines = subscriptions.map { "\($0.outlet.remote) subscription \($0.id) queued \($0.outlet.queued) B skipped \($0.outlet.skipped)" }
            reply(true, lines.isEmpty ? "no subscribers" : lines.joined(separator: "\n"))
        }
    }

    /// Codes the world's current state into per-cell delta blocks.
    func encodeTick() {
        pendingEvents = scene.scenario.afterStep(scene.world)
        pendingAttributes = scene.world.attributes.takeChanges().map { WireAttribute(entity: $0.slot, attribute: $0.attribute, bits: $0.bits) }
        snapshotCache = nil
        let store = scene.world.store
        var ids: [UInt32] = [], kinds: [UInt8] = [], xs: [Float] = [], ys: [Float] = []
        ids.reserveCapacity(store.count); kinds.reserveCapacity(store.count); xs.reserveCapacity(store.count); ys.reserveCapacity(store.count)
        // Wire ids are slots, sent in ascending order.
        for s in 0..<store.slotCount {
            guard let d = store.dense(ofSlot: s) else { continue }
            ids.append(UInt32(s)); kinds.append(store.kind[d]); xs.append(store.x[d]); ys.append(store.y[d])
        }
        lastBlocks = encoder.encode(tick: scene.world.tick, ids: ids, kinds: kinds, x: xs, y: ys)
        keyframes.removeAll(keepingCapacity: true)
        tickTimeMicros = UInt64(Date().timeIntervalSince1970 * 1_000_000)
    }

    func keyframe(_ c: Int) -> ByteBuffer? {
        if let k = keyframes[c] { return k }
        let k = encoder.keyframe(cell: c)
        keyframes[c] = k
        return k
    }

    /// Sends this tick to every subscription: deltas of the cells it already has,
    /// keyframes of cells new to it, drops of cells it left; a whole resync after a skip.
    func publish(advanced: Bool) {
        // Whole-scene subscribers in steady state get the same frame: build it once per
        // subscription id and write the same buffer to each of them.
        var shared: [UInt32: ByteBuffer] = [:]
        for s in subscriptions {
            if !advanced && !s.needsResync && s.covered == s.sentCells && !s.needsStatic { continue }
            if s.outlet.queued > outboundBudget {
                s.needsResync = true
                s.outlet.ticksSkipped.add(1, ordering: .relaxed)
                metrics.framesSkipped.increment()
                continue
            }
            if s.needsStatic {
                s.outlet.send(WireMessageBox(buffer: staticGeometry(for: s)))
                s.needsStatic = false
            }
            var blocks: [ByteBuffer] = []
            let resync = s.needsResync || !advanced
            let stamp = resync || scene.world.tick % UInt64(max(1, scene.manifest.tickRate)) == 0
            let steadyWhole = !resync && s.area == nil && s.sentCells == s.covered
            if steadyWhole, let frame = shared[s.id] {
                s.outlet.send(WireMessageBox(buffer: frame))
                sendEvents(to: s, advanced: advanced)
                continue
            }
            if resync {
                for c in s.coveredSorted { if let k = keyframe(c) { blocks.append(k) } }
            } else {
                for c in s.sentCells.subtracting(s.covered).sorted() { blocks.append(CellBlock.drop(cell: UInt32(c))) }
                for c in s.coveredSorted {
                    if s.sentCells.contains(c) {
                        if let b = lastBlocks[c] { blocks.append(b) }
                    } else if let k = keyframe(c) {
                        blocks.append(k)
                    }
                }
            }
            if s.sentCells != s.covered { s.sentCells = s.covered }
            s.needsResync = false
            // Tick and time ride on resyncs and once a second; other frames are the previous + 1.
            let frame = WireMessage.stateFrameBuffer(subscription: s.id, tick: stamp ? scene.world.tick : nil,
                                                     serverTimeMicros: stamp ? tickTimeMicros : nil, resync: resync, cells: blocks)
            if steadyWhole { shared[s.id] = frame }
            s.outlet.send(WireMessageBox(buffer: frame))
            sendEvents(to: s, advanced: advanced, resync: resync)
        }
    }

    /// Every attribute value of every entity (for subscribers that just resynchronised).
    func attributeSnapshot() -> [WireAttribute] {
        if let s = snapshotCache { return s }
        var out: [WireAttribute] = []
        let world = scene.world
        for slot in 0..<world.store.slotCount where world.store.dense(ofSlot: slot) != nil {
            for a in world.attributes.all(slot: UInt32(slot)) { out.append(WireAttribute(entity: a.slot, attribute: a.attribute, bits: a.bits)) }
        }
        snapshotCache = out
        return out
    }

    /// The scenario's events and attribute changes of this tick, to every subscriber; after a
    /// resync, a snapshot of every attribute value instead of the changes.
    func sendEvents(to s: Subscription, advanced: Bool, resync: Bool = false) {
        let tick = scene.world.tick
        if resync {
            let snapshot = attributeSnapshot()
            if !snapshot.isEmpty {
                s.outlet.send(WireMessageBox(buffer: WireMessage.attributes(subscription: s.id, tick: tick, snapshot: true, values: snapshot).frame()))
            }
        } else if advanced && !pendingAttributes.isEmpty {
            s.outlet.send(WireMessageBox(buffer: WireMessage.attributes(subscription: s.id, tick: tick, snapshot: false, values: pendingAttributes).frame()))
        }
        guard advanced, !pendingEvents.isEmpty else { return }
        let events = pendingEvents.prefix(4096).map { WireEvent(entity: $0.entity, kind: $0.kind.rawValue, value: $0.value) }
        s.outlet.send(WireMessageBox(buffer: WireMessage.events(subscription: s.id, tick: scene.world.tick, events: Array(events)).frame()))
    }

    /// Buildings touching the subscription's area, in quanta from the origin.
    func staticGeometry(for s: Subscription) -> ByteBuffer {
        let q = encoder.quantum
        var buildings: [WireBuilding] = []
        let area = s.area.map { Rect(minX: Float($0.minX), minY: Float($0.minY), maxX: Float($0.maxX), maxY: Float($0.maxY)) }
        for fp in scene.footprints where area == nil || fp.boundingBox.intersects(area!) {
            let rings = fp.rings.map { ring in ring.map { SIMD2(Int32((Double($0.x) / q).rounded()), Int32((Double($0.y) / q).rounded())) } }
            buildings.append(WireBuilding(rings: rings, heightDecimetres: UInt16(min(max(fp.height * 10, 0), 65535))))
        }
        return WireMessage.staticGeometry(subscription: s.id, buildings: buildings).frame()
    }
}
