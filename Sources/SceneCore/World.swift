import Dispatch

/// Counts of things the step corrected instead of crashing on.
public struct StepCounters: Hashable, Sendable {
    /// Velocities that were NaN or infinite and were zeroed.
    public var nonFinite: Int = 0
    /// Moves that would have left the world bounds and were clamped.
    public var clamped: Int = 0
    /// Moves that would have ended inside an obstacle and were slid or cancelled.
    public var blocked: Int = 0
    public init() {}
}

/// How long the stages of one step took, in nanoseconds.
public struct StageNanos: Hashable, Sendable {
    public var reindex: UInt64 = 0
    /// Behaviour and integrate run in one parallel pass over each block.
    public var behaviourAndIntegrate: UInt64 = 0
    public var collectEvents: UInt64 = 0
    public init() {}
    public init(reindex: UInt64, behaviourAndIntegrate: UInt64, collectEvents: UInt64) {
        self.reindex = reindex; self.behaviourAndIntegrate = behaviourAndIntegrate; self.collectEvents = collectEvents
    }
}

/// A scene's simulation: the entity store, its indexes, and the step that advances it.
///
/// Not thread-safe: one owner calls `step()`; the step itself fans out to `workers` threads.
public final class World {
    public var store: EntityStore
    /// Per-kind attributes, by slot; see `spawn` and `despawn`.
    public var attributes = AttributeTable()
    public private(set) var grid: UniformGrid
    public private(set) var obstacles: ObstacleIndex
    public let bounds: Rect
    public var behaviour: any Behaviour
    /// Threads used by parallel stages (1 runs everything on the caller's thread).
    public var workers: Int
    public let seed: UInt64
    /// Seconds per tick.
    public var dt: Float
    public private(set) var tick: UInt64 = 0
    public private(set) var counters = StepCounters()
    /// Events of the last step, in entity order.
    public private(set) var events: [SceneEvent] = []
    /// Nanoseconds the stages took in the last step (no allocation on the hot path).
    public private(set) var stageNanos = StageNanos()

    private var nextX: ContiguousArray<Float> = []
    private var nextY: ContiguousArray<Float> = []
    private var nextVX: ContiguousArray<Float> = []
    private var nextVY: ContiguousArray<Float> = []

    public init(bounds: Rect, capacity: Int, seed: UInt64, dt: Float, behaviour: any Behaviour,
                obstacles: ObstacleIndex? = nil, workers: Int = 1, cellSize: Float = 2) {
        self.bounds = bounds
        self.store = EntityStore(capacity: capacity)
        self.grid = UniformGrid(bounds: bounds, cellSize: cellSize)
        self.obstacles = obstacles ?? .empty(bounds: bounds)
        self.behaviour = behaviour
        self.workers = max(1, workers)
        self.seed = seed
        self.dt = dt
    }

    /// Entities' stable keys (a tracked object's id, a machine's name), by slot.
    private var keyOfSlot: [String?] = []
    private var handleOfKey: [String: EntityHandle] = [:]

    /// Spawns an entity and gives it the attributes declared for its kind. A `key`, when
    /// given, finds the entity again (`entity(key:)`) and must be unique among live entities.
    @discardableResult
    public func spawn(kind: UInt8, x: Float, y: Float, speed: Float = 1.4, key: String? = nil) throws -> EntityHandle {
        if let key, handleOfKey[key] != nil { throw EntityStoreError.duplicateKey(key) }
        let h = try store.spawn(kind: kind, x: x, y: y, speed: speed)
        attributes.add(slot: h.index, kind: kind)
        if let key { setKey(key, slot: h.index) }
        return h
    }

    /// Despawns an entity and drops its attributes and key.
    public func despawn(_ handle: EntityHandle) throws {
        try store.despawn(handle)
        attributes.remove(slot: handle.index)
        _ = dropKey(slot: handle.index)
    }

    /// Forgets a slot's key; returns it.
    func dropKey(slot: UInt32) -> String? {
        let s = Int(slot)
        guard s < keyOfSlot.count, let key = keyOfSlot[s] else { return nil }
        handleOfKey[key] = nil
        keyOfSlot[s] = nil
        return key
    }

    /// Gives the live entity in `slot` a key.
    func setKey(_ key: String, slot: UInt32) {
        let s = Int(slot)
        guard let h = store.handle(slot: s) else { return }
        if keyOfSlot.count <= s { keyOfSlot.append(contentsOf: repeatElement(nil, count: s + 1 - keyOfSlot.count)) }
        keyOfSlot[s] = key
        handleOfKey[key] = h
    }

    /// Puts an entity at a position between steps (a replay showing its source's frame); its
    /// velocity becomes that displacement over one tick.
    public func place(_ handle: EntityHandle, x: Float, y: Float) throws {
        guard let d = store.dense(of: handle) else { throw EntityStoreError.staleHandle(handle) }
        guard x.isFinite, y.isFinite else { throw EntityStoreError.nonFinitePosition(x: x, y: y) }
        store.vx[d] = (x - store.x[d]) / dt
        store.vy[d] = (y - store.y[d]) / dt
        store.x[d] = x
        store.y[d] = y
    }

