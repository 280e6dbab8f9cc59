/// Reads a manifest's `parameters` for one scenario: each known name once, with its range;
/// `finish()` refuses every name the scenario does not know, with its JSON path.
struct ScenarioParameters {
    let values: [String: Double]
    let file: String
    let names: [String]

    init(_ values: [String: Double], file: String, names: [String]) {
        self.values = values; self.file = file; self.names = names
    }

    /// The parameter's value (or `initial`), refused outside `range`.
    func number(_ name: String, _ initial: Double, _ range: ClosedRange<Double>) throws -> Double {
        precondition(names.contains(name), "parameter \(name) is not among the scenario's names")
        guard let v = values[name] else { return initial }
        guard range.contains(v) else {
            throw ManifestError(file: file, path: "$.parameters.\(name)", problem: "\(v) is out of range; expected \(range.lowerBound) to \(range.upperBound)")
        }
        return v
    }

    /// A whole number of things (runners, machines).
    func count(_ name: String, _ initial: Int, _ range: ClosedRange<Int>) throws -> Int {
        let v = try number(name, Double(initial), Double(range.lowerBound)...Double(range.upperBound))
        guard v == v.rounded() else { throw ManifestError(file: file, path: "$.parameters.\(name)", problem: "expected a whole number, found \(v)") }
        return Int(v)
    }

    /// Throws for the first unknown name (sorted, so the message is stable).
    func finish() throws {
        for key in values.keys.sorted() where !names.contains(key) {
            let expected = names.isEmpty ? "this scenario takes no parameters" : "expected one of \(names.sorted().joined(separator: ", "))"
            throw ManifestError(file: file, path: "$.parameters.\(key)", problem: "unknown parameter; \(expected)")
        }
    }
}

/// The walkers' parameters (`$.parameters` of a "walkers" scene).
public struct WalkersParameters: Sendable, Equatable {
    static let names = ["walkers", "minSpeed", "maxSpeed"]
    public var walkers: Int
    public var minSpeed: Float
    public var maxSpeed: Float

    init(_ values: [String: Double], file: String) throws {
        let p = ScenarioParameters(values, file: file, names: Self.names)
        walkers = try p.count("walkers", 2000, 0...5_000_000)
        minSpeed = Float(try p.number("minSpeed", 1.0, 0...15))
        maxSpeed = Float(try p.number("maxSpeed", 1.8, 0...15))
        try p.finish()
    }
}

/// The marathon's parameters (`$.parameters` of a "marathon" scene).
public struct MarathonParameters: Sendable, Equatable {
    static let names = ["runners", "spectators", "distance", "waves", "waveGapSeconds", "roadHalfWidth"]
    public var runners: Int
    public var spectators: Int
    public var distance: Float
    public var waves: Int
    public var waveGapSeconds: Float
    public var roadHalfWidth: Float

    init(_ values: [String: Double], file: String) throws {
        let p = ScenarioParameters(values, file: file, names: Self.names)
        runners = try p.count("runners", 10_000, 1...5_000_000)
        spectators = try p.count("spectators", 300, 0...1_000_000)
        distance = Float(try p.number("distance", 42_195, 1...1_000_000))
        waves = try p.count("waves", 4, 1...1000)
        waveGapSeconds = Float(try p.number("waveGapSeconds", 60, 0...86_400))
        roadHalfWidth = Float(try p.number("roadHalfWidth", 5, 0.5...100))
        try p.finish()
    }
}

/// The factory's parameters (`$.parameters` of a "factory" scene).
public struct FactoryParameters: Sendable, Equatable {
    static let names = ["machineRows", "machineColumns", "agvs", "workers"]
    public var machineRows: Int
    public var machineColumns: Int
    public var agvs: Int
    public var workers: Int

    init(_ values: [String: Double], file: String) throws {
        let p = ScenarioParameters(values, file: file, names: Self.names)
        machineRows = try p.count("machineRows", 4, 1...1000)
        machineColumns = try p.count("machineColumns", 6, 1...1000)
        agvs = try p.count("agvs", 6, 0...100_000)
        workers = try p.count("workers", 20, 0...1_000_000)
        try p.finish()
    }
}

extension ScenarioKind {
    /// Refuses parameters this scenario does not know or values out of range, with their path.
    func checkParameters(_ values: [String: Double], file: String) throws {
        switch self {
        case .walkers: _ = try WalkersParameters(values, file: file)
        case .marathon: _ = try MarathonParameters(values, file: file)
        case .factory: _ = try FactoryParameters(values, file: file)
        case .footballLive, .footballReplay: try ScenarioParameters(values, file: file, names: []).finish()
        }
    }
}
