import Foundation
import Testing
@testable import SceneCore

@Suite struct ObstacleIndexTests {
    let index = ObstacleIndex(footprints: TestScenes.blocks(), bounds: TestScenes.bounds)

    @Test func pointInFootprintHonoursHoles() {
        #expect(index.footprint(containing: 30, 30) == 0)
        #expect(index.isBlocked(85, 85))        // the middle building
        #expect(!index.isBlocked(100, 100))     // its courtyard
        #expect(!index.isBlocked(10, 10))       // a street
        #expect(!index.isBlocked(-50, 500))     // outside the bounds
    }

    @Test func pointInFootprintMatchesBruteForce() {
        var rng = SeededGenerator(seed: 3)
        let fps = TestScenes.blocks()
        for _ in 0..<5000 {
            let x = Float.random(in: -10...210, using: &rng), y = Float.random(in: -10...210, using: &rng)
            #expect(index.isBlocked(x, y) == fps.contains { $0.contains(x: x, y: y) })
        }
    }

    /// The fine "clear" bits answer most points without a polygon test: checked against brute
    /// force on rotated, odd-sized footprints (some past the bounds), at points spread over
    /// and beyond the bounds, points just beside edges and corners, and in a scene so large
    /// that its fine cells are coarser than 1 m.
    @Test(arguments: [Float(300), 9_000])
    func clearBitsNeverSayFreeInsideAFootprint(side: Float) {
        var rng = SeededGenerator(seed: UInt64(side))
        let bounds = Rect(minX: 0, minY: 0, maxX: side, maxY: side * 0.7)
        var fps: [Footprint] = []
        for _ in 0..<60 {
            let c = SIMD2(Float.random(in: -10...(bounds.maxX + 10), using: &rng), Float.random(in: -10...(bounds.maxY + 10), using: &rng))
            let (w, h, a) = (Float.random(in: 0.3...25, using: &rng), Float.random(in: 0.3...25, using: &rng), Float.random(in: 0..<3.14, using: &rng))
            let (u, v) = (SIMD2(cos(a), sin(a)), SIMD2(-sin(a), cos(a)))
            fps.append(Footprint(rings: [[c - u * w - v * h, c + u * w - v * h, c + u * w + v * h, c - u * w + v * h]], height: 5))
        }
        let index = ObstacleIndex(footprints: fps, bounds: bounds)
        var checked = 0
        for k in 0..<20_000 {
            var p = SIMD2(Float.random(in: -20...(bounds.maxX + 20), using: &rng), Float.random(in: -20...(bounds.maxY + 20), using: &rng))
            if k % 2 == 0, let fp = fps.randomElement(using: &rng), let q = fp.rings[0].randomElement(using: &rng) {
                p = q + SIMD2(Float.random(in: -0.6...0.6, using: &rng), Float.random(in: -0.6...0.6, using: &rng))   // near a corner
            }
            let truth = fps.contains { $0.contains(x: p.x, y: p.y) }
            #expect(index.isBlocked(p.x, p.y) == truth, "(\(p.x), \(p.y))")
            if truth { checked += 1 }
        }
        #expect(checked > 1000, "enough points inside footprints: \(checked)")
        #expect(!index.isBlocked(.nan, 5) && !index.isBlocked(5, .infinity))
    }

    @Test func segmentsCrossingWalls() {
        #expect(index.segmentCrossesWall(from: SIMD2(10, 30), to: SIMD2(30, 30)))
        #expect(!index.segmentCrossesWall(from: SIMD2(10, 10), to: SIMD2(190, 10)))
        #expect(index.segmentCrossesWall(from: SIMD2(100, 100), to: SIMD2(100, 130))) // out of the courtyard
    }

    @Test func nearestWallAndFreePoint() throws {
        let wall = try #require(index.nearestWall(x: 22, y: 30, maxDistance: 5))
        #expect(abs(wall.distance - 2) < 1e-4)
        #expect(abs(wall.point.x - 20) < 1e-4)
        let free = try #require(index.nearestFreePoint(x: 22, y: 30))
        #expect(!index.isBlocked(free.x, free.y))
        #expect(abs(free.x - 20) < 1.5)
        #expect(index.nearestWall(x: 10, y: 10, maxDistance: 1) == nil)
    }
}
