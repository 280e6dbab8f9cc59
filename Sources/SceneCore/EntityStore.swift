/// Hot entity state as a struct of arrays, one contiguous array per component, kept
/// dense (no holes) and in spatial order.
///
/// Two words, each with one meaning everywhere in the engine:
/// - a *dense index* `0..<count` says where an entity's values are in the arrays. The world
///   re-sorts the arrays by grid cell now and then, so neighbours sit near each other in
///   memory: an entity's dense index changes.
/// - a *slot* is an entity's stable id (its wire id too). Handles are slot + generation:
///   despawning bumps the slot's generation, so a handle kept from before is detected as stale.
/// `slot[d]` maps a dense index to its slot, `dense(ofSlot:)` the other way.
///
/// Besides motion (position, velocity, the crowd's goal, preferred speed, kind), a scenario
/// adds columns of its own (`addColumn`): one row of 32-bit values per entity, kept beside
/// the motion arrays and moved with them.
public struct EntityStore: Sendable {
    /// Most entities this store will ever hold.
    public let capacity: Int

    public internal(set) var x: ContiguousArray<Float> = []
    public internal(set) var y: ContiguousArray<Float> = []
    public internal(set) var vx: ContiguousArray<Float> = []
    public internal(set) var vy: ContiguousArray<Float> = []
    /// Where the entity wants to go (the crowd behaviour's goal); behaviours read and may
    /// rewrite it. NaN until a behaviour picks the first goal.
    public var goalX: ContiguousArray<Float> = []
    public var goalY: ContiguousArray<Float> = []
    /// Preferred speed in metres per second.
    public var speed: ContiguousArray<Float> = []
    /// Application-defined kind (runner, player, AGV ...).
    public internal(set) var kind: ContiguousArray<UInt8> = []
    /// The slot (stable id) of each dense entry.
    public internal(set) var slot: ContiguousArray<UInt32> = []

    /// Scenario columns, row by row: entity `d`'s values are
    /// `columnValues[d * columnStride ..< (d + 1) * columnStride]`.
    public private(set) var columnValues: ContiguousArray<UInt32> = []
    /// Values per row (columns added so far).
    public private(set) var columnStride = 0
    /// The value each column starts with for a new entity.
    private var columnDefaults: [UInt32] = []
    private var columnNames: [String] = []

    /// Per slot: dense index, or -1 when the slot is free.
    public private(set) var denseOfSlot: ContiguousArray<Int32> = []
    /// Per slot: generation, bumped on despawn.
    public private(set) var generation: ContiguousArray<UInt32> = []
    private var freeSlots: [UInt32] = []

    public init(capacity: Int) {
        precondition(capacity > 0 && capacity <= Int(Int32.max), "capacity must be in 1...Int32.max")
        self.capacity = capacity
        // Reserve up front (capped, so a generous capacity costs nothing until used): growing
        // by doubling would leave freed buffers behind in the process's resident memory.
        let n = min(capacity, 1 << 22)
        x.reserveCapacity(n); y.reserveCapacity(n); vx.reserveCapacity(n); vy.reserveCapacity(n)
        goalX.reserveCapacity(n); goalY.reserveCapacity(n); speed.reserveCapacity(n)
        kind.reserveCapacity(n); slot.reserveCapacity(n); denseOfSlot.reserveCapacity(n); generation.reserveCapacity(n)
    }

    /// Number of live entities (the length of the dense arrays).
    public var count: Int { x.count }
    /// Slots ever used (live or free); slot ids are below this.
    public var slotCount: Int { denseOfSlot.count }

    /// Adds an entity, reusing a freed slot when there is one.
    @discardableResult
    public mutating func spawn(kind k: UInt8, x px: Float, y py: Float, speed s: Float = 1.4) throws -> EntityHandle {
        guard px.isFinite, py.isFinite else { throw EntityStoreError.nonFinitePosition(x: px, y: py) }
        guard count < capacity else { throw EntityStoreError.capacityExceeded(capacity: capacity) }
        let s32: UInt32
        if let reused = freeSlots.popLast() {
            s32 = reused
        } else {
            s32 = UInt32(denseOfSlot.count)
            denseOfSlot.append(-1)
            generation.append(0)
        }
        denseOfSlot[Int(s32)] = Int32(count)
        x.append(px); y.append(py); vx.append(0); vy.append(0)
        goalX.append(.nan); goalY.append(.nan); speed.append(s)
        kind.append(k); slot.append(s32)
        columnValues.append(contentsOf: columnDefaults)
        return EntityHandle(index: s32, generation: generation[Int(s32)])
    }

    /// Removes an entity (the last dense entry moves into its place); its handle and
    /// every copy of it become stale.
    public mutating func despawn(_ handle: EntityHandle) throws {
        guard let d = dense(of: handle) else { throw EntityStoreError.staleHandle(handle) }
        removeRow(d)
        denseOfSlot[Int(handle.index)] = -1
        generation[Int(handle.index)] &+= 1
        freeSlots.append(handle.index)
    }

