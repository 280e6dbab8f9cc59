import Foundation
import NIOCore
import NIOEmbedded
import NIOTestUtils
import Testing
@testable import SceneWire

@Suite struct WireMessageTests {
    // Computed, not stored: a stored static's lazy storage shows up in LeakSanitizer's report.
    static var samples: [WireMessage] { [
        .hello(minVersion: 1, maxVersion: 3, client: "py-client"),
        .welcome(version: 1, maxFrameBytes: 1 << 20, serverTimeMicros: 123_456, server: "twinscene"),
        .listScenes,
        .join(request: 3, scene: "marathon", name: "Zoë", start: .wave(2), joinToken: "t0ken-t0ken", resumeToken: ""),
        .join(request: 4, scene: "marathon", name: "", start: .line, joinToken: "", resumeToken: "00112233445566778899aabbccddeeff"),
        .joined(request: 3, participant: 10_301, tick: 99, x: -3, y: 4, maxSpeed: 12.5, maxAcceleration: 5, resumeToken: "00112233445566778899aabbccddeeff"),
        .input(participant: 10_301, sequence: 1, input: .treadmill(speed: 3.5)),
        .input(participant: 10_301, sequence: 2, input: .heading(radians: -1.25, speed: 2)),
        .input(participant: 10_301, sequence: 3, input: .fix(x: 1.5, y: 2.5, timeMicros: 1 << 50)),
        .inputAck(participant: 10_301, sequence: 3, tick: 100, x: 1, y: -2),
        .leave(participant: 10_301),
        .refused(request: 7, code: 26, count: 981, message: "more than 20 inputs a second; dropped"),
        .sceneList([SceneSummary(name: "district", scenario: "walkers", entities: 2000, tickRate: 20)]),
        .subscribe(subscription: 7, scene: "district", area: WireArea(minX: 0, minY: 0, maxX: 100, maxY: 50)),
        .subscribe(subscription: 8, scene: "district", area: nil),
        .unsubscribe(subscription: 7),
        .moveArea(subscription: 7, area: WireArea(minX: 10, minY: 10, maxX: 20, maxY: 20)),
        .sceneInfo(SceneInfoMessage(subscription: 7, scene: "district", epsg: 7415, originX: 85000, originY: 446000, quantum: 0.01,
                                    tickRate: 20, bounds: WireArea(minX: 0, minY: 0, maxX: 500, maxY: 400), cellSize: 64,
                                    cellColumns: 8, cellRows: 7, kinds: [KindInfo(code: 1, name: "runner", attributes: [AttributeInfo(name: "bib", type: 1)])])),
        .staticGeometry(subscription: 7, buildings: [WireBuilding(rings: [[SIMD2(0, 0), SIMD2(1000, 0), SIMD2(1000, -500)]], heightDecimetres: 123)]),
        .stateFrame(subscription: 7, tick: 99, serverTimeMicros: 5, resync: true,
                    cells: [CellBlock.drop(cell: 3), CellBlock.drop(cell: 4)]),
        .stateFrame(subscription: 300, tick: nil, serverTimeMicros: nil, resync: false, cells: []),
        .events(subscription: 7, tick: 99, events: [WireEvent(entity: 5, kind: 3, value: 1.5)]),
        .attributes(subscription: 7, tick: 99, snapshot: true, values: [WireAttribute(entity: 2, attribute: 0, bits: 17), WireAttribute(entity: 9, attribute: 1, bits: 0x4090_0000)]),
        .control(token: "secret", scene: "district", command: .step(5)),
        .control(token: "secret", scene: "district", command: .reset(seed: 42)),
        .control(token: "secret", scene: "district", command: .speed(2)),
        .controlResult(ok: false, message: "unauthorized"),
        .ping(nonce: 1, timeMicros: 2),
        .pong(nonce: 1, echoedMicros: 2, serverTimeMicros: 3),
        .error(code: ErrorCode.frameTooLarge.rawValue, message: "too big"),
        .goodbye(reason: "server shutting down"),
        .entityInfo(subscription: 7, entities: [
            WireEntityInfo(entity: 3, kind: 1, key: "bib-17", label: "Zoë de Vries", group: "wave 1", number: 17),
            WireEntityInfo(entity: 900, kind: 2, key: "ball", label: "ball")]),
        .moveAreaRequest(subscription: 7, request: 41, area: WireArea(minX: 1, minY: 2, maxX: 3, maxY: 4)),
        .moveAreaRequest(subscription: 7, request: 42, area: nil),
        .areaMoved(subscription: 7, request: 42, tick: 1234),
    ] }

