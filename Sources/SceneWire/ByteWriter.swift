/// A growable byte array with varint writers: the hot path of state coding, cheaper
/// per byte than `ByteBuffer`'s general-purpose writes.
public struct ByteWriter {
    public var bytes: [UInt8] = []

    public init(capacity: Int = 0) { bytes.reserveCapacity(capacity) }

    @inline(__always)
    public mutating func byte(_ b: UInt8) { bytes.append(b) }

    @inline(__always)
    public mutating func varint(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }

    @inline(__always)
    public mutating func zigzag(_ value: Int64) {
        varint(UInt64(bitPattern: (value << 1) ^ (value >> 63)))
    }
}

/// Reads what `ByteWriter` wrote; every read is bounds-checked and throws on bad input.
public struct ByteReader {
    let bytes: [UInt8]
    public internal(set) var at = 0

    public init(_ bytes: [UInt8]) { self.bytes = bytes }

    public var remaining: Int { bytes.count - at }

    @inline(__always)
    public mutating func byte() throws(WireError) -> UInt8 {
        guard at < bytes.count else { throw .truncated("cell payload") }
        defer { at += 1 }
        return bytes[at]
    }

    @inline(__always)
    public mutating func varint() throws(WireError) -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard at < bytes.count else { throw .truncated("cell payload varint") }
            let b = bytes[at]
            at += 1
            if shift == 63 && b > 1 { throw .badVarint }
            result |= UInt64(b & 0x7F) << shift
            if b & 0x80 == 0 { return result }
            shift += 7
            if shift > 63 { throw .badVarint }
        }
    }

    @inline(__always)
    public mutating func zigzag() throws(WireError) -> Int64 {
        let u = try varint()
        return Int64(bitPattern: u >> 1) ^ -Int64(bitPattern: u & 1)
    }

    /// A zigzag value that must fit Int32 (positions and velocities).
    @inline(__always)
    public mutating func zigzag32() throws(WireError) -> Int32 {
        guard let v = Int32(exactly: try zigzag()) else { throw .malformed("position beyond 32 bits") }
        return v
    }
}
