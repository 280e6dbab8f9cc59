import NIOCore
import Scenarios
import SceneCore
import SceneWire

/// A region shard's border message on NATS (`scene.S.region.K.border`, docs/SCALEOUT.md):
/// `varint tick`, `varint from`, `varint to`, `varint received` (the last tick of a border from
/// `to` that `from` took in), `varint` handovers and their records, `varint`
/// ghosts and theirs. A record: `varint slot`, `varint generation`, `u8 kind`, seven f32 (x,
/// y, vx, vy, goalX, goalY, speed, bits in network order), `varint` columns and each `u32`,
/// `varint` attributes and each `u32`, `varint` key length plus one (0: no key) and its UTF-8.
/// On the ticks the scenario ranks, then: `varint` entries plus one, each `f32` score and
/// `varint slot` (a border to a region that is no neighbour carries only this).
package enum FeedBorder {
    /// Most records in one message, columns and attributes in one record, bytes of a key.
    static let maxRecords = 1 << 22, maxColumns = 64, maxAttributes = 8, maxKeyBytes = 256

    package static func encode(_ m: BorderMessage) -> ByteBuffer {
        var out = ByteBufferAllocator().buffer(capacity: 16 + (m.handovers.count + m.ghosts.count) * 72)
        out.writeVarint(m.tick); out.writeVarint(UInt64(m.from)); out.writeVarint(UInt64(m.to)); out.writeVarint(m.received)
        for list in [m.handovers, m.ghosts] {
            out.writeVarint(UInt64(list.count))
            for r in list { write(r, into: &out) }
        }
        if let ranking = m.ranking {
            out.writeVarint(UInt64(ranking.count + 1))
            for e in ranking { out.writeInteger(e.score.bitPattern); out.writeVarint(UInt64(e.slot)) }
        }
        return out
    }

    static func write(_ r: EntityRecord, into out: inout ByteBuffer) {
        out.writeVarint(UInt64(r.slot)); out.writeVarint(UInt64(r.generation)); out.writeInteger(r.kind)
        for v in [r.x, r.y, r.vx, r.vy, r.goalX, r.goalY, r.speed] { out.writeInteger(v.bitPattern) }
        out.writeVarint(UInt64(r.columns.count))
        for c in r.columns { out.writeInteger(c) }
        out.writeVarint(UInt64(r.attributes.count))
        for a in r.attributes { out.writeInteger(a) }
        if let key = r.key {
            out.writeVarint(UInt64(key.utf8.count + 1)); out.writeString(key)
        } else {
            out.writeVarint(0)
        }
    }

    package static func decode(_ payload: ByteBuffer) throws(WireError) -> BorderMessage {
        var b = payload
        let tick = try b.readVarint(), from = try b.readVarint(), to = try b.readVarint(), received = try b.readVarint()
        guard from < 65_536, to < 65_536 else { throw .malformed("border regions") }
        var lists: [[EntityRecord]] = []
        for _ in 0..<2 {
            let n = try b.readVarint()
            // Each record takes at least 33 bytes: a count beyond what is left is a lie.
            guard n <= UInt64(maxRecords), n <= UInt64(b.readableBytes / 33 + 1) else { throw .malformed("border record count") }
            var list: [EntityRecord] = []
            list.reserveCapacity(Int(n))
            for _ in 0..<n { list.append(try read(&b)) }
            lists.append(list)
        }
        var ranking: [RankEntry]?
        if b.readableBytes > 0 {
            let n = try b.readVarint()
            guard n >= 1, n - 1 <= 1024 else { throw .malformed("border ranking count") }
            var entries: [RankEntry] = []
            for _ in 0..<(n - 1) {
                let score = Float(bitPattern: try b.readInt("rank score", as: UInt32.self)), slot = try b.readVarint()
                guard slot <= UInt64(Int32.max) else { throw .malformed("border ranking slot") }
                entries.append(RankEntry(score: score, slot: UInt32(slot)))
            }
            ranking = entries
        }
        guard b.readableBytes == 0 else { throw .malformed("bytes after the border's records") }
        return BorderMessage(tick: tick, from: Int(from), to: Int(to), handovers: lists[0], ghosts: lists[1], ranking: ranking, received: received)
    }

    static func read(_ b: inout ByteBuffer) throws(WireError) -> EntityRecord {
        let slot = try b.readVarint(), generation = try b.readVarint()
        guard slot <= UInt64(Int32.max), generation <= UInt64(UInt32.max) else { throw .malformed("border record slot") }
        let kind: UInt8 = try b.readInt("kind")
        var f: [Float] = []
        for _ in 0..<7 { f.append(Float(bitPattern: try b.readInt("record value", as: UInt32.self))) }
        let nc = try b.readVarint()
        guard nc <= UInt64(maxColumns) else { throw .malformed("border record columns") }
        var columns: [UInt32] = []
        for _ in 0..<nc { columns.append(try b.readInt("column", as: UInt32.self)) }
        let na = try b.readVarint()
        guard na <= UInt64(maxAttributes) else { throw .malformed("border record attributes") }
        var attributes: [UInt32] = []
        for _ in 0..<na { attributes.append(try b.readInt("attribute", as: UInt32.self)) }
        let keyLength = try b.readVarint()
        var key: String?
        if keyLength > 0 {
            guard keyLength - 1 <= UInt64(maxKeyBytes), let bytes = b.readBytes(length: Int(keyLength - 1)),
                  let s = String(validating: bytes, as: UTF8.self) else { throw .malformed("border record key") }
            key = s
        }
        return EntityRecord(slot: UInt32(slot), generation: UInt32(generation), kind: kind, x: f[0], y: f[1], vx: f[2], vy: f[3],
                            goalX: f[4], goalY: f[5], speed: f[6], columns: columns, attributes: attributes, key: key)
    }
}
