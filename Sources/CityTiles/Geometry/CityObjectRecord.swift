/// A polygon of a footprint in CRS coordinates: outer ring first, then holes; rings open.
public typealias Polygon2D = [[SIMD2<Double>]]

/// How an object takes part in a scene.
public enum ObjectRole: Int, Sendable, Codable, CaseIterable {
    /// Blocks movement (buildings, water, ...).
    case obstacle = 0
    /// Open to walking or driving (roads, squares, land use).
    case walkable = 1
    /// Kept in the catalog, no role in movement (terrain, vegetation, furniture).
    case other = 2
    /// A part whose parent carries its footprint (BuildingPart under a Building).
    case part = 3

    /// The role of a CityJSON 2.0 type.
    public static func of(type: String) -> ObjectRole {
        switch type {
        case "Building", "BuildingPart", "BuildingInstallation", "BridgePart", "BridgeConstructiveElement",
             "WaterBody", "OtherConstruction", "Tunnel", "TunnelPart":
            return .obstacle
        case "Road", "Railway", "TransportSquare", "Waterway", "LandUse", "Bridge":
            return .walkable
        default:
            return .other
        }
    }
}

/// Where a footprint came from, in order of preference.
public enum FootprintSource: String, Sendable, Codable {
    case lod0 = "lod0"
    case groundSurface = "ground-surface"
    case outline = "outline"
    case parts = "parts"
    case none = "none"
}

/// One CityObject as the catalog keeps it.
public struct CityObjectRecord: Sendable, Equatable {
    public var id: String
    public var type: String
    public var parent: String?
    public var role: ObjectRole
    public var footprint: [Polygon2D]
    public var footprintSource: FootprintSource
    /// Lowest and highest z of the geometry (CRS units), when it has any.
    public var minZ: Double?
    public var maxZ: Double?
    /// Height in metres: from the geometry, else from attributes, else nil.
    public var height: Double?
    /// The object's attributes as compact JSON.
    public var attributes: String
    /// Whether the object lists children (parts); not stored.
    public var hasChildren: Bool = false

    /// The 2D extent of the footprint, nil when there is none.
    public var extent: Extent2D? { Extent2D(footprint: footprint) }
}

/// A 2D bounding box in CRS units.
public struct Extent2D: Sendable, Equatable, Codable {
    public var minX: Double, minY: Double, maxX: Double, maxY: Double

    public static let empty = Extent2D(minX: .infinity, minY: .infinity, maxX: -.infinity, maxY: -.infinity)
    public var isEmpty: Bool { minX > maxX }

    public init(minX: Double, minY: Double, maxX: Double, maxY: Double) {
        self.minX = minX; self.minY = minY; self.maxX = maxX; self.maxY = maxY
    }

    /// The bounds of a footprint's outer rings (the catalog's exact extent of an object);
    /// nil for an empty footprint.
    public init?(footprint: [Polygon2D]) {
        var e = Extent2D.empty
        for poly in footprint { for p in poly.first ?? [] { e.add(p) } }
        guard !e.isEmpty else { return nil }
        self = e
    }

    public mutating func add(_ p: SIMD2<Double>) {
        minX = min(minX, p.x); minY = min(minY, p.y); maxX = max(maxX, p.x); maxY = max(maxY, p.y)
    }

    public mutating func add(_ e: Extent2D) {
        guard !e.isEmpty else { return }
        minX = min(minX, e.minX); minY = min(minY, e.minY); maxX = max(maxX, e.maxX); maxY = max(maxY, e.maxY)
    }

    public func intersects(_ o: Extent2D) -> Bool {
        !isEmpty && !o.isEmpty && minX <= o.maxX && o.minX <= maxX && minY <= o.maxY && o.minY <= maxY
    }
}
