import Districts
import StrictJSON
import CityTiles
import Foundation

/// `twinscene bench tiles`: import speed and peak memory on a generated district, the real
/// Delft tile, and a whole-process comparison with cjio where it is installed.
package enum TilesSuite {
    package static func run(quick: Bool, sharedData: String?, log: (String) -> Void = { _ in }) throws -> [BenchResult] {
        var results: [BenchResult] = []
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("twinscene-bench-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let buildings = quick ? 10_000 : 100_000
        let gen = DistrictGenerator(buildings: buildings, seed: 11)
        let seq = "\(dir)/district.city.jsonl"
        log("generating \(buildings) buildings ...")
        let bytes = try gen.write(to: seq)

        results.append(BenchResult(name: "json_parse_mb_per_s", unit: "MB/s", samples: try parseRates(seq, runs: quick ? 2 : 3)))

        // One core (the figure), then with the command line's default workers.
        let workers = ProcessInfo.processInfo.activeProcessorCount
        var rates: [Double] = [], parallel: [Double] = [], peaks: [Double] = []
        for run in 0..<(quick ? 2 : 3) {
            for w in [0, workers] {
                let catalog = try Catalog(path: "\(dir)/import-\(run)-\(w).sqlite")
                resetPeakResident()
                let base = Double(residentBytes())
                var summary: ImportSummary?
                let ms = try measureMilliseconds { summary = try catalog.importTile(path: seq, workers: w) }
                precondition(summary?.objects == buildings)
                let rate = Double(bytes) / 1e6 / (ms / 1000)
                if w == 0 {
                    rates.append(rate)
                    peaks.append(Double(peakResidentBytes()) / 1e6 - (base / 1e6))
                } else {
                    parallel.append(rate)
                }
                log(String(format: "import %.1f MB with %d workers: %.0f ms", Double(bytes) / 1e6, w, ms))
            }
        }
        results.append(BenchResult(name: "import_mb_per_s", unit: "MB/s", samples: rates))
        results.append(BenchResult(name: "import_peak_rss_mb", unit: "MB", samples: peaks))
        results.append(BenchResult(name: "import_mb_per_s_workers_\(workers)", unit: "MB/s", samples: parallel))
        results.append(BenchResult(name: "import_file_mb", unit: "MB", value: Double(bytes) / 1e6))

        if let shared = sharedData {
            let delft = "\(shared)/cityjson/cjio_delft.city.json"
            if FileManager.default.fileExists(atPath: delft) {
                var times: [Double] = []
                for run in 0..<5 {
                    let catalog = try Catalog(path: "\(dir)/delft-\(run).sqlite")
                    times.append(try measureMilliseconds { try catalog.importTile(path: delft) })
                }
                results.append(BenchResult(name: "delft_import_ms", unit: "ms", samples: times))
            } else {
                log("skipping delft_import_ms: \(delft) is absent")
            }
        }

        if let cjio = which("cjio") {
            let doc = "\(dir)/district.city.json"
            try gen.writeDocument(to: doc)
            log("timing cjio \(doc) info against twinscene tiles import ...")
            var cj: [Double] = [], ts: [Double] = []
            let me = URL(fileURLWithPath: CommandLine.arguments[0]).path
            // Interleaved, so that both see the same moments of a noisy machine; twinscene's
            // runs are short, so it gets three for each of cjio's (medians are compared).
            for run in 0..<(quick ? 1 : 3) {
                cj.append(try measureMilliseconds { try runProcess(cjio, [doc, "info"]) })
                for k in 0..<(quick ? 1 : 3) {
                    ts.append(try measureMilliseconds { try runProcess(me, ["tiles", "import", doc, "--catalog", "\(dir)/cj-\(run)-\(k).sqlite"]) })
                }
            }
            let c = BenchResult(name: "cjio_info_ms", unit: "ms", samples: cj)
            let t = BenchResult(name: "twinscene_import_ms", unit: "ms", samples: ts)
            results += [c, t, BenchResult(name: "cjio_ratio", unit: "x", value: c.median / t.median)]
        } else {
            log("skipping cjio_ratio: cjio is not installed (pip install cjio==0.10.1)")
        }
        return results
    }

    /// JSON parsing alone: every line of the file into a tape, from memory, one core.
    static func parseRates(_ path: String, runs: Int) throws -> [Double] {
        let data = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        let tape = JSONTape()
        var rates: [Double] = []
        for _ in 0..<runs {
            var nodes = 0
            let ms = try measureMilliseconds {
                try data.withUnsafeBufferPointer { all in
                    var start = 0
                    while start < all.count {
                        var end = start
                        while end < all.count && all[end] != 0x0A { end += 1 }
                        try tape.parse(UnsafeBufferPointer(rebasing: all[start..<end]))
                        nodes += tape.nodes.count
                        start = end + 1
                    }
                }
            }
            precondition(nodes > 0)
            rates.append(Double(data.count) / 1e6 / (ms / 1000))
        }
        return rates
    }

    static func which(_ tool: String) -> String? {
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":") {
            let p = "\(dir)/\(tool)"
            if FileManager.default.isExecutableFile(atPath: p) { return p }
        }
        return nil
    }

    static func runProcess(_ path: String, _ args: [String]) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: path)
        p.arguments = args
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else { throw TileError(file: args.first ?? path, problem: "\(path) exited with \(p.terminationStatus)") }
    }
}

/// Resets the kernel's peak-RSS mark for this process (Linux `clear_refs` 5).
func resetPeakResident() {
    try? "5".write(toFile: "/proc/self/clear_refs", atomically: false, encoding: .utf8)
}

/// Peak resident set size (VmHWM) of this process in bytes.
func peakResidentBytes() -> Int {
    guard let s = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
    for line in s.split(separator: "\n") where line.hasPrefix("VmHWM:") {
        let kb = line.split(separator: " ").compactMap { Int($0) }.first ?? 0
        return kb * 1024
    }
    return 0
}
