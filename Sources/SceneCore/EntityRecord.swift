/// Everything the engine holds about one entity, as it moves from one region's world to
/// another's (a handover) or is copied to a neighbour as a ghost: its slot and generation (so
/// it keeps its wire id and its random streams), motion, scenario columns, attribute values
/// and key.
public struct EntityRecord: Equatable, Sendable {
    public var slot: UInt32
    public var generation: UInt32
    public var kind: UInt8
    public var x: Float, y: Float, vx: Float, vy: Float
    public var goalX: Float, goalY: Float, speed: Float
    /// The store's scenario columns, in the order they were added.
    public var columns: [UInt32]
    /// The values of the kind's attributes, in declaration order.
    public var attributes: [UInt32] = []
    public var key: String?

    public init(slot: UInt32, generation: UInt32, kind: UInt8, x: Float, y: Float, vx: Float, vy: Float,
                goalX: Float, goalY: Float, speed: Float, columns: [UInt32], attributes: [UInt32] = [], key: String? = nil) {
        self.slot = slot; self.generation = generation; self.kind = kind
        self.x = x; self.y = y; self.vx = vx; self.vy = vy
        self.goalX = goalX; self.goalY = goalY; self.speed = speed
        self.columns = columns; self.attributes = attributes; self.key = key
    }
}
