import NIOCore

/// Codes a scene's moving entities once per tick, cell by cell, for every subscriber.
///
/// The scene is cut into square wire cells. Each tick, every cell that holds entities (or
/// just lost its last ones) gets one delta block; a subscriber is sent the blocks of the
/// cells its area covers, so coding cost grows with cells, never with clients. A late
/// joiner is sent `keyframe(cell:)` blocks, which start from the same state the next
/// deltas continue from.
public final class SceneStateEncoder {
    public let quantum: Double
    public let cellSize: Double
    public let columns: Int
    public let rows: Int
    /// Lower-left corner of the cell grid in scene coordinates (metres).
    public let gridMinX: Double
    public let gridMinY: Double
    public private(set) var cells: [CellState]
    public private(set) var tick: UInt64 = 0
    private var deflater = Deflater(level: 1)
    private var cellOf: [Int32] = []

    public init(bounds: WireArea, quantum: Double = 0.01, cellSize: Double = 64) {
        precondition(quantum > 0 && cellSize > 0)
        self.quantum = quantum
        self.cellSize = cellSize
        self.gridMinX = bounds.minX
        self.gridMinY = bounds.minY
        self.columns = max(1, min(Int(UInt16.max), Int(((bounds.maxX - bounds.minX) / cellSize).rounded(.up))))
        self.rows = max(1, min(Int(UInt16.max), Int(((bounds.maxY - bounds.minY) / cellSize).rounded(.up))))
        self.cells = Array(repeating: CellState(), count: columns * rows)
    }

    deinit { deflater.close() }

    /// The wire cell holding a point (points outside the grid go to the border cell).
    @inline(__always)
    public func cell(x: Double, y: Double) -> Int {
        let c = ((x - gridMinX) / cellSize).rounded(.down), r = ((y - gridMinY) / cellSize).rounded(.down)
        let ci = c.isFinite ? min(max(Int(max(min(c, 1e9), -1)), 0), columns - 1) : 0
        let ri = r.isFinite ? min(max(Int(max(min(r, 1e9), -1)), 0), rows - 1) : 0
        return ri * columns + ci
    }

    /// Cells whose square touches the area (all cells for nil).
    public func cells(covering area: WireArea?) -> [Int] {
        guard let a = area else { return Array(0..<(columns * rows)) }
        let c0 = cell(x: a.minX, y: a.minY), c1 = cell(x: a.maxX, y: a.maxY)
        var out: [Int] = []
        for r in (c0 / columns)...(c1 / columns) { for c in (c0 % columns)...(c1 % columns) { out.append(r * columns + c) } }
        return out
    }

    /// The quantised value of a coordinate (round half away from zero, clamped to 32 bits).
    @inline(__always)
    public func quantise(_ v: Float) -> Int32 {
        let q = (Double(v) / quantum).rounded()
        return q.isFinite ? Int32(max(min(q, Double(Int32.max)), Double(Int32.min))) : 0
    }

    /// Codes one tick. `ids` must ascend; returns the delta block of every cell that
    /// changed, by cell index.
    public func encode(tick: UInt64, ids: [UInt32], kinds: [UInt8], x: [Float], y: [Float]) -> [Int: ByteBuffer] {
        precondition(ids.count == kinds.count && ids.count == x.count && ids.count == y.count)
        let n = ids.count
        let cellCount = columns * rows
        if cellOf.count < n { cellOf = [Int32](repeating: 0, count: n) }
        var counts = [Int](repeating: 0, count: cellCount)
        for i in 0..<n {
            let c = cell(x: Double(x[i]), y: Double(y[i]))
            cellOf[i] = Int32(c)
            counts[c] += 1
        }
        var next = [CellState](repeating: CellState(), count: cellCount)
        for c in 0..<cellCount where counts[c] > 0 { next[c].reserve(counts[c]) }
        for i in 0..<n {
            next[Int(cellOf[i])].append(id: ids[i], kind: kinds[i], qx: quantise(x[i]), qy: quantise(y[i]), vx: 0, vy: 0)
        }
        var blocks: [Int: ByteBuffer] = [:]
        var w = ByteWriter(capacity: 4096)
        for c in 0..<cellCount where !cells[c].isEmpty || !next[c].isEmpty {
            w.bytes.removeAll(keepingCapacity: true)
            let k = cells[c].encodeDeltaRice(to: next[c], &w)
            blocks[c] = CellBlock.makeRice(cell: UInt32(c), k: k, payload: w.bytes)
        }
        self.tick = tick
        return blocks
    }

    /// A keyframe block of a cell's current state, nil when the cell is empty.
    public func keyframe(cell c: Int) -> ByteBuffer? {
        guard c >= 0, c < cells.count, !cells[c].isEmpty else { return nil }
        var w = ByteWriter(capacity: cells[c].count * 8)
        cells[c].writeKeyframe(&w)
        return CellBlock.make(cell: UInt32(c), kind: .keyframe, payload: ByteBuffer(bytes: w.bytes), deflater: &deflater)
    }
}
