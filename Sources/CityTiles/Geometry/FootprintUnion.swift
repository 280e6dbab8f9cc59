internal import CGEOS
import Foundation

/// Union, validity and area of footprints with GEOS (its re-entrant C API, with one context
/// per thread, kept for the thread's life: making one costs about a millisecond). Polygons are rings of points, the first ring the
/// outline and the rest holes; a footprint is a list of polygons.
enum FootprintUnion {
    /// The union of `polygons`: overlaps counted once, holes and detached pieces kept, invalid
    /// rings (self-touching, projected walls of zero area) made valid or dropped. One
    /// polygon that is already valid is returned as it is, without GEOS.
    static func union(_ polygons: [Polygon2D]) -> [Polygon2D] {
        let usable = polygons.filter { ($0.first?.count ?? 0) >= 3 && abs(signedArea($0[0])) > 1e-9 }.map(oriented)
        guard usable.count > 1 else { return usable }
        guard let h = GEOSThreadContext.current else { return usable }
        // Coordinates relative to a local origin: eastings of tens of millions lose precision.
        let origin = usable[0][0][0]
        var parts: [OpaquePointer?] = []
        for p in usable {
            guard let g = makePolygon(h, p, origin: origin) else { continue }
            // A triangle of non-zero area (most faces of triangulated models) is valid as it is.
            if (p.count == 1 && p[0].count == 3) || GEOSisValid_r(h, g) == 1 { parts.append(g); continue }
            let valid = GEOSMakeValid_r(h, g)
            GEOSGeom_destroy_r(h, g)
            if let valid { parts.append(valid) }
        }
        guard !parts.isEmpty else { return [] }
        let collection = parts.withUnsafeMutableBufferPointer {
            GEOSGeom_createCollection_r(h, Int32(GEOS_GEOMETRYCOLLECTION.rawValue), $0.baseAddress, UInt32($0.count))
        }
        guard let collection else { return usable }
        defer { GEOSGeom_destroy_r(h, collection) }
        // Faces of one shell meet edge to edge without overlapping (a coverage): joined
        // along their shared edges, much faster than a general union. Where they do overlap
        // the coverage union is wrong or fails, so its area is checked against the parts'.
        let partsArea = parts.reduce(0.0) { sum, g in var a = 0.0; GEOSArea_r(h, g, &a); return sum + a }
        var merged: OpaquePointer? = GEOSCoverageUnion_r(h, collection)
        if let m = merged {
            var a = 0.0
            GEOSArea_r(h, m, &a)
            if GEOSisValid_r(h, m) != 1 || abs(a - partsArea) > 1e-9 * max(1, partsArea) { GEOSGeom_destroy_r(h, m); merged = nil }
        }
        if merged == nil { merged = GEOSUnaryUnion_r(h, collection) }
        guard let merged else { return usable }
        defer { GEOSGeom_destroy_r(h, merged) }
        var out: [Polygon2D] = []
        collectPolygons(h, merged, origin: origin, into: &out)
        return out.map(oriented)
    }

    /// Outline counter-clockwise, holes clockwise (as seen from above), whatever way the
    /// source went: a ground surface faces down, so its ring runs the other way.
    static func oriented(_ p: Polygon2D) -> Polygon2D {
        p.enumerated().map { k, ring in (signedArea(ring) > 0) == (k == 0) ? ring : ring.reversed() }
    }

    /// The area of a footprint (its polygons assumed not to overlap: a union's output).
    static func area(_ polygons: [Polygon2D]) -> Double {
        polygons.reduce(0) { sum, p in
            sum + abs(signedArea(p[0])) - p.dropFirst().reduce(0) { $0 + abs(signedArea($1)) }
        }
    }

    static func signedArea(_ ring: [SIMD2<Double>]) -> Double {
        guard ring.count >= 3 else { return 0 }
        let o = ring[0]
        var s = 0.0
        for i in 1..<(ring.count - 1) {
            let a = ring[i] - o, b = ring[i + 1] - o
            s += a.x * b.y - a.y * b.x
        }
        return s / 2
    }

