import CityTiles
import Foundation

/// A scene as an operator writes it in `Scenes/*.scene.json` (see docs/SCENES.md).
public struct SceneManifest: Sendable, Equatable {
    public var name: String
    /// The scenario that populates and drives the scene.
    public var scenario: ScenarioKind
    /// Tile files, relative to the manifest, imported into the catalog on load.
    public var tiles: [String]
    /// Tiles already in the catalog, by name.
    public var catalogTiles: [String]
    public var seed: UInt64
    public var tickRate: Int
    /// Metres per position unit on the wire.
    public var quantum: Double
    /// Side of a wire cell in metres.
    public var wireCellSize: Double
    /// World bounds in the CRS: minX, minY, maxX, maxY. Their min corner is the scene origin.
    public var bounds: [Double]?
    /// EPSG code of the scene; every tile must match.
    public var epsg: Int?
    /// Scenario parameters (numbers by name); each scenario's parameter struct reads them and
    /// refuses names it does not know.
    public var parameters: [String: Double]
    /// A course in the CRS (the marathon's route), a closed loop of points.
    public var route: [SIMD2<Double>] = []
    /// Distances along the route, metres (the marathon's water stations).
    public var stations: [Double] = []
    /// Tracking data to replay (the football replay).
    public var replay: Replay?
    /// Who may join as a participant (closed unless the manifest says otherwise).
    public var participants = JoinPolicy.closed

    /// Tracking data to replay: its format and files, relative to the manifest (see
    /// docs/SCENES.md for the order of the files).
    public struct Replay: Sendable, Equatable {
        public var format: ReplayFormat
        public var files: [String]
        /// Column names of a long CSV by field, over the format's preset (`$.replay.columns`).
        public var columns: [TrackingColumns.Field: String] = [:]
        /// Between source frames: interpolated (the default) or held.
        public var resampling = ReplayTimeline.Resampling.interpolate
        /// Between periods: skipped (the default) or shown as a pause.
        public var halfTime = ReplayTimeline.HalfTime.skip
        /// The source rate, for data of frame numbers without times (checked against the data otherwise).
        public var rate: Double?
        /// The id the source gives the ball in a long file of every object.
        public var ball = "ball"
        public init(format: ReplayFormat, files: [String]) { self.format = format; self.files = files }
    }

    /// A manifest-relative path as a path usable from the current directory.
    public func resolve(_ path: String) -> String {
        guard !path.hasPrefix("/"), let source = sourcePath else { return path }
        return URL(fileURLWithPath: source).deletingLastPathComponent().appendingPathComponent(path).standardizedFileURL.path
    }
    /// Where the manifest was read from (tile paths are relative to its folder).
    public var sourcePath: String?

    public init(name: String, scenario: ScenarioKind, tiles: [String] = [], catalogTiles: [String] = [], seed: UInt64 = 1,
                tickRate: Int = 20, quantum: Double = 0.01, wireCellSize: Double = 32, bounds: [Double]? = nil,
                epsg: Int? = nil, parameters: [String: Double] = [:], sourcePath: String? = nil) {
        self.name = name; self.scenario = scenario; self.tiles = tiles; self.catalogTiles = catalogTiles
        self.seed = seed; self.tickRate = tickRate; self.quantum = quantum; self.wireCellSize = wireCellSize
        self.bounds = bounds; self.epsg = epsg; self.parameters = parameters; self.sourcePath = sourcePath
    }

    /// The tile files as paths usable from the current directory.
    public var resolvedTilePaths: [String] { tiles.map(resolve) }
}

/// A manifest problem, with the JSON path it is at and what was expected there.
public struct ManifestError: Error, Equatable, CustomStringConvertible {
    public var file: String
    public var path: String
    public var problem: String
    public init(file: String, path: String, problem: String) { self.file = file; self.path = path; self.problem = problem }
    public var description: String { "\(file): \(path): \(problem)" }
}
