import StrictJSON

/// A geometry reduced to what footprints and heights need. Its vertex indices and rings
/// live in a `GeometryScratch` shared by all geometries of one object.
struct ParsedGeometry {
    enum Kind { case points, lines, surfaces, solids, instance }
    var kind: Kind
    var lod: String
    /// Its surfaces, as indices into the scratch's `surfaces`.
    var surfaces: Range<Int>
    /// Every vertex index it uses, as a range of the scratch's `indices`.
    var vertices: Range<Int>

    var isSurfaceType: Bool { kind == .surfaces }
    var isSolidType: Bool { kind == .solids }
}

/// One surface: its rings as indices into the scratch's `rings`, and whether its semantic
/// type is GroundSurface.
struct ParsedSurface {
    var rings: Range<Int>
    var isGround: Bool
}

/// Flat storage for the geometries of one object, reused from object to object.
struct GeometryScratch {
    var indices: [Int] = []
    /// Each ring as a range of `indices`.
    var rings: [Range<Int>] = []
    var surfaces: [ParsedSurface] = []
    var geometries: [ParsedGeometry] = []

    mutating func clear() {
        indices.removeAll(keepingCapacity: true)
        rings.removeAll(keepingCapacity: true)
        surfaces.removeAll(keepingCapacity: true)
        geometries.removeAll(keepingCapacity: true)
    }
}

/// Reads the semantic value of successive surfaces from a `values` array that may be an
/// int array or an array holding nulls.
struct SemanticCursor {
    let doc: JSONDocument
    let node: Int?
    var next: Int
    var index = 0

    init(_ doc: JSONDocument, _ node: Int?) {
        self.doc = doc
        self.node = node
        self.next = (node ?? 0) + 1
    }

    /// The node of the next element (nil past the end, or when there is no array).
    mutating func nextNode() -> Int? {
        guard let node, doc.kind(node) == .array, index < doc.count(node) else { return nil }
        defer { next = doc.end(next); index += 1 }
        return next
    }

    /// The next element as a surface value: an index into the semantic surfaces, or nil.
    mutating func nextValue() -> Int64? {
        guard let node else { return nil }
        if doc.kind(node) == .intArray {
            defer { index += 1 }
            return index < doc.count(node) ? doc.ints[Int(doc.nodes[node].payload) + index] : nil
        }
        return nextNode().flatMap { doc.int($0) }
    }
}

/// Where in a file a geometry is, to name it in an error (a struct rather than a closure:
/// a closure capturing the extractor copied it for every geometry).
struct GeometryPlace {
    let file: String
    let object: String
    let index: Int

    func callAsFunction(_ problem: String) -> TileError {
        TileError(file: file, object: object, problem: "geometry[\(index)]: \(problem)")
    }
}

extension CityObjectExtractor {
    /// Checks and flattens one geometry object into `scratch`; every index is checked
    /// against the vertices.
    func parseGeometry(_ doc: JSONDocument, _ node: Int, object id: String, index k: Int,
                       into s: inout GeometryScratch) throws(TileError) {
        let fail = GeometryPlace(file: file, object: id, index: k)
        guard doc.kind(node) == .object else { throw fail("is \(doc.typeName(node)), an object was expected") }
        guard let typeNode = doc.member(node, "type"), let type = doc.string(typeNode) else { throw fail("has no \"type\"") }
        var lod = ""
        if let l = doc.member(node, "lod") {
            switch doc.kind(l) {
            case .string, .escapedString: lod = doc.string(l)!
            case .int: lod = String(doc.nodes[l].payload)            // CityJSON 1.x wrote numbers
            case .double: lod = String(doc.number(l)!)
            default: throw fail("\"lod\" is \(doc.typeName(l)), a string was expected")
            }
        } else if type != "GeometryInstance" {
            throw fail("has no \"lod\"")
        }
        let firstIndex = s.indices.count
        let firstSurface = s.surfaces.count
        let kind: ParsedGeometry.Kind
        if type == "GeometryInstance" {
            // A template placed at one vertex: the reference point is all we use.
            guard let b = doc.member(node, "boundaries"), doc.kind(b) == .intArray, doc.count(b) == 1 else {
                throw fail("a GeometryInstance needs \"boundaries\" with exactly one vertex index")
            }
            s.indices.append(try vertexIndex(doc.intElements(b).first!, fail))
            kind = .instance
        } else {
            guard let boundaries = doc.member(node, "boundaries") else { throw fail("has no \"boundaries\"") }
            let groundTypes = try semanticGroundFlags(doc, doc.member(node, "semantics"), fail)
            let values = doc.member(node, "semantics").flatMap { doc.member($0, "values") }
            switch type {
            case "MultiPoint":
                try appendIndices(doc, boundaries, &s, fail)
                kind = .points
            case "MultiLineString":
                try forEachList(doc, boundaries, fail) { line throws(TileError) in try appendIndices(doc, line, &s, fail) }
                kind = .lines
            case "MultiSurface", "CompositeSurface":
                var cursor = SemanticCursor(doc, values)
                try forEachList(doc, boundaries, fail) { surface throws(TileError) in
                    try appendSurface(doc, surface, ground: isGround(cursor.nextValue(), groundTypes), &s, fail)
                }
                kind = .surfaces
            case "Solid":
                var shells = SemanticCursor(doc, values)
                try forEachList(doc, boundaries, fail) { shell throws(TileError) in
                    var cursor = SemanticCursor(doc, shells.nextNode())
                    try forEachList(doc, shell, fail) { surface throws(TileError) in
                        try appendSurface(doc, surface, ground: isGround(cursor.nextValue(), groundTypes), &s, fail)
                    }
                }
                kind = .solids
            case "MultiSolid", "CompositeSolid":
                var solids = SemanticCursor(doc, values)
                try forEachList(doc, boundaries, fail) { solid throws(TileError) in
                    var shells = SemanticCursor(doc, solids.nextNode())
                    try forEachList(doc, solid, fail) { shell throws(TileError) in
                        var cursor = SemanticCursor(doc, shells.nextNode())
                        try forEachList(doc, shell, fail) { surface throws(TileError) in
                            try appendSurface(doc, surface, ground: isGround(cursor.nextValue(), groundTypes), &s, fail)
                        }
                    }
                }
                kind = .solids
            default:
                throw fail("unknown geometry type \"\(type)\"")
            }
        }
        s.geometries.append(ParsedGeometry(kind: kind, lod: lod, surfaces: firstSurface..<s.surfaces.count,
                                           vertices: firstIndex..<s.indices.count))
    }