    /// The live entity with this key.
    public func entity(key: String) -> EntityHandle? { handleOfKey[key] }

    /// The key of the live entity in `slot`, if it has one.
    public func key(ofSlot s: Int) -> String? {
        s >= 0 && s < keyOfSlot.count && store.dense(ofSlot: s) != nil ? keyOfSlot[s] : nil
    }

    /// Replaces the static obstacles (new tiles) and moves every entity now standing
    /// inside one to the nearest free point. Returns how many were moved.
    @discardableResult
    public func setObstacles(_ index: ObstacleIndex) -> Int {
        obstacles = index
        var moved = 0
        for i in 0..<store.count where index.isBlocked(store.x[i], store.y[i]) {
            if let p = index.nearestFreePoint(x: store.x[i], y: store.y[i]) {
                store.x[i] = p.x; store.y[i] = p.y
                store.goalX[i] = p.x; store.goalY[i] = p.y
                moved += 1
            }
        }
        return moved
    }

    /// Ticks between re-sorts of the entity arrays into grid-cell order.
    public var resortInterval = 8
    /// Each grid cell lists its entities by slot (`UniformGrid.orderCells`), so a behaviour
    /// that reads the first few neighbours it meets reads the same ones whatever order the
    /// store holds them in: what region shards need (their stores hold owned entities and
    /// ghosts in other orders than one process's).
    public var canonicalCellOrder = false
    private var floatScratch: ContiguousArray<Float> = []
    private var byteScratch: ContiguousArray<UInt8> = []
    private var slotScratch: ContiguousArray<UInt32> = []

    /// Advances the world by one tick through its fixed stages: reindex, then behaviour and
    /// integrate (one parallel pass), then collect events.
    public func step() {
        let t0 = DispatchTime.now().uptimeNanoseconds
        // reindex: sort entities into grid cells, then reorder the store in cell order so
        // that the grid's entry k is dense index k and neighbours are close in memory.
        store.x.withUnsafeBufferPointer { x in
            store.y.withUnsafeBufferPointer { y in self.grid.rebuild(x: x, y: y, workers: self.workers) }
        }
        if canonicalCellOrder {
            store.slot.withUnsafeBufferPointer { slots in self.grid.orderCells(by: slots, workers: self.workers) }
        }
        // Re-sorting costs as much as it saves when done every tick; entities move a few
        // centimetres a tick, so every `resortInterval` ticks keeps memory order close to
        // cell order. In between, neighbours are read through the grid's own copies.
        if tick % UInt64(max(1, resortInterval)) == 0 {
            grid.entries.withUnsafeBufferPointer { order in
                store.permute(by: order, workers: self.workers, floatScratch: &floatScratch, byteScratch: &byteScratch, slotScratch: &slotScratch)
            }
            grid.markIdentity(workers: workers)
        }
        let t1 = DispatchTime.now().uptimeNanoseconds

        let n = store.count
        if nextX.count != n {
            nextX = ContiguousArray(repeating: 0, count: n)
            nextY = nextX; nextVX = nextX; nextVY = nextX
        }
        let blockSize = standardBlockSize(count: n)
        let blocks = n == 0 ? 0 : (n + blockSize - 1) / blockSize
        var buffers = [EventBuffer](repeating: EventBuffer(), count: blocks)
        var blockCounters = [StepCounters](repeating: StepCounters(), count: blocks)
        let (tick, dt, seed, bounds, grid, obstacles, behaviour, workers) =
            (self.tick, self.dt, self.seed, self.bounds, self.grid, self.obstacles, self.behaviour, self.workers)

        // Goals are written in place; move them out of `store` so the reads of its other
        // arrays and these writes are not overlapping accesses to one struct.
        var goalX = store.goalX, goalY = store.goalY
        store.goalX = []; store.goalY = []
        var columnValues = store.takeColumnValues()
        let columnStride = store.columnStride
        defer { store.goalX = goalX; store.goalY = goalY; store.restoreColumnValues(columnValues) }
        store.x.withUnsafeBufferPointer { x in
        store.y.withUnsafeBufferPointer { y in
        store.vx.withUnsafeBufferPointer { vx in
        store.vy.withUnsafeBufferPointer { vy in
        store.speed.withUnsafeBufferPointer { speed in
        store.kind.withUnsafeBufferPointer { kind in
        store.slot.withUnsafeBufferPointer { slot in
        grid.cellStart.withUnsafeBufferPointer { cellStart in
        grid.entries.withUnsafeBufferPointer { gridEntries in
        grid.px.withUnsafeBufferPointer { gridX in
        grid.py.withUnsafeBufferPointer { gridY in
        goalX.withUnsafeMutableBufferPointer { gx in
        goalY.withUnsafeMutableBufferPointer { gy in
        nextX.withUnsafeMutableBufferPointer { nx in
        nextY.withUnsafeMutableBufferPointer { ny in
        nextVX.withUnsafeMutableBufferPointer { nvx in
        nextVY.withUnsafeMutableBufferPointer { nvy in
        buffers.withUnsafeMutableBufferPointer { eventBlocks in
        blockCounters.withUnsafeMutableBufferPointer { counterBlocks in
        columnValues.withUnsafeMutableBufferPointer { columns in
            let context = StepContext(
                tick: tick, dt: dt, seed: seed, bounds: bounds,
                x: SharedReads(x), y: SharedReads(y), vx: SharedReads(vx), vy: SharedReads(vy),
                speed: SharedReads(speed), kind: SharedReads(kind), slot: SharedReads(slot),
                cellStart: SharedReads(cellStart), gridEntries: SharedReads(gridEntries), gridX: SharedReads(gridX),
                gridY: SharedReads(gridY), grid: grid, obstacles: obstacles)
            let output = SteerOutput(vx: DisjointWrites(nvx), vy: DisjointWrites(nvy),
                                     goalX: DisjointWrites(gx), goalY: DisjointWrites(gy),
                                     columns: ColumnRows(values: DisjointWrites(columns), stride: columnStride))
            let outX = DisjointWrites(nx), outY = DisjointWrites(ny)
            let eventsOut = DisjointWrites(eventBlocks), countersOut = DisjointWrites(counterBlocks)
            // behaviour + integrate run in the same pass over a block: the integrate of
            // block b reads only block b's new velocities and the old positions.
            parallelFor(count: n, workers: workers, blockSize: blockSize) { range, block in
                var events = EventBuffer()
                behaviour.steer(range: range, context: context, output: output, events: &events)
                var counts = StepCounters()
                Self.integrate(range: range, context: context, vx: output.vx, vy: output.vy,
                               outX: outX, outY: outY, counters: &counts, events: &events)
                eventsOut[block] = events
                countersOut[block] = counts
            }
        }}}}}}}}}}}}}}}}}}}}
        store.swapPositions(&nextX, &nextY)
        store.swapVelocities(&nextVX, &nextVY)
        let t2 = DispatchTime.now().uptimeNanoseconds
        // collectEvents
        // Keep a modest buffer between ticks, not the largest burst ever seen.
        events.removeAll(keepingCapacity: events.capacity <= 1 << 16)
        for b in 0..<blocks {
            events.append(contentsOf: buffers[b].events)
            counters.nonFinite += blockCounters[b].nonFinite
            counters.clamped += blockCounters[b].clamped
            counters.blocked += blockCounters[b].blocked
        }
        self.tick += 1
        let t3 = DispatchTime.now().uptimeNanoseconds
        stageNanos = StageNanos(reindex: t1 - t0, behaviourAndIntegrate: t2 - t1, collectEvents: t3 - t2)
    }

