import StrictJSON

/// Turns the `CityObjects` of a CityJSON document (or feature) into catalog records:
/// type, footprint, height and attributes, with every vertex reference checked.
struct CityObjectExtractor: Sendable {
    let file: String
    let header: TileHeader
    /// Vertices as integers, three per vertex.
    let vertices: [Int64]

    var vertexCount: Int { vertices.count / 3 }

    /// The real coordinates of vertex `i` (after `transform`).
    @inline(__always)
    func point(_ i: Int) -> SIMD3<Double> {
        SIMD3(Double(vertices[3 * i]), Double(vertices[3 * i + 1]), Double(vertices[3 * i + 2])) * header.scale + header.translate
    }

    @inline(__always)
    func point2(_ i: Int) -> SIMD2<Double> {
        SIMD2(Double(vertices[3 * i]) * header.scale.x + header.translate.x,
              Double(vertices[3 * i + 1]) * header.scale.y + header.translate.y)
    }

    @inline(__always)
    func z(_ i: Int) -> Double { Double(vertices[3 * i + 2]) * header.scale.z + header.translate.z }

    /// Records of every member of the `CityObjects` object at `objects`, parents'
    /// footprints rolled up from their parts.
    func records(_ doc: JSONDocument, _ objects: Int, rollingUp: Bool = true) throws(TileError) -> [CityObjectRecord] {
        var out: [CityObjectRecord] = []
        out.reserveCapacity(doc.count(objects))
        var scratch = GeometryScratch()
        try doc.forEachMember(objects) { k, v throws(TileError) in
            out.append(try record(id: doc.string(k)!, doc, v, &scratch))
        }
        return rollingUp ? Self.rollUp(out) : out
    }

    func record(id: String, _ doc: JSONDocument, _ node: Int, _ s: inout GeometryScratch) throws(TileError) -> CityObjectRecord {
        guard doc.kind(node) == .object else { throw TileError(file: file, object: id, problem: "is \(doc.typeName(node)), an object was expected") }
        guard let typeNode = doc.member(node, "type") else { throw TileError(file: file, object: id, problem: "has no \"type\"") }
        guard let type = doc.string(typeNode), !type.isEmpty else {
            throw TileError(file: file, object: id, problem: "\"type\" is \(doc.typeName(typeNode)), a non-empty string was expected")
        }
        var parent: String?
        if let parents = doc.member(node, "parents") {
            var ok = doc.kind(parents) == .array
            if ok { doc.forEachElement(parents) { _, e in ok = ok && (doc.kind(e) == .string || doc.kind(e) == .escapedString) } }
            guard ok else { throw TileError(file: file, object: id, problem: "\"parents\" must be an array of object ids") }
            parent = doc.element(parents, 0).flatMap { doc.string($0) }
        }
        s.clear()
        if let g = doc.member(node, "geometry") {
            switch doc.kind(g) {
            case .array:
                try doc.forEachElement(g) { k, item throws(TileError) in try parseGeometry(doc, item, object: id, index: k, into: &s) }
            case .intArray:
                throw TileError(file: file, object: id, problem: "geometry[0]: is a number, an object was expected")
            default:
                throw TileError(file: file, object: id, problem: "\"geometry\" is \(doc.typeName(g)), an array was expected")
            }
        }
        var minZ = Double.infinity, maxZ = -Double.infinity
        for v in s.indices { let z = z(v); minZ = min(minZ, z); maxZ = max(maxZ, z) }

        var footprint: [Polygon2D] = []
        var source = FootprintSource.none
        if let lod0 = s.geometries.first(where: { $0.lod.hasPrefix("0") && $0.isSurfaceType }) {
            footprint = s.surfaces[lod0.surfaces].map { polygon($0.rings, s) }
            source = .lod0
        } else if let ground = groundSurfaces(s), !ground.isEmpty {
            footprint = ground.map { polygon($0.rings, s) }
            source = .groundSurface
        } else if !s.indices.isEmpty {
            let hull = ConvexHull.of(s.indices.map(point2))
            if hull.count >= 3 { footprint = [[hull]]; source = .outline }
        }
        footprint.removeAll { ($0.first?.count ?? 0) < 3 }

        var height: Double?
        if minZ < maxZ { height = maxZ - minZ }
        let attributes = doc.member(node, "attributes")
        if height == nil, let a = attributes {
            if let roof = doc.member(a, "b3_h_dak_max").flatMap(doc.number), let ground = doc.member(a, "b3_h_maaiveld").flatMap(doc.number),
               roof >= ground {
                height = roof - ground
            } else if let h = doc.member(a, "measuredHeight").flatMap(doc.number), h >= 0 {
                height = h
            }
        }
        return CityObjectRecord(
            id: id, type: type, parent: parent, role: ObjectRole.of(type: type),
            footprint: footprint, footprintSource: source,
            minZ: minZ.isFinite ? minZ : nil, maxZ: maxZ.isFinite ? maxZ : nil,
            height: height, attributes: attributes.map(doc.compactText) ?? "{}",
            hasChildren: doc.member(node, "children") != nil)
    }

    /// The ground surfaces of the lowest-LoD solid that has any: labelled GroundSurface
    /// where semantics exist, else the surfaces lying flat at the solid's lowest z.
    func groundSurfaces(_ s: GeometryScratch) -> [ParsedSurface]? {
        let solids = s.geometries.filter(\.isSolidType).sorted { $0.lod < $1.lod }
        for solid in solids {
            let labelled = s.surfaces[solid.surfaces].filter(\.isGround)
            if !labelled.isEmpty { return labelled }
        }
        guard let solid = solids.first else { return nil }
        guard let bottom = s.indices[solid.vertices].lazy.map(z).min() else { return nil }
        return s.surfaces[solid.surfaces].filter { surface in
            guard let ring = s.rings[surface.rings].first else { return false }
            return ring.count >= 3 && s.indices[ring].allSatisfy { abs(z($0) - bottom) < 0.01 }
        }
    }

    func polygon(_ rings: Range<Int>, _ s: GeometryScratch) -> Polygon2D {
        s.rings[rings].map { ring in
            var pts = s.indices[ring].map(point2)
            if pts.count > 1, pts.first == pts.last { pts.removeLast() }
            return pts
        }
    }

    /// Parts under a parent: the parent carries the union of the parts' footprints when it
    /// has none of its own, and the tallest part's height; the parts then stop being
    /// obstacles of their own so nothing is counted twice.
    static func rollUp(_ records: [CityObjectRecord]) -> [CityObjectRecord] {
        guard records.contains(where: { $0.parent != nil }) else { return records }
        var byId: [String: Int] = [:]
        for (k, r) in records.enumerated() { byId[r.id] = k }
        var out = records
        let hadHeight = records.map { $0.height != nil }
        for (k, r) in records.enumerated() {
            guard let p = r.parent, let pi = byId[p] else { continue }
            if out[pi].footprintSource == .none || out[pi].footprintSource == .parts {
                out[pi].footprint += r.footprint
                if !r.footprint.isEmpty { out[pi].footprintSource = .parts }
            }
            if let h = r.height, !hadHeight[pi] { out[pi].height = max(out[pi].height ?? 0, h) }
            if out[k].role == .obstacle && out[pi].role == .obstacle { out[k].role = .part }
        }
        return out
    }
}
