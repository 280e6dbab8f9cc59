import NIOCore
import SceneWire

/// An entity that came into a wire cell this tick (from another cell, or new in its slot), or,
/// in a key reply, one that is in a cell: what a gateway needs to give a version 3 subscriber
/// whose view it enters its identity and values without asking (docs/SCALEOUT.md).
///
/// `varint slot`, `varint generation` (the slot's generation + 1: a slot reused by another
/// entity has another), `u8 flags` (1 the entity is new in its slot this tick, 2 an identity
/// follows), `u8 kind`, the identity's key, label and group (short texts) and `varint number`
/// when flag 2, then `varint count` values, each `u8 attribute`, `u32 bits`.
package struct FeedEntrant: Equatable, Sendable {
    package var slot: UInt32
    package var generation: UInt32
    package var new: Bool
    package var kind: UInt8
    package var identity: WireEntityInfo?
    package var values: [WireAttribute]

    package init(slot: UInt32, generation: UInt32, new: Bool, kind: UInt8, identity: WireEntityInfo?, values: [WireAttribute]) {
        self.slot = slot; self.generation = generation; self.new = new; self.kind = kind; self.identity = identity; self.values = values
    }

    package func write(into out: inout ByteBuffer) {
        out.writeVarint(UInt64(slot))
        out.writeVarint(UInt64(generation))
        out.writeInteger(UInt8((new ? 1 : 0) | (identity != nil ? 2 : 0)))
        out.writeInteger(kind)
        if let i = identity {
            out.writeShortText(i.key); out.writeShortText(i.label); out.writeShortText(i.group)
            out.writeVarint(UInt64(i.number))
        }
        out.writeVarint(UInt64(values.count))
        for v in values { out.writeInteger(v.attribute); out.writeInteger(v.bits) }
    }

    package static func read(from b: inout ByteBuffer) throws(WireError) -> FeedEntrant {
        guard let slot = UInt32(exactly: try b.readVarint()), let generation = UInt32(exactly: try b.readVarint()) else {
            throw .malformed("feed entrant: slot or generation beyond 32 bits")
        }
        let flags: UInt8 = try b.readInt("entrant flags")
        guard flags & ~3 == 0 else { throw .malformed("feed entrant flags \(flags)") }
        let kind: UInt8 = try b.readInt("entrant kind")
        var identity: WireEntityInfo?
        if flags & 2 != 0 {
            let key = try b.readShortText("entrant key"), label = try b.readShortText("entrant label"), group = try b.readShortText("entrant group")
            guard let number = UInt32(exactly: try b.readVarint()) else { throw .malformed("entrant number beyond 32 bits") }
            identity = WireEntityInfo(entity: slot, kind: kind, key: key, label: label, group: group, number: number)
        }
        let n = try b.readCount(limit: min(256, b.readableBytes / 5 + 1), "entrant values")
        var values: [WireAttribute] = []
        values.reserveCapacity(n)
        for _ in 0..<n {
            let a: UInt8 = try b.readInt("entrant attribute")
            let bits: UInt32 = try b.readInt("entrant value")
            values.append(WireAttribute(entity: slot, attribute: a, bits: bits))
        }
        return FeedEntrant(slot: slot, generation: generation, new: flags & 1 != 0, kind: kind, identity: identity, values: values)
    }

    package static func writeList(_ list: [FeedEntrant], into out: inout ByteBuffer) {
        out.writeVarint(UInt64(list.count))
        for e in list { e.write(into: &out) }
    }

    package static func readList(from b: inout ByteBuffer) throws(WireError) -> [FeedEntrant] {
        // An entrant is at least 5 bytes.
        let n = try b.readCount(limit: b.readableBytes / 5, "entrants")
        var out: [FeedEntrant] = []
        out.reserveCapacity(n)
        for _ in 0..<n { out.append(try read(from: &b)) }
        return out
    }
}

/// A cell's keyframe in a key reply: `varint cell`, `varint length` and the keyframe block,
/// `varint length` and the block with heights (0: the scene has none), `u8 members` (1: the
/// entities in the cell follow, as `FeedEntrant`s, for a gateway's version 3 subscribers).
package struct FeedCellKey: Equatable, Sendable {
    package var cell: Int
    package var block: ByteBuffer
    package var block3: ByteBuffer?
    package var members: [FeedEntrant]?

    package init(cell: Int, block: ByteBuffer, block3: ByteBuffer? = nil, members: [FeedEntrant]? = nil) {
        self.cell = cell; self.block = block; self.block3 = block3; self.members = members
    }

    package func encoded() -> ByteBuffer {
        var out = ByteBufferAllocator().buffer(capacity: block.readableBytes + (block3?.readableBytes ?? 0) + 16 + (members?.count ?? 0) * 40)
        out.writeVarint(UInt64(cell))
        out.writeVarint(UInt64(block.readableBytes))
        out.writeImmutableBuffer(block)
        out.writeVarint(UInt64(block3?.readableBytes ?? 0))
        if let block3 { out.writeImmutableBuffer(block3) }
        out.writeInteger(UInt8(members != nil ? 1 : 0))
        if let members { FeedEntrant.writeList(members, into: &out) }
        return out
    }

    package static func decode(_ payload: ByteBuffer) throws(WireError) -> FeedCellKey {
        var b = payload
        guard let cell = Int(exactly: try b.readVarint()), cell < FeedKeyRequest.maxCells * 4096 else { throw .malformed("feed cell key: cell") }
        let length = try b.readCount(limit: b.readableBytes, "cell key block")
        guard let block = b.readSlice(length: length) else { throw .truncated("cell key block") }
        let length3 = try b.readCount(limit: b.readableBytes, "cell key block with heights")
        guard let block3 = b.readSlice(length: length3) else { throw .truncated("cell key block with heights") }
        let flag: UInt8 = try b.readInt("cell key members")
        guard flag <= 1 else { throw .malformed("feed cell key: members flag \(flag)") }
        let members = flag == 1 ? try FeedEntrant.readList(from: &b) : nil
        guard b.readableBytes == 0 else { throw .malformed("feed cell key: bytes after the members") }
        return FeedCellKey(cell: cell, block: block, block3: length3 > 0 ? block3 : nil, members: members)
    }
}
