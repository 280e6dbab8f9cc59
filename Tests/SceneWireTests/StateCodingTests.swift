import NIOCore
import Testing
@testable import SceneWire

/// Entities wandering over a 300 x 200 m area, some spawning and despawning, some
/// teleporting, so that they cross cells, leave and enter.
struct Wanderers {
    var x: [Float], y: [Float], vx: [Float], vy: [Float], alive: [Bool], kind: [UInt8]
    var rng: SystemRandomNumberGeneratorLike

    init(count: Int, seed: UInt64) {
        rng = SystemRandomNumberGeneratorLike(seed: seed)
        x = []; y = []; vx = []; vy = []; alive = []; kind = []
        for _ in 0..<count {
            x.append(Float.random(in: 0..<300, using: &rng)); y.append(Float.random(in: 0..<200, using: &rng))
            vx.append(Float.random(in: -3...3, using: &rng)); vy.append(Float.random(in: -3...3, using: &rng))
            alive.append(true); kind.append(UInt8.random(in: 0...2, using: &rng))
        }
    }

    mutating func step(dt: Float) {
        for i in x.indices {
            vx[i] += Float.random(in: -0.3...0.3, using: &rng); vy[i] += Float.random(in: -0.3...0.3, using: &rng)
            x[i] = min(max(x[i] + vx[i] * dt, 0), 299.99); y[i] = min(max(y[i] + vy[i] * dt, 0), 199.99)
            if Int.random(in: 0..<500, using: &rng) == 0 { alive[i].toggle() }
            if Int.random(in: 0..<2000, using: &rng) == 0 { x[i] = Float.random(in: 0..<300, using: &rng) }
            if Int.random(in: 0..<3000, using: &rng) == 0 { kind[i] = UInt8.random(in: 0...2, using: &rng) }
        }
    }

    var live: (ids: [UInt32], kinds: [UInt8], x: [Float], y: [Float]) {
        var out: ([UInt32], [UInt8], [Float], [Float]) = ([], [], [], [])
        for i in x.indices where alive[i] { out.0.append(UInt32(i)); out.1.append(kind[i]); out.2.append(x[i]); out.3.append(y[i]) }
        return out
    }
}

/// A small seeded generator for tests (SplitMix64).
struct SystemRandomNumberGeneratorLike: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

