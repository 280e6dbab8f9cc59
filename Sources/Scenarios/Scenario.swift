import SceneCore

/// An entity kind a scenario uses, with the name clients show.
public struct EntityKind: Sendable, Equatable {
    public var code: UInt8
    public var name: String
    public init(code: UInt8, name: String) { self.code = code; self.name = name }
}

/// A demo scenario: which kinds it uses, how it fills a world, the behaviour that drives it,
/// and the serial work after each step.
///
/// A scenario owns its state: per-entity values in columns it adds to the world's store,
/// scene-wide values (a match's score, machines' telemetry) in its own properties. It lives
/// with its `LoadedScene` on the scene's tick thread, so it needs no lock.
public protocol Scenario: AnyObject {
    var kinds: [EntityKind] { get }
    /// How many entities `populate` will spawn (the world's capacity).
    var capacity: Int { get }
    /// Obstacles the scenario brings besides the tiles (machines on a factory floor).
    var footprints: [Footprint] { get }
    /// Adds the scenario's columns and attributes, spawns its entities (only free positions,
    /// deterministic in the seed) and returns the behaviour that drives them.
    func populate(_ world: World, seed: UInt64) throws -> any Behaviour
    /// Serial work after each step (leaderboards, attributes); returns events for clients.
    func afterStep(_ world: World) -> [SceneEvent]
    /// An operator's fault injection on the entity in `slot`; false when it has no such entity.
    func injectFault(slot: UInt32, in world: World) -> Bool
    /// Who the entity in `slot` is, for clients; nil for an empty slot. Reads state only.
    func identity(slot: UInt32, in world: World) -> EntityIdentity?
    /// Event kinds about the whole scene (a leaderboard, a goal): area subscribers get these
    /// wherever they look; other events only where their entity is in the area.
    var sceneWideEvents: Set<SceneEvent.Kind> { get }
    /// Entities without identity for clients (an anonymous crowd): version 2 sends them no
    /// EntityInfo, and where the scene has no attributes either, area subscriptions need no
    /// per-subscriber view of who is inside.
    var anonymous: Bool { get }
    /// Kinds with a height, and its range in metres: their attribute `z` (float32) travels in
    /// version 2's position stream instead of as an attribute.
    var heightKinds: [UInt8: ClosedRange<Float>] { get }
    /// The scenario's side of participants (nil: nobody can join it, whatever the manifest says).
    var participantHost: (any ParticipantHost)? { get }
    /// What an operator should know about how the scene was built from its data (a replay's
    /// rate and resampling, samples left out): logged by `serve`, printed by `scenes validate`.
    var notes: [String] { get }
    /// Metres around an entity within which one tick of its behaviour reads other entities
    /// (the grid cells it scans, whole) or can move it, for a tick of `dt` seconds: the ghost
    /// depth of region shards. nil: the scene cannot be split into regions. A scene that can
    /// reads each grid cell's entities in slot order (`World.canonicalCellOrder`).
    func regionReach(dt: Float) -> Float?
    /// A scene-wide ranking the scenario sends as events (the marathon's ten furthest), for
    /// region shards to merge: on the ticks it ranks, the event kind, how many ranks, and the
    /// best entries (score, slot; higher scores first, then lower slots) among the entities
    /// `include` admits. nil on other ticks, or for a scenario that ranks nothing.
    func ranking(_ world: World, include: (Int) -> Bool) -> SceneRanking?
}

extension Scenario {
    public var footprints: [Footprint] { [] }
    public func afterStep(_ world: World) -> [SceneEvent] { [] }
    public func injectFault(slot: UInt32, in world: World) -> Bool { false }
    public func identity(slot: UInt32, in world: World) -> EntityIdentity? { .plain(slot: slot, in: world, kinds: kinds) }
    public var sceneWideEvents: Set<SceneEvent.Kind> { [] }
    public var heightKinds: [UInt8: ClosedRange<Float>] { [:] }
    public var anonymous: Bool { false }
    public var participantHost: (any ParticipantHost)? { nil }
    public var notes: [String] { [] }
    public func regionReach(dt: Float) -> Float? { nil }
    public func ranking(_ world: World, include: (Int) -> Bool) -> SceneRanking? { nil }
}

/// The scenarios this build knows, by the name a manifest uses.
public enum ScenarioKind: String, CaseIterable, Sendable {
    case walkers
    case marathon
    case footballReplay = "football-replay"
    case footballLive = "football-live"
    case factory

    /// The parameters a manifest may give this scenario (`$.parameters`).
    public var parameterNames: [String] {
        switch self {
        case .walkers: WalkersParameters.names
        case .marathon: MarathonParameters.names
        case .factory: FactoryParameters.names
        case .footballLive, .footballReplay: []
        }
    }
}

/// The scenario named in a manifest; `origin` is the CRS point of scene (0, 0).
public func makeScenario(_ manifest: SceneManifest, origin: SIMD2<Double>, bounds: Rect) throws -> any Scenario {
    let file = manifest.sourcePath ?? manifest.name
    let centre = SIMD2((bounds.minX + bounds.maxX) / 2, (bounds.minY + bounds.maxY) / 2)
    switch manifest.scenario {
    case .factory:
        return FactoryScenario(floor: bounds, parameters: try FactoryParameters(manifest.parameters, file: file))
    case .footballLive:
        try ScenarioParameters(manifest.parameters, file: file, names: []).finish()
        return FootballLiveScenario(centre: centre)
    case .footballReplay:
        try ScenarioParameters(manifest.parameters, file: file, names: []).finish()
        guard let replay = manifest.replay else {
            throw ManifestError(file: file, path: "$.replay", problem: "the football replay needs {\"format\": ..., \"files\": [...]}")
        }
        let source = try replay.format.read(files: replay.files.map(manifest.resolve), columns: replay.columns, ball: replay.ball, file: file)
        if replay.rate != nil, let stated = source.statedRate {
            throw ManifestError(file: file, path: "$.replay.rate", problem: "\(stated.from) states the rate; $.replay.rate is for data of frame numbers without times")
        }
        return try FootballReplayScenario(files: source.files, stated: source.statedRate ?? replay.rate.map { ($0, "$.replay.rate") },
                                          tickRate: manifest.tickRate, resampling: replay.resampling, halfTime: replay.halfTime,
                                          centre: centre, bounds: bounds, objects: source.objects,
                                          rowsWithoutPosition: source.rowsWithoutPosition, file: file)
    case .marathon:
        let route = manifest.route.map { SIMD2(Float($0.x - origin.x), Float($0.y - origin.y)) }
        return MarathonScenario(course: Course(points: route), parameters: try MarathonParameters(manifest.parameters, file: file),
                                stations: manifest.stations.map { Float($0) })
    case .walkers:
        let p = try WalkersParameters(manifest.parameters, file: file)
        return WalkersScenario(count: p.walkers, minSpeed: p.minSpeed, maxSpeed: p.maxSpeed)
    }
}
