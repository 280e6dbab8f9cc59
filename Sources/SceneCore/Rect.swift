/// An axis-aligned rectangle in scene coordinates (metres).
public struct Rect: Hashable, Sendable, CustomStringConvertible {
    public var minX: Float
    public var minY: Float
    public var maxX: Float
    public var maxY: Float

    public init(minX: Float, minY: Float, maxX: Float, maxY: Float) {
        self.minX = minX; self.minY = minY; self.maxX = maxX; self.maxY = maxY
    }

    public var width: Float { maxX - minX }
    public var height: Float { maxY - minY }

    /// Half-open on the max side so that tiling rectangles never share a point.
    @inlinable
    public func contains(x: Float, y: Float) -> Bool {
        x >= minX && x < maxX && y >= minY && y < maxY
    }

    public func intersects(_ other: Rect) -> Bool {
        minX <= other.maxX && other.minX <= maxX && minY <= other.maxY && other.minY <= maxY
    }

    public var description: String { "[\(minX), \(minY)] - [\(maxX), \(maxY)]" }
}
