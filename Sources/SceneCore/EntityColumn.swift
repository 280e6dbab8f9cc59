/// A 32-bit value a scenario keeps per entity in a column of its own (`EntityStore.addColumn`).
public protocol ColumnValue: Sendable {
    init(columnBits: UInt32)
    var columnBits: UInt32 { get }
}

extension Float: ColumnValue {
    @inlinable public init(columnBits: UInt32) { self.init(bitPattern: columnBits) }
    @inlinable public var columnBits: UInt32 { bitPattern }
}

extension Int32: ColumnValue {
    @inlinable public init(columnBits: UInt32) { self.init(bitPattern: columnBits) }
    @inlinable public var columnBits: UInt32 { UInt32(bitPattern: self) }
}

extension UInt32: ColumnValue {
    @inlinable public init(columnBits: UInt32) { self = columnBits }
    @inlinable public var columnBits: UInt32 { self }
}

/// A typed per-entity column that a scenario added to the store: a runner's distance along
/// the course, an AGV's station, the ball's rolling velocity.
///
/// Values follow their entity through the engine's re-sorts, spawns and despawns, like
/// position and velocity; a column never stands in for another meaning.
public struct EntityColumn<Value: ColumnValue>: Hashable, Sendable {
    /// Position of the column in each entity's row of scenario values.
    public let index: Int
    /// The name the scenario gave it (for messages and debugging).
    public let name: String
}

/// Scenario columns as a behaviour sees them during a step. A behaviour writes only the rows
/// of its own block; it may read another entity's row only in columns that no block writes
/// during the step (another block may be writing its own rows at the time).
public struct ColumnRows: Sendable {
    @usableFromInline let values: DisjointWrites<UInt32>
    @usableFromInline let stride: Int

    init(values: DisjointWrites<UInt32>, stride: Int) { self.values = values; self.stride = stride }

    /// The value of `column` for dense index `i`.
    @inlinable
    public subscript<V: ColumnValue>(column: EntityColumn<V>, i: Int) -> V {
        get { V(columnBits: values[i &* stride &+ column.index]) }
        nonmutating set { values[i &* stride &+ column.index] = newValue.columnBits }
    }
}
