/// The type of an attribute value (stored as 32 bits either way).
public enum AttributeType: UInt8, Sendable {
    case float32 = 0
    case int32 = 1
}

/// One named attribute of a kind (a runner's bib, a machine's temperature).
public struct AttributeSpec: Hashable, Sendable {
    public var name: String
    public var type: AttributeType
    public init(_ name: String, _ type: AttributeType) { self.name = name; self.type = type }
}

/// A changed attribute, as the wire layer sends it.
public struct AttributeChange: Hashable, Sendable {
    public var slot: UInt32
    public var attribute: UInt8
    public var bits: UInt32
}

/// Per-kind attributes, kept apart from the hot arrays: one 32-bit column per attribute
/// per kind, rows only for entities of that kind, and a change mark per row so that only
/// changed values are sent.
///
/// Writes are serial (scenario code between steps); values keyed by slot, so the engine's
/// re-sorting of the hot arrays never moves them.
public struct AttributeTable: Sendable {
    struct KindTable: Sendable {
        var specs: [AttributeSpec]
        var slots: [UInt32] = []
        var columns: [ContiguousArray<UInt32>]
        /// Bit k set: attribute k changed since the last `takeChanges`.
        var changed: ContiguousArray<UInt8> = []
        var changedRows: [Int32] = []
    }

    private var kinds: [UInt8: KindTable] = [:]
    /// Per slot: the row in its kind's table, or -1.
    private var rowOfSlot: ContiguousArray<Int32> = []
    private var kindOfSlot: ContiguousArray<UInt8> = []

    public init() {}

    /// Declares the attributes of a kind (at most 8).
    public mutating func declare(kind: UInt8, _ specs: [AttributeSpec]) {
        precondition(specs.count <= 8, "at most 8 attributes per kind")
        kinds[kind] = KindTable(specs: specs, columns: Array(repeating: [], count: specs.count))
    }

    /// The attributes declared for a kind.
    public func specs(kind: UInt8) -> [AttributeSpec] { kinds[kind]?.specs ?? [] }

    /// Whether any kind declares an attribute.
    public var hasAttributes: Bool { kinds.values.contains { !$0.specs.isEmpty } }

    /// Gives an entity its row (all attributes 0, all marked changed so they are sent once).
    public mutating func add(slot: UInt32, kind: UInt8) {
        // Taken out of the dictionary while it grows, so the append does not copy the whole
        // table (a copy per spawn made populating a scene quadratic).
        guard var table = kinds.removeValue(forKey: kind) else { return }
        defer { kinds[kind] = table }
        let s = Int(slot)
        if rowOfSlot.count <= s {
            rowOfSlot.append(contentsOf: repeatElement(-1, count: s + 1 - rowOfSlot.count))
            kindOfSlot.append(contentsOf: repeatElement(0, count: s + 1 - kindOfSlot.count))
        }
        precondition(rowOfSlot[s] < 0, "slot \(slot) already has attributes")
        let row = Int32(table.slots.count)
        table.slots.append(slot)
        for k in table.columns.indices { table.columns[k].append(0) }
        table.changed.append(UInt8(truncatingIfNeeded: (1 << table.specs.count) - 1))
        table.changedRows.append(row)
        rowOfSlot[s] = row
        kindOfSlot[s] = kind
    }

    /// Gives an entity arriving from another region its row with the values it had there,
    /// none marked changed (a handover is not a change: its owner sent them already).
    public mutating func insert(slot: UInt32, kind: UInt8, bits: [UInt32]) {
        add(slot: slot, kind: kind)
        let s = Int(slot)
        guard s < rowOfSlot.count, rowOfSlot[s] >= 0, var table = kinds.removeValue(forKey: kind) else { return }
        let row = Int(rowOfSlot[s])
        for (a, v) in bits.prefix(table.columns.count).enumerated() { table.columns[a][row] = v }
        table.changed[row] = 0
        table.changedRows.removeAll { $0 == Int32(row) }
        kinds[kind] = table
    }

