import NIOCore
import SceneWire

// The payloads of a scene's feed on NATS (docs/SCALEOUT.md). Integers are varints; coded
// state travels as the very bytes a client is sent (cell blocks, shared frames' tails).

/// A wire cell's delta block of one tick: `varint tick`, `varint length` and the block,
/// `varint length` and the block with heights (0: the scene has none), then who left the cell
/// (`varint count`, slots ascending as gaps from the previous) and who came into it
/// (`FeedEntrant`s: from another cell, or new in a slot of this cell).
package struct FeedCell: Equatable, Sendable {
    package var tick: UInt64
    package var block: ByteBuffer
    package var block3: ByteBuffer?
    package var left: [UInt32]
    package var entrants: [FeedEntrant]

    package init(tick: UInt64, block: ByteBuffer, block3: ByteBuffer? = nil, left: [UInt32] = [], entrants: [FeedEntrant] = []) {
        self.tick = tick; self.block = block; self.block3 = block3; self.left = left; self.entrants = entrants
    }

    package func encoded() -> ByteBuffer {
        var out = ByteBufferAllocator().buffer(capacity: block.readableBytes + (block3?.readableBytes ?? 0) + 16 + left.count * 2 + entrants.count * 40)
        out.writeVarint(tick)
        out.writeVarint(UInt64(block.readableBytes))
        out.writeImmutableBuffer(block)
        out.writeVarint(UInt64(block3?.readableBytes ?? 0))
        if let block3 { out.writeImmutableBuffer(block3) }
        out.writeVarint(UInt64(left.count))
        var last: UInt32 = 0
        for id in left { out.writeVarint(UInt64(id &- last)); last = id }
        FeedEntrant.writeList(entrants, into: &out)
        return out
    }

    package static func decode(_ payload: ByteBuffer) throws(WireError) -> FeedCell {
        var b = payload
        let tick = try b.readVarint()
        let length = try b.readCount(limit: b.readableBytes, "cell block")
        guard let block = b.readSlice(length: length) else { throw .truncated("cell block") }
        let length3 = try b.readCount(limit: b.readableBytes, "cell block with heights")
        guard let block3 = b.readSlice(length: length3) else { throw .truncated("cell block with heights") }
        let n = try b.readCount(limit: b.readableBytes, "cell leavers")
        var left: [UInt32] = []
        left.reserveCapacity(n)
        var last: UInt64 = 0
        for _ in 0..<n {
            last += try b.readVarint()
            guard let id = UInt32(exactly: last) else { throw .malformed("feed cell: leaver beyond 32 bits") }
            left.append(id)
        }
        let entrants = try FeedEntrant.readList(from: &b)
        guard b.readableBytes == 0 else { throw .malformed("feed cell: bytes after the entrants") }
        return FeedCell(tick: tick, block: block, block3: length3 > 0 ? block3 : nil, left: left, entrants: entrants)
    }
}

/// The end of a tick on the feed: `varint tick`, `varint serverTimeMicros`, `varint
/// entities`, `u8 flags` (1 advanced, 2 the state was reset, 4 the static geometry changed).
/// Which region of a scene split into region shards a feed message comes from.
package struct FeedRegion: Equatable, Sendable {
    package var index: Int
    package var regions: Int
    package var hash: UInt64
    package init(index: Int, regions: Int, hash: UInt64) { self.index = index; self.regions = regions; self.hash = hash }
}