    /// Calls `body` with each element of a boundary list (an empty int array counts as empty).
    private func forEachList(_ doc: JSONDocument, _ node: Int, _ fail: GeometryPlace,
                             _ body: (Int) throws(TileError) -> Void) throws(TileError) {
        switch doc.kind(node) {
        case .array: try doc.forEachElement(node) { _, e throws(TileError) in try body(e) }
        case .intArray: throw fail("boundaries nest a number where an array was expected")
        default: throw fail("boundaries nest \(doc.typeName(node)) where an array was expected")
        }
    }

    private func appendSurface(_ doc: JSONDocument, _ surface: Int, ground: Bool, _ s: inout GeometryScratch,
                               _ fail: GeometryPlace) throws(TileError) {
        let firstRing = s.rings.count
        try forEachList(doc, surface, fail) { ring throws(TileError) in
            let start = s.indices.count
            try appendIndices(doc, ring, &s, fail)
            s.rings.append(start..<s.indices.count)
        }
        s.surfaces.append(ParsedSurface(rings: firstRing..<s.rings.count, isGround: ground))
    }

    private func appendIndices(_ doc: JSONDocument, _ node: Int, _ s: inout GeometryScratch,
                               _ fail: GeometryPlace) throws(TileError) {
        switch doc.kind(node) {
        case .intArray:
            for i in doc.intElements(node) { s.indices.append(try vertexIndex(i, fail)) }
        case .array:
            try doc.forEachElement(node) { _, e throws(TileError) in
                guard let i = doc.int(e) else { throw fail("a boundary holds \(doc.typeName(e)) where a vertex index was expected") }
                s.indices.append(try vertexIndex(i, fail))
            }
        default:
            throw fail("boundaries nest \(doc.typeName(node)) where an array was expected")
        }
    }

    @inline(__always)
    private func vertexIndex(_ i: Int64, _ fail: GeometryPlace) throws(TileError) -> Int {
        guard i >= 0, i < Int64(vertexCount) else {
            throw fail("boundary points at vertex \(i), the file has \(vertexCount) vertices")
        }
        return Int(i)
    }

    /// For each semantic surface, whether its type is GroundSurface.
    private func semanticGroundFlags(_ doc: JSONDocument, _ node: Int?, _ fail: GeometryPlace) throws(TileError) -> [Bool] {
        guard let node else { return [] }
        guard let surfaces = doc.member(node, "surfaces"), doc.kind(surfaces) == .array else {
            throw fail("\"semantics\" has no \"surfaces\" array")
        }
        var out: [Bool] = []
        out.reserveCapacity(doc.count(surfaces))
        doc.forEachElement(surfaces) { _, e in out.append(doc.member(e, "type").map { doc.stringEquals($0, "GroundSurface") } ?? false) }
        return out
    }

    private func isGround(_ value: Int64?, _ types: [Bool]) -> Bool {
        guard let i = value, i >= 0, Int(i) < types.count else { return false }
        return types[Int(i)]
    }
}
