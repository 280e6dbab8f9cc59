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
    /// Serial work after each step (leaderboards, attributes); returns events for clients.
    func afterStep(_ world: World) -> [SceneEvent]
    /// Obstacles the scenario brings besides the tiles (machines on a factory floor).
    var footprints: [Footprint] { get }
    /// An operator's fault injection; false when the scenario has no such entity.
    func injectFault(slot: UInt32) -> Bool
}

extension Scenario {
    public func afterStep(_ world: World) -> [SceneEvent] { [] }
    public var footprints: [Footprint] { [] }
    public func injectFault(slot: UInt32) -> Bool { false }
}

/// The scenario named in a manifest; `origin` is the CRS point of scene (0, 0).
public func makeScenario(_ manifest: SceneManifest, origin: SIMD2<Double>, bounds: Rect) throws -> any Scenario {
    switch manifest.scenario {
    case "factory":
        return FactoryScenario(floor: bounds, parameters: manifest.parameters)
    case "football-live":
        return FootballLiveScenario(centre: SIMD2((bounds.minX + bounds.maxX) / 2, (bounds.minY + bounds.maxY) / 2))
    case "football-replay":
        let files = manifest.replayFiles.map(manifest.resolve)
        let samples: [TrackingSample], rate: Double
        switch manifest.replayFormat {
        case "hawkeye":
            samples = try TrackingCSV.read(path: files[0], rate: 50)
                + (files.count > 1 ? try TrackingCSV.read(path: files[1], rate: 50, fixedId: "ball") : [])
            rate = 50
        case "metrica":
            guard files.count >= 2 else { throw ManifestError(file: manifest.sourcePath ?? manifest.name, path: "$.replay.files", problem: "Metrica needs the home and the away file") }
            samples = try MetricaCSV.read(path: files[0], team: "home", includeBall: true) + MetricaCSV.read(path: files[1], team: "away", includeBall: false)
            rate = 25
        default:
            guard files.count >= 2 else { throw ManifestError(file: manifest.sourcePath ?? manifest.name, path: "$.replay.files", problem: "EPTS needs the tracking file and the XML metadata") }
            samples = try EPTSReader.read(tracking: files[0], metadata: files[1])
            rate = try EPTSReader.layout(metadata: files[1]).frameRate
        }
        let centre = SIMD2((bounds.minX + bounds.maxX) / 2, (bounds.minY + bounds.maxY) / 2)
        return FootballReplayScenario(samples: samples, sourceRate: rate, tickRate: manifest.tickRate, centre: centre)
    case "marathon":
        let route = manifest.route.map { SIMD2(Float($0.x - origin.x), Float($0.y - origin.y)) }
        return MarathonScenario(course: Course(points: route), parameters: manifest.parameters, stations: manifest.stations.map { Float($0) })
    default:
        return WalkersScenario(count: Int(manifest.parameters["walkers"] ?? 2000),
                               minSpeed: Float(manifest.parameters["minSpeed"] ?? 1.0),
                               maxSpeed: Float(manifest.parameters["maxSpeed"] ?? 1.8))
    }
}
