/// What a behaviour may read during the behaviour stage: the state at the start of the tick.
///
/// Entity arrays are dense and kept close to grid-cell order. The grid lists, for cell `c`,
/// the entries `cellStart[c] ..< cellStart[c + 1]`; entry `k` is dense index
/// `gridEntries[k]` at position (`gridX[k]`, `gridY[k]`).
public struct StepContext: Sendable {
    public let tick: UInt64
    public let dt: Float
    public let seed: UInt64
    public let bounds: Rect
    public let x: SharedReads<Float>
    public let y: SharedReads<Float>
    public let vx: SharedReads<Float>
    public let vy: SharedReads<Float>
    public let speed: SharedReads<Float>
    public let kind: SharedReads<UInt8>
    /// Stable ids (slots) of the dense entries, for per-entity randomness and side tables.
    public let slot: SharedReads<UInt32>
    /// `cellStart[c] ..< cellStart[c + 1]` are the grid entries of cell `c`.
    public let cellStart: SharedReads<Int32>
    /// Dense index of each grid entry.
    public let gridEntries: SharedReads<Int32>
    /// Position of each grid entry (copied in cell order, so scans read adjacent memory).
    public let gridX: SharedReads<Float>
    public let gridY: SharedReads<Float>
    /// Moving entities at the start of the tick (for rectangle, radius and k-nearest queries).
    public let grid: UniformGrid
    /// Buildings and other static obstacles.
    public let obstacles: ObstacleIndex
}

/// Where a behaviour writes: the desired velocity and goal of each entity in its block, and
/// the scenario's own columns (read and written in place, rows of its block only).
public struct SteerOutput: Sendable {
    public let vx: DisjointWrites<Float>
    public let vy: DisjointWrites<Float>
    public let goalX: DisjointWrites<Float>
    public let goalY: DisjointWrites<Float>
    public let columns: ColumnRows
}

/// A pluggable rule that decides how entities want to move.
///
/// `steer` is called for disjoint, ascending blocks of dense indices, possibly on several
/// threads at once; it must write only the indices of `range` and draw randomness only from
/// `SplitMix` keyed by slot and tick, so results do not depend on the worker count.
public protocol Behaviour: Sendable {
    func steer(range: Range<Int>, context: StepContext, output: SteerOutput, events: inout EventBuffer)
}

/// Entities that do not move (a world before its scenario hands it a behaviour).
public struct StandStill: Behaviour {
    public init() {}
    public func steer(range: Range<Int>, context: StepContext, output o: SteerOutput, events: inout EventBuffer) {
        for i in range { o.vx[i] = 0; o.vy[i] = 0 }
    }
}
