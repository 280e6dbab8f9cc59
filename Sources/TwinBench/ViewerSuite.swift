import Foundation
import NIOCore
import Scenarios
import SceneCore
import SceneWire

/// `twinscene bench viewer`: the browser side. One tick of a 100k-runner marathon decoded by
/// the page's JavaScript decoder in headless Chromium (`viewer_decode_ms_100k`) beside the
/// Swift decoder on the same frames in the same run (`viewer_swift_decode_ms_100k`); and the
/// page's frame time and draw calls with every runner of a 100k marathon in view, against a
/// real `twinscene serve`. Needs Chromium, chromedriver and Selenium
/// (`Tests/Browser/viewer_bench.py` drives them).
package enum ViewerSuite {
    package static func run(quick: Bool, scenesDir: String, log: (String) -> Void = { _ in }) throws -> [BenchResult] {
        let n = quick ? 20_000 : 100_000, tag = quick ? "20k" : "100k", ticks = quick ? 10 : 30
        log("\(n) marathon runners ...")
        let marathon = try MarathonBench.world(runners: n, scenesDir: scenesDir)
        for _ in 0..<(quick ? 100 : 400) { marathon.world.step() }
        let world = marathon.world
        let b = world.bounds
        let encoder = SceneStateEncoder(bounds: WireArea(minX: 0, minY: 0, maxX: Double(b.maxX), maxY: Double(b.maxY)), cellSize: 16)
        var stream = ByteBuffer()
        var frames: [[ByteBuffer]] = []
        for t in 0...ticks {
            world.step()
            var ids: [UInt32] = [], kinds: [UInt8] = [], xs: [Float] = [], ys: [Float] = []
            for s in 0..<world.store.slotCount {
                guard let d = world.store.dense(ofSlot: s) else { continue }
                ids.append(UInt32(s)); kinds.append(1); xs.append(world.store.x[d]); ys.append(world.store.y[d])
            }
            let blocks = encoder.encode(tick: UInt64(t), ids: ids, kinds: kinds, x: xs, y: ys)
            let cells: [ByteBuffer] = t == 0 ? (0..<encoder.cells.count).compactMap { encoder.keyframe(cell: $0) } : blocks.keys.sorted().map { blocks[$0]! }
            let m = WireMessage.stateFrame(subscription: 1, tick: UInt64(t), serverTimeMicros: nil, resync: t == 0, cells: cells)
            frames.append(cells)
            var f = m.frame()
            stream.writeBuffer(&f)
        }
        // The Swift decoder on the same cells (the keyframe not timed), as `bench wire` times it.
        var swiftMs: [Double] = []
        for _ in 0..<3 {
            var decoder = SceneStateDecoder()
            for (k, cells) in frames.enumerated() {
                let ms = measureMilliseconds { _ = try? decoder.apply(tick: UInt64(k), resync: k == 0, blocks: cells) }
                if k > 0 { swiftMs.append(ms) }
            }
        }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("twinscene-viewer-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Data(stream.readableBytesView).write(to: URL(fileURLWithPath: "\(dir)/frames.bin"))
        // TWINSCENE_VIEWER_FRAMES=FILE keeps the recorded stream, to time the decoder outside
        // the browser (node runs the same V8).
        if let keep = ProcessInfo.processInfo.environment["TWINSCENE_VIEWER_FRAMES"] {
            try Data(stream.readableBytesView).write(to: URL(fileURLWithPath: keep))
        }
        let manifest = try String(contentsOfFile: "\(scenesDir)/marathon.scene.json", encoding: .utf8)
        let big = manifest.replacingOccurrences(of: "\"tiles/", with: "\"\(URL(fileURLWithPath: scenesDir).standardizedFileURL.path)/tiles/")
        try big.write(toFile: "\(dir)/marathon.scene.json", atomically: true, encoding: .utf8)
        log("the page in headless Chromium ...")
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", "Tests/Browser/viewer_bench.py", "--frames", "\(dir)/frames.bin", "--viewer", "Sources/SceneWeb/Viewer",
                       "--binary", CommandLine.arguments[0], "--manifest", "\(dir)/marathon.scene.json", "--runners", "\(n)"]
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.standardError
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0, let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw BenchError("the browser bench failed (it needs chromium, chromium-driver and `pip install selenium==4.51.0`, run from the repository root): \(String(decoding: data, as: UTF8.self).suffix(400))")
        }
        let decode = json["decode_ms"] as? [Double] ?? []
        let frame = json["frame_ms"] as? [Double] ?? []
        let draws = json["draw_calls"] as? Double ?? .nan
        return [
            BenchResult(name: "viewer_decode_ms_\(tag)", unit: "ms", samples: decode),
            BenchResult(name: "viewer_swift_decode_ms_\(tag)", unit: "ms", samples: swiftMs),
            BenchResult(name: "viewer_frame_ms_\(tag)", unit: "ms", samples: frame),
            BenchResult(name: "viewer_draw_calls_\(tag)", unit: "calls", value: draws),
            BenchResult(name: "viewer_entities_drawn_\(tag)", unit: "entities", value: json["entities"] as? Double ?? .nan),
        ]
    }
}
