import Districts
import CityTiles
import SceneCore

/// The city the engine benchmarks and tests share: a generated district's footprints as
/// obstacles and a crowd spawned in its streets.
package enum CrowdCity {
    /// Footprints of a generated district in local metres, with its bounds.
    package static func district(buildings: Int, seed: UInt64 = 7) -> (bounds: Rect, footprints: [Footprint]) {
        let gen = DistrictGenerator(buildings: buildings, seed: seed)
        var fps: [Footprint] = []
        for k in 0..<buildings {
            let (ring, h) = gen.building(k)
            fps.append(Footprint(rings: [ring.map { SIMD2(Float($0.x), Float($0.y)) }], height: Float(h)))
        }
        let s = gen.size
        return (Rect(minX: 0, minY: 0, maxX: Float(s.x), maxY: Float(s.y)), fps)
    }

    /// A crowd world of `entities` walkers in a district sized for `density` walkers per m²
    /// of district (buildings included; about twice that on the streets).
    package static func world(entities: Int, workers: Int, seed: UInt64 = 42, density: Double = 0.3) -> World {
        // A generated parcel with its share of the streets covers (96+16) x (64+16) / 6 m².
        let buildings = max(12, Int(Double(entities) / density / (112.0 * 80.0 / 6.0)))
        let (bounds, fps) = district(buildings: buildings)
        let obstacles = ObstacleIndex(footprints: fps, bounds: bounds)
        let world = World(bounds: bounds, capacity: entities, seed: seed, dt: 0.05, behaviour: CrowdBehaviour(),
                          obstacles: obstacles, workers: workers)
        var rng = SeededGenerator(seed: seed)
        while world.store.count < entities {
            let x = Float.random(in: bounds.minX..<bounds.maxX, using: &rng), y = Float.random(in: bounds.minY..<bounds.maxY, using: &rng)
            if obstacles.isBlocked(x, y) { continue }
            _ = try? world.store.spawn(kind: 1, x: x, y: y, speed: Float.random(in: 1.0...1.8, using: &rng))
        }
        return world
    }
}
