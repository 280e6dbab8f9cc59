/// A uniform grid over moving entities, rebuilt each tick with a counting sort.
///
/// Entities outside `bounds` are filed in the nearest border cell, so every query
/// still finds them: cells narrow the search, exact coordinates decide membership.
/// Within a cell, entities are ordered by dense index, which keeps queries deterministic, or
/// by slot after `orderCells` (a world with `canonicalCellOrder`).
/// Entries are dense indices of the arrays the grid was built from (not slots).
public struct UniformGrid: Sendable {
    public let bounds: Rect
    public let cellSize: Float
    public let columns: Int
    public let rows: Int
    /// `cellStart[c] ..< cellStart[c + 1]` indexes `entries` for cell `c` (its last element
    /// is scratch of the rebuild).
    public private(set) var cellStart: ContiguousArray<Int32>
    /// Dense indices sorted by cell.
    public private(set) var entries: ContiguousArray<Int32> = []
    /// Positions copied at rebuild so queries need no other storage.
    public private(set) var px: ContiguousArray<Float> = []
    public private(set) var py: ContiguousArray<Float> = []
    @usableFromInline let inverseCell: Float
    private var cellOf: ContiguousArray<Int32> = []

    public init(bounds: Rect, cellSize: Float) {
        precondition(cellSize > 0 && bounds.width > 0 && bounds.height > 0, "grid needs a positive cell size and area")
        self.bounds = bounds
        self.cellSize = cellSize
        self.inverseCell = 1 / cellSize
        self.columns = max(1, Int((bounds.width / cellSize).rounded(.up)))
        self.rows = max(1, Int((bounds.height / cellSize).rounded(.up)))
        // One more than `cellCount + 1`: the counting sort's cursor runs one cell ahead.
        self.cellStart = ContiguousArray(repeating: 0, count: columns * rows + 2)
    }

    public var cellCount: Int { columns * rows }

    /// The column of `x`, clamped to the grid (NaN and values left of it give 0). For t ≥ 0,
    /// truncation is the floor, so this is the same cell as `floor((x - minX) / cellSize)`
    /// without a call to `floor`: the neighbour scans ask for four of these per entity.
    @inlinable @inline(__always)
    public func column(_ x: Float) -> Int {
        let t = (x - bounds.minX) * inverseCell
        return t > 0 ? (t < Float(columns) ? Int(t) : columns - 1) : 0
    }

    /// The row of `y`, clamped like `column`.
    @inlinable @inline(__always)
    public func row(_ y: Float) -> Int {
        let t = (y - bounds.minY) * inverseCell
        return t > 0 ? (t < Float(rows) ? Int(t) : rows - 1) : 0
    }

    @inlinable
    public func cell(x: Float, y: Float) -> Int { row(y) * columns + column(x) }

