/// A set of entity slots as one bit each: membership tests in the fan-out's inner loops
/// without hashing.
struct SlotBits {
    private(set) var words: [UInt64] = []

    /// Empties the set and makes room for `count` slots.
    mutating func reset(count: Int) {
        let n = (count + 63) / 64
        if words.count != n { words = [UInt64](repeating: 0, count: n) } else { for i in 0..<n { words[i] = 0 } }
    }

    /// Makes room for `count` slots, keeping the members.
    mutating func grow(count: Int) {
        let n = (count + 63) / 64
        if words.count < n { words += repeatElement(0, count: n - words.count) }
    }

    @inline(__always) func contains(_ slot: Int) -> Bool {
        let w = slot >> 6
        return w < words.count && words[w] & (1 << UInt64(slot & 63)) != 0
    }

    @inline(__always) mutating func insert(_ slot: Int) {
        let w = slot >> 6
        if w >= words.count { grow(count: slot + 1) }
        words[w] |= 1 << UInt64(slot & 63)
    }

    @inline(__always) mutating func remove(_ slot: Int) {
        let w = slot >> 6
        if w < words.count { words[w] &= ~(1 << UInt64(slot & 63)) }
    }

    /// The words as a buffer, for inner loops (slot `s` is bit `s & 63` of word `s >> 6`).
    mutating func withWords<R>(_ body: (UnsafeMutableBufferPointer<UInt64>) throws -> R) rethrows -> R {
        try words.withUnsafeMutableBufferPointer { try body($0) }
    }
}