    private static func makeRing(_ h: GEOSContextHandle_t, _ ring: [SIMD2<Double>], origin: SIMD2<Double>) -> OpaquePointer? {
        var pts = ring
        if pts.first != pts.last, let f = pts.first { pts.append(f) }
        guard pts.count >= 4, let seq = GEOSCoordSeq_create_r(h, UInt32(pts.count), 2) else { return nil }
        for (i, p) in pts.enumerated() { GEOSCoordSeq_setXY_r(h, seq, UInt32(i), p.x - origin.x, p.y - origin.y) }
        return GEOSGeom_createLinearRing_r(h, seq)
    }

    private static func makePolygon(_ h: GEOSContextHandle_t, _ p: Polygon2D, origin: SIMD2<Double>) -> OpaquePointer? {
        guard let shell = makeRing(h, p[0], origin: origin) else { return nil }
        var holes: [OpaquePointer?] = p.dropFirst().compactMap { makeRing(h, $0, origin: origin) }
        return holes.withUnsafeMutableBufferPointer { GEOSGeom_createPolygon_r(h, shell, $0.baseAddress, UInt32($0.count)) }
    }

    private static func ring(_ h: GEOSContextHandle_t, _ g: OpaquePointer, origin: SIMD2<Double>) -> [SIMD2<Double>] {
        guard let seq = GEOSGeom_getCoordSeq_r(h, g) else { return [] }
        var n: UInt32 = 0
        GEOSCoordSeq_getSize_r(h, seq, &n)
        var out: [SIMD2<Double>] = []
        out.reserveCapacity(Int(n))
        for i in 0..<n {
            var x = 0.0, y = 0.0
            GEOSCoordSeq_getXY_r(h, seq, i, &x, &y)
            out.append(SIMD2(x + origin.x, y + origin.y))
        }
        if out.count > 1, out.first == out.last { out.removeLast() }
        return out
    }

    private static func collectPolygons(_ h: GEOSContextHandle_t, _ g: OpaquePointer, origin: SIMD2<Double>, into out: inout [Polygon2D]) {
        let type = GEOSGeomTypeId_r(h, g)
        if type == Int32(GEOS_POLYGON.rawValue) {
            guard GEOSisEmpty_r(h, g) == 0, let shell = GEOSGetExteriorRing_r(h, g) else { return }
            var p: Polygon2D = [ring(h, shell, origin: origin)]
            for k in 0..<max(0, GEOSGetNumInteriorRings_r(h, g)) {
                if let hole = GEOSGetInteriorRingN_r(h, g, k) { p.append(ring(h, hole, origin: origin)) }
            }
            if p[0].count >= 3 { out.append(p) }
        } else if type == Int32(GEOS_MULTIPOLYGON.rawValue) || type == Int32(GEOS_GEOMETRYCOLLECTION.rawValue) {
            for k in 0..<max(0, GEOSGetNumGeometries_r(h, g)) {
                if let part = GEOSGetGeometryN_r(h, g, k) { collectPolygons(h, part, origin: origin, into: &out) }
            }
        }
        // Lines and points (what is left of a wall seen from above) are not footprints.
    }
}

/// The calling thread's GEOS context, made on first use and finished with the thread.
final class GEOSThreadContext {
    let handle: GEOSContextHandle_t

    private init?() {
        guard let h = GEOS_init_r() else { return nil }
        handle = h
    }

    deinit { GEOS_finish_r(handle) }

    static var current: GEOSContextHandle_t? {
        let key = "twinscene.geos-context"
        let dictionary = Thread.current.threadDictionary
        if let c = dictionary[key] as? GEOSThreadContext { return c.handle }
        guard let c = GEOSThreadContext() else { return nil }
        dictionary[key] = c
        return c.handle
    }
}
