/// What a behaviour may read during the behaviour stage: the state at the start of the tick.
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
    public let alive: SharedReads<UInt8>
    /// Moving entities at the start of the tick.
    public let grid: UniformGrid
    /// Buildings and other static obstacles.
    public let obstacles: ObstacleIndex
}

/// Where a behaviour writes: the desired velocity and goal of each entity in its block.
public struct SteerOutput: Sendable {
    public let vx: DisjointWrites<Float>
    public let vy: DisjointWrites<Float>
    public let goalX: DisjointWrites<Float>
    public let goalY: DisjointWrites<Float>
}

/// A pluggable rule that decides how entities want to move.
///
/// `steer` is called for disjoint, ascending blocks of slots, possibly on several threads
/// at once; it must write only the slots of `range` and draw randomness only from
/// `SplitMix` keyed by entity and tick, so results do not depend on the worker count.
public protocol Behaviour: Sendable {
    func steer(range: Range<Int>, context: StepContext, output: SteerOutput, events: inout EventBuffer)
}