    /// Files every live entity into its cell (stable counting sort by index).
    /// `alive` nil means every entry is live. Scratch arrays persist between calls.
    public mutating func rebuild(x: UnsafeBufferPointer<Float>, y: UnsafeBufferPointer<Float>, alive: UnsafeBufferPointer<UInt8>? = nil,
                                 workers: Int = 1) {
        let n = x.count
        if cellOf.count != n { cellOf = ContiguousArray(repeating: -1, count: n) }
        let cells = cellCount
        var live = 0
        let (b, inv, cols, rws) = (bounds, inverseCell, columns, rows)
        cellOf.withUnsafeMutableBufferPointer { cellOf in
            // Cells are computed in parallel; counting stays serial (it is a histogram).
            let out = DisjointWrites(cellOf), xs = SharedReads(x), ys = SharedReads(y)
            let alive = alive.map(SharedReads.init)
            parallelFor(count: n, workers: workers, blockSize: max(1 << 16, n / (4 * max(workers, 1)))) { range, _ in
                for i in range {
                    if let alive, alive[i] != 1 { out[i] = -1; continue }
                    out[i] = Int32(Self.cellIndex(xs[i], ys[i], bounds: b, inverseCell: inv, columns: cols, rows: rws))
                }
            }
            // Counts go two places up, so that after the prefix sum `start[c + 1]` is where cell
            // c begins: the scatter uses it as its cursor and leaves it at the end of cell c,
            // i.e. the beginning of c + 1, which is what `cellStart` means (no cursor array).
            cellStart.withUnsafeMutableBufferPointer { start in
                start.update(repeating: 0)
                for i in 0..<n {
                    let c = cellOf[i]
                    if c < 0 { continue }
                    start[Int(c) + 2] += 1
                    live += 1
                }
                for c in 0..<cells { start[c + 2] += start[c + 1] }
            }
        }
        if entries.count != live {
            entries = ContiguousArray(repeating: 0, count: live)
            px = ContiguousArray(repeating: 0, count: live)
            py = ContiguousArray(repeating: 0, count: live)
        }
        entries.withUnsafeMutableBufferPointer { entries in
            cellStart.withUnsafeMutableBufferPointer { start in
                cellOf.withUnsafeBufferPointer { cellOf in
                    // Serial: a stable counting sort writes entries in index order per cell.
                    for i in 0..<n {
                        let c = Int(cellOf[i])
                        if c < 0 { continue }
                        let at = Int(start[c + 1])
                        start[c + 1] = Int32(at + 1)
                        entries[at] = Int32(i)
                    }
                }
            }
        }
        // The cell-ordered position copies are a gather, in parallel.
        entries.withUnsafeBufferPointer { entries in
            px.withUnsafeMutableBufferPointer { px in
                py.withUnsafeMutableBufferPointer { py in
                    let order = SharedReads(entries), xs = SharedReads(x), ys = SharedReads(y)
                    let outX = DisjointWrites(px), outY = DisjointWrites(py)
                    parallelFor(count: order.count, workers: workers, blockSize: max(1 << 16, order.count / (4 * max(workers, 1)))) { range, _ in
                        for k in range {
                            let i = Int(order[k])
                            outX[k] = xs[i]
                            outY[k] = ys[i]
                        }
                    }
                }
            }
        }
    }

