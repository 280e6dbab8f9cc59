/// Turns the `CityObjects` of a CityJSON document (or feature) into catalog records:
/// type, footprint, height and attributes, with every vertex reference checked.
struct CityObjectExtractor {
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

    /// Records of every object, parents' footprints rolled up from their parts.
    func records(_ objects: JSONObject) throws(TileError) -> [CityObjectRecord] {
        var out: [CityObjectRecord] = []
        out.reserveCapacity(objects.count)
        for (id, value) in objects.members {
            out.append(try record(id: id, value))
        }
        return Self.rollUp(out)
    }

    func record(id: String, _ value: JSONValue) throws(TileError) -> CityObjectRecord {
        guard let o = value.object else { throw TileError(file: file, object: id, problem: "is \(value.typeName), an object was expected") }
        guard let typeValue = o["type"] else { throw TileError(file: file, object: id, problem: "has no \"type\"") }
        guard let type = typeValue.string, !type.isEmpty else {
            throw TileError(file: file, object: id, problem: "\"type\" is \(typeValue.typeName), a non-empty string was expected")
        }
        var parent: String?
        if let parents = o["parents"] {
            guard let list = parents.array, list.allSatisfy({ $0.string != nil }) else {
                throw TileError(file: file, object: id, problem: "\"parents\" must be an array of object ids")
            }
            parent = list.first?.string
        }
        var geometries: [ParsedGeometry] = []
        if let g = o["geometry"] {
            guard let list = g.array else { throw TileError(file: file, object: id, problem: "\"geometry\" is \(g.typeName), an array was expected") }
            for (k, item) in list.enumerated() {
                geometries.append(try parseGeometry(item, object: id, index: k))
            }
        }
        var minZ = Double.infinity, maxZ = -Double.infinity
        for g in geometries { for v in g.allVertices { let z = point(v).z; minZ = min(minZ, z); maxZ = max(maxZ, z) } }

        var footprint: [Polygon2D] = []
        var source = FootprintSource.none
        if let lod0 = geometries.first(where: { $0.lod.hasPrefix("0") && $0.isSurfaceType }) {
            footprint = lod0.surfaces.map { polygon($0.rings) }
            source = .lod0
        } else if let ground = groundSurfaces(geometries), !ground.isEmpty {
            footprint = ground.map { polygon($0.rings) }
            source = .groundSurface
        } else {
            var points: [SIMD2<Double>] = []
            for g in geometries { for v in g.allVertices { let p = point(v); points.append(SIMD2(p.x, p.y)) } }
            let hull = ConvexHull.of(points)
            if hull.count >= 3 { footprint = [[hull]]; source = .outline }
        }
        footprint = footprint.filter { ($0.first?.count ?? 0) >= 3 }

        var height: Double?
        if minZ < maxZ { height = maxZ - minZ }
        let attributes = o["attributes"]
        if height == nil, let a = attributes {
            if let roof = a["b3_h_dak_max"]?.number, let ground = a["b3_h_maaiveld"]?.number, roof >= ground {
                height = roof - ground
            } else if let h = a["measuredHeight"]?.number, h >= 0 {
                height = h
            }
        }
        return CityObjectRecord(
            id: id, type: type, parent: parent, role: ObjectRole.of(type: type),
            footprint: footprint, footprintSource: source,
            minZ: minZ.isFinite ? minZ : nil, maxZ: maxZ.isFinite ? maxZ : nil,
            height: height, attributes: attributes?.jsonText ?? "{}")
    }

    /// The ground surfaces of the lowest-LoD solid that has any: labelled GroundSurface
    /// where semantics exist, else the surfaces lying flat at the solid's lowest z.
    func groundSurfaces(_ geometries: [ParsedGeometry]) -> [ParsedSurface]? {
        let solids = geometries.filter(\.isSolidType).sorted { $0.lod < $1.lod }
        for solid in solids {
            let labelled = solid.surfaces.filter { $0.semantic == "GroundSurface" }
            if !labelled.isEmpty { return labelled }
        }
        guard let solid = solids.first else { return nil }
        let zs = solid.allVertices.map { point($0).z }
        guard let bottom = zs.min() else { return nil }
        return solid.surfaces.filter { s in
            s.rings.first.map { ring in ring.count >= 3 && ring.allSatisfy { abs(point($0).z - bottom) < 0.01 } } ?? false
        }
    }

    func polygon(_ rings: [[Int]]) -> Polygon2D {
        rings.map { ring in
            var pts = ring.map { i -> SIMD2<Double> in let p = point(i); return SIMD2(p.x, p.y) }
            if pts.count > 1, pts.first == pts.last { pts.removeLast() }
            return pts
        }
    }

    /// Parts under a parent: the parent carries the union of the parts' footprints when it
    /// has none of its own, and the tallest part's height; the parts then stop being
    /// obstacles of their own so nothing is counted twice.
    static func rollUp(_ records: [CityObjectRecord]) -> [CityObjectRecord] {
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
