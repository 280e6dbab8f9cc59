import SceneCore

/// People walking the streets of the district between random free goals, at speeds
/// between `minSpeed` and `maxSpeed`, never through buildings.
public final class WalkersScenario: Scenario {
    public let count: Int
    public let minSpeed: Float
    public let maxSpeed: Float

    public init(count: Int, minSpeed: Float = 1.0, maxSpeed: Float = 1.8) {
        self.count = max(0, count)
        self.minSpeed = minSpeed
        self.maxSpeed = max(minSpeed, maxSpeed)
    }

    public static let pedestrian = EntityKind(code: 1, name: "pedestrian")
    /// Passers-by: no one in particular, so no identities, attributes or events.
    public var anonymous: Bool { true }
    public func identity(slot: UInt32, in world: World) -> EntityIdentity? { nil }
    public var kinds: [EntityKind] { [Self.pedestrian] }
    public var capacity: Int { max(1, count) }

    /// A walker meets the walkers of the 2 m grid cells its ±personal-space box touches, so up
    /// to 0.8 + 2 m away, and moves at most 1.5 times its preferred speed in a tick (the
    /// behaviour's cap; collisions with buildings only push it back); half a metre to spare.
    /// Goals come from each walker's own random stream and the buildings, which every region
    /// holds whole, so a region steps its walkers as one process would.
    public func regionReach(dt: Float) -> Float? {
        let crowd = CrowdBehaviour()
        return max(crowd.personalSpace + 2, 1.5 * maxSpeed * dt) + 0.5
    }

    public func populate(_ world: World, seed: UInt64) throws -> any Behaviour {
        var rng = SeededGenerator(seed: seed)
        let b = world.bounds
        var attempts = 0
        while world.store.count < count {
            attempts += 1
            if attempts > count * 100 + 1000 {
                throw ScenarioError.noRoom(wanted: count, placed: world.store.count)
            }
            let x = Float.random(in: b.minX..<b.maxX, using: &rng), y = Float.random(in: b.minY..<b.maxY, using: &rng)
            if world.obstacles.isBlocked(x, y) { continue }
            try world.spawn(kind: Self.pedestrian.code, x: x, y: y, speed: Float.random(in: minSpeed...maxSpeed, using: &rng))
        }
        return CrowdBehaviour()
    }
}

/// Why a scenario could not be set up.
public enum ScenarioError: Error, CustomStringConvertible, Equatable {
    case noRoom(wanted: Int, placed: Int)

    public var description: String {
        switch self {
        case .noRoom(let wanted, let placed):
            return "could place only \(placed) of \(wanted) entities outside buildings; enlarge the bounds or lower the count"
        }
    }
}