    @Test(arguments: samples)
    func roundTrips(_ message: WireMessage) throws {
        var frame = message.frame()
        let decoded = try #require(try WireFrameDecoder().next(&frame))
        #expect(frame.readableBytes == 0)
        #expect(decoded.type == message.type.rawValue)
        #expect(try WireMessage.decode(type: decoded.type, payload: decoded.payload) == message)
    }

    @Test func everyMessageTypeIsCovered() {
        #expect(Set(Self.samples.map(\.type)) == Set(MessageType.allCases))
    }

    @Test func frameDecoderHandlesAnySplit() throws {
        let frames = Self.samples.map { m -> (ByteBuffer, [WireFrame]) in
            var b = m.frame()
            let f = try! WireFrameDecoder().next(&b)!
            return (m.frame(), [f])
        }
        try ByteToMessageDecoderVerifier.verifyDecoder(inputOutputPairs: frames) { WireFrameDecoder() }
    }

    @Test func oversizedAndEmptyFramesAreRefusedBeforeBuffering() throws {
        var huge = ByteBuffer()
        huge.writeVarint(1 << 20)
        huge.writeInteger(UInt8(1))
        #expect(throws: WireError.frameTooLarge(length: 1 << 20, limit: 1024)) { try WireFrameDecoder(maxFrameBytes: 1024).next(&huge) }
        // A length prefix longer than 4 bytes is refused before its end arrives.
        var endless = ByteBuffer(bytes: [0xFF, 0xFF, 0xFF, 0xFF])
        #expect(throws: WireError.self) { try WireFrameDecoder().next(&endless) }
        var empty = ByteBuffer(bytes: [0])
        #expect(throws: WireError.emptyFrame) { try WireFrameDecoder().next(&empty) }
        var partial = ByteBuffer(bytes: [0x80])
        #expect((try? WireFrameDecoder().next(&partial)) == .some(nil))
    }

    @Test func unknownTypesTruncationAndTrailingBytesAreTypedErrors() {
        #expect(throws: WireError.unknownMessageType(0x7F)) { try WireMessage.decode(type: 0x7F, payload: ByteBuffer()) }
        for message in Self.samples {
            var f = message.frame()
            let frame = try! WireFrameDecoder().next(&f)!
            let bytes = Array(frame.payload.readableBytesView)
            if !bytes.isEmpty {
                #expect(throws: WireError.self) { try WireMessage.decode(type: frame.type, payload: ByteBuffer(bytes: bytes.dropLast())) }
            }
            #expect(throws: WireError.self) { try WireMessage.decode(type: frame.type, payload: ByteBuffer(bytes: bytes + [0])) }
        }
    }

    @Test func helloWithWrongMagicIsRefused() {
        var p = ByteBuffer(bytes: Array("HTTP".utf8))
        p.writeInteger(UInt16(1)); p.writeInteger(UInt16(1)); p.writeWireString("x")
        #expect(throws: WireError.malformed("hello: wrong magic, not a twinscene client")) { try WireMessage.decode(type: 1, payload: p) }
    }

    @Test func randomBytesNeverCrashTheDecoders() {
        // Seeded, so a crash replays: the seed is printed first (a crash leaves it in the log),
        // and TWINSCENE_FUZZ_SEED runs another one.
        let seed = UInt64(ProcessInfo.processInfo.environment["TWINSCENE_FUZZ_SEED"] ?? "") ?? 20261201
        print("randomBytesNeverCrashTheDecoders: fuzz seed \(seed)")
        var rng = SystemRandomNumberGeneratorLike(seed: seed)
        for _ in 0..<3000 {
            let n = Int.random(in: 0...80, using: &rng)
            let bytes = (0..<n).map { _ in UInt8.random(in: 0...255, using: &rng) }
            let type = UInt8.random(in: 0...0x16, using: &rng)
            _ = try? WireMessage.decode(type: type, payload: ByteBuffer(bytes: bytes), maxFrameBytes: 4096)
            _ = try? CellBlock.open(ByteBuffer(bytes: bytes))
            var r = ByteReader(bytes)
            _ = try? CellState.readKeyframe(&r)
            var s = CellState()
            var r2 = ByteReader(bytes)
            _ = try? s.applyDelta(&r2)
            var buf = ByteBuffer(bytes: bytes)
            _ = try? WireFrameDecoder(maxFrameBytes: 64).next(&buf)
        }
    }

