import CityTiles
import Foundation
import SceneCore

/// What one tick produced, for the server to code and send.
public struct TickOutput {
    /// The tick the world is now at.
    public var tick: UInt64
    /// The scenario's events of the tick, at most `LoadedScene.maxEventsPerTick`.
    public var events: [SceneEvent]
    /// Events beyond the cap, dropped (the server counts and logs them).
    public var droppedEvents: Int
    /// Attribute values that changed in the tick, by slot then attribute.
    public var attributeChanges: [AttributeChange]
}

/// A scene ready to tick: its world, where it sits in the CRS, and what clients need to draw it.
///
/// One owner at a time (the scene's tick thread, once served): `tick()` is the whole tick,
/// which the server, the tests and the benchmarks all call.
public final class LoadedScene {
    public let manifest: SceneManifest
    public let world: World
    public let scenario: any Scenario
    /// CRS coordinates of the scene's (0, 0).
    public let origin: SIMD2<Double>
    public let epsg: Int
    public private(set) var footprints: [Footprint]
    public private(set) var tileNames: [String]
    /// Its participants and the log of what they changed (LoadedScene+Participants.swift).
    public var roster = ParticipantRoster()

    init(manifest: SceneManifest, world: World, scenario: any Scenario, origin: SIMD2<Double>, epsg: Int,
         footprints: [Footprint], tileNames: [String]) {
        self.manifest = manifest; self.world = world; self.scenario = scenario; self.origin = origin
        self.epsg = epsg; self.footprints = footprints; self.tileNames = tileNames
    }

    public var name: String { manifest.name }

    /// Most scenario events one tick sends; the rest are dropped and counted (docs/PROTOCOL.md).
    public static let maxEventsPerTick = 4096

    /// One tick: the world's step, the scenario's post-step, then the tick's attribute changes
    /// and events.
    public func tick() -> TickOutput {
        world.step()
        var events = scenario.afterStep(world)
        let dropped = max(0, events.count - Self.maxEventsPerTick)
        if dropped > 0 { events.removeLast(dropped) }
        return TickOutput(tick: world.tick, events: events, droppedEvents: dropped, attributeChanges: world.attributes.takeChanges())
    }

    /// What `prepareTile` needs of the scene, as values another thread may use.
    public var tilePlan: TilePlan {
        TilePlan(tileNames: tileNames, origin: origin, epsg: epsg, bounds: world.bounds, scenarioFootprints: scenario.footprints)
    }

    /// Adds a tile prepared by `TilePlan.prepare`: its buildings become obstacles and
    /// entities now inside one are moved out. Returns how many entities were moved.
    public func apply(_ tile: PreparedTile) -> Int {
        tileNames = tile.tileNames
        footprints = tile.footprints
        return world.setObstacles(tile.obstacles)
    }

    /// Adds a catalog tile at once (reads the catalog on the caller's thread).
    public func addTile(_ name: String, catalog: Catalog) throws -> Int {
        apply(try tilePlan.prepare(name, catalog: catalog))
    }
}

/// The scene's side of loading a tile, copied out so the catalog work can run off the tick
/// thread; the result is applied at a tick boundary.
public struct TilePlan: Sendable {
    public var tileNames: [String]
    public var origin: SIMD2<Double>
    public var epsg: Int
    public var bounds: Rect
    public var scenarioFootprints: [Footprint]

    /// Reads the tile's footprints from the catalog and builds the new obstacle index.
    public func prepare(_ name: String, catalog: Catalog) throws -> PreparedTile {
        guard let info = try catalog.tile(named: name) else { throw CatalogError.unknownTile(name) }
        guard info.epsg == epsg else { throw CatalogError.mixedCRS(tile: name, epsg: info.epsg, expected: epsg) }
        let names = tileNames.contains(name) ? tileNames : tileNames + [name]
        let footprints = try SceneLoader.footprints(tiles: names, catalog: catalog, origin: origin, bounds: bounds) + scenarioFootprints
        return PreparedTile(name: name, tileNames: names, footprints: footprints, obstacles: ObstacleIndex(footprints: footprints, bounds: bounds))
    }
}

/// A tile ready to become obstacles of a running scene.
public struct PreparedTile: Sendable {
    public var name: String
    public var tileNames: [String]
    public var footprints: [Footprint]
    public var obstacles: ObstacleIndex
}

