/// A static index over building footprints: which footprint holds a point, whether a
/// segment crosses a wall, and the nearest wall to a point.
///
/// Built once per tile load. Each grid cell lists the footprints whose bounding box
/// touches it and the edges that touch it, so queries look at a handful of polygons.
public struct ObstacleIndex: Sendable {
    public let footprints: [Footprint]
    public let bounds: Rect
    public let cellSize: Float
    let inverseCell: Float
    let columns: Int
    let rows: Int
    // Polygons flattened for the hot path (no nested arrays, so no reference counting):
    // polygon p has rings polyRingStart[p] ..< polyRingStart[p+1]; ring r has points
    // ringStart[r] ..< ringStart[r+1] in (ptX, ptY).
    let ptX: [Float], ptY: [Float]
    let ringStart: [Int32]
    let polyRingStart: [Int32]
    let polyBox: [Rect]
    // Edges: edge e runs (ax[e], ay[e]) -> (bx[e], by[e]).
    let ax: [Float], ay: [Float], bx: [Float], by: [Float]
    // Per cell, in compressed rows: polygons whose box touches it, and edges that touch it.
    let cellPolyStart: [Int32], cellPolys: [Int32]
    let cellEdgeStart: [Int32], cellEdges: [Int32]
    // A finer grid of bits: set where no footprint's bounding box touches the fine cell, so
    // `isBlocked` answers from one bit for most points in the streets. A point inside a
    // footprint lies inside its box, and cells are clamped the same way for points and boxes,
    // so a set bit is always a true "free".
    let clearSize: Float, inverseClear: Float
    let clearColumns: Int, clearRows: Int
    let clear: [UInt64]

    /// An index with no obstacles.
    public static func empty(bounds: Rect) -> ObstacleIndex {
        ObstacleIndex(footprints: [], bounds: bounds, cellSize: max(bounds.width, bounds.height, 1))
    }

    public init(footprints: [Footprint], bounds: Rect, cellSize: Float = 8) {
        self.footprints = footprints
        self.bounds = bounds
        self.cellSize = cellSize
        self.inverseCell = 1 / cellSize
        let cols = max(1, min(1 << 15, Int((bounds.width / cellSize).rounded(.up))))
        let rws = max(1, min(1 << 15, Int((bounds.height / cellSize).rounded(.up))))
        columns = cols
        rows = rws
        var ptX: [Float] = [], ptY: [Float] = [], ringStart: [Int32] = [0], polyRingStart: [Int32] = [0], boxes: [Rect] = []
        var ax: [Float] = [], ay: [Float] = [], bx: [Float] = [], by: [Float] = []
        var polys = [[Int32]](repeating: [], count: cols * rws)
        var edges = [[Int32]](repeating: [], count: cols * rws)
        func col(_ x: Float) -> Int { min(max(Int(((x - bounds.minX) / cellSize).rounded(.down).clamped(-1, Float(cols))), 0), cols - 1) }
        func row(_ y: Float) -> Int { min(max(Int(((y - bounds.minY) / cellSize).rounded(.down).clamped(-1, Float(rws))), 0), rws - 1) }
        for (p, fp) in footprints.enumerated() {
            let box = fp.boundingBox
            boxes.append(box)
            for ring in fp.rings {
                for q in ring { ptX.append(q.x); ptY.append(q.y) }
                ringStart.append(Int32(ptX.count))
            }
            polyRingStart.append(Int32(ringStart.count - 1))
            guard box.minX <= box.maxX else { continue }
            for r in row(box.minY)...row(box.maxY) {
                for c in col(box.minX)...col(box.maxX) { polys[r * cols + c].append(Int32(p)) }
            }
            for ring in fp.rings where ring.count >= 2 {
                for i in 0..<ring.count {
                    let a = ring[i], b = ring[(i + 1) % ring.count]
                    let e = Int32(ax.count)
                    ax.append(a.x); ay.append(a.y); bx.append(b.x); by.append(b.y)
                    for r in row(min(a.y, b.y))...row(max(a.y, b.y)) {
                        for c in col(min(a.x, b.x))...col(max(a.x, b.x)) { edges[r * cols + c].append(e) }
                    }
                }
            }
        }
        func compress(_ lists: [[Int32]]) -> ([Int32], [Int32]) {
            var start: [Int32] = [0], flat: [Int32] = []
            for l in lists { flat += l; start.append(Int32(flat.count)) }
            return (start, flat)
        }
        // Fine cells of 1 m, coarser for very large scenes (at most 16M cells, 2 MB of bits).
        let area = Double(max(bounds.width, 1)) * Double(max(bounds.height, 1))
        let fine = Float(max(1, (area / Double(1 << 24)).squareRoot()))
        let fcols = max(1, min(1 << 20, Int((bounds.width / fine).rounded(.up))))
        let frows = max(1, min(1 << 20, Int((bounds.height / fine).rounded(.up))))
        let inverseFine = 1 / fine
        var bits = [UInt64](repeating: ~0, count: (fcols * frows + 63) / 64)
        func fineColumn(_ x: Float) -> Int { let t = (x - bounds.minX) * inverseFine; return t > 0 ? (t < Float(fcols) ? Int(t) : fcols - 1) : 0 }
        func fineRow(_ y: Float) -> Int { let t = (y - bounds.minY) * inverseFine; return t > 0 ? (t < Float(frows) ? Int(t) : frows - 1) : 0 }
        for box in boxes where box.minX <= box.maxX && box.minY <= box.maxY {
            for r in fineRow(box.minY)...fineRow(box.maxY) {
                for c in fineColumn(box.minX)...fineColumn(box.maxX) {
                    let k = r * fcols + c
                    bits[k >> 6] &= ~(1 << UInt64(k & 63))
                }
            }
        }
        self.clearSize = fine; self.inverseClear = inverseFine
        self.clearColumns = fcols; self.clearRows = frows
        self.clear = bits
        self.ptX = ptX; self.ptY = ptY; self.ringStart = ringStart; self.polyRingStart = polyRingStart; self.polyBox = boxes
        self.ax = ax; self.ay = ay; self.bx = bx; self.by = by
        (cellPolyStart, cellPolys) = compress(polys)
        (cellEdgeStart, cellEdges) = compress(edges)
    }

