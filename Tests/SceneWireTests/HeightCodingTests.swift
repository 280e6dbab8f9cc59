import Foundation
import NIOCore
import Testing
@testable import SceneWire

/// Version 2 codes the height of some kinds with x and y: the decoded z equals the
/// quantised, clamped input at every tick, for early and late joiners, and a z outside the
/// declared range is refused.
@Suite struct HeightCodingTests {
    /// Kind 2 flies (a ball): z from -1 to 40 m; kinds 0 and 1 stay on the ground.
    static let heights = HeightKinds([2: -1...40], quantum: 0.01)

    static func heightsOf(_ w: Wanderers, tick: UInt64) -> [Float] {
        w.live.ids.map { id in
            // Bounces, and now and then beyond the range (the encoder clamps).
            let t = Float(tick) * 0.05 + Float(id)
            return id % 17 == 0 ? 45 * abs(sin(t)) - 2 : 20 * abs(sin(t * 0.7))
        }
    }

    @Test(arguments: [11, 12, 13] as [UInt64])
    func decodedHeightsEqualTheEncodersAtEveryTick(seed: UInt64) throws {
        var world = Wanderers(count: 400, seed: seed)
        let encoder = SceneStateEncoder(bounds: WireArea(minX: 0, minY: 0, maxX: 300, maxY: 200), quantum: 0.01, cellSize: 40,
                                        heights: Self.heights)
        var early = SceneStateDecoder(heights: Self.heights)
        var late = SceneStateDecoder(heights: Self.heights)
        var withZ = 0
        for tick in UInt64(1)...200 {
            world.step(dt: 0.05)
            let live = world.live
            let z = Self.heightsOf(world, tick: tick)
            let blocks = encoder.encode(tick: tick, ids: live.ids, kinds: live.kinds, x: live.x, y: live.y, z: z)
            let ordered = blocks.keys.sorted().map { blocks[$0]! }
            let keyframes = (0..<encoder.cells.count).compactMap { encoder.keyframe(cell: $0) }
            _ = try early.apply(tick: tick, resync: tick == 1, blocks: tick == 1 ? keyframes : ordered)
            if tick == 100 { _ = try late.apply(tick: tick, resync: true, blocks: keyframes) } else if tick > 100 { _ = try late.apply(tick: tick, resync: false, blocks: ordered) }
            for decoder in tick >= 100 ? [early, late] : [early] {
                var decoded: [UInt32: (UInt8, Int32, Int32, Int32?)] = [:]
                decoder.forEach3 { id, kind, qx, qy, qz in decoded[id] = (kind, qx, qy, qz) }
                #expect(decoded.count == live.ids.count)
                for (k, id) in live.ids.enumerated() {
                    guard let (kind, qx, qy, qz) = decoded[id] else { Issue.record("\(id) missing at \(tick)"); return }
                    #expect(kind == live.kinds[k] && qx == encoder.quantise(live.x[k]) && qy == encoder.quantise(live.y[k]))
                    if kind == 2 {
                        // Independently: round to centimetres, then clamp to the declared range.
                        let expected = Int32(min(max((Double(z[k]) * 100).rounded(), -100), 4000))
                        #expect(qz == expected, "z of \(id) at tick \(tick)")
                        withZ += 1
                    } else {
                        #expect(qz == nil)
                    }
                }
            }
        }
        #expect(withZ > 1000)
    }

    @Test func twoDimensionalStreamsAreUnchanged() {
        // Without height kinds the encoder writes version 1's bytes exactly.
        var a = Wanderers(count: 200, seed: 3), b = a
        let plain = SceneStateEncoder(bounds: WireArea(minX: 0, minY: 0, maxX: 300, maxY: 200), cellSize: 40)
        let none = SceneStateEncoder(bounds: WireArea(minX: 0, minY: 0, maxX: 300, maxY: 200), cellSize: 40, heights: HeightKinds([:], quantum: 0.01))
        for tick in UInt64(1)...30 {
            a.step(dt: 0.05); b.step(dt: 0.05)
            let l = a.live, m = b.live
            let x = plain.encode(tick: tick, ids: l.ids, kinds: l.kinds, x: l.x, y: l.y)
            let y = none.encode(tick: tick, ids: m.ids, kinds: m.kinds, x: m.x, y: m.y, z: m.x.map { _ in 5 })
            #expect(x.values.map { Array($0.readableBytesView) } == y.values.map { Array($0.readableBytesView) })
        }
    }

