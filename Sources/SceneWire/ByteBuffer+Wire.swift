import NIOCore

extension ByteBuffer {
    /// Writes an unsigned LEB128 varint.
    @inlinable
    public mutating func writeVarint(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            writeInteger(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        writeInteger(UInt8(v))
    }

    /// Writes a signed value as a zigzag varint.
    @inlinable
    public mutating func writeZigzag(_ value: Int64) {
        writeVarint(UInt64(bitPattern: (value << 1) ^ (value >> 63)))
    }

    /// Reads an unsigned LEB128 varint (at most 10 bytes).
    @inlinable
    public mutating func readVarint() throws(WireError) -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard let byte: UInt8 = readInteger() else { throw .truncated("varint") }
            if shift == 63 && byte > 1 { throw .badVarint }
            result |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 { return result }
            shift += 7
            if shift > 63 { throw .badVarint }
        }
    }

    @inlinable
    public mutating func readZigzag() throws(WireError) -> Int64 {
        let u = try readVarint()
        return Int64(bitPattern: u >> 1) ^ -Int64(bitPattern: u & 1)
    }

    /// A varint that must fit `Int` and stay below `limit` (counts and lengths).
    @inlinable
    public mutating func readCount(limit: Int, _ what: String) throws(WireError) -> Int {
        let v = try readVarint()
        guard v <= UInt64(limit) else { throw .malformed("\(what): \(v) exceeds \(limit)") }
        return Int(v)
    }

    /// Writes a u16 length and UTF-8 bytes (strings longer than 65535 bytes are cut).
    public mutating func writeWireString(_ s: String) {
        let bytes = Array(s.utf8.prefix(Int(UInt16.max)))
        writeInteger(UInt16(bytes.count))
        writeBytes(bytes)
    }

    public mutating func readWireString(_ what: String) throws(WireError) -> String {
        guard let n: UInt16 = readInteger() else { throw .truncated("\(what) length") }
        guard let bytes = readBytes(length: Int(n)) else { throw .truncated(what) }
        guard let s = String(validating: bytes, as: UTF8.self) else { throw .malformed("\(what): not UTF-8") }
        return s
    }

    /// Writes a short text (version 2's EntityInfo): `u8` byte length, at most
    /// `WireEntityInfo.maxTextBytes`, then UTF-8; longer texts are cut at a character boundary.
    public mutating func writeShortText(_ s: String) {
        let bytes = Array(WireEntityInfo.clip(s).utf8)
        writeInteger(UInt8(bytes.count))
        writeBytes(bytes)
    }

    /// Reads a short text, refusing one over `WireEntityInfo.maxTextBytes` or not UTF-8.
    public mutating func readShortText(_ what: String) throws(WireError) -> String {
        let n: UInt8 = try readInt("\(what) length")
        guard Int(n) <= WireEntityInfo.maxTextBytes else { throw .malformed("\(what): \(n) bytes, over the limit of \(WireEntityInfo.maxTextBytes)") }
        guard let bytes = readBytes(length: Int(n)) else { throw .truncated(what) }
        guard let s = String(validating: bytes, as: UTF8.self) else { throw .malformed("\(what): not UTF-8") }
        return s
    }

    public mutating func readInt<T: FixedWidthInteger>(_ what: String, as: T.Type = T.self) throws(WireError) -> T {
        guard let v: T = readInteger() else { throw .truncated(what) }
        return v
    }

    public mutating func readF64(_ what: String) throws(WireError) -> Double {
        Double(bitPattern: try readInt(what, as: UInt64.self))
    }

    public mutating func writeF64(_ v: Double) { writeInteger(v.bitPattern) }

    public mutating func readF32(_ what: String) throws(WireError) -> Float {
        Float(bitPattern: try readInt(what, as: UInt32.self))
    }

    public mutating func writeF32(_ v: Float) { writeInteger(v.bitPattern) }
}