    /// The cell of a point, clamped to the grid (NaN gives the first cell). Truncation is the
    /// floor for t > 0, and every t ≤ 0 lands in column 0 either way: no call to `floorf`
    /// (x86-64's baseline has no rounding instruction) on the integrate's hot path.
    @inline(__always)
    func cell(_ x: Float, _ y: Float) -> Int {
        let tc = (x - bounds.minX) * inverseCell, tr = (y - bounds.minY) * inverseCell
        let c = tc > 0 ? (tc < Float(columns) ? Int(tc) : columns - 1) : 0
        let r = tr > 0 ? (tr < Float(rows) ? Int(tr) : rows - 1) : 0
        return r * columns + c
    }

    /// Even-odd containment of one polygon over the flat arrays.
    @inline(__always)
    func polygon(_ p: Int, contains x: Float, _ y: Float) -> Bool {
        let box = polyBox[p]
        if x < box.minX || x > box.maxX || y < box.minY || y > box.maxY { return false }
        var inside = false
        return ptX.withUnsafeBufferPointer { px in
            ptY.withUnsafeBufferPointer { py in
                for r in Int(polyRingStart[p])..<Int(polyRingStart[p + 1]) {
                    let s = Int(ringStart[r]), e = Int(ringStart[r + 1])
                    if e - s < 3 { continue }
                    var j = e - 1
                    for i in s..<e {
                        let ay = py[i], by = py[j]
                        if (ay > y) != (by > y) {
                            let t = (y - ay) / (by - ay)
                            if x < px[i] + t * (px[j] - px[i]) { inside.toggle() }
                        }
                        j = i
                    }
                }
                return inside
            }
        }
    }

    /// The footprint that contains the point, if any.
    public func footprint(containing x: Float, _ y: Float) -> Int? {
        let c = cell(x, y)
        for k in Int(cellPolyStart[c])..<Int(cellPolyStart[c + 1]) {
            let p = Int(cellPolys[k])
            if polygon(p, contains: x, y) { return p }
        }
        return nil
    }

    /// True when the point is inside any footprint.
    @inline(__always)
    public func isBlocked(_ x: Float, _ y: Float) -> Bool {
        let tc = (x - bounds.minX) * inverseClear, tr = (y - bounds.minY) * inverseClear
        let fc = tc > 0 ? (tc < Float(clearColumns) ? Int(tc) : clearColumns - 1) : 0
        let fr = tr > 0 ? (tr < Float(clearRows) ? Int(tr) : clearRows - 1) : 0
        let k = fr * clearColumns + fc
        if clear.withUnsafeBufferPointer({ $0[k >> 6] }) & (1 << UInt64(k & 63)) != 0 { return false }
        let c = cell(x, y)
        let from = Int(cellPolyStart[c]), to = Int(cellPolyStart[c + 1])
        if from == to { return false }
        for k in from..<to where polygon(Int(cellPolys[k]), contains: x, y) { return true }
        return false
    }

