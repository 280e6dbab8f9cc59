import Foundation

/// One sample of a tracked object: who, when, where (metres; z when the source has it).
public struct TrackingSample: Sendable, Equatable {
    public var frame: Int
    public var time: Double
    public var id: String
    public var x: Double
    public var y: Double
    public var z: Double?
}

/// A tracking file that could not be read, with the file, line and problem.
public struct TrackingError: Error, Equatable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var problem: String
    public var description: String { "\(file): line \(line): \(problem)" }
}

/// Reads "long" tracking CSVs: one row per object per moment, columns found by header
/// name (time or frame, an id, x and y, optionally z), so Hawk-Eye exports and other long
/// CSVs work alike. Times must not go backwards; every value must be a number.
public enum TrackingCSV {
    static let timeNames = ["time_s", "time", "t", "timestamp"]
    static let frameNames = ["frame", "frame_id", "frameid"]
    static let idNames = ["track_id", "id", "player_id", "object_id"]
    static let xNames = ["x_m", "x"]
    static let yNames = ["y_m", "y"]
    static let zNames = ["z_m", "z"]

    /// Reads a file. `rate` (Hz) turns times into frame numbers when there is no frame column.
    /// `fixedId` names the object of files with no id column (a ball file).
    public static func read(path: String, rate: Double, fixedId: String? = nil) throws -> [TrackingSample] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw TrackingError(file: path, line: 0, problem: FileManager.default.fileExists(atPath: path) ? "cannot be read" : "no such file")
        }
        // Split on bytes: "\r\n" is one Character in Swift, so splitting the String on "\n" would not.
        var lines = data.split(separator: 0x0A, omittingEmptySubsequences: false).map { raw -> Substring in
            let bytes = raw.last == 0x0D ? raw.dropLast() : raw
            return Substring(String(decoding: bytes, as: UTF8.self))
        }
        while lines.last?.isEmpty == true { lines.removeLast() }
        guard let headerLine = lines.first else { throw TrackingError(file: path, line: 1, problem: "the file is empty") }
        let header = headerLine.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
        func column(_ names: [String]) -> Int? { names.lazy.compactMap { header.firstIndex(of: $0) }.first }
        let timeCol = column(timeNames), frameCol = column(frameNames)
        guard timeCol != nil || frameCol != nil else {
            throw TrackingError(file: path, line: 1, problem: "no time or frame column (looked for \((timeNames + frameNames).joined(separator: ", ")); found \(header.joined(separator: ", ")))")
        }
        let idCol = column(idNames)
        guard idCol != nil || fixedId != nil else {
            throw TrackingError(file: path, line: 1, problem: "no id column (looked for \(idNames.joined(separator: ", ")))")
        }
        guard let xCol = column(xNames), let yCol = column(yNames) else {
            throw TrackingError(file: path, line: 1, problem: "no x and y columns (looked for x_m/x and y_m/y)")
        }
        let zCol = column(zNames)
        guard lines.count > 1 else { throw TrackingError(file: path, line: 1, problem: "a header and no rows: the file holds no samples") }
        var out: [TrackingSample] = []
        out.reserveCapacity(lines.count)
        var lastTime = -Double.infinity
        for (k, line) in lines.enumerated().dropFirst() {
            let n = k + 1
            let cells = line.split(separator: ",", omittingEmptySubsequences: false)
            guard cells.count == header.count else {
                throw TrackingError(file: path, line: n, problem: "\(cells.count) values, the header has \(header.count)")
            }
            func number(_ col: Int, _ what: String) throws -> Double {
                let text = cells[col].trimmingCharacters(in: .whitespaces)
                guard let v = Double(text), v.isFinite else {
                    throw TrackingError(file: path, line: n, problem: "\(what) \"\(text)\" is not a number")
                }
                return v
            }
            let time = try timeCol.map { try number($0, header[$0]) }
            let frame = try frameCol.map { Int(try number($0, header[$0])) }
            let t = time ?? Double(frame ?? 0) / rate
            guard t >= lastTime else {
                throw TrackingError(file: path, line: n, problem: "time goes backwards (\(t) after \(lastTime))")
            }
            lastTime = t
            let id = idCol.map { cells[$0].trimmingCharacters(in: .whitespaces) } ?? fixedId!
            out.append(TrackingSample(frame: frame ?? Int((t * rate).rounded()), time: t, id: id,
                                      x: try number(xCol, header[xCol]), y: try number(yCol, header[yCol]),
                                      z: try zCol.map { try number($0, header[$0]) }))
        }
        return out
    }
}
