import Testing
@testable import SceneCore

@Suite struct UniformGridTests {
    /// Random points, some exactly on cell borders and some outside the bounds.
    static func points(seed: UInt64, count: Int) -> ([Float], [Float]) {
        var rng = SeededGenerator(seed: seed)
        var xs: [Float] = [], ys: [Float] = []
        for i in 0..<count {
            switch i % 5 {
            case 0: xs.append(Float(Int.random(in: 0...50, using: &rng)) * 2); ys.append(Float(Int.random(in: 0...50, using: &rng)) * 2)
            case 1: xs.append(Float.random(in: -30 ..< 130, using: &rng)); ys.append(Float.random(in: -30 ..< 130, using: &rng))
            default: xs.append(Float.random(in: 0 ..< 100, using: &rng)); ys.append(Float.random(in: 0 ..< 100, using: &rng))
            }
        }
        return (xs, ys)
    }

    static func d2(_ x: Float, _ y: Float, _ cx: Float, _ cy: Float) -> Float {
        let dx = x - cx, dy = y - cy
        return dx * dx + dy * dy
    }

    static func grid(_ xs: [Float], _ ys: [Float], alive: [UInt8]) -> UniformGrid {
        var g = UniformGrid(bounds: Rect(minX: 0, minY: 0, maxX: 100, maxY: 100), cellSize: 2)
        xs.withUnsafeBufferPointer { x in ys.withUnsafeBufferPointer { y in alive.withUnsafeBufferPointer { a in
            g.rebuild(x: x, y: y, alive: a)
        } } }
        return g
    }

    @Test(arguments: [1, 2, 3, 4, 5] as [UInt64])
    func rectangleQueryMatchesBruteForce(seed: UInt64) {
        let (xs, ys) = Self.points(seed: seed, count: 3000)
        let alive = xs.indices.map { UInt8($0 % 7 == 3 ? 0 : 1) }
        let g = Self.grid(xs, ys, alive: alive)
        var rng = SeededGenerator(seed: seed &+ 100)
        for _ in 0..<50 {
            let x0 = Float(Int.random(in: -20...110, using: &rng)), y0 = Float.random(in: -20...110, using: &rng)
            let rect = Rect(minX: x0, minY: y0, maxX: x0 + Float.random(in: 0...40, using: &rng), maxY: y0 + 8)
            let expected = xs.indices.filter { alive[$0] == 1 && rect.contains(x: xs[$0], y: ys[$0]) }.map { Int32($0) }
            #expect(g.query(rect: rect) == expected)
        }
    }

    @Test(arguments: [1, 2, 3] as [UInt64])
    func radiusQueryMatchesBruteForce(seed: UInt64) {
        let (xs, ys) = Self.points(seed: seed, count: 2000)
        let alive = [UInt8](repeating: 1, count: xs.count)
        let g = Self.grid(xs, ys, alive: alive)
        var rng = SeededGenerator(seed: seed &+ 7)
        for _ in 0..<50 {
            let cx = Float.random(in: -40...140, using: &rng), cy = Float.random(in: -40...140, using: &rng)
            let r = Float.random(in: 0...15, using: &rng)
            let expected = xs.indices.filter { Self.d2(xs[$0], ys[$0], cx, cy) <= r * r }.map { Int32($0) }
            #expect(g.query(x: cx, y: cy, radius: r) == expected)
        }
    }

    @Test(arguments: [1, 2, 3] as [UInt64])
    func nearestMatchesBruteForce(seed: UInt64) {
        let (xs, ys) = Self.points(seed: seed, count: 1500)
        let alive = [UInt8](repeating: 1, count: xs.count)
        let g = Self.grid(xs, ys, alive: alive)
        var rng = SeededGenerator(seed: seed &+ 9)
        for _ in 0..<40 {
            let cx = Float.random(in: -60...160, using: &rng), cy = Float.random(in: -60...160, using: &rng)
            let k = Int.random(in: 1...12, using: &rng)
            var all: [(d: Float, i: Int32)] = []
            for j in xs.indices { all.append((Self.d2(xs[j], ys[j], cx, cy), Int32(j))) }
            all.sort { a, b in a.d < b.d || (a.d == b.d && a.i < b.i) }
            let expected: [Int32] = all.prefix(k).map { $0.i }
            #expect(g.nearest(x: cx, y: cy, k: k) == expected)
        }
    }

    @Test func emptyAndNonFiniteInputsDoNotCrash() {
        let g = Self.grid([Float.nan, .infinity, -.infinity], [0, .nan, 5], alive: [1, 1, 1])
        // Non-finite coordinates are filed in a border cell and never match a finite rectangle.
        #expect(g.query(rect: Rect(minX: 0, minY: 0, maxX: 100, maxY: 100)).isEmpty)
        #expect(g.nearest(x: 1, y: 1, k: 0).isEmpty)
        let empty = Self.grid([], [], alive: [])
        #expect(empty.nearest(x: 1, y: 1, k: 3).isEmpty)
    }
}
