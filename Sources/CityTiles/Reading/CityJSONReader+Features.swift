import StrictJSON
import Foundation

/// CityJSONSeq features, vertices, and files that are not what their extension says.
extension CityJSONReader {
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
                    throw TileError(file: file, problem: "vertex \(i) coordinate \(k) is \(doc.number(c) != nil ? "not an integer" : doc.typeName(c)); CityJSON vertices are integers, scaled into coordinates by the file's \"transform\"")
                }
                try check(value, i, k)
                out.append(value)
            }
        }
        return out
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
}
