import CityTiles
import Foundation
import SceneCore

/// A scene ready to tick: its world, where it sits in the CRS, and what clients need to draw it.
public final class LoadedScene {
    public let manifest: SceneManifest
    public let world: World
    public let scenario: any Scenario
    /// CRS coordinates of the scene's (0, 0).
    public let origin: SIMD2<Double>
    public let epsg: Int
    public private(set) var footprints: [Footprint]
    public private(set) var tileNames: [String]

    init(manifest: SceneManifest, world: World, scenario: any Scenario, origin: SIMD2<Double>, epsg: Int,
         footprints: [Footprint], tileNames: [String]) {
        self.manifest = manifest; self.world = world; self.scenario = scenario; self.origin = origin
        self.epsg = epsg; self.footprints = footprints; self.tileNames = tileNames
    }

    public var name: String { manifest.name }

    /// Adds a catalog tile to the running scene: its buildings become obstacles and
    /// entities now inside one are moved out. Returns how many entities were moved.
    public func addTile(_ name: String, catalog: Catalog) throws -> Int {
        guard let info = try catalog.tile(named: name) else { throw CatalogError.unknownTile(name) }
        guard info.epsg == epsg else { throw CatalogError.mixedCRS(tile: name, epsg: info.epsg, expected: epsg) }
        if !tileNames.contains(name) { tileNames.append(name) }
        footprints = try SceneLoader.footprints(tiles: tileNames, catalog: catalog, origin: origin, bounds: world.bounds) + scenario.footprints
        return world.setObstacles(ObstacleIndex(footprints: footprints, bounds: world.bounds))
    }
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
        let world = World(bounds: bounds, capacity: scenario.capacity, seed: manifest.seed, dt: 1 / Float(manifest.tickRate),
                          behaviour: scenario.behaviour, obstacles: obstacles,
                          workers: workers)
        try scenario.populate(world, seed: manifest.seed)
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
