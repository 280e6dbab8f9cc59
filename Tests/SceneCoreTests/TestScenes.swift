@testable import SceneCore

/// A small city for engine tests: a 3x3 block grid of square buildings with streets between.
enum TestScenes {
    static let bounds = Rect(minX: 0, minY: 0, maxX: 200, maxY: 200)

    static func blocks() -> [Footprint] {
        var out: [Footprint] = []
        for bx in 0..<3 {
            for by in 0..<3 {
                let x0 = Float(20 + bx * 60), y0 = Float(20 + by * 60)
                var rings: [[SIMD2<Float>]] = [[SIMD2(x0, y0), SIMD2(x0 + 40, y0), SIMD2(x0 + 40, y0 + 40), SIMD2(x0, y0 + 40)]]
                if bx == 1 && by == 1 {
                    // a courtyard: a hole in the middle building
                    rings.append([SIMD2(x0 + 15, y0 + 15), SIMD2(x0 + 25, y0 + 15), SIMD2(x0 + 25, y0 + 25), SIMD2(x0 + 15, y0 + 25)])
                }
                out.append(Footprint(rings: rings, height: 10))
            }
        }
        return out
    }

    /// A crowd world spawned outside every building.
    static func crowd(count: Int, seed: UInt64, workers: Int) -> World {
        let obstacles = ObstacleIndex(footprints: blocks(), bounds: bounds)
        let world = World(bounds: bounds, capacity: count, seed: seed, dt: 0.05,
                          behaviour: CrowdBehaviour(), obstacles: obstacles, workers: workers)
        var rng = SeededGenerator(seed: seed)
        while world.store.count < count {
            let x = Float.random(in: 0..<200, using: &rng), y = Float.random(in: 0..<200, using: &rng)
            if obstacles.isBlocked(x, y) { continue }
            _ = try? world.store.spawn(kind: 1, x: x, y: y, speed: Float.random(in: 1...2, using: &rng))
        }
        return world
    }
}