    /// Drops an entity's row (the last row moves into its place).
    public mutating func remove(slot: UInt32) {
        let s = Int(slot)
        guard s < rowOfSlot.count, rowOfSlot[s] >= 0, var table = kinds.removeValue(forKey: kindOfSlot[s]) else { return }
        let row = Int(rowOfSlot[s]), last = table.slots.count - 1
        if row != last {
            table.slots[row] = table.slots[last]
            for k in table.columns.indices { table.columns[k][row] = table.columns[k][last] }
            table.changed[row] = table.changed[last]
            rowOfSlot[Int(table.slots[row])] = Int32(row)
            if table.changed[row] != 0 { table.changedRows.append(Int32(row)) }
        }
        table.slots.removeLast()
        for k in table.columns.indices { table.columns[k].removeLast() }
        table.changed.removeLast()
        table.changedRows.removeAll { $0 >= Int32(table.slots.count) }
        kinds[kindOfSlot[s]] = table
        rowOfSlot[s] = -1
    }

    /// Sets an attribute; marks it changed only when the value differs.
    public mutating func set(slot: UInt32, attribute a: Int, bits: UInt32) {
        let s = Int(slot)
        guard s < rowOfSlot.count, rowOfSlot[s] >= 0 else { return }
        let kind = kindOfSlot[s], row = Int(rowOfSlot[s])
        guard a >= 0, a < kinds[kind]!.specs.count, kinds[kind]!.columns[a][row] != bits else { return }
        kinds[kind]!.columns[a][row] = bits
        if kinds[kind]!.changed[row] == 0 { kinds[kind]!.changedRows.append(Int32(row)) }
        kinds[kind]!.changed[row] |= 1 << UInt8(a)
    }

    public mutating func set(slot: UInt32, attribute a: Int, float v: Float) { set(slot: slot, attribute: a, bits: v.bitPattern) }
    public mutating func set(slot: UInt32, attribute a: Int, int v: Int32) { set(slot: slot, attribute: a, bits: UInt32(bitPattern: v)) }

    /// The raw 32 bits of an attribute, nil when the entity has no such attribute.
    public func bits(slot: UInt32, attribute a: Int) -> UInt32? {
        let s = Int(slot)
        guard s < rowOfSlot.count, rowOfSlot[s] >= 0, let table = kinds[kindOfSlot[s]], a >= 0, a < table.specs.count else { return nil }
        return table.columns[a][Int(rowOfSlot[s])]
    }

    public func float(slot: UInt32, attribute a: Int) -> Float? { bits(slot: slot, attribute: a).map(Float.init(bitPattern:)) }
    public func int(slot: UInt32, attribute a: Int) -> Int32? { bits(slot: slot, attribute: a).map { Int32(bitPattern: $0) } }

    /// Every value of an entity (for keyframes to late joiners).
    public func all(slot: UInt32) -> [AttributeChange] {
        let s = Int(slot)
        guard s < rowOfSlot.count, rowOfSlot[s] >= 0, let table = kinds[kindOfSlot[s]] else { return [] }
        return table.columns.indices.map { AttributeChange(slot: slot, attribute: UInt8($0), bits: table.columns[$0][Int(rowOfSlot[s])]) }
    }

    /// The changes since the last call, sorted by slot then attribute; clears the marks.
    public mutating func takeChanges() -> [AttributeChange] {
        var out: [AttributeChange] = []
        for kind in kinds.keys.sorted() {
            var table = kinds[kind]!
            for row in table.changedRows {
                let r = Int(row)
                guard r < table.slots.count else { continue }
                let mask = table.changed[r]
                for a in 0..<table.specs.count where mask & (1 << UInt8(a)) != 0 {
                    out.append(AttributeChange(slot: table.slots[r], attribute: UInt8(a), bits: table.columns[a][r]))
                }
                table.changed[r] = 0
            }
            table.changedRows.removeAll(keepingCapacity: true)
            kinds[kind] = table
        }
        out.sort { ($0.slot, $0.attribute) < ($1.slot, $1.attribute) }
        return out
    }

    /// Bytes held, for the memory figures: 4 per attribute value plus 9 per row.
    public var residentBytes: Int {
        rowOfSlot.capacity * 5 + kinds.values.reduce(0) { sum, t in
            sum + t.slots.capacity * 4 + t.changed.capacity + t.changedRows.capacity * 4 + t.columns.reduce(0) { $0 + $1.capacity * 4 }
        }
    }
}
