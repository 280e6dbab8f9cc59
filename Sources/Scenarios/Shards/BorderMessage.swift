import SceneCore

/// What one region sends a neighbour after each tick: the entities that crossed into the
/// neighbour's region (handovers, which it owns from now on) and copies of the entities near
/// its border (ghosts, which it reads in its next step and codes but never sends).
public struct BorderMessage: Equatable, Sendable {
    public var tick: UInt64
    public var from: Int
    public var to: Int
    public var handovers: [EntityRecord]
    public var ghosts: [EntityRecord]
    /// On the ticks the scenario ranks: the sender's best entries (sent to every region, not
    /// only neighbours, which then get nothing else).
    public var ranking: [RankEntry]?
    /// The last tick of a border from `to` that `from` took in: the handovers `to` sent up
    /// to it arrived, and `to` may forget them.
    public var received: UInt64
    public init(tick: UInt64, from: Int, to: Int, handovers: [EntityRecord] = [], ghosts: [EntityRecord] = [], ranking: [RankEntry]? = nil,
                received: UInt64 = 0) {
        self.tick = tick; self.from = from; self.to = to; self.handovers = handovers; self.ghosts = ghosts; self.ranking = ranking
        self.received = received
    }
}
