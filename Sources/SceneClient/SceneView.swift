import NIOCore
import SceneWire

/// A subscriber's picture of one scene, kept up to date from the server's messages:
/// the scene's description, its buildings, and the entities inside the area of interest.
public struct SceneView: Sendable {
    public let subscription: UInt32
    public private(set) var info: SceneInfoMessage?
    public private(set) var buildings: [WireBuilding] = []
    public private(set) var decoder = SceneStateDecoder()
    /// The area asked for; entities outside it are not part of the view.
    public var area: WireArea?
    public private(set) var tick: UInt64?
    public private(set) var serverTimeMicros: UInt64 = 0
    /// Ids of the entities inside the area after the last frame.
    public private(set) var visible: Set<UInt32> = []
    public private(set) var events: [WireEvent] = []
    /// Attribute values by entity and attribute index (raw 32 bits; see the kind's schema).
    /// In version 2 with an area, only of entities in view; in version 3, of the entities in
    /// the covered cells (`heldIds`).
    public private(set) var attributes: [UInt32: [UInt8: UInt32]] = [:]
    /// Version 2: who each entity is, by wire id.
    public private(set) var identities: [UInt32: WireEntityInfo] = [:]
    /// The protocol version of the session (2 filters attributes by the area and answers moves).
    public let version: UInt16
    /// Version 2: areas asked for by request id, and the one AreaMoved scheduled (from its tick on).
    var requested: [UInt32: WireArea?] = [:]
    var scheduled: (tick: UInt64, area: WireArea?)?
    var nextRequest: UInt32 = 1

    public init(subscription: UInt32, area: WireArea? = nil, version: UInt16 = 1) {
        self.subscription = subscription
        self.area = area
        self.version = version
    }

    /// The message that moves this view's area. Version 1 filters by the new area at once
    /// (it cannot know the frame it applies from); version 2 from the tick AreaMoved names.
    public mutating func move(to newArea: WireArea?) -> WireMessage {
        guard version >= 2 else {
            area = newArea
            return .moveArea(subscription: subscription, area: newArea)
        }
        let request = nextRequest
        nextRequest &+= 1
        requested[request] = newArea
        // Bounded: a server answers every applied move; forget ones far behind.
        if requested.count > 4096 { requested = requested.filter { $0.key &+ 2048 > request } }
        return .moveAreaRequest(subscription: subscription, request: request, area: newArea)
    }

    /// What a state frame changed in the view.
    public struct Update: Sendable {
        public var tick: UInt64
        public var entered: Set<UInt32>
        public var left: Set<UInt32>
        public var resync: Bool
    }

    /// Applies a message addressed to this subscription; returns an update for state frames.
    public mutating func apply(_ message: WireMessage) throws -> Update? {
        switch message {
        case .sceneInfo(let i) where i.subscription == subscription:
            info = i
            // Version 2: kinds with a height have it coded in the state frames.
            decoder.heights = i.heights
        case .staticGeometry(let s, let b) where s == subscription:
            buildings = b
        case .events(let s, _, let e) where s == subscription:
            events = e
        case .attributes(let s, _, let snapshot, let values) where s == subscription:
            if snapshot { attributes.removeAll(keepingCapacity: true) }
            for v in values { attributes[v.entity, default: [:]][v.attribute] = v.bits }
        case .entityInfo(let s, let list) where s == subscription:
            for e in list { identities[e.entity] = e }
        case .areaMoved(let s, let request, let tick) where s == subscription:
            guard let a = requested.removeValue(forKey: request) else { throw WireError.outOfOrder("AreaMoved for request \(request), which this view did not send") }
            // Requests before it that the server superseded get no answer of their own.
            requested = requested.filter { $0.key > request }
            scheduled = (tick, a)
        case .stateFrame(let s, let tick, let time, let resync, let cells, _) where s == subscription:
            guard info != nil else { throw WireError.outOfOrder("a state frame before the scene info") }
            _ = try decoder.apply(tick: tick, resync: resync, blocks: cells)
            let tick = decoder.lastTick!
            self.tick = tick
            if let time { serverTimeMicros = time }
            if let (from, a) = scheduled, tick >= from { area = a; scheduled = nil }
            let now = visibleIds()
            if version >= 3 && area != nil {
                // Version 3 scopes attributes to the covered cells, the entities this view
                // holds positions of: forget those no cell holds any more.
                let held = heldIds()
                for id in attributes.keys where !held.contains(id) { attributes[id] = nil }
            } else if version >= 2 && area != nil {
                // Version 2 sends attributes of entities in the area only: forget those that left.
                for id in visible.subtracting(now) { attributes[id] = nil }
            }
            let update = Update(tick: tick, entered: now.subtracting(visible), left: visible.subtracting(now), resync: resync)
            visible = now
            return update
        default:
            break
        }
        return nil
    }

    /// Position of an entity in scene metres.
    public func position(qx: Int32, qy: Int32) -> SIMD2<Double> {
        let q = info?.quantum ?? 0.01
        return SIMD2(Double(qx) * q, Double(qy) * q)
    }

    /// Every visible entity: id, kind, position in scene metres, and height in metres for
    /// kinds whose height the stream carries (version 2), else nil.
    public func entities() -> [(id: UInt32, kind: UInt8, position: SIMD2<Double>, z: Double?)] {
        var out: [(UInt32, UInt8, SIMD2<Double>, Double?)] = []
        let q = info?.quantum ?? 0.01
        decoder.forEach3 { id, kind, qx, qy, qz in
            let p = position(qx: qx, qy: qy)
            if area?.contains(x: p.x, y: p.y) ?? true { out.append((id, kind, p, qz.map { Double($0) * q })) }
        }
        return out.sorted { $0.0 < $1.0 }
    }

    /// Every entity the view holds a position of (all of its covered cells), in its area or not.
    public func heldIds() -> Set<UInt32> {
        var ids = Set<UInt32>()
        decoder.forEach { id, _, _, _ in ids.insert(id) }
        return ids
    }

    func visibleIds() -> Set<UInt32> {
        var ids = Set<UInt32>()
        decoder.forEach { id, _, qx, qy in
            let p = position(qx: qx, qy: qy)
            if area?.contains(x: p.x, y: p.y) ?? true { ids.insert(id) }
        }
        return ids
    }

    /// Where entity `id` is, in scene metres, if the view holds it.
    public func position(of id: UInt32) -> SIMD2<Double>? {
        let q = info?.quantum ?? 0.01
        for cell in decoder.cells.values {
            if let k = cell.ids.firstIndex(of: id) { return SIMD2(Double(cell.qx[k]) * q, Double(cell.qy[k]) * q) }
        }
        return nil
    }
}
