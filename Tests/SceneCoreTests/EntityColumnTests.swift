import Testing
@testable import SceneCore

/// A behaviour that writes each entity's own slot into a column and counts its ticks in
/// another: after any number of re-sorts, spawns and despawns, every row must still hold its
/// own entity's values.
struct ColumnStamping: Behaviour {
    let owner: EntityColumn<UInt32>
    let ticks: EntityColumn<Int32>
    func steer(range: Range<Int>, context c: StepContext, output o: SteerOutput, events: inout EventBuffer) {
        for i in range {
            #expect(o.columns[owner, i] == c.slot[i], "row \(i) holds another entity's value")
            o.columns[ticks, i] = o.columns[ticks, i] &+ 1
            o.vx[i] = 1; o.vy[i] = 0.5   // moving, so cells change and re-sorts reorder rows
        }
    }
}

@Suite struct EntityColumnTests {
    @Test func columnsFollowTheirEntityThroughResortsSpawnsAndDespawns() throws {
        let world = World(bounds: Rect(minX: 0, minY: 0, maxX: 200, maxY: 200), capacity: 600, seed: 3, dt: 0.05,
                          behaviour: StandStill(), workers: 2)
        let owner = world.store.addColumn("owner", initial: UInt32.max)
        let ticks = world.store.addColumn("ticks", initial: Int32(0))
        var rng = SeededGenerator(seed: 9)
        var live: [EntityHandle] = []
        func spawn() throws {
            let h = try world.spawn(kind: 1, x: Float.random(in: 0..<190, using: &rng), y: Float.random(in: 0..<190, using: &rng))
            try world.store.set(owner, of: h, to: h.index)
            live.append(h)
        }
        for _ in 0..<400 { try spawn() }
        world.behaviour = ColumnStamping(owner: owner, ticks: ticks)
        var bornAt: [EntityHandle: UInt64] = Dictionary(uniqueKeysWithValues: live.map { ($0, 0) })
        for round in 0..<30 {
            for _ in 0..<5 { world.step() }
            // Despawn a few (the last row moves into their place) and spawn new ones.
            for _ in 0..<7 {
                let k = Int.random(in: 0..<live.count, using: &rng)
                try world.despawn(live.remove(at: k))
            }
            for _ in 0..<7 { try spawn(); bornAt[live.last!] = UInt64(round + 1) * 5 }
        }
        for h in live {
            #expect(world.store.value(owner, of: h) == h.index)
            #expect(world.store.value(ticks, of: h).map(UInt64.init) == world.tick - bornAt[h]!, "ticks counted for \(h)")
        }
    }

    @Test func aColumnAddedLaterGivesLiveEntitiesItsInitialValue() throws {
        var store = EntityStore(capacity: 8)
        let a = store.addColumn("a", initial: Float(1.5))
        let h0 = try store.spawn(kind: 1, x: 0, y: 0)
        try store.set(a, of: h0, to: 7)
        let b = store.addColumn("b", initial: Int32(-4))
        let h1 = try store.spawn(kind: 1, x: 1, y: 1)
        #expect(store.value(a, of: h0) == 7 && store.value(b, of: h0) == -4)
        #expect(store.value(a, of: h1) == 1.5 && store.value(b, of: h1) == -4)
        try store.despawn(h0)
        #expect(store.value(a, of: h0) == nil)
        #expect(throws: EntityStoreError.staleHandle(h0)) { try store.set(a, of: h0, to: 1) }
        #expect(store.value(a, of: h1) == 1.5, "the moved row keeps its values")
    }

    @Test func keysFindEntitiesAndAreUniqueAmongTheLive() throws {
        let world = World(bounds: Rect(minX: 0, minY: 0, maxX: 10, maxY: 10), capacity: 4, seed: 1, dt: 0.1, behaviour: StandStill())
        let ball = try world.spawn(kind: 2, x: 1, y: 1, key: "ball")
        #expect(world.entity(key: "ball") == ball)
        #expect(world.key(ofSlot: Int(ball.index)) == "ball")
        #expect(throws: EntityStoreError.duplicateKey("ball")) { try world.spawn(kind: 2, x: 2, y: 2, key: "ball") }
        #expect(world.store.count == 1, "a refused spawn leaves nothing behind")
        try world.despawn(ball)
        #expect(world.entity(key: "ball") == nil)
        let again = try world.spawn(kind: 2, x: 3, y: 3, key: "ball")
        #expect(world.entity(key: "ball") == again && again != ball)
    }
}