    @Test func aHeightOutsideTheDeclaredRangeIsRefused() throws {
        // A keyframe of one kind-2 entity at z = 41 m, over the 40 m maximum.
        var s = CellState()
        s.append(id: 1, kind: 2, qx: 100, qy: 100, vx: 0, vy: 0, qz: 4100, vz: 0)
        var w = ByteWriter()
        s.writeKeyframe(&w, heights: Self.heights)
        var r = ByteReader(w.bytes)
        #expect(throws: WireError.malformed("height 4100 of entity 1 outside its kind's range -100...4000")) {
            try CellState.readKeyframe(&r, heights: Self.heights)
        }
        // In range it reads back, z included.
        var ok = CellState()
        ok.append(id: 1, kind: 2, qx: 100, qy: 100, vx: 0, vy: 0, qz: 3999, vz: -3)
        var w2 = ByteWriter()
        ok.writeKeyframe(&w2, heights: Self.heights)
        var r2 = ByteReader(w2.bytes)
        #expect(try CellState.readKeyframe(&r2, heights: Self.heights) == ok)
    }

    @Test func sceneInfoDeclaresDimensionsInVersionTwoOnly() throws {
        let kinds = [KindInfo(code: 1, name: "player"), KindInfo(code: 2, name: "ball", attributes: [AttributeInfo(name: "z", type: 0)], zRange: -1...60)]
        let v2 = SceneInfoMessage(subscription: 1, scene: "s", epsg: 7415, originX: 0, originY: 0, quantum: 0.01, tickRate: 25,
                                  bounds: WireArea(minX: 0, minY: 0, maxX: 125, maxY: 88), cellSize: 128, cellColumns: 1, cellRows: 1,
                                  kinds: kinds, version: 2)
        var v1 = v2
        v1.version = 1
        func decode(_ m: SceneInfoMessage) throws -> SceneInfoMessage? {
            var f = WireMessage.sceneInfo(m).frame()
            let frame = try #require(try WireFrameDecoder().next(&f))
            guard case .sceneInfo(let i) = try WireMessage.decode(type: frame.type, payload: frame.payload) else { return nil }
            return i
        }
        #expect(try decode(v2) == v2)
        #expect(try decode(v2)?.heights?.range(2) == -100...6000)
        let back = try #require(try decode(v1))
        #expect(back.version == 1 && back.kinds.allSatisfy { $0.zRange == nil } && back.heights == nil)
        #expect(WireMessage.sceneInfo(v2).frameBytes == WireMessage.sceneInfo(v1).frameBytes + 1 + 9)   // kind 1: one byte (2); kind 2: 3 and two f32
    }

    @Test func anEntityCrossingIntoAnotherCellKeepsItsVelocity() throws {
        // 40 m cells; one walker at 7 cm a tick crosses x = 40 m. Entering the next cell it
        // is sent with its velocity, so its next residual is 0, not a whole step.
        let encoder = SceneStateEncoder(bounds: WireArea(minX: 0, minY: 0, maxX: 80, maxY: 40), cellSize: 40)
        var decoder = SceneStateDecoder()
        var x: Float = 39.5
        var crossed = false
        for tick in UInt64(1)...20 {
            x += 0.07
            let blocks = encoder.encode(tick: tick, ids: [5], kinds: [1], x: [x], y: [10])
            let list = tick == 1 ? (0..<encoder.cells.count).compactMap { encoder.keyframe(cell: $0) } : blocks.keys.sorted().map { blocks[$0]! }
            _ = try decoder.apply(tick: tick, resync: tick == 1, blocks: list)
            if let right = decoder.cells[1], !crossed, tick > 2 {
                crossed = true
                #expect(right.vx == [7] && right.vy == [0], "entered with its velocity")
                #expect(encoder.cells[1] == right)
            }
        }
        #expect(crossed)
    }

    @Test func heightDecodersStayBoundedOnRandomBytes() {
        let seed = UInt64(ProcessInfo.processInfo.environment["TWINSCENE_FUZZ_SEED"] ?? "") ?? 20261202
        print("heightDecodersStayBoundedOnRandomBytes: fuzz seed \(seed)")
        var rng = SystemRandomNumberGeneratorLike(seed: seed)
        for _ in 0..<3000 {
            let bytes = (0..<Int.random(in: 0...64, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            var r = ByteReader(bytes)
            _ = try? CellState.readKeyframe(&r, heights: Self.heights)
            var s = CellState()
            s.append(id: 1, kind: 2, qx: 0, qy: 0, vx: 0, vy: 0, qz: 10, vz: 0)
            var r2 = ByteReader(bytes)
            _ = try? s.applyDelta(&r2, riceK: Int.random(in: 0...12, using: &rng), heights: Self.heights)
        }
    }
}
