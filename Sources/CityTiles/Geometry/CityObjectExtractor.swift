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
        // Ground surfaces wherever labelled; else every face of the lowest LoD (a LoD0
        // footprint is its own faces), seen from above, walls falling away as lines.
        if let ground = groundSurfaces(s) {
            footprint = FootprintUnion.union(ground.map { polygon($0.rings, s) })
            source = .groundSurface
        } else if let (lod, faces) = lowestFaces(s) {
            footprint = FootprintUnion.union(facesToJoin(faces, s).map { polygon($0.rings, s) })
            source = lod.hasPrefix("0") ? .lod0 : .outline
        } else if !s.indices.isEmpty {
            // Points or lines only: their convex outline.
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

    /// The surfaces labelled GroundSurface in the lowest-LoD geometry that labels any, of
    /// whatever kind (MultiSurface and CompositeSurface as well as solids); nil when none does.
    func groundSurfaces(_ s: GeometryScratch) -> [ParsedSurface]? {
        let withSurfaces = s.geometries.filter { $0.isSurfaceType || $0.isSolidType }.sorted { $0.lod < $1.lod }
        for g in withSurfaces {
            let labelled = s.surfaces[g.surfaces].filter(\.isGround)
            if !labelled.isEmpty { return labelled }
        }
        return nil
    }

    /// Every face of the lowest-LoD geometry that has faces, with its LoD; nil when none has.
    func lowestFaces(_ s: GeometryScratch) -> (String, [ParsedSurface])? {
        guard let g = s.geometries.filter({ ($0.isSurfaceType || $0.isSolidType) && !$0.surfaces.isEmpty }).min(by: { $0.lod < $1.lod }) else { return nil }
        return (g.lod, Array(s.surfaces[g.surfaces]))
    }

    /// The faces whose union is the footprint. A closed shell seen from above is covered
    /// once by its faces turned down and once by those turned up; when both halves project
    /// to the same area (within 1%), the downward half alone is joined (half the faces, and
    /// walls, which add only slivers, left out). Anything else (an open surface, faces
    /// turned every which way) joins every face.
    func facesToJoin(_ faces: [ParsedSurface], _ s: GeometryScratch) -> [ParsedSurface] {
        var down: [ParsedSurface] = [], downArea = 0.0, upArea = 0.0
        for f in faces {
            let n = normal(f, s)
            let len = (n * n).sum().squareRoot()
            guard len > 0, abs(n.z) > 0.01 * len else { continue }   // a wall, seen edge-on
            if n.z < 0 { down.append(f); downArea -= n.z } else { upArea += n.z }
        }
        let larger = max(downArea, upArea)
        return larger > 0 && abs(downArea - upArea) <= 0.01 * larger ? down : faces
    }

    /// Twice the vector area of a face's outer ring (Newell's method): its z part is twice
    /// the signed area seen from above.
    func normal(_ surface: ParsedSurface, _ s: GeometryScratch) -> SIMD3<Double> {
        guard let ring = s.rings[surface.rings].first, ring.count >= 3 else { return .zero }
        let idx = s.indices[ring]
        let o = point(idx[idx.startIndex])
        var n = SIMD3<Double>.zero
        var prev = point(idx[idx.index(before: idx.endIndex)]) - o
        for i in idx {
            let c = point(i) - o
            n += SIMD3(prev.y * c.z - prev.z * c.y, prev.z * c.x - prev.x * c.z, prev.x * c.y - prev.y * c.x)
            prev = c
        }
        return n
    }

    func polygon(_ rings: Range<Int>, _ s: GeometryScratch) -> Polygon2D {
        s.rings[rings].map { ring in
            var pts = s.indices[ring].map(point2)
            if pts.count > 1, pts.first == pts.last { pts.removeLast() }
            return pts
        }
    }

    /// Parts under a parent: the parent's footprint is the union of its own and its parts'
    /// (overlaps counted once), its lowest and highest z span its parts too, and its height
    /// is their difference wherever there is geometry with height; the parts then stop being
    /// obstacles of their own so nothing is counted twice.
    static func rollUp(_ records: [CityObjectRecord]) -> [CityObjectRecord] {
        guard records.contains(where: { $0.parent != nil }) else { return records }
        var byId: [String: Int] = [:]
        for (k, r) in records.enumerated() { byId[r.id] = k }
        var out = records
        var partsOf: [Int: [Int]] = [:]
        for (k, r) in records.enumerated() {
            guard let p = r.parent, let pi = byId[p] else { continue }
            partsOf[pi, default: []].append(k)
            if out[k].role == .obstacle && out[pi].role == .obstacle { out[k].role = .part }
        }
        for (pi, parts) in partsOf {
            let partFootprints = parts.flatMap { records[$0].footprint }
            if !partFootprints.isEmpty {
                out[pi].footprint = FootprintUnion.union(records[pi].footprint + partFootprints)
                if records[pi].footprintSource == .none { out[pi].footprintSource = .parts }
            }
            let lows = ([records[pi].minZ] + parts.map { records[$0].minZ }).compactMap { $0 }
            let highs = ([records[pi].maxZ] + parts.map { records[$0].maxZ }).compactMap { $0 }
            if let lo = lows.min(), let hi = highs.max() {
                out[pi].minZ = lo
                out[pi].maxZ = hi
                if hi > lo { out[pi].height = hi - lo }
                else if out[pi].height == nil { out[pi].height = parts.compactMap { records[$0].height }.max() }
            } else if out[pi].height == nil {
                out[pi].height = parts.compactMap { records[$0].height }.max()
            }
        }
        return out
    }
}
