extension World {
    /// Takes an entity out of this world for another region (`adopt` there): the record of
    /// everything it is. Unlike `despawn`, the slot keeps its generation and is not reused.
    public func release(slot: UInt32) -> EntityRecord? {
        guard var r = store.release(slot: slot) else { return nil }
        r.attributes = attributes.all(slot: slot).map(\.bits)
        attributes.remove(slot: slot)
        r.key = dropKey(slot: slot)
        return r
    }

    /// Takes in an entity another region released (or a neighbour's ghost).
    public func adopt(_ r: EntityRecord) throws {
        if let key = r.key, entity(key: key) != nil { throw EntityStoreError.duplicateKey(key) }
        try store.adopt(r)
        attributes.insert(slot: r.slot, kind: r.kind, bits: r.attributes)
        if let key = r.key { setKey(key, slot: r.slot) }
    }

    /// A copy of an entity's record, leaving it here (a ghost for a neighbour).
    public func record(slot: UInt32) -> EntityRecord? {
        guard let d = store.dense(ofSlot: Int(slot)) else { return nil }
        let stride = store.columnStride
        return EntityRecord(slot: slot, generation: store.generation[Int(slot)], kind: store.kind[d],
                            x: store.x[d], y: store.y[d], vx: store.vx[d], vy: store.vy[d],
                            goalX: store.goalX[d], goalY: store.goalY[d], speed: store.speed[d],
                            columns: Array(store.columnValues[d * stride ..< (d + 1) * stride]),
                            attributes: attributes.all(slot: slot).map(\.bits), key: key(ofSlot: Int(slot)))
    }

    /// A hash of one entity's slot, generation and exact position and velocity bits; the
    /// wrapping sum of these over a world's entities (`regionHash`) adds up across regions.
    public func entityHash(dense d: Int) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        @inline(__always) func eat(_ v: UInt32) {
            var w = v
            for _ in 0..<4 { h = (h ^ UInt64(w & 0xff)) &* 0x100_0000_01b3; w >>= 8 }
        }
        let s = store.slot[d]
        eat(s); eat(store.generation[Int(s)])
        eat(store.x[d].bitPattern); eat(store.y[d].bitPattern)
        eat(store.vx[d].bitPattern); eat(store.vy[d].bitPattern)
        // Mix the end so that sums of hashes do not cancel in simple ways.
        h ^= h >> 33; h &*= 0xff51_afd7_ed55_8ccd; h ^= h >> 33
        return h
    }

    /// The wrapping sum of `entityHash` over the entities `include` admits (all by default):
    /// the shards of a scene add up to the hash of the same scene in one process.
    public func regionHash(_ include: (Int) -> Bool = { _ in true }) -> UInt64 {
        var sum: UInt64 = 0
        for d in 0..<store.count where include(d) { sum &+= entityHash(dense: d) }
        return sum
    }
}
