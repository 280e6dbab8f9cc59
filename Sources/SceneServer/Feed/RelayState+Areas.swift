import NIOCore
import SceneWire

/// What a gateway knows of an entity in the cells it follows: from the cell it came into or
/// a key reply's members, its values kept up with each tick's changes.
struct KnownEntity {
    var generation: UInt32
    var identity: WireEntityInfo?
    var values: [UInt8: UInt32]

    init(_ e: FeedEntrant) {
        generation = e.generation
        identity = e.identity
        values = Dictionary(e.values.map { ($0.attribute, $0.bits) }, uniquingKeysWith: { _, b in b })
    }
}

/// A version 2 area subscriber's view on a gateway: the state its frames decode to (the same
/// blocks, decoded as its client decodes them), the area in force, who is inside it, and the
/// generation of each slot whose identity it was sent. A class: changed in place each tick.
final class RelayAreaView {
    var decoder: SceneStateDecoder
    var area: WireArea?
    var inView = Set<UInt32>()
    var told: [UInt32: UInt32] = [:]
    init(heights: HeightKinds?) { decoder = SceneStateDecoder(heights: heights) }
}

/// Version 2 areas through a gateway, as `RunnerState+Views` filters them in the scene's own
/// process: by the positions the client decodes, inside the half-open area. The relay keeps,
/// per such subscriber, a decoder fed the very blocks the subscriber is sent (no block is
/// coded again), and, for the entities of the cells it follows, who they are and their
/// values; identities go before the frame to those entering the area, their values after it,
/// then the changes and events of those inside (and the scene-wide events).
extension RelayState {
    /// Whether `s` is filtered by exact area (version 2 with an area); version 2 without one
    /// is served as version 3 is (the scene's process makes the two alike).
    func exactArea(_ s: Subscription) -> Bool { s.version == 2 && s.area != nil }

    /// The entities of this tick's entrants and their changes, in `known` (before any frame).
    func followKnown() {
        guard subscriptions.contains(where: exactArea) else {
            if !known.isEmpty { known.removeAll() }
            return
        }
        for e in tickEntrants.values { known[e.slot] = KnownEntity(e) }
        for v in tickExtras().changes where known[v.entity] != nil { known[v.entity]!.values[v.attribute] = v.bits }
    }

    /// The members of a key reply's cells, as they are at its tick.
    func knowMembers(_ cells: Set<Int>, from answer: RelayAnswer) {
        for c in cells { for e in answer.keyframes[c]?.members ?? [] { known[e.slot] = KnownEntity(e) } }
    }

    /// Applies the frame's blocks to the subscriber's decoder, finds who is inside `area`
    /// (the area in force with this frame) and sends the identities it was not sent of those
    /// who entered (before the frame). Returns who entered, ascending; nil when the blocks do
    /// not decode or an entity inside is unknown (the subscriber then resyncs).
    func updateAreaView(_ s: Subscription, blocks: [ByteBuffer], tick: UInt64, resync: Bool, area: WireArea) -> [UInt32]? {
        let key = ObjectIdentifier(s)
        let view = areaViews[key] ?? RelayAreaView(heights: heightKinds)
        areaViews[key] = view
        do { _ = try view.decoder.apply(tick: tick, resync: resync, blocks: blocks) } catch {
            areaViews[key] = nil
            return nil
        }
        view.area = area
        let q = scene.info.quantum
        let x0 = RunnerState.firstQuantum(atLeast: area.minX, q), x1 = RunnerState.firstQuantum(atLeast: area.maxX, q)
        let y0 = RunnerState.firstQuantum(atLeast: area.minY, q), y1 = RunnerState.firstQuantum(atLeast: area.maxY, q)
        var now = Set<UInt32>()
        view.decoder.forEach { id, _, qx, qy in
            let x = Int64(qx), y = Int64(qy)
            if x >= x0 && x < x1 && y >= y0 && y < y1 { now.insert(id) }
        }
        var entered = resync ? now : now.subtracting(view.inView)
        // A slot whose entity is new this tick holds someone else now: in view, it entered.
        for e in tickEntrants.values where e.new && now.contains(e.slot) { entered.insert(e.slot) }
        var identities: [WireEntityInfo] = []
        let sorted = entered.sorted()
        for id in sorted {
            guard let k = known[id] else { return nil }
            if let identity = k.identity, view.told[id] != k.generation { identities.append(identity) }
            view.told[id] = k.generation
        }
        view.inView = now
        for part in RunnerState.parts(identities, of: identitiesPerMessage) {
            send(WireMessage.entityInfo(subscription: s.id, entities: part).frame(), to: s)
        }
        return sorted
    }

    /// After the frame: the values of those who entered the area and the changes and events
    /// of those inside it, as a version 3 view's (`sendExtras`).
    func sendAreaExtras(_ s: Subscription, entered: [UInt32], resync: Bool, advanced: Bool, tick: UInt64) {
        guard let view = areaViews[ObjectIdentifier(s)] else { return }
        var entering: [WireAttribute] = []
        for id in entered {
            for (a, bits) in (known[id]?.values ?? [:]).sorted(by: { $0.key < $1.key }) { entering.append(WireAttribute(entity: id, attribute: a, bits: bits)) }
        }
        var kinds: [UInt32: UInt8] = [:]
        if !heightAttribute.isEmpty { view.decoder.forEach { id, kind, _, _ in if view.inView.contains(id) { kinds[id] = kind } } }
        sendExtras(s, inView: view.inView, entering: entering, entered: entered, kind: { kinds[$0] }, resync: resync, advanced: advanced, tick: tick)
    }
}
