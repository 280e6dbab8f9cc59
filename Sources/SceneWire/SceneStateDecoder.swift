import NIOCore

/// A subscriber's copy of the scene state, rebuilt from state frames.
public struct SceneStateDecoder: Sendable {
    public private(set) var cells: [UInt32: CellState] = [:]
    public private(set) var lastTick: UInt64?
    /// Version 2: the kinds whose z the stream codes (from SceneInfo); nil in two dimensions.
    public var heights: HeightKinds?

    public init(heights: HeightKinds? = nil) { self.heights = heights }

    /// What one frame changed, in cell terms: ids that left a cell and ids that entered one
    /// (an entity moving between cells appears in both).
    public struct Changes: Sendable {
        public var left: [UInt32] = []
        public var entered: [UInt32] = []
    }

    /// Applies a state frame. A frame flagged `resync` (late join, catch-up after a skip)
    /// replaces everything; any other must follow the previous tick and carry a delta for
    /// every cell this decoder holds entities in.
    public mutating func apply(tick given: UInt64?, resync: Bool, blocks: [ByteBuffer]) throws(WireError) -> Changes {
        guard let tick = given ?? lastTick.map({ $0 &+ 1 }) else { throw .outOfOrder("the first state frame must carry its tick") }
        var changes = Changes()
        var opened: [(UInt32, CellBlock.Kind, ByteBuffer, Int?)] = []
        for b in blocks {
            opened.append(try CellBlock.open(b))
        }
        if resync {
            for (_, s) in cells { changes.left += s.ids }
            cells.removeAll(keepingCapacity: true)
        } else {
            guard let last = lastTick else { throw .outOfOrder("the first state frame must be a resync") }
            guard tick == last &+ 1 else { throw .outOfOrder("tick \(tick) after \(last)") }
            let present = Set(opened.map(\.0))
            for (c, s) in cells where !s.isEmpty && !present.contains(c) {
                throw .outOfOrder("no delta for cell \(c), which holds \(s.count) entities")
            }
        }
        var seen = Set<UInt32>()
        for (cell, kind, payload, riceK) in opened {
            guard seen.insert(cell).inserted else { throw .malformed("cell \(cell) twice in one frame") }
            var r = ByteReader(Array(payload.readableBytesView))
            switch kind {
            case .keyframe:
                let s = try CellState.readKeyframe(&r, heights: heights)
                changes.left += cells[cell]?.ids ?? []
                changes.entered += s.ids
                cells[cell] = s
            case .delta:
                if resync { throw .outOfOrder("a delta in a resync frame") }
                var s = cells[cell] ?? CellState()
                let (l, e) = try s.applyDelta(&r, riceK: riceK, heights: heights)
                changes.left += l
                changes.entered += e
                cells[cell] = s.isEmpty ? nil : s
            case .drop:
                changes.left += cells[cell]?.ids ?? []
                cells[cell] = nil
            }
        }
        lastTick = tick
        return changes
    }

    /// Number of entities held.
    public var entityCount: Int { cells.values.reduce(0) { $0 + $1.count } }

    /// Calls `body(id, kind, qx, qy)` for every entity held.
    public func forEach(_ body: (UInt32, UInt8, Int32, Int32) -> Void) {
        for s in cells.values { for i in 0..<s.count { body(s.ids[i], s.kinds[i], s.qx[i], s.qy[i]) } }
    }

    /// Calls `body(id, kind, qx, qy, qz)` for every entity held; qz is nil for entities
    /// without a height.
    public func forEach3(_ body: (UInt32, UInt8, Int32, Int32, Int32?) -> Void) {
        for s in cells.values {
            for i in 0..<s.count {
                let z: Int32? = heights.map { $0.has(s.kinds[i]) ? s.qz[i] : nil } ?? nil
                body(s.ids[i], s.kinds[i], s.qx[i], s.qy[i], z)
            }
        }
    }
}