    /// Takes an entity out to hand it to another region: its values move with it, its slot
    /// keeps its generation and is not reused here (it may come back with `adopt`).
    public mutating func release(slot s: UInt32) -> EntityRecord? {
        guard let d = dense(ofSlot: Int(s)) else { return nil }
        let record = EntityRecord(slot: s, generation: generation[Int(s)], kind: kind[d], x: x[d], y: y[d], vx: vx[d], vy: vy[d],
                                  goalX: goalX[d], goalY: goalY[d], speed: speed[d],
                                  columns: Array(columnValues[d * columnStride ..< (d + 1) * columnStride]))
        removeRow(d)
        denseOfSlot[Int(s)] = -1
        return record
    }

    /// Removes dense row `d`: the last row moves into its place.
    private mutating func removeRow(_ d: Int) {
        let last = count - 1
        if d != last {
            x[d] = x[last]; y[d] = y[last]; vx[d] = vx[last]; vy[d] = vy[last]
            goalX[d] = goalX[last]; goalY[d] = goalY[last]; speed[d] = speed[last]
            kind[d] = kind[last]; slot[d] = slot[last]
            denseOfSlot[Int(slot[d])] = Int32(d)
            for c in 0..<columnStride { columnValues[d * columnStride + c] = columnValues[last * columnStride + c] }
        }
        columnValues.removeLast(columnStride)
        x.removeLast(); y.removeLast(); vx.removeLast(); vy.removeLast()
        goalX.removeLast(); goalY.removeLast(); speed.removeLast(); kind.removeLast(); slot.removeLast()
    }

    /// Takes in an entity another region released, in its own slot with its own generation
    /// and values. The slot must be free and must not be one this store may hand out again.
    public mutating func adopt(_ r: EntityRecord) throws {
        guard r.x.isFinite, r.y.isFinite else { throw EntityStoreError.nonFinitePosition(x: r.x, y: r.y) }
        guard count < capacity else { throw EntityStoreError.capacityExceeded(capacity: capacity) }
        guard r.columns.count == columnStride else { throw EntityStoreError.columnsMismatch(expected: columnStride, got: r.columns.count) }
        let s = Int(r.slot)
        if s >= denseOfSlot.count {
            denseOfSlot.append(contentsOf: repeatElement(-1, count: s + 1 - denseOfSlot.count))
            generation.append(contentsOf: repeatElement(0, count: s + 1 - generation.count))
        }
        guard denseOfSlot[s] < 0, !freeSlots.contains(r.slot) else { throw EntityStoreError.slotTaken(r.slot) }
        denseOfSlot[s] = Int32(count)
        generation[s] = r.generation
        x.append(r.x); y.append(r.y); vx.append(r.vx); vy.append(r.vy)
        goalX.append(r.goalX); goalY.append(r.goalY); speed.append(r.speed)
        kind.append(r.kind); slot.append(r.slot)
        columnValues.append(contentsOf: r.columns)
    }

    /// True when the handle names a live entity.
    public func isValid(_ handle: EntityHandle) -> Bool { dense(of: handle) != nil }

    /// The dense index of a live handle.
    public func dense(of handle: EntityHandle) -> Int? {
        let s = Int(handle.index)
        guard s < denseOfSlot.count, denseOfSlot[s] >= 0, generation[s] == handle.generation else { return nil }
        return Int(denseOfSlot[s])
    }

    /// The dense index of the live entity in `slot`, if any.
    public func dense(ofSlot s: Int) -> Int? {
        guard s >= 0, s < denseOfSlot.count, denseOfSlot[s] >= 0 else { return nil }
        return Int(denseOfSlot[s])
    }

    /// The handle of the live entity in `slot`, if any.
    public func handle(slot s: Int) -> EntityHandle? {
        guard dense(ofSlot: s) != nil else { return nil }
        return EntityHandle(index: UInt32(s), generation: generation[s])
    }

    /// Where an entity is.
    public func position(of handle: EntityHandle) -> SIMD2<Float>? {
        dense(of: handle).map { SIMD2(x[$0], y[$0]) }
    }

    /// Moves an entity directly (scenario set-up, replay, moving out of a new building).
    public mutating func place(_ handle: EntityHandle, x px: Float, y py: Float) throws {
        guard let d = dense(of: handle) else { throw EntityStoreError.staleHandle(handle) }
        guard px.isFinite, py.isFinite else { throw EntityStoreError.nonFinitePosition(x: px, y: py) }
        x[d] = px
        y[d] = py
    }

    /// Adds a scenario column; every entity, live or spawned later, starts with `initial`.
    public mutating func addColumn<V: ColumnValue>(_ name: String, initial: V) -> EntityColumn<V> {
        let column = EntityColumn<V>(index: columnStride, name: name)
        let n = count, old = columnStride
        var widened = ContiguousArray<UInt32>()
        widened.reserveCapacity(min(capacity, 1 << 22) * (old + 1))
        for d in 0..<n {
            widened.append(contentsOf: columnValues[d * old ..< (d + 1) * old])
            widened.append(initial.columnBits)
        }
        columnValues = widened
        columnStride += 1
        columnDefaults.append(initial.columnBits)
        columnNames.append(name)
        return column
    }

