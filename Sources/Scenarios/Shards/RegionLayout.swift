import SceneCore

/// How a scene's bounds split into regions for region shards: strips of whole wire-cell
/// columns, west to east, so every wire cell has one owner and a shard's cell blocks are the
/// bytes one process would code for them (docs/SCALEOUT.md, "Region shards").
///
/// Region `k` of `n` owns the columns `[k * columns / n, (k + 1) * columns / n)`. An entity
/// belongs to the region of the wire column its position falls in, computed exactly as the
/// encoder computes it (positions outside the grid go to the border column).
public struct RegionLayout: Sendable, Equatable {
    public let regions: Int
    /// Wire-cell columns of the scene, and where they start.
    public let columns: Int
    public let minX: Double
    public let cellSize: Double
    /// Metres of a neighbour's entities kept as ghosts along each border.
    public let ghostDepth: Float
    /// First column of each region, and one past the last.
    public let starts: [Int]

    /// `regions` strips of (nearly) equal numbers of columns.
    public init(regions: Int, bounds: Rect, cellSize: Double, ghostDepth: Float) throws {
        let columns = Self.columns(bounds: bounds, cellSize: cellSize)
        guard regions >= 1, regions <= columns else { throw RegionError.tooManyRegions(regions, columns: columns) }
        try self.init(borders: (1..<regions).map { $0 * columns / regions }, bounds: bounds, cellSize: cellSize, ghostDepth: ghostDepth)
    }

    /// Strips with borders at the given columns (ascending, each strictly inside the grid):
    /// `[6, 12]` makes three regions, columns 0-5, 6-11 and 12 on.
    public init(borders: [Int], bounds: Rect, cellSize: Double, ghostDepth: Float) throws {
        let columns = Self.columns(bounds: bounds, cellSize: cellSize)
        let starts = [0] + borders + [columns]
        guard zip(starts, starts.dropFirst()).allSatisfy({ $0 < $1 }) else { throw RegionError.badBorders(borders, columns: columns) }
        self.regions = starts.count - 1
        self.columns = columns
        self.minX = Double(bounds.minX)
        self.cellSize = cellSize
        self.ghostDepth = ghostDepth
        self.starts = starts
    }

    static func columns(bounds: Rect, cellSize: Double) -> Int {
        max(1, min(Int(UInt16.max), Int((Double(bounds.maxX - bounds.minX) / cellSize).rounded(.up))))
    }

    /// The wire column holding `x` (as `SceneStateEncoder.cell(x:y:)` counts columns).
    @inline(__always)
    public func column(x: Float) -> Int {
        let c = ((Double(x) - minX) * (1 / cellSize)).rounded(.down)
        return c >= 0 ? (c < Double(columns) ? Int(c) : columns - 1) : 0
    }

    /// The region owning the wire column `c`.
    public func region(ofColumn c: Int) -> Int {
        var k = 0
        while k + 1 < regions && starts[k + 1] <= c { k += 1 }
        return k
    }

    /// The region owning position `x`.
    public func region(x: Float) -> Int { region(ofColumn: column(x: x)) }

    /// Region `k`'s extent in x: `[lo, hi)`, the outer edges open to the whole line.
    public func span(_ k: Int) -> (lo: Double, hi: Double) {
        (k == 0 ? -.infinity : minX + Double(starts[k]) * cellSize, k == regions - 1 ? .infinity : minX + Double(starts[k + 1]) * cellSize)
    }

    /// The regions next to `k`.
    public func neighbours(_ k: Int) -> [Int] { [k - 1, k + 1].filter { $0 >= 0 && $0 < regions } }

    /// Whether an entity at `x` is within the ghost depth of region `k` (and so a ghost there
    /// when another region owns it).
    public func nearRegion(_ k: Int, x: Float) -> Bool {
        let (lo, hi) = span(k)
        let d = Double(ghostDepth)
        return Double(x) >= lo - d && Double(x) < hi + d
    }

    /// Wire cells (row-major, `rows` rows) of region `k`.
    public func cells(of k: Int, rows: Int) -> [Int] {
        (0..<rows).flatMap { r in (starts[k]..<starts[k + 1]).map { r * columns + $0 } }
    }
}
