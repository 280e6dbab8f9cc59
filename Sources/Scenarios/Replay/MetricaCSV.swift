import Foundation

/// Reads Metrica Sports' wide CSV: three header rows (team, jersey, column names), then one
/// row per frame with x, y per player and the ball, normalised 0..1 on a 105 x 68 m pitch
/// (y pointing down). NaN or an empty value means the player is not on the pitch: no sample.
/// Plain or gzip-compressed.
public enum MetricaCSV {
    public static func read(path: String, team: String, pitch: SIMD2<Double> = SIMD2(105, 68), includeBall: Bool) throws -> [TrackingSample] {
        let lines = TrackingText.lines(try TrackingText.contents(path)).filter { !$0.isEmpty }
        guard lines.count >= 3 else { throw TrackingError(file: path, line: lines.count, problem: "expected three header rows") }
        let names = lines[2].split(separator: ",", omittingEmptySubsequences: false).map { String($0).trimmingCharacters(in: .whitespaces) }
        guard names.count >= 3, names[0] == "Period", names[1] == "Frame", names[2].hasPrefix("Time") else {
            throw TrackingError(file: path, line: 3, problem: "the third row must start with Period,Frame,Time [s] (Metrica layout)")
        }
        // Each object's x column is named; its y column follows, unnamed.
        var objects: [(id: String, column: Int)] = []
        for (k, n) in names.enumerated() where k >= 3 && !n.isEmpty {
            if n == "Ball" { if includeBall { objects.append(("ball", k)) } } else { objects.append(("\(team)_\(n)", k)) }
        }
        guard lines.count > 3 else { throw TrackingError(file: path, line: 3, problem: "three header rows and no data rows: the file holds no samples") }
        var out: [TrackingSample] = []
        var lastTime = -Double.infinity
        for (k, line) in lines.enumerated().dropFirst(3) {
            let cells = line.split(separator: ",", omittingEmptySubsequences: false)
            guard cells.count >= names.count - 1 else {
                throw TrackingError(file: path, line: k + 1, problem: "\(cells.count) values, the header has \(names.count)")
            }
            guard let period = Int(cells[0]), let frame = Int(cells[1]), let time = Double(cells[2]) else {
                throw TrackingError(file: path, line: k + 1, problem: "period, frame and time must be numbers")
            }
            guard time >= lastTime else { throw TrackingError(file: path, line: k + 1, problem: "time goes backwards (\(time) after \(lastTime))") }
            lastTime = time
            for (id, column) in objects where column + 1 < cells.count {
                let xs = cells[column], ys = cells[column + 1]
                if xs == "NaN" || ys == "NaN" || xs.isEmpty || ys.isEmpty { continue }
                guard let x = Double(xs), let y = Double(ys) else {
                    throw TrackingError(file: path, line: k + 1, problem: "\(id): \"\(xs)\", \"\(ys)\" are not numbers")
                }
                // Pitch metres, origin at the centre, y up (as Hawk-Eye).
                out.append(TrackingSample(frame: frame, time: time, id: id, x: (x - 0.5) * pitch.x, y: (0.5 - y) * pitch.y, z: nil, period: period))
            }
        }
        return out
    }
}
