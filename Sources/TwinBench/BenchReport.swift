import Foundation

/// One measured figure: its median, spread and how many runs it took.
package struct BenchResult: Codable, Sendable, Equatable {
    package var name: String
    package var unit: String
    package var median: Double
    package var min: Double
    package var max: Double
    package var runs: Int

    package init(name: String, unit: String, samples: [Double]) {
        let s = samples.sorted()
        self.name = name
        self.unit = unit
        self.runs = s.count
        self.min = s.first ?? .nan
        self.max = s.last ?? .nan
        if s.isEmpty { median = .nan } else if s.count % 2 == 1 { median = s[s.count / 2] } else { median = (s[s.count / 2 - 1] + s[s.count / 2]) / 2 }
    }

    /// A single derived figure (a ratio, a flag).
    package init(name: String, unit: String, value: Double) {
        self.init(name: name, unit: unit, samples: [value])
    }
}

/// The machine a suite ran on.
package struct BenchMachine: Codable, Sendable, Equatable {
    package var cores: Int
    package var os: String
    package var swift: String
    package var build: String

    package static var current: BenchMachine {
        #if DEBUG
        let build = "debug (figures are not representative: use swift run -c release)"
        #else
        let build = "release"
        #endif
        let info = ProcessInfo.processInfo
        return BenchMachine(cores: info.activeProcessorCount, os: info.operatingSystemVersionString, swift: swiftVersion, build: build)
    }

    static var swiftVersion: String {
        #if compiler(>=6.3)
        return "6.3"
        #elseif compiler(>=6.2)
        return "6.2"
        #else
        return "6.x"
        #endif
    }
}

/// What `twinscene bench SUITE --json` prints.
package struct BenchReport: Codable, Sendable {
    package var suite: String
    package var machine: BenchMachine
    package var results: [BenchResult]

    package init(suite: String, results: [BenchResult]) {
        self.suite = suite
        self.machine = .current
        self.results = results
    }

    package func json() -> String {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        e.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return String(decoding: try! e.encode(self), as: UTF8.self)
    }

    /// A readable table.
    package func table() -> String {
        var lines = ["suite \(suite) on \(machine.cores) cores, \(machine.os), Swift \(machine.swift), \(machine.build) build", ""]
        let w = max(8, results.map(\.name.count).max() ?? 8)
        func pad(_ s: String, _ n: Int) -> String { s + String(repeating: " ", count: max(0, n - s.count)) }
        func num(_ v: Double) -> String { v.isNaN ? "-" : String(format: v >= 100 ? "%.1f" : "%.3f", v) }
        lines.append(pad("name", w) + "  " + pad("median", 12) + pad("min", 12) + pad("max", 12) + pad("runs", 6) + "unit")
        for r in results {
            lines.append(pad(r.name, w) + "  " + pad(num(r.median), 12) + pad(num(r.min), 12) + pad(num(r.max), 12) + pad("\(r.runs)", 6) + r.unit)
        }
        return lines.joined(separator: "\n")
    }
}

/// Monotonic milliseconds of one call.
package func measureMilliseconds(_ body: () throws -> Void) rethrows -> Double {
    let t0 = DispatchTime.now().uptimeNanoseconds
    try body()
    return Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6
}

/// Returns freed heap pages to the system (glibc `malloc_trim`), so that resident memory
/// measures what is live rather than what the allocator keeps for later.
package func trimAllocator() {
    #if os(Linux)
    _ = glibcMallocTrim(0)
    #endif
}

#if os(Linux)
@_silgen_name("malloc_trim")
private func glibcMallocTrim(_ pad: Int) -> Int32
#endif

/// Resident set size of this process in bytes (Linux /proc; 0 elsewhere).
package func residentBytes() -> Int {
    guard let s = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
    let parts = s.split(separator: " ")
    guard parts.count > 1, let pages = Int(parts[1]) else { return 0 }
    return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
}
