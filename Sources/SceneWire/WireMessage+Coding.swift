import NIOCore

extension WireMessage {
    /// A whole StateFrame frame written in one pass into a buffer of the exact size (the
    /// server's hot path: no intermediate copies of the cell blocks).
    public static func stateFrameBuffer(subscription: UInt32, tick: UInt64?, serverTimeMicros: UInt64?, resync: Bool,
                                        cells: [ByteBuffer], countsCells: Bool = true) -> ByteBuffer {
        func varintSize(_ v: UInt64) -> Int { max(1, (64 - v.leadingZeroBitCount + 6) / 7) }
        var body = 2 + varintSize(UInt64(subscription)) + (countsCells ? varintSize(UInt64(cells.count)) : 0)
        if let tick { body += varintSize(tick) }
        if let serverTimeMicros { body += varintSize(serverTimeMicros) }
        for c in cells { body += c.readableBytes }
        var out = ByteBufferAllocator().buffer(capacity: body + 5)
        out.writeVarint(UInt64(body))
        out.writeInteger(MessageType.stateFrame.rawValue)
        out.writeInteger(UInt8((resync ? 1 : 0) | (tick != nil ? 2 : 0) | (serverTimeMicros != nil ? 4 : 0) | (countsCells ? 0 : 8)))
        out.writeVarint(UInt64(subscription))
        if let tick { out.writeVarint(tick) }
        if let serverTimeMicros { out.writeVarint(serverTimeMicros) }
        if countsCells { out.writeVarint(UInt64(cells.count)) }
        for var c in cells { out.writeBuffer(&c) }
        return out
    }

    /// Writes the whole frame: varint length, type byte, payload.
    public func writeFrame(into out: inout ByteBuffer) {
        var body = ByteBufferAllocator().buffer(capacity: 64)
        body.writeInteger(type.rawValue)
        writePayload(into: &body)
        out.writeVarint(UInt64(body.readableBytes))
        out.writeBuffer(&body)
    }

    /// Bytes of the whole frame on the wire (length prefix included).
    public var frameBytes: Int { frame().readableBytes }

    /// The frame as a new buffer.
    public func frame(allocator: ByteBufferAllocator = ByteBufferAllocator()) -> ByteBuffer {
        var b = allocator.buffer(capacity: 64)
        writeFrame(into: &b)
        return b
    }

    func writeArea(_ area: WireArea?, into out: inout ByteBuffer) {
        guard let area else { out.writeInteger(UInt8(0)); return }
        out.writeInteger(UInt8(1))
        out.writeF64(area.minX); out.writeF64(area.minY); out.writeF64(area.maxX); out.writeF64(area.maxY)
    }

