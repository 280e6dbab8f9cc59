import Foundation
import SceneCore

/// Writes a plausible synthetic district as CityJSONSeq: a street grid, blocks split
/// into parcels, one building per parcel (rectangles and L-shapes of varied size and
/// height), each with a LoD0 footprint and a LoD1.2 solid with semantic surfaces.
///
/// The bundled scene tiles and the import benchmarks at scale come from it; the same
/// seed always writes the same bytes.
public struct DistrictGenerator: Sendable {
    public var buildings: Int
    public var seed: UInt64
    /// South-west corner of the district in the CRS (default: Delft, EPSG:7415).
    public var origin: SIMD2<Double> = SIMD2(85_000, 446_000)
    public var epsg: Int = 7415
    /// Block size and street width in metres.
    public var blockWidth: Double = 96
    public var blockDepth: Double = 64
    public var streetWidth: Double = 16
    /// Parcels per block along x and y.
    public var parcelsX = 3
    public var parcelsY = 2

    public init(buildings: Int, seed: UInt64) {
        self.buildings = buildings
        self.seed = seed
    }

    public var blocks: Int { (buildings + parcelsX * parcelsY - 1) / (parcelsX * parcelsY) }
    public var blockColumns: Int { max(1, Int(Double(blocks).squareRoot().rounded(.up))) }
    public var blockRows: Int { max(1, (blocks + blockColumns - 1) / blockColumns) }

    /// The district's extent relative to `origin`, streets on every side included.
    public var size: SIMD2<Double> {
        SIMD2(Double(blockColumns) * (blockWidth + streetWidth) + streetWidth,
              Double(blockRows) * (blockDepth + streetWidth) + streetWidth)
    }

    /// Writes the district to `path`; returns the bytes written.
    @discardableResult
    public func write(to path: String) throws -> Int {
        let handle = try Self.create(path)
        defer { try? handle.close() }
        var written = 0
        var chunk = header() + "\n"
        for k in 0..<buildings {
            chunk += feature(k)
            chunk += "\n"
            if chunk.utf8.count > 1 << 20 {
                let data = Data(chunk.utf8)
                try handle.write(contentsOf: data)
                written += data.count
                chunk = ""
            }
        }
        let data = Data(chunk.utf8)
        try handle.write(contentsOf: data)
        return written + data.count
    }

