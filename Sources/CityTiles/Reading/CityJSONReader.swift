import StrictJSON
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
    /// CityJSONSeq). `progress` is called with bytes read so far; `onChunk` sees every
    /// byte of the file once, in order (the catalog hashes the file with it), possibly on
    /// a worker thread, always before `read` returns.
    /// With `workers` above 0, pieces of `pieceBytes` are parsed on that many threads while
    /// the calling thread takes their records.
    @discardableResult
    public static func read(path: String, crsOverride: Int? = nil, workers: Int = 0, pieceBytes: Int = 1 << 20,
                            progress: ((Int) -> Void)? = nil,
                            onChunk: ((UnsafeRawBufferPointer) -> Void)? = nil,
                            sink: ([CityObjectRecord]) throws -> Void) throws -> TileHeader {
        let format = try format(of: path)
        let handle = try openForReading(path)
        defer { try? handle.close() }
        var lines = LineReader(handle: handle, maxLine: format == .sequence ? maxLineBytes : maxDocumentBytes, file: path, onChunk: onChunk)
        lines.reserveWhole = format == .document
        // A document is handed to `onChunk` whole, once read (by a worker when there are some).
        lines.reportsChunks = format == .sequence
        guard let first = try lines.next(wholeFile: format == .document) else {
            throw TileError(file: path, problem: "the file is empty")
        }
        let tape = JSONTape()
        switch format {
        case .document:
            let header = try lines.withBytes(first) { bytes in
                try checkLooksLikeJSON(bytes, file: path)
                // A large document is parsed in pieces even on one thread: its tape then
                // holds one piece at a time, not the whole file.
                guard bytes.count >= 2 * pieceBytes else {
                    onChunk?(UnsafeRawBufferPointer(bytes))
                    return try readDocument(bytes, file: path, crsOverride: crsOverride, sink: sink)
                }
                do {
                    return try readDocumentInPieces(bytes, file: path, crsOverride: crsOverride, workers: workers,
                                                    pieceBytes: pieceBytes, onBytes: onChunk, progress: progress, sink: sink)
                } catch {
                    // Name the problem exactly as reading the whole document at once does (rows
                    // already handed over are rolled back by the caller; this reading hands over none).
                    _ = try readDocument(bytes, file: path, crsOverride: crsOverride, sink: { _ in })
                    throw error
                }
            }
            progress?(lines.bytesRead)
            return header
        case .sequence:
            let header: TileHeader
            do {
                header = try lines.withBytes(first) { bytes in
                    try checkLooksLikeJSON(bytes, file: path)
                    let doc = try parse(bytes, into: tape, file: path, line: 1)
                    guard doc.kind(doc.root) == .object else {
                        throw TileError(file: path, problem: "line 1 is \(doc.typeName(doc.root)), the CityJSON header object was expected")
                    }
                    return try TileHeader.read(doc, doc.root, file: path, crsOverride: crsOverride)
                }
            } catch let error as TileError where error.problem.hasPrefix("invalid JSON") {
                try explainOneValueOverLines(path: path, crsOverride: crsOverride)
                throw error
            }
            try requireTransform(header, file: path)
            if header.epsg == nil {
                throw TileError(file: path, problem: "the header line names no reference system (metadata.referenceSystem); import it with --crs EPSG:N")
            }
            if workers > 0 {
                try sequenceRecords(&lines, header: header, file: path, workers: workers, blockBytes: pieceBytes,
                                    progress: progress, sink: sink)
                return header
            }
            var lineNumber = 1
            var seen = Set<String>()
            while let line = try lines.next(wholeFile: false) {
                lineNumber += 1
                try lines.withBytes(line) { bytes in
                    if bytes.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) { return }
                    let records = try feature(bytes, tape: tape, file: path, line: lineNumber, header: header)
                    for r in records where !seen.insert(r.id).inserted {
                        throw TileError(file: path, object: r.id, problem: "line \(lineNumber): the id appears in an earlier feature too")
                    }
                    try sink(records)
                }
                progress?(lines.bytesRead)
            }
            return header
        }
    }

    /// Reads a whole CityJSON document on this thread.
    static func readDocument(_ bytes: UnsafeBufferPointer<UInt8>, file path: String, crsOverride: Int?,
                             sink: ([CityObjectRecord]) throws -> Void) throws -> TileHeader {
        let tape = JSONTape()
        let doc = try parse(bytes, into: tape, file: path, line: nil)
        let header = try documentHeader(doc, file: path, crsOverride: crsOverride)
        let vertices = try readVertices(doc, doc.member(doc.root, "vertices"), file: path, header: header)
        guard let objects = doc.member(doc.root, "CityObjects"), doc.kind(objects) == .object else {
            throw TileError(file: path, problem: "no \"CityObjects\" object")
        }
        let extractor = CityObjectExtractor(file: path, header: header, vertices: vertices)
        try sink(try extractor.records(doc, objects))
        try requireCRS(header, file: path)
        return header
    }

    static func documentHeader(_ doc: JSONDocument, file path: String, crsOverride: Int?) throws(TileError) -> TileHeader {
        guard doc.kind(doc.root) == .object else {
            throw TileError(file: path, problem: "the top level is \(doc.typeName(doc.root)), an object was expected")
        }
        return try TileHeader.read(doc, doc.root, file: path, crsOverride: crsOverride)
    }

    /// Checked after the content, so that a broken file is reported as broken first.
    static func requireCRS(_ header: TileHeader, file path: String) throws(TileError) {
        try requireTransform(header, file: path)
        if header.epsg == nil {
            throw TileError(file: path, problem: "the file names no reference system (metadata.referenceSystem); import it with --crs EPSG:N")
        }
    }

    /// CityJSON 1.1 and 2.0 require `transform`: without one, integer vertices would be taken
    /// as metres and every coordinate and height would be wrong by the scale left out.
    static func requireTransform(_ header: TileHeader, file path: String) throws(TileError) {
        guard header.hasTransform else {
            throw TileError(file: path, problem: "no \"transform\": CityJSON \(header.version) requires one (vertices are integers, scaled and translated by it into coordinates)")
        }
    }

    /// Parses `bytes` into `tape`; the document is valid while `bytes` is.
    static func parse(_ bytes: UnsafeBufferPointer<UInt8>, into tape: JSONTape, file: String, line: Int?) throws(TileError) -> JSONDocument {
        do throws(JSONSyntaxError) {
            try tape.parse(bytes)
            return JSONDocument(bytes: bytes, tape: tape)
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
        let result: Result<Void, TileError> = bytes.withUnsafeBufferPointer { b in
            do throws(TileError) { return .success(try checkLooksLikeJSON(b, file: file)) } catch { return .failure(error) }
        }
        try result.get()
    }

    static func checkLooksLikeJSON(_ bytes: UnsafeBufferPointer<UInt8>, file: String) throws(TileError) {
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
