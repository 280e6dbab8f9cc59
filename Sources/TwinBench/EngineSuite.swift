import Foundation
import Scenarios
import SceneCore

/// `twinscene bench engine`: tick time at 10k, 100k and 1M entities, the 2-worker
/// speed-up, memory per entity, and whether 1-4 workers agree on the state hash.
package enum EngineSuite {
    package static func run(quick: Bool, scenesDir: String = "Scenes", log: (String) -> Void = { _ in }) -> [BenchResult] {
        var results: [BenchResult] = []
        let big = quick ? 100_000 : 1_000_000
        let tag = quick ? "100k" : "1m"
        let ticks = quick ? 10 : 20
        let warmup = 3

        var reindex: [Double] = []
        func timeTicks(_ world: World) -> [Double] {
            for _ in 0..<warmup { world.step() }
            reindex = []
            return (0..<ticks).map { _ in
                let ms = measureMilliseconds { world.step() }
                reindex.append(Double(world.stageNanos.reindex) / 1e6)
                return ms
            }
        }

        log("building \(big) entities ...")
        let rssBefore = residentBytes()
        let world = CrowdCity.world(entities: big, workers: 1)
        let rssBuilt = residentBytes()
        world.step()
        log(String(format: "resident memory: %.1f B per entity after spawning, %.1f B after the first step",
                   Double(rssBuilt - rssBefore) / Double(big), Double(residentBytes() - rssBefore) / Double(big)))
        let rssAfter = residentBytes()
        trimAllocator()
        let rssTrimmed = residentBytes()
        log("timing \(big) entities, 1 worker ...")
        let w1 = timeTicks(world)
        world.workers = 2
        log("timing \(big) entities, 2 workers ...")
        let w2 = timeTicks(world)
        let r1 = BenchResult(name: "tick_ms_\(tag)_w1", unit: "ms", samples: w1)
        let r2 = BenchResult(name: "tick_ms_\(tag)_w2", unit: "ms", samples: w2)
        let serialReindex = BenchResult(name: "reindex_ms_\(tag)", unit: "ms", samples: reindex)
        results += [r1, r2, BenchResult(name: "speedup_w2", unit: "x", value: r1.median / r2.median), serialReindex]
        results.append(BenchResult(name: "bytes_per_entity_\(tag)", unit: "B", value: Double(max(0, rssTrimmed - rssBefore)) / Double(big)))
        results.append(BenchResult(name: "bytes_per_entity_untrimmed_\(tag)", unit: "B", value: Double(max(0, rssAfter - rssBefore)) / Double(big)))
        results.append(BenchResult(name: "store_bytes_per_entity_\(tag)", unit: "B", value: Double(world.store.residentBytes) / Double(big)))

        for (n, name) in (quick ? [(10_000, "10k")] : [(100_000, "100k"), (10_000, "10k")]) {
            log("timing \(n) entities, 2 workers ...")
            let w = CrowdCity.world(entities: n, workers: 2)
            results.append(BenchResult(name: "tick_ms_\(name)_w2", unit: "ms", samples: timeTicks(w)))
        }

        if let marathon = try? MarathonBench.world(runners: quick ? 20_000 : 100_000, scenesDir: scenesDir) {
            log("timing the marathon, \(marathon.world.store.count) entities, 2 workers ...")
            let w = marathon.world
            w.workers = 2
            for _ in 0..<(quick ? 100 : 400) { _ = marathon.tick() }   // the field gets going
            let samples = (0..<ticks).map { _ in measureMilliseconds { _ = marathon.tick() } }
            results.append(BenchResult(name: quick ? "marathon_tick_ms_20k_w2" : "marathon_tick_ms_100k_w2", unit: "ms", samples: samples))
        } else {
            log("skipping the marathon: \(scenesDir)/marathon.scene.json not found (run from the repository root)")
        }

        log("checking determinism over 1-4 workers ...")
        var hashes = Set<UInt64>()
        for workers in 1...4 {
            let w = CrowdCity.world(entities: 20_000, workers: workers, seed: 5)
            for _ in 0..<20 { w.step() }
            hashes.insert(w.stateHash())
        }
        results.append(BenchResult(name: "deterministic", unit: "bool", value: hashes.count == 1 ? 1 : 0))
        return results
    }
}