    /// Integrate one block: new position from old position and desired velocity, then
    /// enforce finiteness, bounds and obstacles. The old position is free of obstacles,
    /// so falling back to it (or sliding along one axis) keeps everyone outside buildings.
    @inline(__always)
    static func integrate(range: Range<Int>, context c: StepContext, vx: DisjointWrites<Float>, vy: DisjointWrites<Float>,
                          outX: DisjointWrites<Float>, outY: DisjointWrites<Float>,
                          counters: inout StepCounters, events: inout EventBuffer) {
        let b = c.bounds
        for i in range {
            var ux = vx[i], uy = vy[i]
            if !ux.isFinite || !uy.isFinite {
                ux = 0; uy = 0
                counters.nonFinite += 1
                events.append(SceneEvent(tick: c.tick, entity: c.slot[i], kind: .nonFiniteVelocity))
            }
            let ox = c.x[i], oy = c.y[i]
            var px = ox + ux * c.dt, py = oy + uy * c.dt
            if px < b.minX || px > b.maxX || py < b.minY || py > b.maxY {
                px = min(max(px, b.minX), b.maxX)
                py = min(max(py, b.minY), b.maxY)
                counters.clamped += 1
                events.append(SceneEvent(tick: c.tick, entity: c.slot[i], kind: .clampedToBounds))
            }
            if c.obstacles.isBlocked(px, py) {
                counters.blocked += 1
                if !c.obstacles.isBlocked(px, oy) { py = oy; uy = 0 }
                else if !c.obstacles.isBlocked(ox, py) { px = ox; ux = 0 }
                else { px = ox; py = oy; ux = 0; uy = 0 }
            }
            outX[i] = px; outY[i] = py
            vx[i] = ux; vy[i] = uy
        }
    }

    /// A 64-bit FNV-1a hash of every live entity's slot, generation and exact position bits.
    public func stateHash() -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        @inline(__always) func eat(_ v: UInt32) {
            var w = v
            for _ in 0..<4 { h = (h ^ UInt64(w & 0xff)) &* 0x100_0000_01b3; w >>= 8 }
        }
        // In slot order, so the hash does not depend on the (spatial) dense order.
        for s in 0..<store.slotCount {
            guard let d = store.dense(ofSlot: s) else { continue }
            eat(UInt32(s)); eat(store.generation[s])
            eat(store.x[d].bitPattern); eat(store.y[d].bitPattern)
            eat(store.vx[d].bitPattern); eat(store.vy[d].bitPattern)
        }
        return h
    }
}
