import SceneCore

/// A closed running course: a polyline in scene metres, walked lap after lap.
public struct Course: Sendable, Equatable {
    public let points: [SIMD2<Float>]
    /// Distance from the start to each point; the last entry is the lap length.
    public let cumulative: [Float]

    public init(points: [SIMD2<Float>]) {
        self.points = points
        var c: [Float] = [0]
        for k in points.indices {
            let a = points[k], b = points[(k + 1) % points.count]
            c.append(c.last! + ((b - a) * (b - a)).sum().squareRoot())
        }
        cumulative = c
    }

    public var lapLength: Float { cumulative.last ?? 0 }

    /// The point and the unit direction at distance `s` along the course (laps wrap).
    @inline(__always)
    public func locate(_ s: Float) -> (point: SIMD2<Float>, direction: SIMD2<Float>) {
        guard lapLength > 0 else { return (points.first ?? .zero, SIMD2(1, 0)) }
        var d = s.truncatingRemainder(dividingBy: lapLength)
        if d < 0 { d += lapLength }
        // Binary search for the leg.
        var lo = 0, hi = points.count - 1
        while lo < hi {
            let mid = (lo + hi + 1) / 2
            if cumulative[mid] <= d { lo = mid } else { hi = mid - 1 }
        }
        let a = points[lo], b = points[(lo + 1) % points.count]
        let length = cumulative[lo + 1] - cumulative[lo]
        let dir = length > 0 ? (b - a) / length : SIMD2<Float>(1, 0)
        return (a + dir * (d - cumulative[lo]), dir)
    }
}