    /// The value of a scenario column for dense index `d`.
    public subscript<V: ColumnValue>(column: EntityColumn<V>, dense d: Int) -> V {
        get { V(columnBits: columnValues[d * columnStride + column.index]) }
        set { columnValues[d * columnStride + column.index] = newValue.columnBits }
    }

    /// The value of a scenario column for a live handle.
    public func value<V: ColumnValue>(_ column: EntityColumn<V>, of handle: EntityHandle) -> V? {
        dense(of: handle).map { self[column, dense: $0] }
    }

    /// Sets a scenario column for a live handle.
    public mutating func set<V: ColumnValue>(_ column: EntityColumn<V>, of handle: EntityHandle, to value: V) throws {
        guard let d = dense(of: handle) else { throw EntityStoreError.staleHandle(handle) }
        self[column, dense: d] = value
    }

    mutating func takeColumnValues() -> ContiguousArray<UInt32> {
        var out: ContiguousArray<UInt32> = []
        swap(&out, &columnValues)
        return out
    }

    mutating func restoreColumnValues(_ values: ContiguousArray<UInt32>) { columnValues = values }

    /// Reorders the dense arrays in parallel: new entry `k` is old entry `order[k]`. `scratch` arrays are
    /// reused between calls to avoid allocating every tick.
    mutating func permute(by order: UnsafeBufferPointer<Int32>, workers: Int, floatScratch: inout ContiguousArray<Float>,
                          byteScratch: inout ContiguousArray<UInt8>, slotScratch: inout ContiguousArray<UInt32>) {
        let n = count
        precondition(order.count == n)
        if floatScratch.count != n { floatScratch = ContiguousArray(repeating: 0, count: n) }
        if byteScratch.count != n { byteScratch = ContiguousArray(repeating: 0, count: n) }
        if slotScratch.count != n { slotScratch = ContiguousArray(repeating: 0, count: n) }
        let order = SharedReads(order)
        func gather<T>(_ a: inout ContiguousArray<T>, _ scratch: inout ContiguousArray<T>) {
            a.withUnsafeBufferPointer { src in
                scratch.withUnsafeMutableBufferPointer { dst in
                    let src = SharedReads(src), dst = DisjointWrites(dst)
                    parallelFor(count: n, workers: workers, blockSize: max(1 << 16, n / (4 * max(workers, 1)))) { range, _ in
                        for k in range { dst[k] = src[Int(order[k])] }
                    }
                }
            }
            swap(&a, &scratch)
        }
        gather(&x, &floatScratch); gather(&y, &floatScratch); gather(&vx, &floatScratch); gather(&vy, &floatScratch)
        gather(&goalX, &floatScratch); gather(&goalY, &floatScratch); gather(&speed, &floatScratch)
        gather(&kind, &byteScratch)
        gather(&slot, &slotScratch)
        if columnStride > 0 {
            // Rows move whole: new row k is old row order[k].
            let stride = columnStride
            var moved = ContiguousArray<UInt32>(repeating: 0, count: n * stride)
            columnValues.withUnsafeBufferPointer { src in
                moved.withUnsafeMutableBufferPointer { dst in
                    let src = SharedReads(src), dst = DisjointWrites(dst)
                    parallelFor(count: n, workers: workers, blockSize: max(1 << 14, n / (4 * max(workers, 1)))) { range, _ in
                        for k in range {
                            let from = Int(order[k]) * stride, to = k * stride
                            for c in 0..<stride { dst[to + c] = src[from + c] }
                        }
                    }
                }
            }
            columnValues = moved
        }
        // Slots are unique, so these scattered writes are disjoint and can run in parallel.
        slot.withUnsafeBufferPointer { slots in
            denseOfSlot.withUnsafeMutableBufferPointer { map in
                let slots = SharedReads(slots), map = DisjointWrites(map)
                parallelFor(count: n, workers: workers, blockSize: max(1 << 16, n / (4 * max(workers, 1)))) { range, _ in
                    for k in range { map[Int(slots[k])] = Int32(k) }
                }
            }
        }
    }

    mutating func swapPositions(_ nx: inout ContiguousArray<Float>, _ ny: inout ContiguousArray<Float>) {
        swap(&x, &nx); swap(&y, &ny)
    }

    mutating func swapVelocities(_ nvx: inout ContiguousArray<Float>, _ nvy: inout ContiguousArray<Float>) {
        swap(&vx, &nvx); swap(&vy, &nvy)
    }

    /// Approximate bytes held by the store's arrays (for the memory benchmark).
    public var residentBytes: Int {
        x.capacity * 4 * 7 + columnValues.capacity * 4 + kind.capacity + slot.capacity * 4 + denseOfSlot.capacity * 4 + generation.capacity * 4 + freeSlots.capacity * 4
    }
}