package struct FeedTick: Equatable, Sendable {
    package var tick: UInt64
    package var serverTimeMicros: UInt64
    package var entities: UInt32
    /// False for a loop of a paused scene that answered key requests only.
    package var advanced: Bool
    /// The scene was reset: every subscriber needs a resync.
    package var reset: Bool
    /// A tile was loaded: every subscriber needs its static geometry again.
    package var geometryChanged: Bool

    /// A region shard's tick end: which region of how many, and the sum of its entities'
    /// hashes (`World.regionHash`): the regions' sums add up to the scene's in one process.
    package var region: FeedRegion?

    package init(tick: UInt64, serverTimeMicros: UInt64, entities: UInt32, advanced: Bool, reset: Bool = false, geometryChanged: Bool = false,
                 region: FeedRegion? = nil) {
        self.tick = tick; self.serverTimeMicros = serverTimeMicros; self.entities = entities
        self.advanced = advanced; self.reset = reset; self.geometryChanged = geometryChanged; self.region = region
    }

    package func encoded() -> ByteBuffer {
        var out = ByteBufferAllocator().buffer(capacity: 40)
        out.writeVarint(tick)
        out.writeVarint(serverTimeMicros)
        out.writeVarint(UInt64(entities))
        out.writeInteger(UInt8((advanced ? 1 : 0) | (reset ? 2 : 0) | (geometryChanged ? 4 : 0) | (region != nil ? 8 : 0)))
        if let region {
            out.writeVarint(UInt64(region.index))
            out.writeVarint(UInt64(region.regions))
            out.writeInteger(region.hash)
        }
        return out
    }

    package static func decode(_ payload: ByteBuffer) throws(WireError) -> FeedTick {
        var b = payload
        let tick = try b.readVarint(), time = try b.readVarint(), entities = try b.readVarint()
        let flags: UInt8 = try b.readInt("tick flags")
        guard entities <= UInt64(UInt32.max), flags & ~15 == 0 else { throw .malformed("feed tick") }
        var region: FeedRegion?
        if flags & 8 != 0 {
            let index = try b.readVarint(), regions = try b.readVarint()
            guard let hash = b.readInteger(as: UInt64.self), regions >= 1, regions <= 65_535, index < regions else {
                throw .malformed("feed tick's region")
            }
            region = FeedRegion(index: Int(index), regions: Int(regions), hash: hash)
        }
        guard b.readableBytes == 0 else { throw .malformed("feed tick") }
        return FeedTick(tick: tick, serverTimeMicros: time, entities: UInt32(entities), advanced: flags & 1 != 0,
                        reset: flags & 2 != 0, geometryChanged: flags & 4 != 0, region: region)
    }
}

/// Shared frames (their type and the tail after the subscription field), as a list:
/// `varint count`, then per frame `u8 type`, `varint length`, the tail.
package enum FeedFrames {
    package static func write(_ frames: [SharedFrame], into out: inout ByteBuffer) {
        out.writeVarint(UInt64(frames.count))
        for f in frames {
            out.writeInteger(f.type.rawValue)
            out.writeVarint(UInt64(f.tail.readableBytes))
            out.writeImmutableBuffer(f.tail)
        }
    }

    package static func read(from b: inout ByteBuffer) throws(WireError) -> [SharedFrame] {
        let n = try b.readCount(limit: b.readableBytes, "frames")
        var out: [SharedFrame] = []
        for _ in 0..<n {
            let raw: UInt8 = try b.readInt("frame type")
            let length = try b.readCount(limit: b.readableBytes, "frame length")
            guard let type = MessageType(rawValue: raw), let tail = b.readSlice(length: length),
                  let frame = SharedFrame(type: type, tail: tail) else { throw .malformed("feed frame of type \(raw)") }
            out.append(frame)
        }
        return out
    }
}

/// A tick's attribute changes and events: `varint tick`, then `FeedFrames`.
package struct FeedExtras: Sendable {
    package var tick: UInt64
    package var frames: [SharedFrame]

    package init(tick: UInt64, frames: [SharedFrame]) { self.tick = tick; self.frames = frames }

    package func encoded() -> ByteBuffer {
        var out = ByteBufferAllocator().buffer(capacity: 64 + frames.reduce(0) { $0 + $1.tail.readableBytes })
        out.writeVarint(tick)
        FeedFrames.write(frames, into: &out)
        return out
    }

    package static func decode(_ payload: ByteBuffer) throws(WireError) -> FeedExtras {
        var b = payload
        let tick = try b.readVarint()
        let frames = try FeedFrames.read(from: &b)
        guard b.readableBytes == 0 else { throw .malformed("feed extras: bytes after the frames") }
        return FeedExtras(tick: tick, frames: frames)
    }
}