    /// Writes the same district as one CityJSON document (`.city.json`), for tools that
    /// read only whole documents; vertices are shared in one list as the format requires.
    @discardableResult
    public func writeDocument(to path: String) throws -> Int {
        let handle = try Self.create(path)
        defer { try? handle.close() }
        let h = header()
        // The header minus its empty CityObjects and vertices, which follow in full.
        var out = String(h.dropLast()).replacingOccurrences(of: #""CityObjects":{},"vertices":[],"#, with: "")
        out += #","CityObjects":{"#
        var vertices: [String] = []
        var written = 0
        func flush() throws {
            let data = Data(out.utf8)
            try handle.write(contentsOf: data)
            written += data.count
            out = ""
        }
        for k in 0..<buildings {
            let (object, verts) = featureParts(k, vertexOffset: vertices.count)
            if k > 0 { out += "," }
            out += object
            vertices += verts
            if out.utf8.count > 1 << 20 { try flush() }
        }
        out += #"},"vertices":["#
        for (k, v) in vertices.enumerated() {
            if k > 0 { out += "," }
            out += v
            if out.utf8.count > 1 << 20 { try flush() }
        }
        out += "]}\n"
        try flush()
        return written
    }

    /// A new, empty file to write to.
    static func create(_ path: String) throws(DistrictFileError) -> FileHandle {
        guard FileManager.default.createFile(atPath: path, contents: nil), let handle = FileHandle(forWritingAtPath: path) else {
            throw DistrictFileError(file: path, problem: "cannot create the file")
        }
        return handle
    }

    func header() -> String {
        let s = size
        return """
            {"type":"CityJSON","version":"2.0","transform":{"scale":[0.001,0.001,0.001],"translate":[\(origin.x),\(origin.y),0.0]},\
            "CityObjects":{},"vertices":[],"metadata":{"referenceSystem":"https://www.opengis.net/def/crs/EPSG/0/\(epsg)",\
            "title":"twinscene synthetic district (\(buildings) buildings, seed \(seed))",\
            "geographicalExtent":[\(origin.x),\(origin.y),0.0,\(origin.x + s.x),\(origin.y + s.y),60.0]}}
            """
    }

    /// The footprint of building `k` (metres relative to `origin`, counter-clockwise) and its height.
    public func building(_ k: Int) -> (ring: [SIMD2<Double>], height: Double) {
        var rng = SeededGenerator(seed: seed ^ (UInt64(k) &* 0x9E37_79B9_7F4A_7C15))
        let perBlock = parcelsX * parcelsY
        let block = k / perBlock, parcel = k % perBlock
        let bx = Double(block % blockColumns), by = Double(block / blockColumns)
        let pw = blockWidth / Double(parcelsX), pd = blockDepth / Double(parcelsY)
        let x0 = streetWidth + bx * (blockWidth + streetWidth) + Double(parcel % parcelsX) * pw
        let y0 = streetWidth + by * (blockDepth + streetWidth) + Double(parcel / parcelsX) * pd
        let inset = { (lo: Double, hi: Double) in Double.random(in: lo...hi, using: &rng) }
        let minX = x0 + inset(1, 4), maxX = x0 + pw - inset(1, 4)
        let minY = y0 + inset(1, 5), maxY = y0 + pd - inset(1, 5)
        let height = (Double.random(in: 6...45, using: &rng) * 10).rounded() / 10
        let lShaped = Double.random(in: 0..<1, using: &rng) < 0.35
        func r(_ v: Double) -> Double { (v * 1000).rounded() / 1000 }
        if lShaped {
            let cx = r(minX + (maxX - minX) * Double.random(in: 0.4...0.7, using: &rng))
            let cy = r(minY + (maxY - minY) * Double.random(in: 0.4...0.7, using: &rng))
            return ([SIMD2(r(minX), r(minY)), SIMD2(r(maxX), r(minY)), SIMD2(r(maxX), cy), SIMD2(cx, cy),
                     SIMD2(cx, r(maxY)), SIMD2(r(minX), r(maxY))], height)
        }
        return ([SIMD2(r(minX), r(minY)), SIMD2(r(maxX), r(minY)), SIMD2(r(maxX), r(maxY)), SIMD2(r(minX), r(maxY))], height)
    }

    func feature(_ k: Int) -> String {
        let (object, vertices) = featureParts(k, vertexOffset: 0)
        return #"{"type":"CityJSONFeature","id":"GEN.\#(seed).\#(k)","CityObjects":{"# + object + #"},"vertices":["#
            + vertices.joined(separator: ",") + "]}"
    }

    /// Building `k` as a `"id":{...}` CityObjects member whose indices start at
    /// `vertexOffset`, and its vertices.
    func featureParts(_ k: Int, vertexOffset o: Int) -> (object: String, vertices: [String]) {
        let (ring, height) = building(k)
        let id = "GEN.\(seed).\(k)"
        let n = ring.count
        func mm(_ v: Double) -> Int { Int((v * 1000).rounded()) }
        var vertices: [String] = []
        for p in ring { vertices.append("[\(mm(p.x)),\(mm(p.y)),0]") }
        for p in ring { vertices.append("[\(mm(p.x)),\(mm(p.y)),\(mm(height))]") }
        let footprint = "[[" + (0..<n).map { String($0 + o) }.joined(separator: ",") + "]]"
        let ground = "[[" + (0..<n).reversed().map { String($0 + o) }.joined(separator: ",") + "]]"
        let roof = "[[" + (0..<n).map { String($0 + n + o) }.joined(separator: ",") + "]]"
        let walls = (0..<n).map { i in "[[\(i + o),\((i + 1) % n + o),\((i + 1) % n + n + o),\(i + n + o)]]" }
        let surfaces = ([ground, roof] + walls).joined(separator: ",")
        let values = ([0, 1] + [Int](repeating: 2, count: n)).map(String.init).joined(separator: ",")
        let function = ["residential", "office", "retail", "mixed use", "industrial"][k % 5]
        let object = """
            "\(id)":{"type":"Building",\
            "attributes":{"b3_h_maaiveld":0.0,"b3_h_dak_max":\(height),"function":"\(function)","storeys":\(max(1, Int(height / 3.2)))},\
            "geometry":[{"type":"MultiSurface","lod":"0","boundaries":[\(footprint)]},\
            {"type":"Solid","lod":"1.2","boundaries":[[\(surfaces)]],\
            "semantics":{"surfaces":[{"type":"GroundSurface"},{"type":"RoofSurface"},{"type":"WallSurface"}],"values":[[\(values)]]}}]}
            """
        return (object, vertices)
    }
}

/// A generated district that could not be written, naming the file.
public struct DistrictFileError: Error, Equatable, CustomStringConvertible {
    public var file: String
    public var problem: String
    public var description: String { "\(file): \(problem)" }
}
