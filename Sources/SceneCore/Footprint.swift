/// A building footprint: an outer ring and any holes, in scene coordinates (metres).
///
/// Rings are open (the first point is not repeated at the end). Orientation does not
/// matter: containment uses the even-odd rule over all rings.
public struct Footprint: Hashable, Sendable {
    public var rings: [[SIMD2<Float>]]
    /// Height above ground in metres (0 when unknown).
    public var height: Float

    public init(rings: [[SIMD2<Float>]], height: Float = 0) {
        self.rings = rings
        self.height = height
    }

    public var outer: [SIMD2<Float>] { rings.first ?? [] }

    public var boundingBox: Rect {
        var b = Rect(minX: .infinity, minY: .infinity, maxX: -.infinity, maxY: -.infinity)
        for p in outer {
            b.minX = min(b.minX, p.x); b.minY = min(b.minY, p.y)
            b.maxX = max(b.maxX, p.x); b.maxY = max(b.maxY, p.y)
        }
        return b
    }

    /// Even-odd containment; points exactly on an edge may land either way.
    public func contains(x: Float, y: Float) -> Bool {
        var inside = false
        for ring in rings where ring.count >= 3 {
            var j = ring.count - 1
            for i in 0..<ring.count {
                let a = ring[i], b = ring[j]
                if (a.y > y) != (b.y > y) {
                    let t = (y - a.y) / (b.y - a.y)
                    if x < a.x + t * (b.x - a.x) { inside.toggle() }
                }
                j = i
            }
        }
        return inside
    }
}
