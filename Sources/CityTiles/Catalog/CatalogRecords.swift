import Foundation
import GRDB

/// A tile as the catalog lists it.
public struct TileInfo: Codable, Sendable, Equatable, FetchableRecord, MutablePersistableRecord {
    public static let databaseTableName = "tile"
    public var id: Int64?
    public var name: String
    public var sourcePath: String
    public var sha256: String
    public var epsg: Int
    public var minX: Double
    public var minY: Double
    public var maxX: Double
    public var maxY: Double
    public var objectCount: Int
    public var importedAt: Date
    /// The version the file was written in ("1.1" when it was upgraded on import).
    public var sourceVersion: String

    public enum Columns {
        static let name = Column(CodingKeys.name)
        static let sha256 = Column(CodingKeys.sha256)
    }

    public var extent: Extent2D { Extent2D(minX: minX, minY: minY, maxX: maxX, maxY: maxY) }

    public mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
}

/// An object found by a spatial query.
public struct ObjectSummary: Codable, Sendable, Equatable, FetchableRecord {
    public var tile: String
    public var objectId: String
    public var type: String
    public var role: Int
    public var height: Double?
    public var minX: Double
    public var minY: Double
    public var maxX: Double
    public var maxY: Double
}

/// An obstacle footprint with its height, in CRS coordinates.
public struct ObstacleFootprint: Sendable, Equatable {
    public var objectId: String
    public var polygons: [Polygon2D]
    public var height: Double
}
