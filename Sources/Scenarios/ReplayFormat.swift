/// The tracking-data layouts a replay reads, by the name a manifest uses (`$.replay.format`).
public enum ReplayFormat: String, CaseIterable, Sendable {
    /// Hawk-Eye CSV at 50 Hz: the players' file, then optionally the ball's.
    case hawkeye
    /// Metrica Sports CSV at 25 Hz: the home team's file (with the ball), then the away team's.
    case metrica
    /// FIFA EPTS: the tracking text file, then its XML metadata (which gives the rate).
    case epts

    /// How many files the format needs, and what they are (for error messages).
    var files: (minimum: Int, maximum: Int, meaning: String) {
        switch self {
        case .hawkeye: (1, 2, "the players' file, then optionally the ball's")
        case .metrica: (2, 2, "the home and the away file")
        case .epts: (2, 2, "the tracking file and the XML metadata")
        }
    }

    /// Reads the files (already resolved) into samples, the source's frame rate and what it
    /// says about each object (team, shirt number, role).
    func read(files: [String], file: String) throws -> (samples: [TrackingSample], rate: Double, objects: [String: TrackedObject]) {
        let need = self.files
        guard (need.minimum...need.maximum).contains(files.count) else {
            throw ManifestError(file: file, path: "$.replay.files", problem: "\(rawValue) needs \(need.meaning); found \(files.count) file(s)")
        }
        switch self {
        case .hawkeye:
            let players = try TrackingCSV.read(path: files[0], rate: 50)
            let ball = files.count > 1 ? try TrackingCSV.read(path: files[1], rate: 50, fixedId: "ball") : []
            return (players + ball, 50, TrackingCSV.objects(path: files[0]))
        case .metrica:
            return (try MetricaCSV.read(path: files[0], team: "home", includeBall: true)
                        + MetricaCSV.read(path: files[1], team: "away", includeBall: false), 25,
                    MetricaCSV.objects(path: files[0], team: "home").merging(MetricaCSV.objects(path: files[1], team: "away")) { a, _ in a })
        case .epts:
            return (try EPTSReader.read(tracking: files[0], metadata: files[1]), try EPTSReader.layout(metadata: files[1]).frameRate,
                    EPTSReader.objects(metadata: files[1]))
        }
    }
}