    func writePayload(into out: inout ByteBuffer) {
        switch self {
        case .hello(let minV, let maxV, let client):
            out.writeBytes(WireProtocol.magic)
            out.writeInteger(minV); out.writeInteger(maxV)
            out.writeWireString(client)
        case .welcome(let version, let maxFrame, let time, let server):
            out.writeInteger(version); out.writeInteger(maxFrame); out.writeInteger(time)
            out.writeWireString(server)
        case .listScenes:
            break
        case .sceneList(let scenes):
            out.writeInteger(UInt16(scenes.count))
            for s in scenes {
                out.writeWireString(s.name); out.writeWireString(s.scenario)
                out.writeInteger(s.entities); out.writeInteger(s.tickRate)
            }
        case .subscribe(let sub, let scene, let area):
            out.writeInteger(sub); out.writeWireString(scene); writeArea(area, into: &out)
        case .unsubscribe(let sub):
            out.writeInteger(sub)
        case .moveArea(let sub, let area):
            out.writeInteger(sub); writeArea(area, into: &out)
        case .moveAreaRequest(let sub, let request, let area):
            out.writeInteger(sub); out.writeInteger(request); writeArea(area, into: &out)
        case .areaMoved(let sub, let request, let tick):
            out.writeInteger(sub); out.writeInteger(request); out.writeInteger(tick)
        case .entityInfo(let sub, let entities):
            out.writeVarint(UInt64(sub)); out.writeVarint(UInt64(entities.count))
            var last: UInt32 = 0
            for e in entities {
                // Sorted by entity: ids as gaps from the previous one.
                out.writeVarint(UInt64(e.entity &- last)); last = e.entity
                out.writeInteger(e.kind)
                out.writeShortText(e.key); out.writeShortText(e.label); out.writeShortText(e.group)
                out.writeVarint(UInt64(e.number))
            }
        case .sceneInfo(let i):
            out.writeInteger(i.subscription); out.writeWireString(i.scene); out.writeInteger(i.epsg)
            out.writeF64(i.originX); out.writeF64(i.originY); out.writeF64(i.quantum); out.writeInteger(i.tickRate)
            writeArea(i.bounds, into: &out)
            out.writeF64(i.cellSize); out.writeInteger(i.cellColumns); out.writeInteger(i.cellRows)
            out.writeInteger(UInt8(i.kinds.count))
            for k in i.kinds.prefix(255) {
                out.writeInteger(k.code); out.writeWireString(k.name)
                out.writeInteger(UInt8(min(k.attributes.count, 255)))
                for a in k.attributes.prefix(255) { out.writeWireString(a.name); out.writeInteger(a.type) }
            }
            if i.version >= 2 {
                // Version 2: per kind, in the same order, its dimensions and a height kind's range.
                for k in i.kinds.prefix(255) {
                    if let r = k.zRange {
                        out.writeInteger(UInt8(3)); out.writeF32(r.lowerBound); out.writeF32(r.upperBound)
                    } else {
                        out.writeInteger(UInt8(2))
                    }
                }
            }
        case .staticGeometry(let sub, let buildings):
            out.writeInteger(sub)
            var raw = ByteBufferAllocator().buffer(capacity: buildings.count * 64)
            raw.writeVarint(UInt64(buildings.count))
            for b in buildings {
                raw.writeInteger(b.heightDecimetres)
                raw.writeVarint(UInt64(b.rings.count))
                for ring in b.rings {
                    raw.writeVarint(UInt64(ring.count))
                    var last = SIMD2<Int32>(0, 0)
                    for p in ring {
                        raw.writeZigzag(Int64(p.x) - Int64(last.x)); raw.writeZigzag(Int64(p.y) - Int64(last.y))
                        last = p
                    }
                }
            }
            out.writeInteger(UInt32(raw.readableBytes))
            let deflater = Deflater(level: 6)
            var packed = deflater.deflate(raw.readableBytesView)
            out.writeInteger(UInt32(packed.readableBytes))
            out.writeBuffer(&packed)
        case .stateFrame(let sub, let tick, let time, let resync, let cells, let countsCells):
            // flags: bit 0 resync, bit 1 tick present, bit 2 server time present, bit 3 no cell
            // count (version 2).
            out.writeInteger(UInt8((resync ? 1 : 0) | (tick != nil ? 2 : 0) | (time != nil ? 4 : 0) | (countsCells ? 0 : 8)))
            out.writeVarint(UInt64(sub))
            if let tick { out.writeVarint(tick) }
            if let time { out.writeVarint(time) }
            if countsCells { out.writeVarint(UInt64(cells.count)) }
            for var c in cells { out.writeBuffer(&c) }
        case .events(let sub, let tick, let events):
            out.writeInteger(sub); out.writeInteger(tick)
            out.writeVarint(UInt64(events.count))
            for e in events { out.writeVarint(UInt64(e.entity)); out.writeInteger(e.kind); out.writeF32(e.value) }
        case .attributes(let sub, let tick, let snapshot, let values):
            out.writeVarint(UInt64(sub)); out.writeVarint(tick); out.writeInteger(UInt8(snapshot ? 1 : 0))
            out.writeVarint(UInt64(values.count))
            var last: UInt32 = 0
            for v in values {
                // Values are sorted by entity: ids as gaps from the previous one.
                out.writeVarint(UInt64(v.entity &- last)); last = v.entity
                out.writeInteger(v.attribute); out.writeInteger(v.bits)
            }
        case .control(let token, let scene, let command):
            out.writeWireString(token); out.writeWireString(scene); out.writeInteger(command.opcode)
            switch command {
            case .pause, .resume, .listClients: break
            case .step(let n): out.writeInteger(n)
            case .speed(let f): out.writeF32(f)
            case .reset(let seed): out.writeInteger(seed)
            case .loadTile(let name): out.writeWireString(name)
            case .fault(let entity): out.writeInteger(entity)
            }
        case .controlResult(let ok, let message):
            out.writeInteger(UInt8(ok ? 1 : 0)); out.writeWireString(message)
        case .ping(let nonce, let time):
            out.writeInteger(nonce); out.writeInteger(time)
        case .pong(let nonce, let echoed, let time):
            out.writeInteger(nonce); out.writeInteger(echoed); out.writeInteger(time)
        case .error(let code, let message):
            out.writeInteger(code); out.writeWireString(message)
        case .join(let request, let scene, let name, let start, let joinToken, let resumeToken):
            out.writeInteger(request); out.writeWireString(scene); out.writeWireString(name)
            switch start {
            case .line: out.writeInteger(UInt8(0))
            case .wave(let w): out.writeInteger(w)
            }
            out.writeWireString(joinToken); out.writeWireString(resumeToken)
        case .joined(let request, let participant, let tick, let x, let y, let maxSpeed, let maxAcceleration, let token):
            out.writeInteger(request); out.writeInteger(participant); out.writeInteger(tick)
            out.writeF32(x); out.writeF32(y); out.writeF32(maxSpeed); out.writeF32(maxAcceleration); out.writeWireString(token)
        case .input(let participant, let sequence, let input):
            out.writeInteger(participant); out.writeInteger(sequence)
            switch input {
            case .heading(let r, let v): out.writeInteger(UInt8(1)); out.writeF32(r); out.writeF32(v)
            case .treadmill(let v): out.writeInteger(UInt8(2)); out.writeF32(v)
            case .fix(let x, let y, let t): out.writeInteger(UInt8(3)); out.writeF32(x); out.writeF32(y); out.writeInteger(t)
            }
        case .inputAck(let participant, let sequence, let tick, let x, let y):
            out.writeInteger(participant); out.writeInteger(sequence); out.writeInteger(tick); out.writeF32(x); out.writeF32(y)
        case .leave(let participant):
            out.writeInteger(participant)
        case .refused(let request, let code, let count, let message):
            out.writeInteger(request); out.writeInteger(code); out.writeInteger(count); out.writeWireString(message)
        case .goodbye(let reason):
            out.writeWireString(reason)
        }
    }

