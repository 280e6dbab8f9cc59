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
