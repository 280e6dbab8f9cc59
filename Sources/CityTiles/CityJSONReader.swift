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

    /// Largest `.city.jsonl` looked at whole when its first line is not JSON.
    static let explainLimit = 64 << 20

    /// A `.city.jsonl` whose first line is no complete JSON is often one pretty-printed value
    /// (a CityJSON document, or a single feature): say so, and what is wrong with the feature.
    /// Returns (and the caller reports the JSON error) when the file is none of these.
    static func explainOneValueOverLines(path: String, crsOverride: Int?) throws(TileError) {
        guard let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size]) as? Int, size <= explainLimit,
              let data = FileManager.default.contents(atPath: path) else { return }
        let bytes = [UInt8](data)
        let lineCount = bytes.reduce(0) { $0 + ($1 == 0x0A ? 1 : 0) } + (bytes.last == 0x0A ? 0 : 1)
        try bytes.withUnsafeBufferPointer { b throws(TileError) in
            let tape = JSONTape()
            do throws(JSONSyntaxError) { try tape.parse(b) } catch { return }
            let doc = JSONDocument(bytes: b, tape: tape)
            guard let type = doc.member(doc.root, "type") else { return }
            let layout = "the file is one JSON value over \(lineCount) lines, not CityJSONSeq (a CityJSON header line, then one CityJSONFeature per line)"
            if doc.stringEquals(type, "CityJSON") {
                throw TileError(file: path, problem: "\(layout): it is a CityJSON document; name it .city.json")
            }
            guard doc.stringEquals(type, "CityJSONFeature") else { return }
            // Checked as a feature too, so that what is wrong with it is named now.
            let header = TileHeader(version: "2.0", scale: SIMD3(1, 1, 1), translate: SIMD3(0, 0, 0), epsg: crsOverride)
            do throws(TileError) {
                _ = try featureRecords(doc, vertices: nil, file: path, line: 1, header: header)
            } catch {
                let problem = error.problem.hasPrefix("line 1: ") ? String(error.problem.dropFirst(8)) : error.problem
                throw TileError(file: path, object: error.object, problem: "\(layout), a lone CityJSONFeature; and \(problem)")
            }
            throw TileError(file: path, problem: "\(layout): a lone CityJSONFeature with no header line")
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
        if header.epsg == nil {
            throw TileError(file: path, problem: "the file names no reference system (metadata.referenceSystem); import it with --crs EPSG:N")
        }
    }

    /// The records of one CityJSONSeq line. Its vertices are read by `VertexReader` when
    /// they are plain; otherwise, and on any error, the line is parsed whole, so that the
    /// problem is named as it always is.
    static func feature(_ bytes: UnsafeBufferPointer<UInt8>, tape: JSONTape, file: String, line: Int,
                        header: TileHeader) throws(TileError) -> [CityObjectRecord] {
        var skimmed = true
        do throws(JSONSyntaxError) { try tape.parse(bytes, skipping: "vertices") } catch { skimmed = false }
        if skimmed {
            let doc = JSONDocument(bytes: bytes, tape: tape)
            if let skipped = tape.skipped, doc.kind(doc.root) == .object, doc.member(doc.root, "vertices") == skipped.node,
               let vertices = VertexReader.read(UnsafeBufferPointer(rebasing: bytes[skipped.bytes]), header: header) {
                return try featureRecords(doc, vertices: vertices, file: file, line: line, header: header)
            }
        }
        let doc = try parse(bytes, into: tape, file: file, line: line)
        return try featureRecords(doc, vertices: nil, file: file, line: line, header: header)
    }

    static func featureRecords(_ doc: JSONDocument, vertices known: [Int64]?, file: String, line: Int,
                               header: TileHeader) throws(TileError) -> [CityObjectRecord] {
        let root = doc.root
        guard doc.kind(root) == .object else { throw TileError(file: file, problem: "line \(line) is \(doc.typeName(root)), a CityJSONFeature object was expected") }
        guard let type = doc.member(root, "type"), doc.stringEquals(type, "CityJSONFeature") else {
            throw TileError(file: file, problem: "line \(line): \"type\" must be \"CityJSONFeature\"")
        }
        guard let idNode = doc.member(root, "id"), let id = doc.string(idNode) else {
            throw TileError(file: file, problem: "line \(line): the feature has no \"id\"")
        }
        guard let objects = doc.member(root, "CityObjects"), doc.kind(objects) == .object else {
            throw TileError(file: file, object: id, problem: "line \(line): the feature has no \"CityObjects\"")
        }
        var named = false
        doc.forEachMember(objects) { k, _ in named = named || doc.string(k) == id }
        guard named else {
            throw TileError(file: file, object: id, problem: "line \(line): the feature's \"id\" names none of its \(doc.count(objects)) CityObjects")
        }
        var vertices: [Int64]
        if let known { vertices = known } else {
            vertices = try readVertices(doc, doc.member(root, "vertices"), file: "\(file) line \(line)", header: header)
        }
        let extractor = CityObjectExtractor(file: file, header: header, vertices: vertices)
        do { return try extractor.records(doc, objects) } catch {
            var e = error
            e.problem = "line \(line): " + e.problem
            throw e
        }
    }

    /// Checks `vertices`: an array of integer triples whose real coordinates stay in range.
    static func readVertices(_ doc: JSONDocument, _ node: Int?, file: String, header: TileHeader) throws(TileError) -> [Int64] {
        guard let node else { throw TileError(file: file, problem: "no \"vertices\" array") }
        switch doc.kind(node) {
        case .array: break
        case .intArray: throw TileError(file: file, problem: "vertex 0 is not an array of three integers")
        default: throw TileError(file: file, problem: "\"vertices\" is \(doc.typeName(node)), an array was expected")
        }
        var out: [Int64] = []
        out.reserveCapacity(doc.count(node) * 3)
        func check(_ c: Int64, _ i: Int, _ k: Int) throws(TileError) {
            let real = Double(c) * header.scale[k] + header.translate[k]
            guard real.isFinite, abs(real) <= TileHeader.coordinateLimit else {
                throw TileError(file: file, problem: "vertex \(i) coordinate \(k) is \(real) after transform, beyond ±\(Int(TileHeader.coordinateLimit))")
            }
        }
        try doc.forEachElement(node) { i, v throws(TileError) in
            if doc.kind(v) == .intArray, doc.count(v) == 3 {
                for (k, c) in doc.intElements(v).enumerated() {
                    try check(c, i, k)
                    out.append(c)
                }
                return
            }
            guard doc.kind(v) == .array, doc.count(v) == 3 else { throw TileError(file: file, problem: "vertex \(i) is not an array of three integers") }
            try doc.forEachElement(v) { k, c throws(TileError) in
                guard let value = doc.int(c) else {
                    throw TileError(file: file, problem: "vertex \(i) coordinate \(k) is \(doc.number(c) != nil ? "not an integer" : doc.typeName(c)); CityJSON vertices are integers")
                }
                try check(value, i, k)
                out.append(value)
            }
        }
        return out
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

/// Splits a file into lines without holding more than one line (plus a buffer) in memory.
struct LineReader {
    let handle: FileHandle
    let maxLine: Int
    let file: String
    let onChunk: ((UnsafeRawBufferPointer) -> Void)?
    var buffer: [UInt8] = []
    var start = 0
    var eof = false
    private(set) var bytesRead = 0
    /// Set when the file is read whole: the first read takes it all into one buffer.
    var reserveWhole = false
    /// Whether `onChunk` sees each chunk as it is read.
    var reportsChunks = true
    private var scratch: [UInt8] = []

    /// The file's size when it was opened.
    let expectedSize: Int

    init(handle: FileHandle, maxLine: Int, file: String, onChunk: ((UnsafeRawBufferPointer) -> Void)? = nil) {
        self.handle = handle
        self.maxLine = maxLine
        self.file = file
        self.onChunk = onChunk
        var st = stat()
        expectedSize = fstat(handle.fileDescriptor, &st) == 0 ? Int(st.st_size) : 0
    }

    /// Where the next line lies in `buffer` (without its newline), or the whole file when
    /// `wholeFile`; nil at the end. The range is valid until the next call.
    mutating func next(wholeFile: Bool) throws(TileError) -> Range<Int>? {
        var searchFrom = start
        while true {
            if !wholeFile, let nl = buffer[searchFrom...].firstIndex(of: 0x0A) {
                let line = start..<nl
                start = nl + 1
                return line
            }
            searchFrom = buffer.count - start
            if buffer.count - start > maxLine {
                throw TileError(file: file, problem: wholeFile
                    ? "larger than \(maxLine >> 20) MiB: split it or convert it to CityJSONSeq (.city.jsonl)"
                    : "a line is longer than \(maxLine >> 20) MiB: not a CityJSONSeq file")
            }
            if eof {
                if start >= buffer.count { return nil }
                let rest = start..<buffer.count
                start = buffer.count
                return rest
            }
            try fill()
            searchFrom += start
        }
    }

    /// Reads the next chunk of the file, first dropping the lines already handed out.
    mutating func fill() throws(TileError) {
        if start > 0 {
            buffer.removeSubrange(0..<start)
            start = 0
        }
        let got: Int
        if reserveWhole && bytesRead == 0 && expectedSize > 0 {
            // Read whole: straight into one buffer sized for the file.
            let size = min(maxLine + 1, expectedSize)
            var n = 0
            buffer = [UInt8](unsafeUninitializedCapacity: size) { b, count in
                n = Self.read(handle.fileDescriptor, into: UnsafeMutableRawBufferPointer(b))
                count = max(n, 0)
            }
            got = try checked(n)
        } else {
            if scratch.isEmpty { scratch = [UInt8](repeating: 0, count: 4 << 20) }
            let n = scratch.withUnsafeMutableBytes { Self.read(handle.fileDescriptor, into: $0) }
            got = try checked(n)
            buffer.append(contentsOf: scratch[0..<got])
        }
        if got == 0 { eof = true; return }
        if reportsChunks { buffer.withUnsafeBytes { b in onChunk?(UnsafeRawBufferPointer(rebasing: b[(buffer.count - got)...])) } }
        bytesRead += got
        // Refuse garbage before reading a gigabyte of it.
        if bytesRead == got { try CityJSONReader.checkLooksLikeJSON(Array(buffer.prefix(4096)), file: file) }
    }

    private func checked(_ n: Int) throws(TileError) -> Int {
        guard n >= 0 else { throw TileError(file: file, problem: "read error: \(String(cString: strerror(Int32(-n))))") }
        return n
    }

    /// Fills `buffer` from the file as far as it goes: the bytes read, or minus errno.
    static func read(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer) -> Int {
        var total = 0
        while total < buffer.count {
            let n = Foundation.read(fd, buffer.baseAddress! + total, buffer.count - total)
            if n > 0 { total += n; continue }
            if n == 0 { break }
            if errno != EINTR { return -Int(errno) }
        }
        return total
    }

    /// Calls `body` with the bytes of a line returned by `next`.
    func withBytes<R>(_ line: Range<Int>, _ body: (UnsafeBufferPointer<UInt8>) throws -> R) throws -> R {
        try buffer.withUnsafeBufferPointer { b in try body(UnsafeBufferPointer(rebasing: b[line])) }
    }
}
