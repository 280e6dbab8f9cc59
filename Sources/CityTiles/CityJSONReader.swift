import Foundation

/// Reads CityJSON (`.city.json`, one document) and CityJSONSeq (`.city.jsonl`, a header
/// line then one CityJSONFeature per line) into catalog records.
///
/// CityJSONSeq is read as a stream, line by line, so memory follows the largest feature,
/// not the file. Every refusal is a `TileError` naming the file, the object and the problem.
public enum CityJSONReader {
    /// Longest line accepted in a CityJSONSeq file; a longer one is not a feature.
    public static let maxLineBytes = 256 << 20
    /// Largest `.city.json` read whole; bigger tiles should come as CityJSONSeq.
    public static let maxDocumentBytes = 2 << 30

    /// The file formats, told apart by extension.
    public enum Format: Sendable { case document, sequence }

    /// The format of a file name, or an error for an extension that is neither.
    public static func format(of path: String) throws(TileError) -> Format {
        let name = (path as NSString).lastPathComponent.lowercased()
        if name.hasSuffix(".jsonl") { return .sequence }
        if name.hasSuffix(".json") { return .document }
        throw TileError(file: path, problem: "unknown extension: a tile is .city.json (CityJSON) or .city.jsonl (CityJSONSeq)")
    }

    /// Reads a tile, handing its records to `sink` in batches (one per feature for
    /// CityJSONSeq). `progress` is called with bytes read so far.
    @discardableResult
    public static func read(path: String, crsOverride: Int? = nil,
                            progress: ((Int) -> Void)? = nil,
                            sink: ([CityObjectRecord]) throws -> Void) throws -> TileHeader {
        let format = try format(of: path)
        let handle = try openForReading(path)
        defer { try? handle.close() }
        var lines = LineReader(handle: handle, maxLine: format == .sequence ? maxLineBytes : maxDocumentBytes, file: path)
        guard let first = try lines.next(wholeFile: format == .document) else {
            throw TileError(file: path, problem: "the file is empty")
        }
        try checkLooksLikeJSON(first, file: path)
        switch format {
        case .document:
            let root = try parse(first, file: path, line: nil)
            guard let o = root.object else { throw TileError(file: path, problem: "the top level is \(root.typeName), an object was expected") }
            let header = try TileHeader.read(o, file: path, crsOverride: crsOverride)
            let vertices = try readVertices(o["vertices"], file: path, header: header)
            guard let objects = o["CityObjects"]?.object else { throw TileError(file: path, problem: "no \"CityObjects\" object") }
            let extractor = CityObjectExtractor(file: path, header: header, vertices: vertices)
            let records = try extractor.records(objects)
            // Checked after the content so that a broken file is reported as broken first.
            if header.epsg == nil {
                throw TileError(file: path, problem: "the file names no reference system (metadata.referenceSystem); import it with --crs EPSG:N")
            }
            try sink(records)
            progress?(lines.bytesRead)
            return header
        case .sequence:
            let root = try parse(first, file: path, line: 1)
            guard let o = root.object else { throw TileError(file: path, problem: "line 1 is \(root.typeName), the CityJSON header object was expected") }
            let header = try TileHeader.read(o, file: path, crsOverride: crsOverride)
            if header.epsg == nil {
                throw TileError(file: path, problem: "the header line names no reference system (metadata.referenceSystem); import it with --crs EPSG:N")
            }
            var lineNumber = 1
            var seen = Set<String>()
            while let line = try lines.next(wholeFile: false) {
                lineNumber += 1
                if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) { continue }
                let feature = try parse(line, file: path, line: lineNumber)
                let records = try featureRecords(feature, file: path, line: lineNumber, header: header)
                for r in records where !seen.insert(r.id).inserted {
                    throw TileError(file: path, object: r.id, problem: "line \(lineNumber): the id appears in an earlier feature too")
                }
                try sink(records)
                progress?(lines.bytesRead)
            }
            return header
        }
    }

    static func featureRecords(_ feature: JSONValue, file: String, line: Int, header: TileHeader) throws(TileError) -> [CityObjectRecord] {
        guard let o = feature.object else { throw TileError(file: file, problem: "line \(line) is \(feature.typeName), a CityJSONFeature object was expected") }
        guard o["type"]?.string == "CityJSONFeature" else {
            throw TileError(file: file, problem: "line \(line): \"type\" must be \"CityJSONFeature\"")
        }
        guard let id = o["id"]?.string else { throw TileError(file: file, problem: "line \(line): the feature has no \"id\"") }
        guard let objects = o["CityObjects"]?.object else { throw TileError(file: file, object: id, problem: "line \(line): the feature has no \"CityObjects\"") }
        guard objects[id] != nil else {
            throw TileError(file: file, object: id, problem: "line \(line): the feature's \"id\" names none of its \(objects.count) CityObjects")
        }
        let vertices = try readVertices(o["vertices"], file: "\(file) line \(line)", header: header)
        let extractor = CityObjectExtractor(file: file, header: header, vertices: vertices)
        do { return try extractor.records(objects) } catch {
            var e = error
            e.problem = "line \(line): " + e.problem
            throw e
        }
    }

    /// Checks `vertices`: an array of integer triples whose real coordinates stay in range.
    static func readVertices(_ value: JSONValue?, file: String, header: TileHeader) throws(TileError) -> [Int64] {
        guard let value else { throw TileError(file: file, problem: "no \"vertices\" array") }
        guard let list = value.array else { throw TileError(file: file, problem: "\"vertices\" is \(value.typeName), an array was expected") }
        var out: [Int64] = []
        out.reserveCapacity(list.count * 3)
        for (i, v) in list.enumerated() {
            if case .ints(let p) = v, p.count == 3 {
                for k in 0..<3 {
                    let real = Double(p[k]) * header.scale[k] + header.translate[k]
                    guard real.isFinite, abs(real) <= TileHeader.coordinateLimit else {
                        throw TileError(file: file, problem: "vertex \(i) coordinate \(k) is \(real) after transform, beyond ±\(Int(TileHeader.coordinateLimit))")
                    }
                    out.append(p[k])
                }
                continue
            }
            guard let xyz = v.array, xyz.count == 3 else { throw TileError(file: file, problem: "vertex \(i) is not an array of three integers") }
            for k in 0..<3 {
                guard case .int(let c) = xyz[k] else {
                    throw TileError(file: file, problem: "vertex \(i) coordinate \(k) is \(xyz[k].typeName == "a number" ? "not an integer" : xyz[k].typeName); CityJSON vertices are integers")
                }
                let real = Double(c) * header.scale[k] + header.translate[k]
                guard real.isFinite, abs(real) <= TileHeader.coordinateLimit else {
                    throw TileError(file: file, problem: "vertex \(i) coordinate \(k) is \(real) after transform, beyond ±\(Int(TileHeader.coordinateLimit))")
                }
                out.append(c)
            }
        }
        return out
    }

    static func parse(_ bytes: [UInt8], file: String, line: Int?) throws(TileError) -> JSONValue {
        do throws(JSONSyntaxError) {
            return try JSONParser.parse(bytes)
        } catch {
            var e = error
            if let line { e.line = line }
            throw TileError(file: file, problem: "invalid JSON: \(e)")
        }
    }

    /// Opens a tile file, or says why it cannot: missing, a directory, or unreadable.
    static func openForReading(_ path: String) throws(TileError) -> FileHandle {
        if let handle = FileHandle(forReadingAtPath: path) { return handle }
        var isDir: ObjCBool = false
        let exists = FileManager.default.fileExists(atPath: path, isDirectory: &isDir)
        throw TileError(file: path, problem: !exists ? "no such file" : isDir.boolValue ? "is a directory" : "cannot be read (permissions?)")
    }

    /// Looks at the first 4 KiB of a file and refuses it unless it could be CityJSON.
    public static func precheck(path: String) throws(TileError) {
        _ = try format(of: path)
        let handle = try openForReading(path)
        defer { try? handle.close() }
        let head = (try? handle.read(upToCount: 4096)) ?? nil
        guard let head, !head.isEmpty else { throw TileError(file: path, problem: "the file is empty") }
        try checkLooksLikeJSON(Array(head), file: path)
    }

    /// Refuses binary data and garbage early, from the first bytes.
    static func checkLooksLikeJSON(_ bytes: [UInt8], file: String) throws(TileError) {
        var i = 0
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { i = 3 }
        while i < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[i]) { i += 1 }
        guard i < bytes.count else { throw TileError(file: file, problem: "the file holds only whitespace") }
        guard bytes[i] == UInt8(ascii: "{") else {
            let binary = bytes.prefix(512).contains { $0 == 0 || ($0 < 0x20 && ![0x09, 0x0A, 0x0D].contains($0)) }
            throw TileError(file: file, problem: binary ? "binary data, not a CityJSON text" : "does not start with a JSON object, not a CityJSON text")
        }
    }
}

