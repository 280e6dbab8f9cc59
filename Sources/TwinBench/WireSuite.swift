import CZlib
import Foundation
import NIOCore
import Scenarios
import SceneCore
import SceneWire

/// `twinscene bench wire`: bytes per entity per tick on the socket (frames as the server
/// sends them, headers and compression included), coding and decoding time, and the
/// largest position error, with the naive baselines measured in the same run.
package enum WireSuite {
    package static func run(quick: Bool, sharedData: String?, scenesDir: String = "Scenes", log: (String) -> Void = { _ in }) throws -> [BenchResult] {
        var results: [BenchResult] = []
        if let shared = sharedData, FileManager.default.fileExists(atPath: "\(shared)/tracking/hawkeye_period1_min1_players.csv") {
            log("Hawk-Eye minute at 25 Hz ...")
            results += try hawkEye(shared: shared)
        } else {
            log("skipping the Hawk-Eye figures: \(sharedData ?? "../shared/data")/tracking is absent")
        }
        log("broadcast-tracking churn at 10 Hz ...")
        results += churn(frames: quick ? 300 : 3000, view: nil)
        results += churn(frames: quick ? 300 : 3000, view: SIMD2(1000, 1000))
        log("100k walkers ...")
        let n = quick ? 20_000 : 100_000
        results += crowd(CrowdCity.world(entities: n, workers: 2), name: "walkers", tag: quick ? "20k" : "100k", ticks: quick ? 20 : 60)
        if let marathon = try? MarathonBench.world(runners: n, scenesDir: scenesDir) {
            log("\(n) marathon runners ...")
            for _ in 0..<(quick ? 100 : 400) { marathon.world.step() }   // the field gets going
            results += crowd(marathon.world, name: "marathon", tag: quick ? "20k" : "100k", ticks: quick ? 20 : 60)
        }
        return results
    }

    /// Frames of a single-cell whole-pitch subscription.
    static func hawkEye(shared: String) throws -> [BenchResult] {
        let players = try TrackingCSV.read(path: "\(shared)/tracking/hawkeye_period1_min1_players.csv").samples
        let ball = try TrackingCSV.read(path: "\(shared)/tracking/hawkeye_period1_min1_ball.csv", fixedId: "ball").samples
        // 25 Hz: every other 50 Hz frame, as the replay plays it. Pitch coordinates (origin at the centre) shifted to positive.
        let timeline = try ReplayTimeline(files: [players, ball], stated: nil, tickRate: 25, resampling: .hold, halfTime: .skip, file: "hawkeye")
        var frames: [Int: [TrackingSample]] = [:]
        for t in 0..<timeline.loopTicks { frames[t] = timeline.samples(at: UInt64(t)) }
        var ids: [String: UInt32] = [:]
        for s in players + ball where ids[s.id] == nil { ids[s.id] = UInt32(ids.count) }
        let encoder = SceneStateEncoder(bounds: WireArea(minX: 0, minY: 0, maxX: 125, maxY: 88), quantum: 0.01, cellSize: 128)
        var decoder = SceneStateDecoder()
        var bytes = 0, entityTicks = 0, rawBytes = 0
        var maxError = 0.0
        var deltaZlib = StreamingDeflate()
        var previous: [UInt32: (Int64, Int64)] = [:]
        var deltaBytes = 0
        for (k, f) in frames.keys.sorted().enumerated() {
            let samples = frames[f]!.sorted { ids[$0.id]! < ids[$1.id]! }
            let idList = samples.map { ids[$0.id]! }
            let xs = samples.map { Float($0.x + 62.5) }, ys = samples.map { Float($0.y + 44) }
            let blocks = encoder.encode(tick: UInt64(k), ids: idList, kinds: samples.map { $0.id == "ball" ? 2 : 1 }, x: xs, y: ys)
            let cells: [ByteBuffer]
            if k == 0 { cells = (0..<encoder.cells.count).compactMap { encoder.keyframe(cell: $0) } } else { cells = blocks.keys.sorted().map { blocks[$0]! } }
            let stamp = k % 25 == 0   // as the server does: tick and time once a second
            let frame = WireMessage.stateFrame(subscription: 1, tick: stamp ? UInt64(k) : nil, serverTimeMicros: stamp ? 1_764_000_000_000_000 + UInt64(k) * 40_000 : nil,
                                               resync: k == 0, cells: cells).frame()
            bytes += frame.readableBytes
            entityTicks += samples.count
            rawBytes += samples.count * 8
            _ = try decoder.apply(tick: UInt64(k), resync: k == 0, blocks: cells)
            var decoded: [UInt32: (Int32, Int32)] = [:]
            decoder.forEach { id, _, qx, qy in decoded[id] = (qx, qy) }
            // Baseline: 1 cm positions as zigzag varint deltas from the previous tick, through one
            // zlib stream with a sync flush per tick (the usual "delta + zlib" of game netcode).
            var w = ByteWriter()
            for (i, id) in idList.enumerated() {
                let (qx, qy) = decoded[id] ?? (0, 0)
                maxError = max(maxError, abs(Double(qx) * 0.01 - Double(xs[i])), abs(Double(qy) * 0.01 - Double(ys[i])))
                let q = (Int64((Double(xs[i]) / 0.01).rounded()), Int64((Double(ys[i]) / 0.01).rounded()))
                let p = previous[id] ?? (0, 0)
                w.varint(UInt64(id)); w.zigzag(q.0 - p.0); w.zigzag(q.1 - p.1)
                previous[id] = q
            }
            deltaBytes += deltaZlib.flush(w.bytes)
        }
        deltaZlib.close()
        let e = Double(entityTicks)
        return [
            BenchResult(name: "bpet_hawkeye25", unit: "B/e/t", value: Double(bytes) / e),
            BenchResult(name: "bpet_raw_hawkeye25", unit: "B/e/t", value: Double(rawBytes) / e),
            BenchResult(name: "bpet_delta_zlib_hawkeye25", unit: "B/e/t", value: Double(deltaBytes) / e),
            BenchResult(name: "max_error_m", unit: "m", value: maxError),
        ]
    }

    /// The generated broadcast stream (`ChurnStream`): one whole-pitch version 2 subscription's frames.
    static func churn(frames: Int, view: SIMD2<Float>?) -> [BenchResult] {
        var stream = view.map { ChurnStream(seed: 20261201, view: $0) } ?? ChurnStream(seed: 20261201)
        let encoder = SceneStateEncoder(bounds: WireArea(minX: 0, minY: 0, maxX: 125, maxY: 88), quantum: 0.01, cellSize: 128)
        var bytes = 0, entityTicks = 0, changes = 0
        var previous = Set<UInt32>()
        for t in 0..<frames {
            let f = stream.next()
            let blocks = encoder.encode(tick: UInt64(t), ids: f.ids, kinds: f.kinds, x: f.x, y: f.y)
            let now = Set(f.ids)
            if t == 0 { previous = now; continue }   // the first frame is the subscriber's one-off resync
            changes += now.symmetricDifference(previous).count
            previous = now
            let stamp = t % 10 == 0
            // Framed as a version 2 client gets it (no cell count).
            bytes += WireMessage.stateFrame(subscription: 1, tick: stamp ? UInt64(t) : nil, serverTimeMicros: stamp ? 1_764_000_000_000_000 : nil,
                                            resync: false, cells: blocks.keys.sorted().map { blocks[$0]! }, countsCells: false).frame().readableBytes
            entityTicks += f.ids.count
        }
        // The same play seen whole (no one enters or leaves): what presence changes add.
        guard view == nil else { return [BenchResult(name: "bpet_churn10_whole_pitch", unit: "B/e/t", value: Double(bytes) / Double(max(entityTicks, 1)))] }
        return [
            BenchResult(name: "bpet_churn10", unit: "B/e/t", value: Double(bytes) / Double(max(entityTicks, 1))),
            BenchResult(name: "churn10_enter_leave_per_frame", unit: "ratio", value: Double(changes) / Double(max(entityTicks, 1))),
        ]
    }

    /// A moving crowd (walkers or marathon runners): whole scene and a 1k-entity area, plus
    /// coding and decoding time of a tick.
    static func crowd(_ world: World, name: String, tag: String, ticks: Int) -> [BenchResult] {
        let entities = world.store.count
        let b = world.bounds
        let encoder = SceneStateEncoder(bounds: WireArea(minX: 0, minY: 0, maxX: Double(b.maxX), maxY: Double(b.maxY)), cellSize: 16)
        // An area holding about 1k entities.
        let side = (Double(b.maxX) * Double(b.maxY) * 1000 / Double(entities)).squareRoot()
        let area = WireArea(minX: Double(b.maxX) / 2 - side / 2, minY: Double(b.maxY) / 2 - side / 2,
                            maxX: Double(b.maxX) / 2 + side / 2, maxY: Double(b.maxY) / 2 + side / 2)
        let areaCells = Set(encoder.cells(covering: area))
        var wholeBytes = 0, areaBytes = 0, wholeEntities = 0, areaEntities = 0
        var encodeMs: [Double] = [], decodeMs: [Double] = []
        var decoder = SceneStateDecoder()
        for t in 0..<ticks {
            world.step()
            var ids: [UInt32] = [], kinds: [UInt8] = [], xs: [Float] = [], ys: [Float] = []
            for s in 0..<world.store.slotCount {
                guard let d = world.store.dense(ofSlot: s) else { continue }
                ids.append(UInt32(s)); kinds.append(1); xs.append(world.store.x[d]); ys.append(world.store.y[d])
            }
            var blocks = TickBlocks.empty
            encodeMs.append(measureMilliseconds { blocks = encoder.encode(tick: UInt64(t), ids: ids, kinds: kinds, x: xs, y: ys) })
            let all: [ByteBuffer] = t == 0 ? (0..<encoder.cells.count).compactMap { encoder.keyframe(cell: $0) } : blocks.keys.sorted().map { blocks[$0]! }
            decodeMs.append(measureMilliseconds { _ = try? decoder.apply(tick: UInt64(t), resync: t == 0, blocks: all) })
            if t == 0 { continue }   // the keyframe is a one-off; count the steady state
            let stamp = t % 20 == 0
            let tick: UInt64? = stamp ? UInt64(t) : nil, time: UInt64? = stamp ? 1_764_000_000_000_000 : nil
            wholeBytes += WireMessage.stateFrame(subscription: 1, tick: tick, serverTimeMicros: time, resync: false, cells: all).frame().readableBytes
            wholeEntities += ids.count
            let mine = blocks.keys.filter { areaCells.contains($0) }.sorted().map { blocks[$0]! }
            areaBytes += WireMessage.stateFrame(subscription: 1, tick: tick, serverTimeMicros: time, resync: false, cells: mine).frame().readableBytes
            areaEntities += zip(xs, ys).filter { area.contains(x: Double($0), y: Double($1)) }.count
        }
        let suffix = name == "walkers" ? "" : "_\(name)"
        return [
            BenchResult(name: "bpet_\(name)\(tag)", unit: "B/e/t", value: Double(wholeBytes) / Double(max(wholeEntities, 1))),
            BenchResult(name: "bpet_\(name)\(tag)_aoi1k", unit: "B/e/t", value: Double(areaBytes) / Double(max(areaEntities, 1))),
            BenchResult(name: "encode_ms_\(tag)\(suffix)", unit: "ms", samples: encodeMs),
            BenchResult(name: "decode_ms_\(tag)\(suffix)", unit: "ms", samples: decodeMs),
        ]
    }
}

/// One zlib stream with a sync flush per message, as a per-client stream would be.
struct StreamingDeflate {
    var stream = z_stream()
    var ready = false

    mutating func flush(_ input: [UInt8]) -> Int {
        if !ready {
            _ = deflateInit2_(&stream, 6, Z_DEFLATED, 15, 8, Z_DEFAULT_STRATEGY, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
            ready = true
        }
        var produced = 0
        var out = [UInt8](repeating: 0, count: input.count + 64)
        var data = input
        data.withUnsafeMutableBufferPointer { inPtr in
            stream.next_in = inPtr.baseAddress
            stream.avail_in = UInt32(inPtr.count)
            repeat {
                out.withUnsafeMutableBufferPointer { o in
                    stream.next_out = o.baseAddress
                    stream.avail_out = UInt32(o.count)
                    _ = deflate(&stream, Z_SYNC_FLUSH)
                    produced += o.count - Int(stream.avail_out)
                }
            } while stream.avail_out == 0
        }
        return produced
    }

    mutating func close() { if ready { deflateEnd(&stream); ready = false } }
}
