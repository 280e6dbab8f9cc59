import StrictJSON
import CityTiles
import Foundation

extension SceneManifest {
    /// Reads and validates a manifest; every problem names its JSON path.
    public static func load(path: String) throws -> SceneManifest {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ManifestError(file: path, path: "$", problem: FileManager.default.fileExists(atPath: path) ? "cannot be read" : "no such file")
        }
        let root: JSONValue
        do { root = try JSONParser.parse([UInt8](data)) } catch {
            throw ManifestError(file: path, path: error.path, problem: "invalid JSON: \(error.message) (line \(error.line))")
        }
        var m = try parse(root, file: path)
        m.sourcePath = path
        return m
    }

    /// Validates a parsed manifest.
    public static func parse(_ root: JSONValue, file: String) throws -> SceneManifest {
        func fail(_ path: String, _ problem: String) -> ManifestError { ManifestError(file: file, path: path, problem: problem) }
        guard let o = root.object else { throw fail("$", "expected an object, found \(root.typeName)") }
        let known: Set<String> = ["name", "scenario", "tiles", "catalogTiles", "seed", "tickRate", "quantum", "wireCellSize",
                                  "bounds", "epsg", "parameters", "description", "route", "stations", "replay", "participants"]
        for key in o.keys where !known.contains(key) {
            throw fail("$.\(key)", "unknown field; expected one of \(known.sorted().joined(separator: ", "))")
        }
        func string(_ key: String, required: Bool) throws -> String? {
            guard let v = o[key] else { if required { throw fail("$.\(key)", "missing; expected a string") }; return nil }
            guard let s = v.string, !s.isEmpty else { throw fail("$.\(key)", "expected a non-empty string, found \(v.typeName)") }
            return s
        }
        func number(_ key: String, _ range: ClosedRange<Double>) throws -> Double? {
            guard let v = o[key] else { return nil }
            guard let d = v.number else { throw fail("$.\(key)", "expected a number, found \(v.typeName)") }
            guard range.contains(d) else { throw fail("$.\(key)", "\(d) is out of range; expected \(range.lowerBound) to \(range.upperBound)") }
            return d
        }
        func strings(_ key: String) throws -> [String] {
            guard let v = o[key] else { return [] }
            guard let a = v.array else { throw fail("$.\(key)", "expected an array of strings, found \(v.typeName)") }
            return try a.enumerated().map { k, item in
                guard let s = item.string else { throw fail("$.\(key)[\(k)]", "expected a string, found \(item.typeName)") }
                return s
            }
        }
        let name = try string("name", required: true)!
        let scenarioName = try string("scenario", required: true)!
        guard let scenario = ScenarioKind(rawValue: scenarioName) else {
            throw fail("$.scenario", "unknown scenario \"\(scenarioName)\"; expected one of \(ScenarioKind.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        var m = SceneManifest(name: name, scenario: scenario)
        m.tiles = try strings("tiles")
        m.catalogTiles = try strings("catalogTiles")
        if let seed = o["seed"] {
            guard case .int(let s) = seed, s >= 0 else { throw fail("$.seed", "expected a non-negative integer, found \(seed.typeName)") }
            m.seed = UInt64(s)
        }
        if let r = try number("tickRate", 1...120) {
            guard r == r.rounded() else { throw fail("$.tickRate", "expected a whole number of ticks per second") }
            m.tickRate = Int(r)
        }
        m.quantum = try number("quantum", 0.0001...1) ?? m.quantum
        m.wireCellSize = try number("wireCellSize", 4...10_000) ?? m.wireCellSize
        if let e = try number("epsg", 1...999_999) { m.epsg = Int(e) }
        if let b = o["bounds"] {
            guard let a = b.array, a.count == 4, let v = Optional(a.compactMap(\.number)), v.count == 4 else {
                throw fail("$.bounds", "expected [minX, minY, maxX, maxY], four numbers")
            }
            guard v[0] < v[2], v[1] < v[3] else { throw fail("$.bounds", "min must be below max") }
            guard v[2] - v[0] <= 50_000, v[3] - v[1] <= 50_000 else { throw fail("$.bounds", "a scene is at most 50 km on a side") }
            m.bounds = v
        }
        if let p = o["parameters"] {
            guard let po = p.object else { throw fail("$.parameters", "expected an object, found \(p.typeName)") }
            for (k, v) in po.members {
                guard let d = v.number else { throw fail("$.parameters.\(k)", "expected a number, found \(v.typeName)") }
                m.parameters[k] = d
            }
            try m.scenario.checkParameters(m.parameters, file: file)
        }
        if let r = o["route"] {
            guard let points = r.array, points.count >= 2 else { throw fail("$.route", "expected an array of at least two [x, y] points") }
            for (k, p) in points.enumerated() {
                guard let xy = p.array, xy.count == 2, let x = xy[0].number, let y = xy[1].number else {
                    throw fail("$.route[\(k)]", "expected [x, y], two numbers in the scene's CRS")
                }
                if let b = m.bounds, !(b[0]...b[2]).contains(x) || !(b[1]...b[3]).contains(y) {
                    throw fail("$.route[\(k)]", "(\(x), \(y)) lies outside the scene bounds")
                }
                m.route.append(SIMD2(x, y))
            }
        }
        if let st = o["stations"] {
            guard let list = st.array else { throw fail("$.stations", "expected an array of distances along the route in metres") }
            for (k, v) in list.enumerated() {
                guard let d = v.number, d >= 0 else { throw fail("$.stations[\(k)]", "expected a non-negative number of metres") }
                m.stations.append(d)
            }
        }
        if let r = o["replay"] { m.replay = try replay(r, file: file) }
        if let p = o["participants"] { m.participants = try joinPolicy(p, scenario: m.scenario, file: file) }
        if m.scenario == .footballReplay && m.replay == nil {
            throw fail("$.replay", "the football replay needs {\"format\": ..., \"files\": [...]}")
        }
        if m.scenario != .footballReplay, m.replay != nil {
            throw fail("$.replay", "only a football-replay scene replays tracking data")
        }
        if m.scenario == .marathon && m.route.count < 2 {
            throw fail("$.route", "the marathon needs a route: an array of at least two [x, y] points")
        }
        if m.tiles.isEmpty && m.catalogTiles.isEmpty && m.bounds == nil {
            throw fail("$.bounds", "a scene without tiles needs explicit bounds")
        }
        return m
    }

    /// `$.participants`: {"join": "closed" | "open" | "token", "token": "...", "max": N, "graceSeconds": S}.
    static func joinPolicy(_ v: JSONValue, scenario: ScenarioKind, file: String) throws -> JoinPolicy {
        func fail(_ path: String, _ problem: String) -> ManifestError { ManifestError(file: file, path: "$.participants" + path, problem: problem) }
        guard let o = v.object else { throw fail("", "expected {\"join\": \"open\", \"max\": N}, found \(v.typeName)") }
        let known: Set<String> = ["join", "token", "max", "graceSeconds"]
        for key in o.keys where !known.contains(key) { throw fail(".\(key)", "unknown field; expected one of \(known.sorted().joined(separator: ", "))") }
        var policy = JoinPolicy()
        let join = o["join"]?.string ?? "closed"
        switch join {
        case "closed": policy.access = .closed
        case "open": policy.access = .open
        case "token":
            guard let t = o["token"]?.string, t.utf8.count >= 8, t.utf8.count <= 128 else {
                throw fail(".token", "a scene joined by token needs a token of 8 to 128 bytes")
            }
            policy.access = .token(t)
        default: throw fail(".join", "expected \"closed\", \"open\" or \"token\", found \"\(join)\"")
        }
        if o["token"] != nil, join != "token" { throw fail(".token", "a token only applies with \"join\": \"token\"") }
        if let m = o["max"] {
            guard case .int(let n) = m, n >= 0, n <= 1_000_000 else { throw fail(".max", "expected a whole number of participants, 0 to 1000000") }
            policy.maxParticipants = Int(n)
        } else if policy.access != .closed {
            policy.maxParticipants = 1000
        }
        if let g = o["graceSeconds"] {
            guard let d = g.number, d >= 0, d <= 3600 else { throw fail(".graceSeconds", "expected 0 to 3600 seconds") }
            policy.graceSeconds = d
        }
        if policy.joinable, scenario != .marathon && scenario != .factory {
            throw fail(".join", "scenario \(scenario.rawValue) takes no participants yet; the marathon and the factory do")
        }
        return policy
    }

    /// `$.replay`: the format and files, and for long CSVs their columns; how the source is
    /// resampled, what happens between periods, a rate for files of frame numbers alone, and
    /// the ball's id. Unknown keys anywhere are errors with their path.
    static func replay(_ r: JSONValue, file: String) throws -> Replay {
        func fail(_ path: String, _ problem: String) -> ManifestError { ManifestError(file: file, path: "$.replay" + path, problem: problem) }
        guard let ro = r.object else { throw fail("", "expected {\"format\": ..., \"files\": [...]}") }
        let known = ["format", "files", "columns", "resample", "halfTime", "rate", "ball"]
        for key in ro.keys where !known.contains(key) {
            throw fail(".\(key)", "unknown field; expected \(known.joined(separator: ", "))")
        }
        let formats = ReplayFormat.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ", ")
        guard let name = ro["format"]?.string, let format = ReplayFormat(rawValue: name) else {
            throw fail(".format", "expected one of \(formats)")
        }
        guard let files = ro["files"]?.array, !files.isEmpty, files.allSatisfy({ $0.string?.isEmpty == false }) else {
            throw fail(".files", "expected a non-empty array of file paths")
        }
        let need = format.files
        guard (need.minimum...need.maximum).contains(files.count) else {
            throw fail(".files", "\(name) needs \(need.meaning); found \(files.count) file(s)")
        }
        var replay = Replay(format: format, files: files.compactMap(\.string))
        if let c = ro["columns"] {
            guard format.takesColumns else { throw fail(".columns", "\(name) has a fixed layout; columns are named for hawkeye, broadcast and csv") }
            guard let co = c.object else { throw fail(".columns", "expected {\"x\": \"column\", ...}") }
            let fields = TrackingColumns.Field.allCases.map(\.rawValue)
            for (key, value) in zip(co.keys, co.values) {
                guard let field = TrackingColumns.Field(rawValue: key) else {
                    throw fail(".columns.\(key)", "unknown field; expected \(fields.joined(separator: ", "))")
                }
                guard let column = value.string, !column.isEmpty, column.count <= 200 else {
                    throw fail(".columns.\(key)", "expected the name of a column in the file's header")
                }
                replay.columns[field] = column
            }
        }
        if format == .csv {
            let c = replay.columns
            guard c[.x] != nil, c[.y] != nil, c[.time] != nil || c[.frame] != nil, c[.id] != nil else {
                throw fail(".columns", "a csv replay names its columns: at least x, y, id and time or frame")
            }
        }
        if let v = ro["resample"] {
            guard let text = v.string, let mode = ReplayTimeline.Resampling(rawValue: text) else {
                throw fail(".resample", "expected \"interpolate\" (between source frames) or \"hold\" (each frame until the next)")
            }
            replay.resampling = mode
        }
        if let v = ro["halfTime"] {
            guard let text = v.string, let mode = ReplayTimeline.HalfTime(rawValue: text) else {
                throw fail(".halfTime", "expected \"skip\" (the break left out) or \"pause\" (the period's last frame held for it)")
            }
            replay.halfTime = mode
        }
        if let v = ro["rate"] {
            guard let rate = v.number, rate > 0, rate <= 10_000 else { throw fail(".rate", "expected the source's frames per second, above 0") }
            replay.rate = rate
        }
        if let v = ro["ball"] {
            guard let id = v.string, !id.isEmpty, id.count <= 200 else { throw fail(".ball", "expected the id the source gives the ball") }
            replay.ball = id
        }
        return replay
    }
}
