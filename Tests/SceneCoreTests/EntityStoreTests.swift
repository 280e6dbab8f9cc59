import Testing
@testable import SceneCore

@Suite struct EntityStoreTests {
    @Test func handlesSurviveOtherDespawnsAndStaleHandlesAreDetected() throws {
        var store = EntityStore(capacity: 4)
        let a = try store.spawn(kind: 1, x: 1, y: 1)
        let b = try store.spawn(kind: 1, x: 2, y: 2)
        try store.despawn(a)
        #expect(!store.isValid(a))
        #expect(store.isValid(b))
        let c = try store.spawn(kind: 2, x: 3, y: 3)
        #expect(c.index == a.index)          // the slot is reused
        #expect(c.generation != a.generation) // but the old handle stays stale
        #expect(throws: EntityStoreError.staleHandle(a)) { try store.despawn(a) }
        #expect(throws: EntityStoreError.staleHandle(a)) { try store.place(a, x: 0, y: 0) }
        #expect(store.position(of: b) == SIMD2(2, 2))
        #expect(store.count == 2)
    }

    @Test func spawningBeyondCapacityIsRefused() throws {
        var store = EntityStore(capacity: 2)
        try store.spawn(kind: 0, x: 0, y: 0)
        try store.spawn(kind: 0, x: 0, y: 0)
        #expect(throws: EntityStoreError.capacityExceeded(capacity: 2)) { try store.spawn(kind: 0, x: 0, y: 0) }
        #expect(store.count == 2)
    }

    @Test func nonFinitePositionsAreRefused() {
        var store = EntityStore(capacity: 2)
        #expect(throws: EntityStoreError.self) { try store.spawn(kind: 0, x: .nan, y: 0) }
        #expect(throws: EntityStoreError.self) { try store.spawn(kind: 0, x: 0, y: .infinity) }
        #expect(store.count == 0)
    }
}