    @Test func entityInfoTextsAreBoundedAndValidated() throws {
        // Writing cuts a long text at a character boundary, never inside one.
        let long = String(repeating: "é", count: 40)   // 80 bytes
        let m = WireMessage.entityInfo(subscription: 1, entities: [WireEntityInfo(entity: 1, kind: 1, key: long, label: "x")])
        var frame = m.frame()
        let f = try #require(try WireFrameDecoder().next(&frame))
        guard case .entityInfo(_, let list) = try WireMessage.decode(type: f.type, payload: f.payload) else { Issue.record("not EntityInfo"); return }
        #expect(list[0].key == String(repeating: "é", count: 32) && list[0].key.utf8.count == 64)
        // Reading refuses a text over 64 bytes and one that is not UTF-8, naming the field.
        func payload(key: [UInt8]) -> ByteBuffer {
            var b = ByteBuffer()
            b.writeVarint(1); b.writeVarint(1); b.writeVarint(5); b.writeInteger(UInt8(1))
            b.writeInteger(UInt8(key.count)); b.writeBytes(key)
            b.writeInteger(UInt8(0)); b.writeInteger(UInt8(0)); b.writeVarint(0)
            return b
        }
        #expect(throws: WireError.malformed("entity key: 65 bytes, over the limit of 64")) {
            try WireMessage.decode(type: MessageType.entityInfo.rawValue, payload: payload(key: Array(repeating: 0x61, count: 65)))
        }
        #expect(throws: WireError.malformed("entity key: not UTF-8")) {
            try WireMessage.decode(type: MessageType.entityInfo.rawValue, payload: payload(key: [0x61, 0xC3, 0x28]))
        }
        // A count larger than the payload could hold is refused before anything is allocated.
        var huge = ByteBuffer()
        huge.writeVarint(1); huge.writeVarint(1 << 40)
        #expect(throws: WireError.self) { try WireMessage.decode(type: MessageType.entityInfo.rawValue, payload: huge) }
        // And a good one still decodes.
        #expect(throws: Never.self) { try WireMessage.decode(type: MessageType.entityInfo.rawValue, payload: payload(key: Array("bib-1".utf8))) }
    }

    @Test func versionTwoMessagesSayWhichVersionsHaveThem() {
        #expect(MessageType.entityInfo.since == 2 && MessageType.moveAreaRequest.since == 2 && MessageType.areaMoved.since == 2)
        #expect(MessageType.moveArea.until == 1 && MessageType.subscribe.until == .max && MessageType.subscribe.since == 1)
    }

    @Test func embeddedChannelPipelineDecodesMessagesAndRejectsGarbage() throws {
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(WireFrameDecoder(maxFrameBytes: 256)))
        try channel.pipeline.syncOperations.addHandler(WireMessageCodec(maxFrameBytes: 256))
        try channel.writeInbound(WireMessage.ping(nonce: 9, timeMicros: 1).frame())
        #expect(try channel.readInbound(as: WireMessage.self) == .ping(nonce: 9, timeMicros: 1))
        var bad = ByteBuffer()
        bad.writeVarint(1000); bad.writeInteger(UInt8(1))
        #expect(throws: (any Error).self) { try channel.writeInbound(bad) }
        _ = try? channel.finish()
    }
}

@Suite struct StateFrameBufferTests {
    @Test(arguments: [(UInt64?.some(7), UInt64?.some(123_456_789), true), (nil, nil, false), (300, nil, false)])
    func theServersOnePassFrameEqualsTheGeneralEncoding(tick: UInt64?, time: UInt64?, resync: Bool) {
        let cells = [CellBlock.drop(cell: 3), CellBlock.drop(cell: 400)]
        let general = WireMessage.stateFrame(subscription: 9, tick: tick, serverTimeMicros: time, resync: resync, cells: cells).frame()
        let fast = WireMessage.stateFrameBuffer(subscription: 9, tick: tick, serverTimeMicros: time, resync: resync, cells: cells)
        #expect(Array(general.readableBytesView) == Array(fast.readableBytesView))
    }
}

@Suite struct TruncatedFrameTests {
    @Test func bytesLeftAtTheEndOfTheStreamAreAnError() throws {
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(WireFrameDecoder()))
        var buffer = WireMessage.ping(nonce: 1, timeMicros: 2).frame()
        buffer.moveWriterIndex(to: buffer.writerIndex - 1)
        try channel.writeInbound(buffer)
        #expect(throws: WireError.self) { _ = try channel.finish() }
    }
}