@Suite struct StateCodingTests {
    @Test(arguments: [1, 2, 3, 4, 5, 6] as [UInt64])
    func decodedStateEqualsEncoderStateWithinHalfAQuantum(seed: UInt64) throws {
        var world = Wanderers(count: 600, seed: seed)
        let encoder = SceneStateEncoder(bounds: WireArea(minX: 0, minY: 0, maxX: 300, maxY: 200), quantum: 0.01, cellSize: 40)
        var early = SceneStateDecoder()
        var late = SceneStateDecoder()
        var maxError: Double = 0
        for tick in UInt64(1)...300 {
            world.step(dt: 0.05)
            let live = world.live
            let blocks = encoder.encode(tick: tick, ids: live.ids, kinds: live.kinds, x: live.x, y: live.y)
            let ordered = blocks.keys.sorted().map { blocks[$0]! }
            if tick == 1 {
                // The first frame of a fresh subscription is a resync of keyframes.
                _ = try early.apply(tick: tick, resync: true, blocks: (0..<encoder.cells.count).compactMap { encoder.keyframe(cell: $0) })
            } else {
                _ = try early.apply(tick: tick, resync: false, blocks: ordered)
            }
            if tick == 150 {
                _ = try late.apply(tick: tick, resync: true, blocks: (0..<encoder.cells.count).compactMap { encoder.keyframe(cell: $0) })
            } else if tick > 150 {
                _ = try late.apply(tick: tick, resync: false, blocks: ordered)
            }
            // Every live entity is present exactly once, at its position within half a quantum.
            var decoded: [UInt32: (UInt8, Int32, Int32)] = [:]
            early.forEach { id, kind, qx, qy in decoded[id] = (kind, qx, qy) }
            #expect(decoded.count == live.ids.count)
            for (k, id) in live.ids.enumerated() {
                guard let (kind, qx, qy) = decoded[id] else { Issue.record("entity \(id) missing at tick \(tick)"); return }
                #expect(kind == live.kinds[k])
                maxError = max(maxError, abs(Double(qx) * 0.01 - Double(live.x[k])), abs(Double(qy) * 0.01 - Double(live.y[k])))
            }
            if tick > 150 { #expect(late.cells == early.cells) }
        }
        #expect(maxError <= 0.005 + 1e-6, "max error \(maxError) m")
    }

    @Test func deltasOutOfOrderOrMissingAreRefused() throws {
        var world = Wanderers(count: 50, seed: 9)
        let encoder = SceneStateEncoder(bounds: WireArea(minX: 0, minY: 0, maxX: 300, maxY: 200), cellSize: 400)
        var decoder = SceneStateDecoder()
        var live = world.live
        _ = encoder.encode(tick: 1, ids: live.ids, kinds: live.kinds, x: live.x, y: live.y)
        #expect(throws: WireError.self) { try decoder.apply(tick: 1, resync: false, blocks: []) }
        _ = try decoder.apply(tick: 1, resync: true, blocks: [encoder.keyframe(cell: 0)!])
        world.step(dt: 0.05); live = world.live
        let b2 = encoder.encode(tick: 2, ids: live.ids, kinds: live.kinds, x: live.x, y: live.y)
        world.step(dt: 0.05); live = world.live
        let b3 = encoder.encode(tick: 3, ids: live.ids, kinds: live.kinds, x: live.x, y: live.y)
        #expect(throws: WireError.outOfOrder("tick 3 after 1")) { try decoder.apply(tick: 3, resync: false, blocks: Array(b3.values)) }
        #expect(throws: WireError.self) { try decoder.apply(tick: 2, resync: false, blocks: []) }
        _ = try decoder.apply(tick: 2, resync: false, blocks: Array(b2.values))
        _ = try decoder.apply(tick: 3, resync: false, blocks: Array(b3.values))
        #expect(decoder.entityCount == live.ids.count)
    }

    @Test func corruptedCellBlocksAreTypedErrors() throws {
        var world = Wanderers(count: 200, seed: 4)
        let encoder = SceneStateEncoder(bounds: WireArea(minX: 0, minY: 0, maxX: 300, maxY: 200), cellSize: 400)
        let live = world.live
        _ = encoder.encode(tick: 1, ids: live.ids, kinds: live.kinds, x: live.x, y: live.y)
        let key = encoder.keyframe(cell: 0)!
        let bytes = Array(key.readableBytesView)
        var rng = SystemRandomNumberGeneratorLike(seed: 1)
        for _ in 0..<300 {
            var damaged = bytes
            damaged[Int.random(in: 0..<damaged.count, using: &rng)] ^= UInt8.random(in: 1...255, using: &rng)
            var d = SceneStateDecoder()
            _ = try? d.apply(tick: 1, resync: true, blocks: [ByteBuffer(bytes: damaged)])
            _ = try? d.apply(tick: 1, resync: true, blocks: [ByteBuffer(bytes: Array(bytes.prefix(Int.random(in: 0..<bytes.count, using: &rng))))])
        }
        world.step(dt: 0.05)
        // A block announcing a huge payload is refused without allocating it.
        var liar = ByteBuffer()
        liar.writeVarint(0); liar.writeInteger(UInt8(0x10)); liar.writeVarint(UInt64(1) << 40); liar.writeVarint(1); liar.writeInteger(UInt8(0))
        #expect(throws: WireError.self) { try CellBlock.open(liar) }
    }
}

@Suite struct RiceCodingTests {
    @Test(arguments: [0, 1, 2, 5, 12])
    func roundTripsAnyValueWithAnyK(k: Int) throws {
        var rng = SystemRandomNumberGeneratorLike(seed: UInt64(k) + 3)
        var values: [UInt64] = [0, 1, 2, 3, 15, 16, 17, 255, 1 << 20, (1 << 40) - 1]
        for _ in 0..<500 { values.append(UInt64.random(in: 0...40, using: &rng)) }
        var bytes: [UInt8] = [0xAB]   // something before, as in a payload
        RiceCoding.encode(values, k: k, into: &bytes)
        #expect(bytes[0] == 0xAB)
        var r = RiceReader(bytes: bytes, from: 1, k: k)
        for v in values { #expect(try r.next() == v) }
        #expect(r.bytesUsed == bytes.count)
    }

    @Test func bestKFitsTheSpread() {
        #expect(RiceCoding.bestK([0, 0, 1, 0, 2, 0]) == 0)
        #expect(RiceCoding.bestK([100, 90, 120, 80, 110]) >= 5)
    }

    @Test func truncatedRiceDataIsAnError() {
        var bytes: [UInt8] = []
        RiceCoding.encode([5, 9, 1000], k: 2, into: &bytes)
        var r = RiceReader(bytes: Array(bytes.dropLast()), from: 0, k: 2)
        #expect(throws: WireError.self) { for _ in 0..<3 { _ = try r.next() } }
    }
}
