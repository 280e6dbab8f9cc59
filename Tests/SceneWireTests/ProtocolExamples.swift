import NIOCore
@testable import SceneWire

/// The worked examples of docs/PROTOCOL.md, by the name each example block carries.
/// `ProtocolDocTests` checks that the document's hex is exactly what the encoder writes.
enum ProtocolExamples {
    static func cellBlocks() -> (key: ByteBuffer, delta: ByteBuffer) {
        // Two entities in cell 0: id 3 at (1.00 m, 2.00 m), id 7 at (1.50 m, 2.00 m), moving +1 cm/tick in x.
        var state = CellState()
        state.append(id: 3, kind: 1, qx: 100, qy: 200, vx: 1, vy: 0)
        state.append(id: 7, kind: 1, qx: 150, qy: 200, vx: 1, vy: 0)
        var w = ByteWriter()
        state.writeKeyframe(&w)
        let deflater = Deflater(level: 1)
        let key = CellBlock.make(cell: 0, kind: .keyframe, payload: ByteBuffer(bytes: w.bytes), deflater: deflater)
        // Next tick: id 3 moved as predicted to (1.01, 2.00); id 7 stopped at (1.50, 2.00) -> residual -1; id 9 entered.
        var next = CellState()
        next.append(id: 3, kind: 1, qx: 101, qy: 200, vx: 0, vy: 0)
        next.append(id: 7, kind: 1, qx: 150, qy: 200, vx: 0, vy: 0)
        next.append(id: 9, kind: 2, qx: 300, qy: 50, vx: 0, vy: 0)
        var d = ByteWriter()
        let k = state.encodeDeltaRice(to: next, &d)
        let delta = CellBlock.makeRice(cell: 0, k: k, payload: d.bytes)
        return (key, delta)
    }

    /// A player and the ball (a height kind, -1 to 60 m) in cell 0.
    static let heights = HeightKinds([2: -1...60], quantum: 0.01)
    static func keyframe3D() -> ByteBuffer {
        var state = CellState()
        state.append(id: 3, kind: 1, qx: 100, qy: 200, vx: 0, vy: 0, qz: 0, vz: 0)
        state.append(id: 4, kind: 2, qx: 150, qy: 200, vx: 0, vy: 0, qz: 120, vz: 3)
        var w = ByteWriter()
        state.writeKeyframe(&w, heights: heights)
        return CellBlock.make(cell: 0, kind: .keyframe, payload: ByteBuffer(bytes: w.bytes), deflater: Deflater(level: 1))
    }