    /// Decodes one frame's payload. Throws a `WireError` for anything malformed,
    /// including bytes left over after the message.
    public static func decode(type rawType: UInt8, payload: ByteBuffer, maxFrameBytes: Int = WireProtocol.defaultMaxFrameBytes) throws(WireError) -> WireMessage {
        guard let type = MessageType(rawValue: rawType) else { throw .unknownMessageType(rawType) }
        var p = payload
        let limit = p.readableBytes
        func area() throws(WireError) -> WireArea? {
            let has: UInt8 = try p.readInt("area flag")
            if has == 0 { return nil }
            guard has == 1 else { throw .malformed("area flag \(has)") }
            let a = WireArea(minX: try p.readF64("area"), minY: try p.readF64("area"), maxX: try p.readF64("area"), maxY: try p.readF64("area"))
            guard a.minX.isFinite, a.minY.isFinite, a.maxX.isFinite, a.maxY.isFinite, a.minX <= a.maxX, a.minY <= a.maxY else {
                throw .malformed("area: needs finite min <= max")
            }
            return a
        }
        let message: WireMessage
        switch type {
        case .hello:
            guard let magic = p.readBytes(length: 4) else { throw .truncated("hello magic") }
            guard magic == WireProtocol.magic else { throw .malformed("hello: wrong magic, not a twinscene client") }
            message = .hello(minVersion: try p.readInt("min version"), maxVersion: try p.readInt("max version"), client: try p.readWireString("client name"))
        case .welcome:
            message = .welcome(version: try p.readInt("version"), maxFrameBytes: try p.readInt("max frame"),
                               serverTimeMicros: try p.readInt("server time"), server: try p.readWireString("server name"))
        case .listScenes:
            message = .listScenes
        case .sceneList:
            let n: UInt16 = try p.readInt("scene count")
            var scenes: [SceneSummary] = []
            for _ in 0..<n {
                scenes.append(SceneSummary(name: try p.readWireString("scene name"), scenario: try p.readWireString("scenario"),
                                           entities: try p.readInt("entities"), tickRate: try p.readInt("tick rate")))
            }
            message = .sceneList(scenes)
        case .subscribe:
            message = .subscribe(subscription: try p.readInt("subscription"), scene: try p.readWireString("scene"), area: try area())
        case .unsubscribe:
            message = .unsubscribe(subscription: try p.readInt("subscription"))
        case .moveArea:
            message = .moveArea(subscription: try p.readInt("subscription"), area: try area())
        case .moveAreaRequest:
            message = .moveAreaRequest(subscription: try p.readInt("subscription"), request: try p.readInt("request"), area: try area())
        case .areaMoved:
            message = .areaMoved(subscription: try p.readInt("subscription"), request: try p.readInt("request"), tick: try p.readInt("tick"))
        case .entityInfo:
            guard let sub = UInt32(exactly: try p.readVarint()) else { throw .malformed("subscription beyond 32 bits") }
            // An entry is at least 6 bytes (gap, kind, three empty texts, number).
            let n = try p.readCount(limit: limit / 6, "entity info count")
            var entities: [WireEntityInfo] = []
            var last: UInt64 = 0
            for _ in 0..<n {
                last += try p.readVarint()
                guard let entity = UInt32(exactly: last) else { throw .malformed("entity info id beyond 32 bits") }
                let kind: UInt8 = try p.readInt("entity kind")
                let key = try p.readShortText("entity key"), label = try p.readShortText("entity label"), group = try p.readShortText("entity group")
                guard let number = UInt32(exactly: try p.readVarint()) else { throw .malformed("entity number beyond 32 bits") }
                entities.append(WireEntityInfo(entity: entity, kind: kind, key: key, label: label, group: group, number: number))
            }
            message = .entityInfo(subscription: sub, entities: entities)
        case .sceneInfo:
            let sub: UInt32 = try p.readInt("subscription")
            let scene = try p.readWireString("scene")
            let epsg: UInt32 = try p.readInt("epsg")
            let ox = try p.readF64("origin"), oy = try p.readF64("origin"), q = try p.readF64("quantum")
            let rate: UInt16 = try p.readInt("tick rate")
            guard let bounds = try area() else { throw .malformed("scene info: bounds missing") }
            let cellSize = try p.readF64("cell size")
            let cols: UInt16 = try p.readInt("cell columns"), rows: UInt16 = try p.readInt("cell rows")
            let nk: UInt8 = try p.readInt("kind count")
            var kinds: [KindInfo] = []
            for _ in 0..<nk {
                let code: UInt8 = try p.readInt("kind code")
                let name = try p.readWireString("kind name")
                let na: UInt8 = try p.readInt("attribute count")
                var attributes: [AttributeInfo] = []
                for _ in 0..<na {
                    let an = try p.readWireString("attribute name")
                    let at: UInt8 = try p.readInt("attribute type")
                    guard at <= 1 else { throw .malformed("attribute type \(at)") }
                    attributes.append(AttributeInfo(name: an, type: at))
                }
                kinds.append(KindInfo(code: code, name: name, attributes: attributes))
            }
            guard q > 0, q.isFinite, cellSize > 0, cellSize.isFinite else { throw .malformed("scene info: quantum and cell size must be positive") }
            // Version 2 continues with each kind's dimensions; version 1 ends here.
            var version: UInt16 = 1
            if p.readableBytes > 0 {
                version = 2
                for k in kinds.indices {
                    let dimensions: UInt8 = try p.readInt("kind dimensions")
                    switch dimensions {
                    case 2: break
                    case 3:
                        let lo = try p.readF32("z minimum"), hi = try p.readF32("z maximum")
                        guard lo.isFinite, hi.isFinite, lo <= hi else { throw .malformed("kind \(kinds[k].code): z range needs finite minimum <= maximum") }
                        kinds[k].zRange = lo...hi
                    default: throw .malformed("kind \(kinds[k].code): \(dimensions) dimensions (2 or 3)")
                    }
                }
            }
            message = .sceneInfo(SceneInfoMessage(subscription: sub, scene: scene, epsg: epsg, originX: ox, originY: oy, quantum: q,
                                                  tickRate: rate, bounds: bounds, cellSize: cellSize, cellColumns: cols, cellRows: rows, kinds: kinds,
                                                  version: version))
        case .staticGeometry:
            let sub: UInt32 = try p.readInt("subscription")
            let rawLength: UInt32 = try p.readInt("raw length")
            let packedLength: UInt32 = try p.readInt("packed length")
            guard Int(rawLength) <= maxFrameBytes else { throw .frameTooLarge(length: Int(rawLength), limit: maxFrameBytes) }
            guard let packed = p.readSlice(length: Int(packedLength)) else { throw .truncated("static geometry") }
            var raw = try Inflater.inflate(packed.readableBytesView, expectedLength: Int(rawLength))
            let n = try raw.readCount(limit: Int(rawLength), "building count")
            var buildings: [WireBuilding] = []
            for _ in 0..<n {
                let h: UInt16 = try raw.readInt("height")
                let nr = try raw.readCount(limit: raw.readableBytes, "ring count")
                var rings: [[SIMD2<Int32>]] = []
                for _ in 0..<nr {
                    let np = try raw.readCount(limit: raw.readableBytes, "point count")
                    var ring: [SIMD2<Int32>] = []
                    var x: Int64 = 0, y: Int64 = 0
                    for _ in 0..<np {
                        x += try raw.readZigzag(); y += try raw.readZigzag()
                        guard let xi = Int32(exactly: x), let yi = Int32(exactly: y) else { throw .malformed("building point beyond 32 bits") }
                        ring.append(SIMD2(xi, yi))
                    }
                    rings.append(ring)
                }
                buildings.append(WireBuilding(rings: rings, heightDecimetres: h))
            }
            message = .staticGeometry(subscription: sub, buildings: buildings)
        case .stateFrame:
            let flags: UInt8 = try p.readInt("frame flags")
            guard flags <= 15 else { throw .malformed("state frame flags \(flags)") }
            guard let sub = UInt32(exactly: try p.readVarint()) else { throw .malformed("subscription beyond 32 bits") }
            let tick = flags & 2 != 0 ? try p.readVarint() : nil
            let time = flags & 4 != 0 ? try p.readVarint() : nil
            if flags & 1 != 0 && tick == nil { throw .malformed("a resync frame must carry its tick") }
            var cells: [ByteBuffer] = []
            if flags & 8 != 0 {
                // Version 2: no count, blocks to the end (each at least 3 bytes, so this ends).
                while p.readableBytes > 0 { cells.append(try CellBlock.slice(from: &p)) }
            } else {
                let n = try p.readCount(limit: limit, "cell count")
                for _ in 0..<n { cells.append(try CellBlock.slice(from: &p)) }
            }
            message = .stateFrame(subscription: sub, tick: tick, serverTimeMicros: time, resync: flags & 1 != 0, cells: cells, countsCells: flags & 8 == 0)
        case .events:
            let sub: UInt32 = try p.readInt("subscription")
            let tick: UInt64 = try p.readInt("tick")
            let n = try p.readCount(limit: limit, "event count")
            var events: [WireEvent] = []
            for _ in 0..<n {
                let id = try p.readVarint()
                guard let entity = UInt32(exactly: id) else { throw .malformed("event entity beyond 32 bits") }
                events.append(WireEvent(entity: entity, kind: try p.readInt("event kind"), value: try p.readF32("event value")))
            }
            message = .events(subscription: sub, tick: tick, events: events)
        case .attributes:
            guard let sub = UInt32(exactly: try p.readVarint()) else { throw .malformed("subscription beyond 32 bits") }
            let tick = try p.readVarint()
            let snapshot: UInt8 = try p.readInt("snapshot flag")
            guard snapshot <= 1 else { throw .malformed("snapshot flag \(snapshot)") }
            let n = try p.readCount(limit: limit / 6, "attribute count")
            var values: [WireAttribute] = []
            var last: UInt64 = 0
            for _ in 0..<n {
                last += try p.readVarint()
                guard let entity = UInt32(exactly: last) else { throw .malformed("attribute entity beyond 32 bits") }
                values.append(WireAttribute(entity: entity, attribute: try p.readInt("attribute index"), bits: try p.readInt("attribute value")))
            }
            message = .attributes(subscription: sub, tick: tick, snapshot: snapshot == 1, values: values)
        case .control:
            let token = try p.readWireString("token"), scene = try p.readWireString("scene")
            let op: UInt8 = try p.readInt("opcode")
            let command: ControlCommand
            switch op {
            case 1: command = .pause
            case 2: command = .resume
            case 3: command = .step(try p.readInt("step count"))
            case 4: command = .speed(try p.readF32("speed"))
            case 5: command = .reset(seed: try p.readInt("seed"))
            case 6: command = .loadTile(try p.readWireString("tile"))
            case 7: command = .listClients
            case 8: command = .fault(try p.readInt("entity"))
            default: throw .malformed("control opcode \(op)")
            }
            message = .control(token: token, scene: scene, command: command)
        case .controlResult:
            let ok: UInt8 = try p.readInt("ok")
            message = .controlResult(ok: ok == 1, message: try p.readWireString("message"))
        case .ping:
            message = .ping(nonce: try p.readInt("nonce"), timeMicros: try p.readInt("time"))
        case .pong:
            message = .pong(nonce: try p.readInt("nonce"), echoedMicros: try p.readInt("echoed time"), serverTimeMicros: try p.readInt("server time"))
        case .error:
            message = .error(code: try p.readInt("error code"), message: try p.readWireString("error message"))
        case .goodbye:
            message = .goodbye(reason: try p.readWireString("reason"))
        case .join:
            let request: UInt32 = try p.readInt("request"), scene = try p.readWireString("scene"), name = try p.readWireString("name")
            let w: UInt8 = try p.readInt("start")
            message = .join(request: request, scene: scene, name: name, start: w == 0 ? .line : .wave(w),
                            joinToken: try p.readWireString("join token"), resumeToken: try p.readWireString("resume token"))
        case .joined:
            message = .joined(request: try p.readInt("request"), participant: try p.readInt("participant"), tick: try p.readInt("tick"),
                              x: try p.readF32("x"), y: try p.readF32("y"), maxSpeed: try p.readF32("max speed"), maxAcceleration: try p.readF32("max acceleration"),
                              resumeToken: try p.readWireString("resume token"))
        case .input:
            let participant: UInt32 = try p.readInt("participant"), sequence: UInt32 = try p.readInt("sequence")
            let mode: UInt8 = try p.readInt("input mode")
            let input: WireInput
            switch mode {
            case 1: input = .heading(radians: try p.readF32("heading"), speed: try p.readF32("speed"))
            case 2: input = .treadmill(speed: try p.readF32("speed"))
            case 3: input = .fix(x: try p.readF32("fix x"), y: try p.readF32("fix y"), timeMicros: try p.readInt("fix time"))
            default: throw .malformed("input mode \(mode)")
            }
            message = .input(participant: participant, sequence: sequence, input: input)
        case .inputAck:
            message = .inputAck(participant: try p.readInt("participant"), sequence: try p.readInt("sequence"), tick: try p.readInt("tick"),
                                x: try p.readF32("x"), y: try p.readF32("y"))
        case .leave:
            message = .leave(participant: try p.readInt("participant"))
        case .refused:
            message = .refused(request: try p.readInt("request"), code: try p.readInt("refusal code"), count: try p.readInt("count"),
                               message: try p.readWireString("refusal message"))
        }
        guard p.readableBytes == 0 else { throw .malformed("\(p.readableBytes) unexpected bytes after a \(type) message") }
        return message
    }
}
