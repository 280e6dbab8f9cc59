/// Hot entity state as a struct of arrays, one contiguous array per component.
///
/// Slots are reused through a free list; a slot's generation changes on despawn so
/// handles never name the wrong entity. Per-entity hot data (position, velocity, goal,
/// kind) lives here; anything a behaviour needs rarely belongs in its own side table.
public struct EntityStore: Sendable {
    /// Most entities this store will ever hold.
    public let capacity: Int

    public internal(set) var x: ContiguousArray<Float> = []
    public internal(set) var y: ContiguousArray<Float> = []
    public internal(set) var vx: ContiguousArray<Float> = []
    public internal(set) var vy: ContiguousArray<Float> = []
    /// Where the entity wants to go; behaviours read and may rewrite it.
    public var goalX: ContiguousArray<Float> = []
    public var goalY: ContiguousArray<Float> = []
    /// Preferred speed in metres per second.
    public var speed: ContiguousArray<Float> = []
    /// Application-defined kind (runner, player, AGV ...).
    public internal(set) var kind: ContiguousArray<UInt8> = []
    /// 1 while the slot holds a live entity.
    public internal(set) var alive: ContiguousArray<UInt8> = []
    public internal(set) var generation: ContiguousArray<UInt32> = []

    private var freeSlots: [UInt32] = []
    /// Number of live entities.
    public private(set) var count: Int = 0

    public init(capacity: Int) {
        precondition(capacity > 0 && capacity <= Int(UInt32.max), "capacity must be in 1...UInt32.max")
        self.capacity = capacity
    }

    /// Number of slots in use or freed; iterate `0..<slotCount` and test `alive`.
    public var slotCount: Int { x.count }

    /// Adds an entity, reusing a freed slot when there is one.
    @discardableResult
    public mutating func spawn(kind: UInt8, x px: Float, y py: Float, speed s: Float = 1.4) throws -> EntityHandle {
        guard px.isFinite, py.isFinite else { throw EntityStoreError.nonFinitePosition(x: px, y: py) }
        if let slot = freeSlots.popLast() {
            let i = Int(slot)
            x[i] = px; y[i] = py; vx[i] = 0; vy[i] = 0
            goalX[i] = px; goalY[i] = py; speed[i] = s
            self.kind[i] = kind; alive[i] = 1
            count += 1
            return EntityHandle(index: slot, generation: generation[i])
        }
        guard x.count < capacity else { throw EntityStoreError.capacityExceeded(capacity: capacity) }
        x.append(px); y.append(py); vx.append(0); vy.append(0)
        goalX.append(px); goalY.append(py); speed.append(s)
        self.kind.append(kind); alive.append(1); generation.append(0)
        count += 1
        return EntityHandle(index: UInt32(x.count - 1), generation: 0)
    }

    /// Removes an entity; its handle and every copy of it become stale.
    public mutating func despawn(_ handle: EntityHandle) throws {
        guard isValid(handle) else { throw EntityStoreError.staleHandle(handle) }
        let i = Int(handle.index)
        alive[i] = 0
        vx[i] = 0; vy[i] = 0
        generation[i] &+= 1
        freeSlots.append(handle.index)
        count -= 1
    }

    /// True when the handle names a live entity.
    public func isValid(_ handle: EntityHandle) -> Bool {
        let i = Int(handle.index)
        return i < alive.count && alive[i] == 1 && generation[i] == handle.generation
    }

    /// The handle of the live entity in `slot`, if any.
    public func handle(slot: Int) -> EntityHandle? {
        guard slot < alive.count, alive[slot] == 1 else { return nil }
        return EntityHandle(index: UInt32(slot), generation: generation[slot])
    }

    /// Moves an entity directly (scenario set-up, replay, moving out of a new building).
    public mutating func place(_ handle: EntityHandle, x px: Float, y py: Float) throws {
        guard isValid(handle) else { throw EntityStoreError.staleHandle(handle) }
        guard px.isFinite, py.isFinite else { throw EntityStoreError.nonFinitePosition(x: px, y: py) }
        x[Int(handle.index)] = px
        y[Int(handle.index)] = py
    }

    /// Sets the velocity the integrator will apply (replays and scripted entities).
    public mutating func setVelocity(_ handle: EntityHandle, vx nvx: Float, vy nvy: Float) throws {
        guard isValid(handle) else { throw EntityStoreError.staleHandle(handle) }
        vx[Int(handle.index)] = nvx
        vy[Int(handle.index)] = nvy
    }

    mutating func replacePositions(x nx: ContiguousArray<Float>, y ny: ContiguousArray<Float>) {
        x = nx; y = ny
    }

    mutating func replaceVelocities(vx nvx: ContiguousArray<Float>, vy nvy: ContiguousArray<Float>) {
        vx = nvx; vy = nvy
    }

    /// Approximate bytes held by the hot arrays (for the memory benchmark).
    public var residentBytes: Int {
        x.capacity * 4 * 7 + kind.capacity + alive.capacity + generation.capacity * 4 + freeSlots.capacity * 4
    }
}
