/// One surface of a geometry: its rings as vertex indices and its semantic type, if any.
struct ParsedSurface {
    var rings: [[Int]]
    var semantic: String?
}

/// A geometry reduced to what footprints and heights need.
struct ParsedGeometry {
    var type: String
    var lod: String
    var surfaces: [ParsedSurface]
    /// Vertex indices of point and line geometries (they have no surfaces).
    var looseVertices: [Int]

    var isSurfaceType: Bool { type == "MultiSurface" || type == "CompositeSurface" }
    var isSolidType: Bool { type == "Solid" || type == "MultiSolid" || type == "CompositeSolid" }

    var allVertices: [Int] {
        var out = looseVertices
        for s in surfaces { for r in s.rings { out += r } }
        return out
    }
}

extension CityObjectExtractor {
    /// Checks and flattens one geometry object; every index is checked against the vertices.
    func parseGeometry(_ value: JSONValue, object id: String, index k: Int) throws(TileError) -> ParsedGeometry {
        func fail(_ problem: String) -> TileError { TileError(file: file, object: id, problem: "geometry[\(k)]: \(problem)") }
        guard let g = value.object else { throw fail("is \(value.typeName), an object was expected") }
        guard let type = g["type"]?.string else { throw fail("has no \"type\"") }
        var lod = ""
        switch g["lod"] {
        case .string(let s)?: lod = s
        case .int(let i)?: lod = String(i)            // CityJSON 1.x wrote numbers
        case .double(let d)?: lod = String(d)
        case nil: if type != "GeometryInstance" { throw fail("has no \"lod\"") }
        case let other?: throw fail("\"lod\" is \(other.typeName), a string was expected")
        }
        if type == "GeometryInstance" {
            // A template placed at one vertex: the reference point is all we use.
            guard let b = g["boundaries"]?.array, b.count == 1, case .int(let v) = b[0] else {
                throw fail("a GeometryInstance needs \"boundaries\" with exactly one vertex index")
            }
            return ParsedGeometry(type: type, lod: lod, surfaces: [], looseVertices: [try vertexIndex(v, fail)])
        }
        guard let boundaries = g["boundaries"] else { throw fail("has no \"boundaries\"") }
        let semanticTypes = try semantics(g["semantics"], fail)
        let values = g["semantics"]?["values"]
        var surfaces: [ParsedSurface] = []
        var loose: [Int] = []
        switch type {
        case "MultiPoint":
            loose = try indexList(boundaries, fail)
        case "MultiLineString":
            for line in try list(boundaries, fail) { loose += try indexList(line, fail) }
        case "MultiSurface", "CompositeSurface":
            let surfaceValues = values?.array
            for (s, surface) in try list(boundaries, fail).enumerated() {
                surfaces.append(ParsedSurface(rings: try rings(surface, fail), semantic: semantic(surfaceValues?[safe: s], semanticTypes)))
            }
        case "Solid":
            for (sh, shell) in try list(boundaries, fail).enumerated() {
                let shellValues = values?.array?[safe: sh]?.array
                for (s, surface) in try list(shell, fail).enumerated() {
                    surfaces.append(ParsedSurface(rings: try rings(surface, fail), semantic: semantic(shellValues?[safe: s], semanticTypes)))
                }
            }
        case "MultiSolid", "CompositeSolid":
            for (so, solid) in try list(boundaries, fail).enumerated() {
                for (sh, shell) in try list(solid, fail).enumerated() {
                    let shellValues = values?.array?[safe: so]?.array?[safe: sh]?.array
                    for (s, surface) in try list(shell, fail).enumerated() {
                        surfaces.append(ParsedSurface(rings: try rings(surface, fail), semantic: semantic(shellValues?[safe: s], semanticTypes)))
                    }
                }
            }
        default:
            throw fail("unknown geometry type \"\(type)\"")
        }
        return ParsedGeometry(type: type, lod: lod, surfaces: surfaces, looseVertices: loose)
    }

    private func list(_ v: JSONValue, _ fail: (String) -> TileError) throws(TileError) -> [JSONValue] {
        guard let a = v.array else { throw fail("boundaries nest \(v.typeName) where an array was expected") }
        return a
    }

    private func rings(_ surface: JSONValue, _ fail: (String) -> TileError) throws(TileError) -> [[Int]] {
        var out: [[Int]] = []
        for ring in try list(surface, fail) { out.append(try indexList(ring, fail)) }
        return out
    }

    private func indexList(_ v: JSONValue, _ fail: (String) -> TileError) throws(TileError) -> [Int] {
        if case .ints(let packed) = v {
            var out: [Int] = []
            out.reserveCapacity(packed.count)
            for i in packed { out.append(try vertexIndex(i, fail)) }
            return out
        }
        var out: [Int] = []
        for item in try list(v, fail) {
            guard case .int(let i) = item else { throw fail("a boundary holds \(item.typeName) where a vertex index was expected") }
            out.append(try vertexIndex(i, fail))
        }
        return out
    }

    private func vertexIndex(_ i: Int64, _ fail: (String) -> TileError) throws(TileError) -> Int {
        guard i >= 0, i < Int64(vertexCount) else {
            throw fail("boundary points at vertex \(i), the file has \(vertexCount) vertices")
        }
        return Int(i)
    }

    private func semantics(_ v: JSONValue?, _ fail: (String) -> TileError) throws(TileError) -> [String?] {
        guard let v else { return [] }
        guard let surfaces = v["surfaces"]?.array else { throw fail("\"semantics\" has no \"surfaces\" array") }
        return surfaces.map { $0["type"]?.string }
    }

    private func semantic(_ v: JSONValue?, _ types: [String?]) -> String? {
        guard case .int(let i)? = v, i >= 0, Int(i) < types.count else { return nil }
        return types[Int(i)]
    }
}

extension Array {
    subscript(safe i: Int) -> Element? { i >= 0 && i < count ? self[i] : nil }
}