/// A gateway asks for the keyframes of cells (after the next tick), optionally an attribute
/// snapshot and the static geometry of an area: `varint request`, `u8 flags` (1 snapshot,
/// 2 geometry), the area when geometry is asked (`u8 0` whole scene, or `u8 1` and four
/// f64), `varint count`, the cells.
package struct FeedKeyRequest: Equatable, Sendable {
    package var request: UInt32
    package var cells: [Int]
    package var snapshot: Bool
    /// nil: no geometry; .some(nil): the whole scene's; .some(area): buildings touching the area.
    package var geometry: WireArea??

    /// Answer after this tick, not the next one: region shards answer one request at the
    /// same tick (a gateway asks a few ticks ahead of what it has seen). nil: the next tick.
    package var at: UInt64?

    /// Each cell's entities with their identities and values, and its keyframe with heights
    /// (for version 3 subscribers).
    package var members: Bool

    package init(request: UInt32, cells: [Int], snapshot: Bool, geometry: WireArea??, at: UInt64? = nil, members: Bool = false) {
        self.request = request; self.cells = cells; self.snapshot = snapshot; self.geometry = geometry; self.at = at; self.members = members
    }

    /// Most cells one request may name (a scene's grid is at most 65,535 a side, but a
    /// gateway's request names at most what one subscriber covers).
    package static let maxCells = 1 << 20

    package func encoded() -> ByteBuffer {
        var out = ByteBufferAllocator().buffer(capacity: 48 + cells.count * 3)
        out.writeVarint(UInt64(request))
        out.writeInteger(UInt8((snapshot ? 1 : 0) | (geometry != nil ? 2 : 0) | (at != nil ? 4 : 0) | (members ? 8 : 0)))
        if let at { out.writeVarint(at) }
        if case .some(let area) = geometry {
            if let a = area {
                out.writeInteger(UInt8(1))
                for v in [a.minX, a.minY, a.maxX, a.maxY] { out.writeF64(v) }
            } else {
                out.writeInteger(UInt8(0))
            }
        }
        out.writeVarint(UInt64(cells.count))
        for c in cells { out.writeVarint(UInt64(c)) }
        return out
    }

    package static func decode(_ payload: ByteBuffer) throws(WireError) -> FeedKeyRequest {
        var b = payload
        let request = try b.readVarint()
        let flags: UInt8 = try b.readInt("key request flags")
        guard request <= UInt64(UInt32.max), flags & ~15 == 0 else { throw .malformed("feed key request") }
        let at: UInt64? = flags & 4 != 0 ? try b.readVarint() : nil
        var geometry: WireArea?? = nil
        if flags & 2 != 0 {
            let has: UInt8 = try b.readInt("geometry area")
            switch has {
            case 0: geometry = .some(nil)
            case 1:
                let a = WireArea(minX: try b.readF64("minX"), minY: try b.readF64("minY"), maxX: try b.readF64("maxX"), maxY: try b.readF64("maxY"))
                guard [a.minX, a.minY, a.maxX, a.maxY].allSatisfy(\.isFinite) else { throw .malformed("feed key request: area not finite") }
                geometry = .some(a)
            default: throw .malformed("feed key request: area flag \(has)")
            }
        }
        let n = try b.readCount(limit: min(maxCells, b.readableBytes), "cells")
        var cells: [Int] = []
        cells.reserveCapacity(n)
        for _ in 0..<n {
            let c = try b.readVarint()
            guard c < UInt64(maxCells) * 4096 else { throw .malformed("feed key request: cell \(c)") }
            cells.append(Int(c))
        }
        guard b.readableBytes == 0 else { throw .malformed("feed key request: bytes after the cells") }
        return FeedKeyRequest(request: UInt32(request), cells: cells, snapshot: flags & 1 != 0, geometry: geometry, at: at, members: flags & 8 != 0)
    }
}