    /// Orders each cell's entries by `keys[entry]` (the entities' slots), moving the position
    /// copies with them: the order a behaviour meets a cell's entities in is then a function
    /// of which entities are there, not of how the store happens to list them (region shards
    /// hold the same entities in other orders). Insertion sort per cell: the entries arrive
    /// nearly sorted (the store is re-sorted into this order every few ticks).
    mutating func orderCells(by keys: UnsafeBufferPointer<UInt32>, workers: Int = 1) {
        let cells = cellCount
        cellStart.withUnsafeBufferPointer { start in
            entries.withUnsafeMutableBufferPointer { e in
                px.withUnsafeMutableBufferPointer { gx in
                    py.withUnsafeMutableBufferPointer { gy in
                        let start = SharedReads(start), keys = SharedReads(keys)
                        let e = DisjointWrites(e), gx = DisjointWrites(gx), gy = DisjointWrites(gy)
                        parallelFor(count: cells, workers: workers, blockSize: max(1 << 14, cells / (4 * max(workers, 1)))) { range, _ in
                            for c in range {
                                let from = Int(start[c]), to = Int(start[c + 1])
                                guard to - from > 1 else { continue }
                                for k in (from + 1)..<to {
                                    let entry = e[k], x = gx[k], y = gy[k], key = keys[Int(entry)]
                                    var m = k
                                    while m > from && keys[Int(e[m - 1])] > key {
                                        e[m] = e[m - 1]; gx[m] = gx[m - 1]; gy[m] = gy[m - 1]
                                        m -= 1
                                    }
                                    e[m] = entry; gx[m] = x; gy[m] = y
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// After the caller reordered its arrays into `entries` order, entry k is index k.
    mutating func markIdentity(workers: Int = 1) {
        entries.withUnsafeMutableBufferPointer { e in
            let out = DisjointWrites(e)
            parallelFor(count: e.count, workers: workers, blockSize: max(1 << 16, e.count / (4 * max(workers, 1)))) { range, _ in
                for k in range { out[k] = Int32(k) }
            }
        }
    }

    @inline(__always)
    static func cellIndex(_ x: Float, _ y: Float, bounds: Rect, inverseCell: Float, columns: Int, rows: Int) -> Int {
        // As `column` and `row`: truncation for t > 0; NaN and huge values fall into border cells.
        let tc = (x - bounds.minX) * inverseCell, tr = (y - bounds.minY) * inverseCell
        let c = tc > 0 ? (tc < Float(columns) ? Int(tc) : columns - 1) : 0
        let r = tr > 0 ? (tr < Float(rows) ? Int(tr) : rows - 1) : 0
        return r * columns + c
    }

    /// Calls `body(denseIndex, x, y)` for every entity inside `rect` (half-open on max sides).
    @inlinable
    public func forEach(in rect: Rect, _ body: (Int32, Float, Float) -> Void) {
        let c0 = column(rect.minX), c1 = column(rect.maxX)
        let r0 = row(rect.minY), r1 = row(rect.maxY)
        guard c0 <= c1, r0 <= r1 else { return }
        for r in r0...r1 {
            let from = Int(cellStart[r * columns + c0]), to = Int(cellStart[r * columns + c1 + 1])
            for k in from..<to where rect.contains(x: px[k], y: py[k]) {
                body(entries[k], px[k], py[k])
            }
        }
    }

    /// Dense indices of the entities inside `rect`, in ascending order.
    public func query(rect: Rect) -> [Int32] {
        var out: [Int32] = []
        forEach(in: rect) { d, _, _ in out.append(d) }
        out.sort()
        return out
    }

    /// Dense indices of the entities within `radius` of a point (inclusive), ascending.
    public func query(x: Float, y: Float, radius: Float) -> [Int32] {
        var out: [Int32] = []
        let r2 = radius * radius
        let box = Rect(minX: x - radius, minY: y - radius, maxX: x + radius, maxY: y + radius)
        let c0 = column(box.minX), c1 = column(box.maxX), r0 = row(box.minY), r1 = row(box.maxY)
        for r in r0...r1 {
            let from = Int(cellStart[r * columns + c0]), to = Int(cellStart[r * columns + c1 + 1])
            for k in from..<to {
                let dx = px[k] - x, dy = py[k] - y
                if dx * dx + dy * dy <= r2 { out.append(entries[k]) }
            }
        }
        out.sort()
        return out
    }

    /// Dense indices of the `k` entities nearest to a point, nearest first; ties broken by index.
    public func nearest(x: Float, y: Float, k: Int) -> [Int32] {
        guard k > 0, !entries.isEmpty else { return [] }
        var best: [(d: Float, index: Int32)] = []
        let cx = column(x), cy = row(y)
        var ring = 0
        let maxRing = max(columns, rows)
        while ring <= maxRing {
            visitRing(cx: cx, cy: cy, ring: ring) { cell in
                for k in Int(cellStart[cell])..<Int(cellStart[cell + 1]) {
                    let dx = px[k] - x, dy = py[k] - y
                    best.append((dx * dx + dy * dy, entries[k]))
                }
            }
            if best.count >= k {
                best.sort { $0.d < $1.d || ($0.d == $1.d && $0.index < $1.index) }
                if best.count > k { best.removeLast(best.count - k) }
                // Every unseen entity is at least `ring * cellSize` away (clamping never
                // shortens a distance), so the k found are final once they are that close.
                let bound = Float(ring) * cellSize
                if best[k - 1].d <= bound * bound { break }
            }
            ring += 1
        }
        best.sort { $0.d < $1.d || ($0.d == $1.d && $0.index < $1.index) }
        return best.prefix(k).map(\.index)
    }

    private func visitRing(cx: Int, cy: Int, ring: Int, _ body: (Int) -> Void) {
        let r0 = cy - ring, r1 = cy + ring, c0 = cx - ring, c1 = cx + ring
        for r in max(r0, 0)...min(r1, rows - 1) where r >= 0 {
            if r == r0 || r == r1 {
                for c in max(c0, 0)...min(c1, columns - 1) where c >= 0 { body(r * columns + c) }
            } else {
                if c0 >= 0 { body(r * columns + c0) }
                if c1 < columns { body(r * columns + c1) }
            }
        }
    }
}

extension Float {
    @inlinable
    func clamped(_ lo: Float, _ hi: Float) -> Float {
        if self.isNaN { return lo }
        return Swift.min(Swift.max(self, lo), hi)
    }
}
