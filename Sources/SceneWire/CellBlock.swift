import NIOCore

/// The coded state of one wire cell for one tick, shared byte for byte by every
/// subscriber whose area covers the cell.
///
/// Layout: `varint cell`, `u8 kind | codec << 4`, then for codecs 0 and 1 `varint rawLength`,
/// `varint packedLength`, `packedLength bytes` (0 stores the payload, 1 is raw DEFLATE); for
/// codecs 2 to 14 (a delta whose residuals are Golomb-Rice coded with k = codec - 2)
/// `varint length`, `length bytes`.
public enum CellBlock {
    public enum Kind: UInt8, Sendable {
        /// Every entity of the cell with position and velocity: a starting point.
        case keyframe = 0
        /// Changes since the previous tick: leaves, enters, prediction residuals.
        case delta = 1
        /// The cell is no longer sent to this subscriber: forget its entities.
        case drop = 2
    }

    /// Largest payload a cell block may announce (bounds the decoder's allocation).
    public static let maxRawLength = 8 << 20

    /// Wraps an uncoded payload into a block, compressing it when that saves bytes.
    public static func make(cell: UInt32, kind: Kind, payload: ByteBuffer, deflater: Deflater) -> ByteBuffer {
        var packed = payload
        var codec: UInt8 = 0
        if payload.readableBytes > 24 {
            let d = deflater.deflate(payload.readableBytesView)
            if d.readableBytes < payload.readableBytes { packed = d; codec = 1 }
        }
        var out = ByteBufferAllocator().buffer(capacity: packed.readableBytes + 12)
        out.writeVarint(UInt64(cell))
        out.writeInteger(kind.rawValue | codec << 4)
        out.writeVarint(UInt64(payload.readableBytes))
        out.writeVarint(UInt64(packed.readableBytes))
        out.writeBuffer(&packed)
        return out
    }

    /// Wraps a Rice-coded delta payload (codec 2 + k).
    public static func makeRice(cell: UInt32, k: Int, payload: [UInt8]) -> ByteBuffer {
        precondition(k >= 0 && k <= RiceCoding.maxK)
        var out = ByteBufferAllocator().buffer(capacity: payload.count + 8)
        out.writeVarint(UInt64(cell))
        out.writeInteger(Kind.delta.rawValue | UInt8(2 + k) << 4)
        out.writeVarint(UInt64(payload.count))
        out.writeBytes(payload)
        return out
    }

    /// A drop marker for a cell.
    public static func drop(cell: UInt32) -> ByteBuffer {
        var out = ByteBufferAllocator().buffer(capacity: 8)
        out.writeVarint(UInt64(cell))
        out.writeInteger(Kind.drop.rawValue)
        out.writeVarint(0)
        out.writeVarint(0)
        return out
    }

    /// Cuts the next whole block off `buffer` (checking only its header).
    static func slice(from buffer: inout ByteBuffer) throws(WireError) -> ByteBuffer {
        var peek = buffer
        _ = try peek.readVarint()
        let kc = try peek.readInt("cell kind", as: UInt8.self)
        if kc >> 4 < 2 { _ = try peek.readVarint() }
        let packed = try peek.readCount(limit: peek.readableBytes, "cell block length")
        let total = buffer.readableBytes - peek.readableBytes + packed
        guard let s = buffer.readSlice(length: total) else { throw .truncated("cell block") }
        return s
    }

    /// A block's header and uncompressed payload.
    public static func open(_ block: ByteBuffer) throws(WireError) -> (cell: UInt32, kind: Kind, payload: ByteBuffer, riceK: Int?) {
        var b = block
        let cellValue = try b.readVarint()
        guard let cell = UInt32(exactly: cellValue) else { throw .malformed("cell id beyond 32 bits") }
        let kc: UInt8 = try b.readInt("cell kind")
        guard let kind = Kind(rawValue: kc & 0x0F) else { throw .malformed("cell kind \(kc & 0x0F)") }
        if kc >> 4 >= 2 {
            let k = Int(kc >> 4) - 2
            guard kind == .delta else { throw .malformed("Rice codecs are for deltas only") }
            guard k <= RiceCoding.maxK else { throw .malformed("cell codec \(kc >> 4)") }
            let length = try b.readCount(limit: min(b.readableBytes, maxRawLength), "cell block length")
            guard let payload = b.readSlice(length: length) else { throw .truncated("cell block") }
            return (cell, kind, payload, k)
        }
        let raw = try b.readCount(limit: maxRawLength, "cell payload length")
        let packedLength = try b.readCount(limit: b.readableBytes, "cell block length")
        guard let packed = b.readSlice(length: packedLength) else { throw .truncated("cell block") }
        switch kc >> 4 {
        case 0:
            guard raw == packedLength else { throw .malformed("stored cell block: lengths differ") }
            return (cell, kind, packed, nil)
        case 1:
            return (cell, kind, try Inflater.inflate(packed.readableBytesView, expectedLength: raw), nil)
        default:
            throw .malformed("cell codec \(kc >> 4)")
        }
    }
}