/// One part of the answer to a key request: `varint request`, `varint tick`, `u8 last`,
/// `varint count` cells' keyframes (each `varint length`, a `FeedCellKey`), then `FeedFrames` (the
/// geometry first, then the snapshot). An answer too large for one NATS message is cut into
/// parts, all published before the tick's `FeedTick`.
package struct FeedKeyReply: Sendable {
    package var request: UInt32
    package var tick: UInt64
    package var last: Bool
    package var keyframes: [ByteBuffer]
    package var frames: [SharedFrame]
    /// A region shard's answer: its region and how many there are (each answers for its cells).
    package var region: (index: Int, regions: Int)?

    package init(request: UInt32, tick: UInt64, last: Bool, keyframes: [ByteBuffer], frames: [SharedFrame], region: (index: Int, regions: Int)? = nil) {
        self.request = request; self.tick = tick; self.last = last; self.keyframes = keyframes; self.frames = frames; self.region = region
    }

    package var size: Int { 32 + keyframes.reduce(0) { $0 + $1.readableBytes + 5 } + frames.reduce(0) { $0 + $1.tail.readableBytes + 6 } }

    package func encoded() -> ByteBuffer {
        var out = ByteBufferAllocator().buffer(capacity: size)
        out.writeVarint(UInt64(request))
        out.writeVarint(tick)
        out.writeInteger(UInt8((last ? 1 : 0) | (region != nil ? 2 : 0)))
        if let region { out.writeVarint(UInt64(region.index)); out.writeVarint(UInt64(region.regions)) }
        out.writeVarint(UInt64(keyframes.count))
        for k in keyframes {
            out.writeVarint(UInt64(k.readableBytes))
            out.writeImmutableBuffer(k)
        }
        FeedFrames.write(frames, into: &out)
        return out
    }

    package static func decode(_ payload: ByteBuffer) throws(WireError) -> FeedKeyReply {
        var b = payload
        let request = try b.readVarint(), tick = try b.readVarint()
        let last: UInt8 = try b.readInt("last")
        guard request <= UInt64(UInt32.max), last & ~3 == 0 else { throw .malformed("feed key reply") }
        var region: (index: Int, regions: Int)?
        if last & 2 != 0 {
            let index = try b.readVarint(), regions = try b.readVarint()
            guard regions >= 1, regions <= 65_535, index < regions else { throw .malformed("feed key reply: region \(index) of \(regions)") }
            region = (Int(index), Int(regions))
        }
        let n = try b.readCount(limit: b.readableBytes, "keyframes")
        var keyframes: [ByteBuffer] = []
        for _ in 0..<n {
            let length = try b.readCount(limit: b.readableBytes, "keyframe length")
            guard let k = b.readSlice(length: length) else { throw .truncated("keyframe") }
            keyframes.append(k)
        }
        let frames = try FeedFrames.read(from: &b)
        guard b.readableBytes == 0 else { throw .malformed("feed key reply: bytes after the frames") }
        return FeedKeyReply(request: UInt32(request), tick: tick, last: last & 1 != 0, keyframes: keyframes, frames: frames, region: region)
    }

    /// The answer cut into parts of at most `limit` bytes each (one part at least; a single
    /// keyframe or frame over the limit goes alone in its part, and the publisher counts it
    /// when NATS refuses it).
    package static func parts(request: UInt32, tick: UInt64, keyframes: [ByteBuffer], frames: [SharedFrame], limit: Int,
                              region: (index: Int, regions: Int)? = nil) -> [FeedKeyReply] {
        var out: [FeedKeyReply] = []
        var current = FeedKeyReply(request: request, tick: tick, last: false, keyframes: [], frames: [], region: region)
        var size = 32
        func flushIfOver(_ extra: Int) {
            if size + extra > limit && (!current.keyframes.isEmpty || !current.frames.isEmpty) {
                out.append(current)
                current = FeedKeyReply(request: request, tick: tick, last: false, keyframes: [], frames: [], region: region)
                size = 32
            }
        }
        for k in keyframes { flushIfOver(k.readableBytes + 5); current.keyframes.append(k); size += k.readableBytes + 5 }
        for f in frames { flushIfOver(f.tail.readableBytes + 6); current.frames.append(f); size += f.tail.readableBytes + 6 }
        current.last = true
        out.append(current)
        return out
    }
}