/// Builds scenes from manifests: tiles through the catalog, obstacles into the engine,
/// the scenario's entities into the world.
public enum SceneLoader {
    /// Margin around the tiles when a manifest gives no bounds, metres.
    public static let margin: Double = 20

    public static func load(_ manifest: SceneManifest, catalog: Catalog, workers: Int = 2) throws -> LoadedScene {
        var names: [String] = []
        for path in manifest.resolvedTilePaths {
            let summary = try catalog.importTile(path: path)
            names.append(summary.tile)
        }
        names += manifest.catalogTiles
        var epsg = manifest.epsg
        var extent = Extent2D.empty
        for name in names {
            guard let info = try catalog.tile(named: name) else { throw CatalogError.unknownTile(name) }
            if let e = epsg, e != info.epsg { throw CatalogError.mixedCRS(tile: name, epsg: info.epsg, expected: e) }
            epsg = info.epsg
            extent.add(info.extent)
        }
        let b: [Double]
        if let given = manifest.bounds {
            b = given
        } else if !extent.isEmpty {
            b = [extent.minX - margin, extent.minY - margin, extent.maxX + margin, extent.maxY + margin]
        } else {
            throw ManifestError(file: manifest.sourcePath ?? manifest.name, path: "$.bounds", problem: "the tiles hold no objects; give explicit bounds")
        }
        let origin = SIMD2(b[0], b[1])
        let bounds = Rect(minX: 0, minY: 0, maxX: Float(b[2] - b[0]), maxY: Float(b[3] - b[1]))
        let scenario = try makeScenario(manifest, origin: origin, bounds: bounds)
        let footprints = try footprints(tiles: names, catalog: catalog, origin: origin, bounds: bounds) + scenario.footprints
        let obstacles = ObstacleIndex(footprints: footprints, bounds: bounds)
        // A route may not pass through a building.
        for k in manifest.route.indices {
            let a = manifest.route[k], b = manifest.route[(k + 1) % manifest.route.count]
            let la = SIMD2(Float(a.x - origin.x), Float(a.y - origin.y)), lb = SIMD2(Float(b.x - origin.x), Float(b.y - origin.y))
            if obstacles.isBlocked(la.x, la.y) || obstacles.segmentCrossesWall(from: la, to: lb) {
                throw ManifestError(file: manifest.sourcePath ?? manifest.name, path: "$.route[\(k)]",
                                    problem: "the leg from (\(a.x), \(a.y)) to (\(b.x), \(b.y)) passes through a building")
            }
        }
        // Room for the participants the manifest lets in, beside the scenario's own entities.
        let room = manifest.participants.joinable && scenario.participantHost != nil ? manifest.participants.maxParticipants : 0
        let world = World(bounds: bounds, capacity: scenario.capacity + room, seed: manifest.seed, dt: 1 / Float(manifest.tickRate),
                          behaviour: StandStill(), obstacles: obstacles, workers: workers)
        // A scene that can be split into regions reads neighbours in an order of their own.
        world.canonicalCellOrder = scenario.regionReach(dt: world.dt) != nil
        world.behaviour = try scenario.populate(world, seed: manifest.seed)
        // Tick 0's post-step: the state the first frame shows (a replay's first frame, the
        // factory's first telemetry). Its events and changes go to nobody: a subscriber's first
        // frame is a resync with an attribute snapshot.
        _ = scenario.afterStep(world)
        _ = world.attributes.takeChanges()
        return LoadedScene(manifest: manifest, world: world, scenario: scenario, origin: origin, epsg: epsg ?? 0,
                           footprints: footprints, tileNames: names)
    }

    /// Obstacle footprints of the tiles in scene coordinates, those touching the bounds.
    static func footprints(tiles: [String], catalog: Catalog, origin: SIMD2<Double>, bounds: Rect) throws -> [Footprint] {
        var out: [Footprint] = []
        for o in try catalog.obstacles(tiles: tiles) {
            for poly in o.polygons {
                let rings = poly.map { ring in ring.map { SIMD2(Float($0.x - origin.x), Float($0.y - origin.y)) } }
                let fp = Footprint(rings: rings, height: Float(o.height))
                if fp.boundingBox.intersects(bounds) { out.append(fp) }
            }
        }
        return out
    }
}