/// Splits a file into lines without holding more than one line (plus a buffer) in memory.
struct LineReader {
    let handle: FileHandle
    let maxLine: Int
    let file: String
    var buffer: [UInt8] = []
    var start = 0
    var eof = false
    private(set) var bytesRead = 0

    init(handle: FileHandle, maxLine: Int, file: String) {
        self.handle = handle
        self.maxLine = maxLine
        self.file = file
    }

    /// The next line without its newline, or the whole file when `wholeFile`; nil at the end.
    mutating func next(wholeFile: Bool) throws(TileError) -> [UInt8]? {
        while true {
            if !wholeFile, let nl = buffer[start...].firstIndex(of: 0x0A) {
                let line = Array(buffer[start..<nl])
                start = nl + 1
                if start > 1 << 20 { buffer.removeFirst(start); start = 0 }
                return line
            }
            if buffer.count - start > maxLine {
                throw TileError(file: file, problem: wholeFile
                    ? "larger than \(maxLine >> 20) MiB: split it or convert it to CityJSONSeq (.city.jsonl)"
                    : "a line is longer than \(maxLine >> 20) MiB: not a CityJSONSeq file")
            }
            if eof {
                if start >= buffer.count { return nil }
                let rest = Array(buffer[start...])
                start = buffer.count
                return rest
            }
            let chunk: Data
            do { chunk = try handle.read(upToCount: 4 << 20) ?? Data() } catch {
                throw TileError(file: file, problem: "read error: \(error)")
            }
            if chunk.isEmpty { eof = true } else {
                buffer.append(contentsOf: chunk)
                bytesRead += chunk.count
                // Refuse garbage before reading a gigabyte of it.
                if bytesRead == chunk.count { try CityJSONReader.checkLooksLikeJSON(Array(buffer.prefix(4096)), file: file) }
            }
        }
    }
}
