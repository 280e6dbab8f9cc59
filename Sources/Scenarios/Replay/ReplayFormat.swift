/// The tracking-data layouts a replay reads, by the name a manifest uses (`$.replay.format`).
/// Every file may be gzip-compressed (`.csv.gz`).
public enum ReplayFormat: String, CaseIterable, Sendable {
    /// Hawk-Eye long CSV (`time_s,track_id,role,x_m,y_m,...`): the players' file, then
    /// optionally the ball's (`time_s,x_m,y_m,z_m`).
    case hawkeye
    /// Metrica Sports wide CSV: the home team's file (with the ball), then the away team's.
    case metrica
    /// FIFA EPTS: the tracking text file, then its XML metadata (rate, layout, periods).
    case epts
    /// The long per-object CSV of broadcast tracking (`frame, period, time,
    /// trackable_object, track_id, x_m, y_m, z_m`, about 10 Hz, empty values and gaps).
    case broadcast
    /// Any long CSV, its columns named by `$.replay.columns`.
    case csv

    /// How many files the format needs, and what they are (for error messages).
    var files: (minimum: Int, maximum: Int, meaning: String) {
        switch self {
        case .hawkeye: (1, 2, "the players' file, then optionally the ball's")
        case .metrica: (2, 2, "the home and the away file")
        case .epts: (2, 2, "the tracking file and the XML metadata")
        case .broadcast: (1, 1, "one file of every object")
        case .csv: (1, 8, "one to eight long CSV files with the same columns")
        }
    }

    /// Whether `$.replay.columns` applies: the long layouts, whose columns are named.
    var takesColumns: Bool { self == .hawkeye || self == .broadcast || self == .csv }

    /// What a format reads: each file's samples, a rate the source states (nil where the
    /// data's own frames and times give it), and what it says about each object.
    struct Source {
        var files: [[TrackingSample]]
        var statedRate: (rate: Double, from: String)?
        var objects: [String: TrackedObject]
        var rowsWithoutPosition: Int
    }

    /// Reads the files (already resolved). `ball` is the id the source gives the ball in a
    /// long file of every object; its samples take the id "ball".
    func read(files: [String], columns: [TrackingColumns.Field: String], ball: String, file: String) throws -> Source {
        let need = self.files
        guard (need.minimum...need.maximum).contains(files.count) else {
            throw ManifestError(file: file, path: "$.replay.files", problem: "\(rawValue) needs \(need.meaning); found \(files.count) file(s)")
        }
        func renamed(_ f: TrackingFile) -> [TrackingSample] {
            guard ball != "ball" else { return f.samples }
            return f.samples.map { s in var s = s; if s.id == ball { s.id = "ball" }; return s }
        }
        switch self {
        case .hawkeye, .broadcast, .csv:
            let preset = self == .broadcast ? TrackingColumns.broadcast : self == .csv ? TrackingColumns(names: [:]) : .hawkEye
            let mapping = preset.mapped(columns)
            var read: [TrackingFile] = []
            for (k, path) in files.enumerated() {
                // Hawk-Eye's second file is the ball's alone, with no id column.
                let fixed = self == .hawkeye && k == 1 ? "ball" : nil
                read.append(try TrackingCSV.read(path: path, columns: mapping, fixedId: fixed))
            }
            return Source(files: read.map(renamed), statedRate: nil,
                          objects: read.reduce(into: [:]) { $0.merge($1.objects) { a, _ in a } },
                          rowsWithoutPosition: read.reduce(0) { $0 + $1.rowsWithoutPosition })
        case .metrica:
            return Source(files: [try MetricaCSV.read(path: files[0], team: "home", includeBall: true),
                                  try MetricaCSV.read(path: files[1], team: "away", includeBall: false)],
                          statedRate: nil,
                          objects: MetricaCSV.objects(path: files[0], team: "home").merging(MetricaCSV.objects(path: files[1], team: "away")) { a, _ in a },
                          rowsWithoutPosition: 0)
        case .epts:
            let layout = try EPTSReader.layout(metadata: files[1])
            return Source(files: [try EPTSReader.read(tracking: files[0], metadata: files[1])],
                          statedRate: (layout.frameRate, "the metadata's FrameRate"), objects: EPTSReader.objects(metadata: files[1]),
                          rowsWithoutPosition: 0)
        }
    }
}
