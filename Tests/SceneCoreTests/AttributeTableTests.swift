import Testing
@testable import SceneCore

@Suite struct AttributeTableTests {
    func runnerWorld() throws -> World {
        let world = World(bounds: TestScenes.bounds, capacity: 100, seed: 1, dt: 0.05, behaviour: CrowdBehaviour())
        world.attributes.declare(kind: 1, [AttributeSpec("bib", .int32), AttributeSpec("pace", .float32)])
        for i in 0..<10 { try world.spawn(kind: i < 8 ? 1 : 2, x: Float(i) * 5 + 5, y: 5) }
        return world
    }

    @Test func newEntitiesAreSentOnceThenOnlyChanges() throws {
        let world = try runnerWorld()
        let first = world.attributes.takeChanges()
        #expect(first.count == 16)   // 8 runners x 2 attributes; kind 2 has none
        #expect(world.attributes.takeChanges().isEmpty)
        world.attributes.set(slot: 3, attribute: 0, int: 1234)
        world.attributes.set(slot: 3, attribute: 1, float: 4.5)
        world.attributes.set(slot: 5, attribute: 1, float: 0)   // unchanged value: not marked
        let changes = world.attributes.takeChanges()
        #expect(changes == [AttributeChange(slot: 3, attribute: 0, bits: 1234), AttributeChange(slot: 3, attribute: 1, bits: Float(4.5).bitPattern)])
        #expect(world.attributes.int(slot: 3, attribute: 0) == 1234)
        #expect(world.attributes.float(slot: 3, attribute: 1) == 4.5)
        #expect(world.attributes.bits(slot: 9, attribute: 0) == nil)
    }

    @Test func valuesFollowTheirSlotThroughResortsAndDespawns() throws {
        let world = try runnerWorld()
        for s in 0..<8 { world.attributes.set(slot: UInt32(s), attribute: 0, int: Int32(100 + s)) }
        for _ in 0..<20 { world.step() }   // the hot arrays get re-sorted; attributes must not move
        try world.despawn(#require(world.store.handle(slot: 2)))
        for s in [0, 1, 3, 4, 5, 6, 7] { #expect(world.attributes.int(slot: UInt32(s), attribute: 0) == Int32(100 + s)) }
        #expect(world.attributes.int(slot: 2, attribute: 0) == nil)
        _ = world.attributes.takeChanges()
        let h = try world.spawn(kind: 1, x: 50, y: 5)   // reuses slot 2, fresh values
        #expect(h.index == 2)
        #expect(world.attributes.int(slot: 2, attribute: 0) == 0)
        #expect(world.attributes.takeChanges().map(\.slot) == [2, 2])
    }

    @Test func storageIsCompact() {
        var table = AttributeTable()
        table.declare(kind: 1, [AttributeSpec("a", .float32), AttributeSpec("b", .float32)])
        for s in 0..<10_000 { table.add(slot: UInt32(s), kind: 1) }
        // 2 values x 4 B plus 13 B of row bookkeeping = 21 B, and at most that again in
        // array growth slack: under 42 B per entity, far from a dictionary per entity.
        #expect(table.residentBytes / 10_000 < 42)
    }
}
