import NIOCore
import Scenarios
import SceneCore
import Testing
@testable import SceneServer
@testable import SceneWire

/// The feed's payloads (docs/SCALEOUT.md): what is coded comes back, cut answers stay under
/// the limit and keep their order, and bytes that are not a payload are an error, never a crash.
struct FeedMessagesTests {
    /// Entrants of a cell: one with an identity and values, an anonymous one new in its slot.
    static let entrants = [
        FeedEntrant(slot: 70_000, generation: 3, new: false, kind: 1,
                    identity: WireEntityInfo(entity: 70_000, kind: 1, key: "bib-7", label: "Zoë Ünal", group: "wave 2", number: 7),
                    values: [WireAttribute(entity: 70_000, attribute: 0, bits: 7), WireAttribute(entity: 70_000, attribute: 1, bits: Float(271.5).bitPattern)]),
        FeedEntrant(slot: 70_001, generation: 1, new: true, kind: 2, identity: nil, values: []),
    ]

    @Test func subjectsAreSafeTokensForAnySceneName() {
        #expect(FeedSubjects.cell("district", column: 3, row: 7) == "scene.district.cell.3.7")
        #expect(FeedSubjects.token("football-live_2") == "football-live_2")
        // A dot, a space, a wildcard or non-ASCII cannot reach a subject: hex of the UTF-8.
        #expect(FeedSubjects.token("a.b") == "x612e62")
        #expect(FeedSubjects.token("*") == "x2a" && FeedSubjects.token("") == "x")
        #expect(FeedSubjects.token("zürich") == "x7ac3bc72696368")
        for name in ["a b", ">", "a.*", "é"] { #expect(!FeedSubjects.token(name).contains { ". *>".contains($0) }) }
    }

    @Test func everyPayloadRoundTrips() throws {
        let block = CellBlock.drop(cell: 77)
        let cell = try FeedCell.decode(FeedCell(tick: 1 << 40, block: block).encoded())
        #expect(cell.tick == 1 << 40 && cell.block == block && cell.block3 == nil && cell.left.isEmpty && cell.entrants.isEmpty)
        // Who left and who came in, with identities (UTF-8 texts) and values; a block with heights.
        let full = FeedCell(tick: 3, block: block, block3: CellBlock.drop(cell: 78), left: [2, 9, 70_000, .max], entrants: Self.entrants)
        #expect(try FeedCell.decode(full.encoded()) == full)
        for key in [FeedCellKey(cell: 77, block: block), FeedCellKey(cell: 65_534 * 3, block: block, block3: block, members: Self.entrants),
                    FeedCellKey(cell: 0, block: block, members: [])] {
            #expect(try FeedCellKey.decode(key.encoded()) == key)
        }

        for end in [FeedTick(tick: 9, serverTimeMicros: 1_800_000_000_000_000, entities: 10_300, advanced: true),
                    FeedTick(tick: 0, serverTimeMicros: 0, entities: 0, advanced: false, reset: true, geometryChanged: true)] {
            #expect(try FeedTick.decode(end.encoded()) == end)
        }

        let events = SharedFrame(.events(subscription: 0, tick: 5, events: [WireEvent(entity: 3, kind: 101, value: 2.5)]))!
        let changes = SharedFrame(.attributes(subscription: 0, tick: 5, snapshot: false, values: [WireAttribute(entity: 3, attribute: 1, bits: 42)]))!
        let extras = try FeedExtras.decode(FeedExtras(tick: 5, frames: [changes, events]).encoded())
        #expect(extras.tick == 5 && extras.frames.map(\.type) == [.attributes, .events])
        // The forwarded frame is the same bytes as the server's own for any subscription.
        #expect(extras.frames[1].frame(subscription: 300) == WireMessage.events(subscription: 300, tick: 5, events: [WireEvent(entity: 3, kind: 101, value: 2.5)]).frame())
        #expect(extras.frames[0].frame(subscription: 300) == WireMessage.attributes(subscription: 300, tick: 5, snapshot: false, values: [WireAttribute(entity: 3, attribute: 1, bits: 42)]).frame())

        for request in [FeedKeyRequest(request: 7, cells: [0, 5, 65_534 * 3], snapshot: true, geometry: .some(nil)),
                        FeedKeyRequest(request: .max, cells: [], snapshot: false, geometry: .some(WireArea(minX: -64, minY: 0, maxX: 128, maxY: 64))),
                        FeedKeyRequest(request: 1, cells: [1], snapshot: false, geometry: nil),
                        FeedKeyRequest(request: 2, cells: [4, 5], snapshot: false, geometry: nil, at: 9, members: true)] {
            #expect(try FeedKeyRequest.decode(request.encoded()) == request)
        }

        let info = SceneInfoMessage(subscription: 0, scene: "district", epsg: 7415, originX: 85_000, originY: 446_000, quantum: 0.01, tickRate: 20,
                                    bounds: WireArea(minX: 0, minY: 0, maxX: 576, maxY: 336), cellSize: 32, cellColumns: 18, cellRows: 11,
                                    kinds: [KindInfo(code: 1, name: "walker", attributes: [AttributeInfo(name: "speed", type: 1)], zRange: nil)])
        var info3 = info
        info3.version = 2
        info3.kinds.append(KindInfo(code: 2, name: "ball", attributes: [AttributeInfo(name: "z", type: 1)], zRange: 0...30))
        let scenes = try FeedScene.decode(FeedScene.encode([FeedScene(name: "district", scenario: "walkers", maxFrameBytes: 16 << 20, entities: 300, info: info),
                                                            FeedScene(name: "match", scenario: "football-replay", maxFrameBytes: 1 << 16, entities: 23, info: info3,
                                                                      sceneWideEvents: [110, 113, 114], joinAccess: 2, maxParticipants: 70_000)]))
        #expect(scenes.count == 2 && scenes[0].info == info && scenes[0].maxFrameBytes == 16 << 20 && scenes[0].entities == 300 && scenes[0].sceneWideEvents.isEmpty)
        #expect(scenes[1].info == info3 && scenes[1].sceneWideEvents == [110, 113, 114], "kinds with heights and the scene-wide events come through")
        #expect(scenes[0].joinAccess == 0 && scenes[1].joinAccess == 2 && scenes[1].maxParticipants == 70_000, "who may join comes through")

        // Participants through a gateway: a client's frame, a drop, alive; an answer.
        let join = WireMessage.join(request: 7, scene: "factory", name: "Zoë", start: .wave(2), joinToken: "t", resumeToken: "")
        for r in [FeedDeskRequest(op: .message, gateway: "_GW.abc.factory.desk", session: 1 << 40, address: "10.1.2.3", frame: join.frame()),
                  FeedDeskRequest(op: .dropped, gateway: "_GW.abc.factory.desk", session: 9, address: "::1"),
                  FeedDeskRequest(op: .alive, gateway: "g")] {
            #expect(try FeedDeskRequest.decode(r.encoded()) == r)
        }
        let carried = try FeedDeskRequest.decode(FeedDeskRequest(op: .message, gateway: "g", session: 1, frame: join.frame()).encoded())
        let carriedJoin = try FeedWire.message(carried.frame!)
        #expect(carriedJoin == join, "the client's frame as it came")
        let ack = WireMessage.inputAck(participant: 3, sequence: 4, tick: 5, x: 1.5, y: -2)
        let reply = try FeedDeskReply.decode(FeedDeskReply(session: 77, frame: ack.frame()).encoded())
        let carriedAck = try FeedWire.message(reply.frame)
        #expect(reply.session == 77 && carriedAck == ack)
    }

    /// An answer too large for one NATS message: parts under the limit, in order, the last one
    /// marked; put together they are the whole answer.
    /// Region shards' messages: a border with handovers, ghosts (a key, columns, attributes)
    /// and a ranking; a tick end with its region; a key request for a given tick; a region's
    /// answer.
    @Test func regionShardPayloadsRoundTrip() throws {
        let r = EntityRecord(slot: 70_000, generation: 3, kind: 1, x: 12.5, y: -0.25, vx: 5.5, vy: 0, goalX: .nan, goalY: 1, speed: 4.2,
                             columns: [Float(1234.5).bitPattern, 7, UInt32.max], attributes: [1, 2, 3, 4], key: "bib-7 ü")
        var g = r
        g.slot = 9; g.key = nil; g.attributes = []; g.goalX = 0
        let b = BorderMessage(tick: 1 << 33, from: 2, to: 1, handovers: [r], ghosts: [g, g], ranking: [RankEntry(score: 42.5, slot: 9)], received: 77)
        let back = try FeedBorder.decode(FeedBorder.encode(b))
        #expect(back.tick == b.tick && back.from == 2 && back.to == 1 && back.received == 77 && back.ranking == b.ranking)
        #expect(back.handovers.count == 1 && back.ghosts.count == 2 && back.ghosts[0] == g)
        // NaN does not equal itself: compare the bits.
        #expect(back.handovers[0].goalX.bitPattern == r.goalX.bitPattern && back.handovers[0].key == r.key && back.handovers[0].columns == r.columns)
        let ready = try FeedBorder.decode(FeedBorder.encode(BorderMessage(tick: 0, from: 0, to: 1)))
        #expect(ready.tick == 0 && ready.handovers.isEmpty && ready.ranking == nil)

        let end = FeedTick(tick: 5, serverTimeMicros: 6, entities: 7, advanced: true, region: FeedRegion(index: 1, regions: 2, hash: .max))
        #expect(try FeedTick.decode(end.encoded()) == end)
        let ask = FeedKeyRequest(request: 4, cells: [1, 9], snapshot: true, geometry: .some(nil), at: 123)
        #expect(try FeedKeyRequest.decode(ask.encoded()) == ask)
        let answer = try FeedKeyReply.decode(FeedKeyReply(request: 4, tick: 123, last: true, keyframes: [], frames: [], region: (1, 2)).encoded())
        #expect(answer.region?.index == 1 && answer.region?.regions == 2 && answer.last)
        // A region beyond the count, a record count beyond the bytes: refused.
        var bad = ByteBuffer(); bad.writeVarint(1); bad.writeVarint(1); bad.writeVarint(1); bad.writeInteger(UInt8(9)); bad.writeVarint(2); bad.writeVarint(2)
        bad.writeInteger(UInt64(0))
        #expect(throws: WireError.self) { try FeedTick.decode(bad) }
        var many = ByteBuffer(); for v in [1, 0, 1, 0, 1_000_000] { many.writeVarint(UInt64(v)) }
        #expect(throws: WireError.self) { try FeedBorder.decode(many) }
    }

    @Test func anAnswerIsCutIntoPartsUnderTheLimit() throws {
        var rng = SeededGenerator(seed: 0xfeed)
        let keyframes = (0..<200).map { c -> ByteBuffer in
            var b = ByteBuffer()
            b.writeVarint(UInt64(c))
            b.writeBytes((0..<Int.random(in: 10...3000, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) })
            return b
        }
        let snapshot = (0..<3).map { k in SharedFrame(.attributes(subscription: 0, tick: 8, snapshot: k == 0, values: (0..<2000).map { WireAttribute(entity: UInt32($0), attribute: 1, bits: UInt32($0 * 7)) }))! }
        let limit = 16 << 10
        let parts = FeedKeyReply.parts(request: 4, tick: 8, keyframes: keyframes, frames: snapshot, limit: limit)
        #expect(parts.count > 10)
        #expect(parts.dropLast().allSatisfy { !$0.last } && parts.last?.last == true)
        for p in parts { #expect(p.encoded().readableBytes <= limit || p.keyframes.count + p.frames.count == 1) }
        let decoded = try parts.map { try FeedKeyReply.decode($0.encoded()) }
        #expect(decoded.flatMap(\.keyframes) == keyframes)
        #expect(decoded.flatMap(\.frames).map(\.tail) == snapshot.map(\.tail))
        #expect(decoded.allSatisfy { $0.request == 4 && $0.tick == 8 })
        // Nothing to send is still one (last) part.
        let empty = FeedKeyReply.parts(request: 1, tick: 2, keyframes: [], frames: [], limit: limit)
        #expect(empty.count == 1 && empty[0].last)
    }

    /// Seeded garbage and every truncation of good payloads: each decoder throws or decodes,
    /// and never reads past the bytes it was given.
    @Test func badPayloadsAreErrors() throws {
        var rng = SeededGenerator(seed: 0xbad_feed)
        let good: [ByteBuffer] = [
            FeedTick(tick: 300, serverTimeMicros: 99, entities: 5, advanced: true).encoded(),
            FeedKeyRequest(request: 3, cells: [1, 2, 3], snapshot: true, geometry: .some(WireArea(minX: 0, minY: 0, maxX: 1, maxY: 1))).encoded(),
            FeedKeyReply(request: 3, tick: 9, last: true, keyframes: [CellBlock.drop(cell: 4)], frames: []).encoded(),
            FeedExtras(tick: 1, frames: [SharedFrame(.events(subscription: 0, tick: 1, events: []))!]).encoded(),
            FeedCell(tick: 3, block: CellBlock.drop(cell: 4), block3: CellBlock.drop(cell: 4), left: [1, 5], entrants: Self.entrants).encoded(),
            FeedCellKey(cell: 4, block: CellBlock.drop(cell: 4), members: Self.entrants).encoded(),
            FeedDeskRequest(op: .message, gateway: "_GW.x.desk", session: 3, address: "10.0.0.1", frame: WireMessage.leave(participant: 2).frame()).encoded(),
            FeedDeskReply(session: 3, frame: WireMessage.leave(participant: 2).frame()).encoded(),
            FeedBorder.encode(BorderMessage(tick: 3, from: 0, to: 1, handovers: [EntityRecord(slot: 1, generation: 0, kind: 1, x: 1, y: 2, vx: 0, vy: 0,
                goalX: 0, goalY: 0, speed: 1, columns: [1, 2], attributes: [3], key: "k")], ranking: [RankEntry(score: 1, slot: 1)], received: 2)),
        ]
        func tryAll(_ b: ByteBuffer) {
            _ = try? FeedTick.decode(b)
            _ = try? FeedKeyRequest.decode(b)
            _ = try? FeedKeyReply.decode(b)
            _ = try? FeedExtras.decode(b)
            _ = try? FeedScene.decode(b)
            _ = try? FeedCell.decode(b)
            _ = try? FeedCellKey.decode(b)
            _ = try? FeedWire.message(b)
            _ = try? FeedBorder.decode(b)
            _ = try? FeedDeskRequest.decode(b)
            _ = try? FeedDeskReply.decode(b)
        }
        for g in good {
            for n in 0..<g.readableBytes { tryAll(g.getSlice(at: g.readerIndex, length: n)!) }
        }
        for _ in 0..<2000 {
            let n = Int.random(in: 0...64, using: &rng)
            tryAll(ByteBuffer(bytes: (0..<n).map { _ in UInt8.random(in: 0...255, using: &rng) }))
        }
        // Specific refusals: unknown flags, a count beyond the bytes, bytes after the end.
        var flags = ByteBuffer(); flags.writeVarint(1); flags.writeVarint(2); flags.writeVarint(3); flags.writeInteger(UInt8(8))
        #expect(throws: WireError.self) { try FeedTick.decode(flags) }
        var count = ByteBuffer(); count.writeVarint(1); count.writeInteger(UInt8(0)); count.writeVarint(1_000_000)
        #expect(throws: WireError.self) { try FeedKeyRequest.decode(count) }
        var trailing = FeedTick(tick: 1, serverTimeMicros: 1, entities: 1, advanced: true).encoded(); trailing.writeInteger(UInt8(0))
        #expect(throws: WireError.self) { try FeedTick.decode(trailing) }
        // A desk message: an unknown op, a message without a frame, a drop with bytes after it, no gateway.
        for (op, gateway, tail) in [(UInt8(9), "g", [UInt8]()), (1, "g", []), (2, "g", [0]), (3, "", [])] {
            var d = ByteBuffer(); d.writeInteger(op); d.writeWireString(gateway); d.writeVarint(1); d.writeWireString("a"); d.writeBytes(tail)
            #expect(throws: WireError.self) { try FeedDeskRequest.decode(d) }
        }
        // An entrant with an unknown flag; a members flag other than 0 or 1.
        var entrant = ByteBuffer(); entrant.writeVarint(1); entrant.writeVarint(1); entrant.writeInteger(UInt8(4)); entrant.writeInteger(UInt8(1)); entrant.writeVarint(0)
        #expect(throws: WireError.self) { var e = entrant; _ = try FeedEntrant.read(from: &e) }
        var key = ByteBuffer(); key.writeVarint(1); key.writeVarint(0); key.writeVarint(0); key.writeInteger(UInt8(2))
        #expect(throws: WireError.self) { try FeedCellKey.decode(key) }
        var nan = ByteBuffer(); nan.writeVarint(1); nan.writeInteger(UInt8(2)); nan.writeInteger(UInt8(1))
        for v in [Double.nan, 0, 1, 1] { nan.writeF64(v) }
        nan.writeVarint(0)
        #expect(throws: WireError.self) { try FeedKeyRequest.decode(nan) }
    }
}
