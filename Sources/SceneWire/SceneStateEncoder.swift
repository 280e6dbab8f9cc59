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
    /// Version 2: the kinds whose z is coded with x and y (nil: two dimensions, version 1's layout).
    public let heights: HeightKinds?
    private let deflater = Deflater(level: 1)
    private var cellOf: [Int32] = []
    private var cellStart: [Int] = []
    private var sorted = CellState()
    private var workspace = DeltaWorkspace()

    public init(bounds: WireArea, quantum: Double = 0.01, cellSize: Double = 64, heights: HeightKinds? = nil) {
        precondition(quantum > 0 && cellSize > 0)
        self.heights = heights.flatMap { $0.isEmpty ? nil : $0 }
        self.quantum = quantum
        self.cellSize = cellSize
        self.gridMinX = bounds.minX
        self.gridMinY = bounds.minY
        self.columns = max(1, min(Int(UInt16.max), Int(((bounds.maxX - bounds.minX) / cellSize).rounded(.up))))
        self.rows = max(1, min(Int(UInt16.max), Int(((bounds.maxY - bounds.minY) / cellSize).rounded(.up))))
        self.cells = Array(repeating: CellState(), count: columns * rows)
    }


    /// The wire cell holding a point (points outside the grid go to the border cell).
    @inline(__always)
    public func cell(x: Double, y: Double) -> Int {
        Self.cellIndex(x: x, y: y, minX: gridMinX, minY: gridMinY, inverse: 1 / cellSize, columns: columns, rows: rows)
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
    public func quantise(_ v: Float) -> Int32 { Self.quantise(v, inverse: 1 / quantum) }

    @inline(__always)
    static func quantise(_ v: Float, inverse: Double) -> Int32 {
        let q = (Double(v) * inverse).rounded()
        return q.isFinite ? Int32(max(min(q, Double(Int32.max)), Double(Int32.min))) : 0
    }

    @inline(__always)
    static func cellIndex(x: Double, y: Double, minX: Double, minY: Double, inverse: Double, columns: Int, rows: Int) -> Int {
        let c = ((x - minX) * inverse).rounded(.down), r = ((y - minY) * inverse).rounded(.down)
        let ci = c >= 0 ? (c < Double(columns) ? Int(c) : columns - 1) : 0
        let ri = r >= 0 ? (r < Double(rows) ? Int(r) : rows - 1) : 0
        return ri * columns + ci
    }

    /// Codes one tick. `ids` must ascend; returns the delta block of every cell that
    /// changed. All blocks of a tick are slices of one buffer. `z` (metres) is read for the
    /// entities of height kinds when the encoder has `heights`, and clamped to their ranges.
    public func encode(tick: UInt64, ids: [UInt32], kinds: [UInt8], x: [Float], y: [Float], z: [Float]? = nil) -> TickBlocks {
        precondition(ids.count == kinds.count && ids.count == x.count && ids.count == y.count)
        precondition(heights == nil || z?.count == ids.count, "an encoder with heights needs z for every entity")
        let n = ids.count
        let cellCount = columns * rows
        // Work on locals: class properties in a hot loop pay an exclusivity check per access.
        var cellOf = self.cellOf, cellStart = self.cellStart, sorted = self.sorted, workspace = self.workspace
        var cells = self.cells
        self.cellOf = []; self.cellStart = []; self.sorted = CellState(); self.workspace = DeltaWorkspace(); self.cells = []
        defer {
            self.cellOf = cellOf; self.cellStart = cellStart; self.sorted = sorted; self.workspace = workspace; self.cells = cells
        }
        if cellOf.count < n { cellOf = [Int32](repeating: 0, count: n) }
        if cellStart.count != cellCount + 1 { cellStart = [Int](repeating: 0, count: cellCount + 1) }
        for c in 0...cellCount { cellStart[c] = 0 }
        for i in 0..<n {
            let c = Self.cellIndex(x: Double(x[i]), y: Double(y[i]), minX: gridMinX, minY: gridMinY,
                                   inverse: 1 / cellSize, columns: columns, rows: rows)
            cellOf[i] = Int32(c)
            cellStart[c + 1] += 1
        }
        for c in 0..<cellCount { cellStart[c + 1] += cellStart[c] }
        // Counting sort into one flat state, by cell then id (ids arrive ascending).
        if sorted.count != n {
            sorted.ids = [UInt32](repeating: 0, count: n); sorted.kinds = [UInt8](repeating: 0, count: n)
            sorted.qx = [Int32](repeating: 0, count: n); sorted.qy = [Int32](repeating: 0, count: n)
            if heights != nil { sorted.qz = [Int32](repeating: 0, count: n) }
        }
        var cursor = cellStart
        for i in 0..<n {
            let c = Int(cellOf[i])
            let at = cursor[c]
            cursor[c] += 1
            sorted.ids[at] = ids[i]; sorted.kinds[at] = kinds[i]
            sorted.qx[at] = Self.quantise(x[i], inverse: 1 / quantum); sorted.qy[at] = Self.quantise(y[i], inverse: 1 / quantum)
            if let heights, let z { sorted.qz[at] = heights.clamp(Self.quantise(z[i], inverse: 1 / quantum), kind: kinds[i]) }
        }
        var out = TickBlocks(cellCount: cellCount)
        var all = ByteBufferAllocator().buffer(capacity: max(256, n))
        var w = ByteWriter(capacity: 4096)
        var spans: [(Int, Int, Int)] = []
        for c in 0..<cellCount where !cells[c].isEmpty || cellStart[c + 1] > cellStart[c] {
            w.bytes.removeAll(keepingCapacity: true)
            let k = cells[c].encodeDeltaRice(to: sorted, range: cellStart[c]..<cellStart[c + 1], &w, &workspace, heights: heights)
            let from = all.writerIndex
            all.writeVarint(UInt64(c))
            all.writeInteger(CellBlock.Kind.delta.rawValue | UInt8(2 + k) << 4)
            all.writeVarint(UInt64(w.bytes.count))
            all.writeBytes(w.bytes)
            spans.append((c, from, all.writerIndex - from))
        }
        for (c, from, length) in spans { out.set(c, all.getSlice(at: from, length: length)!) }
        // This input is where the next step's enterers come from.
        workspace.seen = LastSeen(ids: ids, x: x, y: y, z: z, inverse: 1 / quantum, heights: heights)
        self.tick = tick
        return out
    }

    /// Reads the cells' current states without copying them.
    public func withCells<R>(_ body: (borrowing [CellState]) throws -> R) rethrows -> R { try body(cells) }

    /// A keyframe block of a cell's current state, nil when the cell is empty.
    public func keyframe(cell c: Int) -> ByteBuffer? {
        guard c >= 0, c < cells.count, !cells[c].isEmpty else { return nil }
        var w = ByteWriter(capacity: cells[c].count * 8)
        cells[c].writeKeyframe(&w, heights: heights)
        return CellBlock.make(cell: UInt32(c), kind: .keyframe, payload: ByteBuffer(bytes: w.bytes), deflater: deflater)
    }
}

/// The blocks one tick produced, by cell: `keys` ascending, lookup by cell index.
public struct TickBlocks: Sendable {
    private var byCell: [ByteBuffer?]
    public private(set) var keys: [Int] = []

    init(cellCount: Int) { byCell = Array(repeating: nil, count: cellCount) }

    /// No blocks.
    public static let empty = TickBlocks(cellCount: 0)

    mutating func set(_ cell: Int, _ block: ByteBuffer) {
        if byCell[cell] == nil { keys.append(cell) }
        byCell[cell] = block
    }

    public subscript(cell: Int) -> ByteBuffer? { cell >= 0 && cell < byCell.count ? byCell[cell] : nil }
    public var values: [ByteBuffer] { keys.map { byCell[$0]! } }
    public var count: Int { keys.count }
}
