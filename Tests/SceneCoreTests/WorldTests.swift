import Testing
@testable import SceneCore

/// A behaviour that misbehaves on purpose.
struct BrokenBehaviour: Behaviour {
    func steer(range: Range<Int>, context: StepContext, output: SteerOutput, events: inout EventBuffer) {
        for i in range {
            let even = context.slot[i] % 2 == 0
            output.vx[i] = even ? .nan : 1e6
            output.vy[i] = even ? .infinity : 1e6
        }
    }
}

@Suite struct WorldTests {
    @Test func sameSeedSameHashForAnyWorkerCount() {
        var hashes: [UInt64] = []
        for workers in [1, 2, 3, 4, 1] {
            let world = TestScenes.crowd(count: 5000, seed: 42, workers: workers)
            for _ in 0..<40 { world.step() }
            hashes.append(world.stateHash())
        }
        #expect(Set(hashes).count == 1, "hashes differ: \(hashes)")
        let other = TestScenes.crowd(count: 5000, seed: 43, workers: 2)
        for _ in 0..<40 { other.step() }
        #expect(other.stateHash() != hashes[0])
    }

    @Test func denseCrowdNeverEndsATickInsideABuilding() {
        let world = TestScenes.crowd(count: 3000, seed: 7, workers: 2)
        let fps = TestScenes.blocks()
        var moved = Float(0)
        let start = (0..<world.store.slotCount).map { world.store.position(of: world.store.handle(slot: $0)!)! }
        for _ in 0..<1200 {
            world.step()
            for i in 0..<world.store.count {
                let x = world.store.x[i], y = world.store.y[i]
                if fps.contains(where: { $0.contains(x: x, y: y) }) {
                    Issue.record("entity \(i) inside a building at tick \(world.tick): (\(x), \(y))")
                    return
                }
            }
        }
        for s in 0..<world.store.slotCount { moved += abs(world.store.position(of: world.store.handle(slot: s)!)!.x - start[s].x) }
        #expect(moved / Float(world.store.slotCount) > 5, "the crowd should actually walk")
        #expect(world.counters.blocked > 0, "walls were met and resolved")
    }

    @Test func nonFiniteAndRunawayVelocitiesAreCountedNotFatal() {
        let world = World(bounds: TestScenes.bounds, capacity: 10, seed: 1, dt: 0.05, behaviour: BrokenBehaviour())
        for i in 0..<10 { try! world.store.spawn(kind: 0, x: Float(i * 10) + 5, y: 5) }
        world.step()
        #expect(world.counters.nonFinite == 5)
        #expect(world.counters.clamped == 5)
        for i in 0..<world.store.count {
            #expect(world.store.x[i].isFinite && world.store.y[i].isFinite)
            #expect(TestScenes.bounds.minX <= world.store.x[i] && world.store.x[i] <= TestScenes.bounds.maxX)
            #expect(world.store.y[i] <= TestScenes.bounds.maxY)
        }
        #expect(world.events.filter { $0.kind == .nonFiniteVelocity }.map(\.entity).sorted() == [0, 2, 4, 6, 8])
    }

    @Test func newObstaclesEvictEntitiesInsteadOfLosingThem() {
        let world = World(bounds: TestScenes.bounds, capacity: 10, seed: 1, dt: 0.05, behaviour: CrowdBehaviour())
        try! world.store.spawn(kind: 0, x: 30, y: 30)
        try! world.store.spawn(kind: 0, x: 5, y: 5)
        let moved = world.setObstacles(ObstacleIndex(footprints: TestScenes.blocks(), bounds: TestScenes.bounds))
        #expect(moved == 1)
        #expect(world.store.count == 2)
        let first = world.store.position(of: world.store.handle(slot: 0)!)!
        #expect(!world.obstacles.isBlocked(first.x, first.y))
        #expect(world.store.position(of: world.store.handle(slot: 1)!) == SIMD2(5, 5))
    }

    @Test func despawnDuringARunKeepsOtherHandles() throws {
        let world = TestScenes.crowd(count: 100, seed: 5, workers: 2)
        let keep = try #require(world.store.handle(slot: 50))
        for k in 0..<50 { try world.store.despawn(#require(world.store.handle(slot: k))) }
        for _ in 0..<10 { world.step() }
        #expect(world.store.isValid(keep))
        #expect(world.store.count == 50)
    }
}
