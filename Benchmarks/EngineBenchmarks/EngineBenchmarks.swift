import Benchmark
import SceneCore
import SceneWire
import TwinBench

/// package-benchmark suite for the engine step and the state encoder:
/// `swift package benchmark --target EngineBenchmarks`.
let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(metrics: [.wallClock, .mallocCountTotal, .peakMemoryResident],
                                           maxDuration: .seconds(10), maxIterations: 50)

    for (entities, label) in [(10_000, "10k"), (100_000, "100k")] {
        for workers in [1, 2] {
            Benchmark("step \(label) crowd w\(workers)") { (benchmark: Benchmark, world: World) in
                for _ in benchmark.scaledIterations { world.step() }
            } setup: {
                let w = CrowdCity.world(entities: entities, workers: workers)
                for _ in 0..<3 { w.step() }
                return w
            }
        }
    }

    Benchmark("encode 100k crowd tick") { (benchmark: Benchmark, setup: (World, SceneStateEncoder)) in
        let (world, encoder) = setup
        var ids: [UInt32] = [], kinds: [UInt8] = [], xs: [Float] = [], ys: [Float] = []
        for i in 0..<world.store.slotCount { ids.append(UInt32(i)); kinds.append(1); xs.append(world.store.x[i]); ys.append(world.store.y[i]) }
        for _ in benchmark.scaledIterations {
            blackHole(encoder.encode(tick: world.tick, ids: ids, kinds: kinds, x: xs, y: ys))
        }
    } setup: {
        let w = CrowdCity.world(entities: 100_000, workers: 2)
        let b = w.bounds
        let e = SceneStateEncoder(bounds: WireArea(minX: 0, minY: 0, maxX: Double(b.maxX), maxY: Double(b.maxY)), cellSize: 128)
        return (w, e)
    }
}
