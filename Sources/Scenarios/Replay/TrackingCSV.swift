import Foundation

/// One sample of a tracked object: who, when, where (metres, origin at the pitch centre;
/// z when the source has it), with the source's frame number and period where it has them.
public struct TrackingSample: Sendable, Equatable {
    /// The source's frame number, nil when it gives times only.
    public var frame: Int?
    /// Seconds on the source's clock, nil when it gives frame numbers only.
    public var time: Double?
    public var id: String
    public var x: Double
    public var y: Double
    public var z: Double?
    /// The match period (1, 2, extra time 3 and 4), nil when the source does not say.
    public var period: Int? = nil
}

/// A tracking file that could not be read, with the file, line and problem.
public struct TrackingError: Error, Equatable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var problem: String
    public var description: String { line > 0 ? "\(file): line \(line): \(problem)" : "\(file): \(problem)" }
}

/// What a tracking file holds: its samples, what it says about each object, and how many
/// rows it held with no position or no id (empty values: the object was not seen).
public struct TrackingFile: Sendable {
    public var samples: [TrackingSample] = []
    public var objects: [String: TrackedObject] = [:]
    public var rowsWithoutPosition = 0
}

/// Reads long tracking CSVs (plain or gzip-compressed): one row per object per moment,
/// columns found by a `TrackingColumns` mapping. An empty value is a missing one: no x or y,
/// no sample; no z, no height; no period, none known. Anything else must be a number (a time
/// may also be a clock, `m:ss.s` or `h:mm:ss.s`), and times or frames must not go backwards
/// within a period.
public enum TrackingCSV {
    public static func read(path: String, columns mapping: TrackingColumns = .hawkEye, fixedId: String? = nil) throws -> TrackingFile {
        let lines = TrackingText.lines(try TrackingText.contents(path))
        guard let headerLine = lines.first else { throw TrackingError(file: path, line: 1, problem: "the file is empty") }
        let header = headerLine.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
        func columns(_ field: TrackingColumns.Field) -> [Int] {
            (mapping.names[field] ?? []).compactMap { header.firstIndex(of: $0.lowercased()) }
        }
        func column(_ field: TrackingColumns.Field) -> Int? { columns(field).first }
        func looked(_ field: TrackingColumns.Field) -> String { (mapping.names[field] ?? []).joined(separator: ", ") }
        let timeCol = column(.time), frameCol = column(.frame)
        guard timeCol != nil || frameCol != nil else {
            throw TrackingError(file: path, line: 1, problem: "no time or frame column (looked for \([looked(.time), looked(.frame)].filter { !$0.isEmpty }.joined(separator: ", ")); found \(header.joined(separator: ", ")))")
        }
        let idCols = columns(.id)
        guard !idCols.isEmpty || fixedId != nil else {
            throw TrackingError(file: path, line: 1, problem: "no id column (looked for \(looked(.id)))")
        }
        guard let xCol = column(.x), let yCol = column(.y) else {
            throw TrackingError(file: path, line: 1, problem: "no x and y columns (looked for \(looked(.x)) and \(looked(.y)))")
        }
        let zCol = column(.z), periodCol = column(.period)
        let teamCol = column(.team), jerseyCol = column(.jersey), roleCol = column(.role)
        guard lines.count > 1 else { throw TrackingError(file: path, line: 1, problem: "a header and no rows: the file holds no samples") }
        var out = TrackingFile()
        out.samples.reserveCapacity(lines.count)
        var last: (period: Int, order: Double) = (Int.min, -.infinity)
        for (k, line) in lines.enumerated().dropFirst() {
            let n = k + 1
            let cells = line.split(separator: ",", omittingEmptySubsequences: false)
            guard cells.count == header.count else {
                throw TrackingError(file: path, line: n, problem: "\(cells.count) values, the header has \(header.count)")
            }
            func text(_ col: Int) -> Substring { Substring(cells[col].trimmingCharacters(in: .whitespaces)) }
            func number(_ col: Int?) throws -> Double? {
                guard let col else { return nil }
                let t = text(col)
                if t.isEmpty { return nil }
                guard let v = Double(t), v.isFinite else { throw TrackingError(file: path, line: n, problem: "\(header[col]) \"\(t.prefix(40))\" is not a number") }
                return v
            }
            let time: Double? = try timeCol.flatMap { col in
                let t = text(col)
                if t.isEmpty { return nil }
                guard let v = Self.seconds(t) else { throw TrackingError(file: path, line: n, problem: "\(header[col]) \"\(t.prefix(40))\" is neither seconds nor a clock (m:ss.s)") }
                return v
            }
            let frame = try number(frameCol).map { v -> Int in
                guard v == v.rounded(), abs(v) < 1e12 else { throw TrackingError(file: path, line: n, problem: "frame \(v) is not a whole number") }
                return Int(v)
            }
            guard time != nil || frame != nil else { throw TrackingError(file: path, line: n, problem: "neither a time nor a frame") }
            let period = try number(periodCol).map { v -> Int in
                guard v == v.rounded(), v >= 0, v < 100 else { throw TrackingError(file: path, line: n, problem: "period \(v) is not a small whole number") }
                return Int(v)
            }
            let order = frame.map(Double.init) ?? time!
            let p = period ?? 0
            guard (p, order) >= last else {
                throw TrackingError(file: path, line: n, problem: period != nil && p < last.period ? "period \(p) after period \(last.period)"
                    : frame != nil ? "frame \(frame!) after frame \(Int(last.order)): frames go backwards" : "time goes backwards (\(order) after \(last.order))")
            }
            last = (p, order)
            let id = fixedId ?? idCols.lazy.map { String(text($0)) }.first { !$0.isEmpty }
            guard let id, let x = try number(xCol), let y = try number(yCol) else { out.rowsWithoutPosition += 1; continue }
            out.samples.append(TrackingSample(frame: frame, time: time, id: id, x: x, y: y, z: try number(zCol), period: period))
            if out.objects[id] == nil, teamCol != nil || jerseyCol != nil || roleCol != nil {
                let team = teamCol.map { String(text($0)) } ?? "", role = roleCol.map { String(text($0)) } ?? ""
                let jersey = jerseyCol.flatMap { UInt32(text($0)) ?? Double(text($0)).flatMap { UInt32(exactly: $0) } } ?? 0
                if !team.isEmpty || !role.isEmpty || jersey > 0 { out.objects[id] = TrackedObject(team: team, jersey: jersey, role: role) }
            }
        }
        return out
    }

    /// Seconds from `12.34`, `3:05.2` (minutes and seconds) or `1:03:05.2`; nil otherwise.
    static func seconds(_ text: Substring) -> Double? {
        if let v = Double(text) { return v.isFinite ? v : nil }
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard (2...3).contains(parts.count), let s = Double(parts.last!), s.isFinite, s >= 0, s < 60 else { return nil }
        var total = s, scale = 60.0
        for part in parts.dropLast().reversed() {
            guard let v = Int(part), v >= 0 else { return nil }
            total += Double(v) * scale
            scale *= 60
        }
        return total
    }
}
