/// A stable reference to an entity: a slot index plus the generation of that slot.
///
/// Despawning bumps the slot's generation, so a handle kept from before is detected
/// as stale instead of silently naming whichever entity reuses the slot.
public struct EntityHandle: Hashable, Sendable, CustomStringConvertible {
    /// Slot in the entity store's arrays.
    public let index: UInt32
    /// Generation of the slot when the handle was made.
    public let generation: UInt32

    public init(index: UInt32, generation: UInt32) {
        self.index = index
        self.generation = generation
    }

    public var description: String { "#\(index).\(generation)" }
}

/// Errors the entity store reports instead of crashing.
public enum EntityStoreError: Error, Equatable, CustomStringConvertible {
    case capacityExceeded(capacity: Int)
    case staleHandle(EntityHandle)
    case nonFinitePosition(x: Float, y: Float)
    case duplicateKey(String)
    case slotTaken(UInt32)
    case columnsMismatch(expected: Int, got: Int)

    public var description: String {
        switch self {
        case .capacityExceeded(let capacity):
            return "cannot spawn: the store is full (capacity \(capacity) entities)"
        case .staleHandle(let handle):
            return "entity \(handle) no longer exists (its slot was despawned or reused)"
        case .slotTaken(let slot):
            return "cannot take in an entity at slot \(slot): the slot is in use here"
        case .columnsMismatch(let expected, let got):
            return "cannot take in an entity with \(got) scenario columns: this store has \(expected)"
        case .nonFinitePosition(let x, let y):
            return "cannot spawn at non-finite position (\(x), \(y))"
        case .duplicateKey(let key):
            return "cannot spawn: an entity with key '\(key)' already exists"
        }
    }
}