    static var all: [(name: String, message: WireMessage)] {
        let (key, delta) = cellBlocks()
        return [
            ("hello", .hello(minVersion: 1, maxVersion: 1, client: "py")),
            ("welcome", .welcome(version: 1, maxFrameBytes: 16_777_216, serverTimeMicros: 1_700_000_000_000_000, server: "twinscene")),
            ("listScenes", .listScenes),
            ("sceneList", .sceneList([SceneSummary(name: "district", scenario: "walkers", entities: 2000, tickRate: 20)])),
            ("subscribe", .subscribe(subscription: 1, scene: "district", area: WireArea(minX: 0, minY: 0, maxX: 200, maxY: 150))),
            ("subscribeWhole", .subscribe(subscription: 2, scene: "district", area: nil)),
            ("unsubscribe", .unsubscribe(subscription: 1)),
            ("moveArea", .moveArea(subscription: 1, area: WireArea(minX: 100, minY: 0, maxX: 300, maxY: 150))),
            ("sceneInfo", .sceneInfo(SceneInfoMessage(subscription: 1, scene: "district", epsg: 7415, originX: 85000, originY: 446000,
                                                      quantum: 0.01, tickRate: 20, bounds: WireArea(minX: 0, minY: 0, maxX: 576, maxY: 336),
                                                      cellSize: 64, cellColumns: 9, cellRows: 6, kinds: [KindInfo(code: 1, name: "runner", attributes: [AttributeInfo(name: "bib", type: 1)])]))),
            ("staticGeometry", .staticGeometry(subscription: 1, buildings: [
                WireBuilding(rings: [[SIMD2(1000, 1000), SIMD2(3000, 1000), SIMD2(3000, 2500), SIMD2(1000, 2500)]], heightDecimetres: 125)])),
            ("stateFrameKeyframe", .stateFrame(subscription: 1, tick: 41, serverTimeMicros: 1_700_000_000_050_000, resync: true, cells: [key])),
            ("stateFrameDelta", .stateFrame(subscription: 1, tick: nil, serverTimeMicros: nil, resync: false,
                                            cells: [delta, CellBlock.drop(cell: 5)])),
            ("events", .events(subscription: 1, tick: 42, events: [WireEvent(entity: 7, kind: 100, value: 1.0)])),
            ("attributes", .attributes(subscription: 1, tick: 42, snapshot: false, values: [
                WireAttribute(entity: 3, attribute: 0, bits: 1234), WireAttribute(entity: 7, attribute: 2, bits: Float(312.5).bitPattern)])),
            ("control", .control(token: "s3cret", scene: "district", command: .step(10))),
            ("controlResult", .controlResult(ok: true, message: "ok")),
            ("ping", .ping(nonce: 1, timeMicros: 1000)),
            ("pong", .pong(nonce: 1, echoedMicros: 1000, serverTimeMicros: 2000)),
            ("error", .error(code: 6, message: "no scene")),
            ("goodbye", .goodbye(reason: "bye")),
            ("helloV2", .hello(minVersion: 1, maxVersion: 2, client: "web")),
            ("entityInfo", .entityInfo(subscription: 1, entities: [
                WireEntityInfo(entity: 3, kind: 1, key: "bib-17", label: "Zoë de Vries", group: "wave 1", number: 17),
                WireEntityInfo(entity: 9, kind: 2, key: "ball", label: "ball", group: "ball", number: 0)])),
            ("moveAreaRequest", .moveAreaRequest(subscription: 1, request: 7, area: WireArea(minX: 100, minY: 0, maxX: 300, maxY: 150))),
            ("areaMoved", .areaMoved(subscription: 1, request: 7, tick: 42)),
            ("sceneInfoV2", .sceneInfo(SceneInfoMessage(subscription: 1, scene: "district", epsg: 7415, originX: 85000, originY: 446000,
                                                        quantum: 0.01, tickRate: 20, bounds: WireArea(minX: 0, minY: 0, maxX: 576, maxY: 336),
                                                        cellSize: 64, cellColumns: 9, cellRows: 6,
                                                        kinds: [KindInfo(code: 1, name: "player"), KindInfo(code: 2, name: "ball", zRange: -1...60)],
                                                        version: 2))),
            ("stateFrameKeyframe3D", .stateFrame(subscription: 1, tick: 41, serverTimeMicros: nil, resync: true, cells: [keyframe3D()], countsCells: false)),
            ("join", .join(request: 1, scene: "marathon", name: "Zoë", start: .wave(2), joinToken: "", resumeToken: "")),
            ("joined", .joined(request: 1, participant: 10301, tick: 1200, x: 12.5, y: 330.25, maxSpeed: 12.5, maxAcceleration: 5,
                               resumeToken: "5f0c2a9e71d34b68a0e1c4f29b7d3e51")),
            ("inputTreadmill", .input(participant: 10301, sequence: 1, input: .treadmill(speed: 3.5))),
            ("inputHeading", .input(participant: 10301, sequence: 2, input: .heading(radians: 1.5707964, speed: 2))),
            ("inputFix", .input(participant: 10301, sequence: 3, input: .fix(x: 120.5, y: 8.25, timeMicros: 1_733_000_000_000_000))),
            ("inputAck", .inputAck(participant: 10301, sequence: 3, tick: 1205, x: 14.25, y: 330.25)),
            ("leave", .leave(participant: 10301)),
            ("refused", .refused(request: 4, code: 29, count: 1, message: "too fast")),
        ]
    }

    static func hex(_ m: WireMessage) -> String {
        let bytes = Array(m.frame().readableBytesView)
        var lines: [String] = []
        for start in stride(from: 0, to: bytes.count, by: 16) {
            lines.append(bytes[start..<min(start + 16, bytes.count)].map { b in
                let s = String(b, radix: 16)
                return s.count == 1 ? "0" + s : s
            }.joined(separator: " "))
        }
        return lines.joined(separator: "\n")
    }
}