    /// True when the segment from `a` to `b` crosses any footprint edge.
    public func segmentCrossesWall(from a: SIMD2<Float>, to b: SIMD2<Float>) -> Bool {
        var seen = Set<Int32>()
        for c in cellsCovering(minX: min(a.x, b.x), minY: min(a.y, b.y), maxX: max(a.x, b.x), maxY: max(a.y, b.y)) {
            for k in Int(cellEdgeStart[c])..<Int(cellEdgeStart[c + 1]) where seen.insert(cellEdges[k]).inserted {
                let e = cellEdges[k]
                if segmentsIntersect(a, b, SIMD2(ax[Int(e)], ay[Int(e)]), SIMD2(bx[Int(e)], by[Int(e)])) { return true }
            }
        }
        return false
    }

    /// The nearest point on any wall within `maxDistance`, with its distance.
    public func nearestWall(x: Float, y: Float, maxDistance: Float) -> (point: SIMD2<Float>, distance: Float)? {
        var best: (SIMD2<Float>, Float)?
        let p = SIMD2(x, y)
        for c in cellsCovering(minX: x - maxDistance, minY: y - maxDistance, maxX: x + maxDistance, maxY: y + maxDistance) {
            for k in Int(cellEdgeStart[c])..<Int(cellEdgeStart[c + 1]) {
                let e = cellEdges[k]
                let q = closestPoint(p, SIMD2(ax[Int(e)], ay[Int(e)]), SIMD2(bx[Int(e)], by[Int(e)]))
                let d = ((q - p) * (q - p)).sum().squareRoot()
                if d <= maxDistance, best == nil || d < best!.1 { best = (q, d) }
            }
        }
        return best.map { (point: $0.0, distance: $0.1) }
    }

    /// A free point near `(x, y)`: the point itself when free, else a nearby point
    /// outside every footprint (searched on growing rings), or nil if none within `maxDistance`.
    public func nearestFreePoint(x: Float, y: Float, maxDistance: Float = 200) -> SIMD2<Float>? {
        if !isBlocked(x, y) { return SIMD2(x, y) }
        if let wall = nearestWall(x: x, y: y, maxDistance: maxDistance) {
            let dir = wall.point - SIMD2(x, y)
            let len = max(wall.distance, 1e-6)
            for push in [Float(0.05), 0.25, 1] {
                let q = wall.point + dir / len * push
                if !isBlocked(q.x, q.y) { return q }
            }
        }
        var radius: Float = 0.5
        while radius <= maxDistance {
            var dir = SIMD2<Float>(1, 0)
            for _ in 0..<16 {
                let q = SIMD2(x, y) + dir * radius
                if !isBlocked(q.x, q.y) { return q }
                // rotate by 22.5 degrees
                dir = SIMD2(dir.x * 0.923_879_5 - dir.y * 0.382_683_43, dir.x * 0.382_683_43 + dir.y * 0.923_879_5)
            }
            radius *= 1.5
        }
        return nil
    }

    private func cellsCovering(minX: Float, minY: Float, maxX: Float, maxY: Float) -> [Int] {
        let c0 = cell(minX, minY), c1 = cell(maxX, maxY)
        let col0 = c0 % columns, row0 = c0 / columns, col1 = c1 % columns, row1 = c1 / columns
        var out: [Int] = []
        for r in row0...row1 { for c in col0...col1 { out.append(r * columns + c) } }
        return out
    }
}

@inline(__always)
func cross(_ a: SIMD2<Float>, _ b: SIMD2<Float>) -> Float { a.x * b.y - a.y * b.x }

func segmentsIntersect(_ p1: SIMD2<Float>, _ p2: SIMD2<Float>, _ q1: SIMD2<Float>, _ q2: SIMD2<Float>) -> Bool {
    let d1 = cross(q2 - q1, p1 - q1), d2 = cross(q2 - q1, p2 - q1)
    let d3 = cross(p2 - p1, q1 - p1), d4 = cross(p2 - p1, q2 - p1)
    if ((d1 > 0 && d2 < 0) || (d1 < 0 && d2 > 0)) && ((d3 > 0 && d4 < 0) || (d3 < 0 && d4 > 0)) { return true }
    func onSegment(_ a: SIMD2<Float>, _ b: SIMD2<Float>, _ c: SIMD2<Float>) -> Bool {
        min(a.x, b.x) <= c.x && c.x <= max(a.x, b.x) && min(a.y, b.y) <= c.y && c.y <= max(a.y, b.y)
    }
    if d1 == 0 && onSegment(q1, q2, p1) { return true }
    if d2 == 0 && onSegment(q1, q2, p2) { return true }
    if d3 == 0 && onSegment(p1, p2, q1) { return true }
    if d4 == 0 && onSegment(p1, p2, q2) { return true }
    return false
}

func closestPoint(_ p: SIMD2<Float>, _ a: SIMD2<Float>, _ b: SIMD2<Float>) -> SIMD2<Float> {
    let ab = b - a
    let len2 = (ab * ab).sum()
    if len2 == 0 { return a }
    let t = min(max(((p - a) * ab).sum() / len2, 0), 1)
    return a + ab * t
}
