/// The catalog's compact footprint blob: little-endian
/// `u32 polygons, { u32 rings, { u32 points, { f64 x, f64 y } } }`.
public enum FootprintCoding {
    public static func encode(_ polygons: [Polygon2D]) -> [UInt8] {
        var out: [UInt8] = []
        encode(polygons, into: &out)
        return out
    }

    /// Encodes into `out`, replacing its contents (and keeping its capacity).
    public static func encode(_ polygons: [Polygon2D], into out: inout [UInt8]) {
        out.removeAll(keepingCapacity: true)
        func u32(_ v: Int) { withUnsafeBytes(of: UInt32(v).littleEndian) { out.append(contentsOf: $0) } }
        func f64(_ v: Double) { withUnsafeBytes(of: v.bitPattern.littleEndian) { out.append(contentsOf: $0) } }
        u32(polygons.count)
        for poly in polygons {
            u32(poly.count)
            for ring in poly {
                u32(ring.count)
                for p in ring { f64(p.x); f64(p.y) }
            }
        }
    }

    /// Decodes a blob; nil when it is malformed (never traps on bad bytes).
    public static func decode(_ bytes: [UInt8]) -> [Polygon2D]? {
        var at = 0
        func u32() -> Int? {
            guard at + 4 <= bytes.count else { return nil }
            var v: UInt32 = 0
            for k in 0..<4 { v |= UInt32(bytes[at + k]) << (8 * UInt32(k)) }
            at += 4
            return Int(v)
        }
        func f64() -> Double? {
            guard at + 8 <= bytes.count else { return nil }
            var v: UInt64 = 0
            for k in 0..<8 { v |= UInt64(bytes[at + k]) << (8 * UInt64(k)) }
            at += 8
            return Double(bitPattern: v)
        }
        guard let np = u32(), np <= bytes.count else { return nil }
        var out: [Polygon2D] = []
        for _ in 0..<np {
            guard let nr = u32(), nr <= bytes.count else { return nil }
            var poly: Polygon2D = []
            for _ in 0..<nr {
                guard let n = u32(), n * 16 <= bytes.count - at else { return nil }
                var ring: [SIMD2<Double>] = []
                ring.reserveCapacity(n)
                for _ in 0..<n {
                    guard let x = f64(), let y = f64() else { return nil }
                    ring.append(SIMD2(x, y))
                }
                poly.append(ring)
            }
            out.append(poly)
        }
        return at == bytes.count ? out : nil
    }
}