/// The scenes a process serves, for a gateway: `varint count`, then per scene its name and
/// scenario (wire strings), `varint maxFrameBytes`, `varint entities`, `varint length` and
/// the scene's SceneInfo frame (subscription 0, layout version 2: kinds with heights), and
/// the event kinds the scenario sends to every subscriber whatever its area (`varint count`,
/// each `u16`).
package struct FeedScene: Sendable {
    package var name: String
    package var scenario: String
    package var maxFrameBytes: Int
    package var entities: UInt32
    package var info: SceneInfoMessage
    package var sceneWideEvents: [UInt16]
    /// Who may join, as a gateway says it (`/api/scenes`): 0 nobody, 1 anyone, 2 with a join
    /// token (which the scene's process checks; it never travels here); and how many at once.
    package var joinAccess: UInt8
    package var maxParticipants: UInt32

    package init(name: String, scenario: String, maxFrameBytes: Int, entities: UInt32, info: SceneInfoMessage, sceneWideEvents: [UInt16] = [],
                 joinAccess: UInt8 = 0, maxParticipants: UInt32 = 0) {
        self.name = name; self.scenario = scenario; self.maxFrameBytes = maxFrameBytes; self.entities = entities; self.info = info
        self.sceneWideEvents = sceneWideEvents
        self.joinAccess = joinAccess; self.maxParticipants = maxParticipants
    }

    package static func encode(_ scenes: [FeedScene]) -> ByteBuffer {
        var out = ByteBufferAllocator().buffer(capacity: 1024)
        out.writeVarint(UInt64(scenes.count))
        for s in scenes {
            out.writeWireString(s.name)
            out.writeWireString(s.scenario)
            out.writeVarint(UInt64(s.maxFrameBytes))
            out.writeVarint(UInt64(s.entities))
            var frame = WireMessage.sceneInfo(s.info).frame()
            out.writeVarint(UInt64(frame.readableBytes))
            out.writeBuffer(&frame)
            out.writeVarint(UInt64(s.sceneWideEvents.count))
            for k in s.sceneWideEvents { out.writeInteger(k) }
            out.writeInteger(s.joinAccess)
            out.writeVarint(UInt64(s.maxParticipants))
        }
        return out
    }

    package static func decode(_ payload: ByteBuffer) throws(WireError) -> [FeedScene] {
        var b = payload
        let n = try b.readCount(limit: min(4096, b.readableBytes), "scenes")
        var out: [FeedScene] = []
        for _ in 0..<n {
            let name = try b.readWireString("name"), scenario = try b.readWireString("scenario")
            let maxFrame = try b.readVarint(), entities = try b.readVarint()
            let length = try b.readCount(limit: b.readableBytes, "info length")
            guard maxFrame <= UInt64(UInt32.max), entities <= UInt64(UInt32.max), let frame = b.readSlice(length: length) else {
                throw .malformed("feed scene \(name)")
            }
            guard case .sceneInfo(let info) = try FeedWire.message(frame, maxFrameBytes: length + 16) else {
                throw .malformed("feed scene \(name): no SceneInfo")
            }
            let wide = try b.readCount(limit: b.readableBytes / 2, "scene-wide events")
            var kinds: [UInt16] = []
            for _ in 0..<wide { kinds.append(try b.readInt("event kind")) }
            guard let access: UInt8 = b.readInteger(), access <= 2 else { throw .malformed("feed scene \(name): join access") }
            let most = try b.readVarint()
            guard most <= UInt64(UInt32.max) else { throw .malformed("feed scene \(name): most participants \(most)") }
            out.append(FeedScene(name: name, scenario: scenario, maxFrameBytes: Int(maxFrame), entities: UInt32(entities), info: info, sceneWideEvents: kinds,
                                 joinAccess: access, maxParticipants: UInt32(most)))
        }
        guard b.readableBytes == 0 else { throw .malformed("feed scenes: bytes after the list") }
        return out
    }
}

/// One protocol frame carried whole in a feed message (a Control request, its ControlResult).
package enum FeedWire {
    package static func message(_ payload: ByteBuffer, maxFrameBytes: Int = 1 << 20) throws(WireError) -> WireMessage {
        var b = payload
        guard let frame = try WireFrameDecoder(maxFrameBytes: maxFrameBytes).next(&b), b.readableBytes == 0 else {
            throw .malformed("feed: not one whole frame")
        }
        return try WireMessage.decode(type: frame.type, payload: frame.payload, maxFrameBytes: maxFrameBytes)
    }
}

/// What goes wrong between a gateway and the scenes' processes.
package enum FeedError: Error, CustomStringConvertible, Equatable {
    case unknownScenario(String)
    case noScenes(String)

    package var description: String {
        switch self {
        case .unknownScenario(let s): return "a scene's process runs scenario '\(s)', which this gateway does not know (another version?)"
        case .noScenes(let why): return "no scene's process answered on NATS (\(FeedSubjects.scenes)): \(why)"
        }
    }
}
