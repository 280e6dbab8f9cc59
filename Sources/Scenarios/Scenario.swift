import SceneCore

/// An entity kind a scenario uses, with the name clients show.
public struct EntityKind: Sendable, Equatable {
    public var code: UInt8
    public var name: String
    public init(code: UInt8, name: String) { self.code = code; self.name = name }
}

/// A demo scenario: which kinds it uses, how it fills a world, and the behaviour that drives it.
public protocol Scenario: Sendable {
    var kinds: [EntityKind] { get }
    var behaviour: any Behaviour { get }
    /// How many entities `populate` will spawn (the world's capacity).
    var capacity: Int { get }
    /// Spawns the scenario's entities; only free positions, deterministic in the seed.
    func populate(_ world: World, seed: UInt64) throws
}

/// The scenario named in a manifest.
public func makeScenario(_ manifest: SceneManifest) -> any Scenario {
    switch manifest.scenario {
    default:
        return WalkersScenario(count: Int(manifest.parameters["walkers"] ?? 2000),
                               minSpeed: Float(manifest.parameters["minSpeed"] ?? 1.0),
                               maxSpeed: Float(manifest.parameters["maxSpeed"] ?? 1.8))
    }
}
