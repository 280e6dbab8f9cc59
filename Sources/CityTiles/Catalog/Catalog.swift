import Foundation
import GRDB

/// The SQLite catalog of imported tiles (GRDB, WAL mode, migrations run at open).
///
/// Every public method is one transaction: an import that fails or is killed half-way
/// leaves the catalog exactly as it was.
public final class Catalog: Sendable {
    let writer: any DatabaseWriter
    /// The file behind the catalog, nil for an in-memory one.
    public let path: String?
    /// How long a write waits for another process's lock before it gives up.
    public let lockWait: Double

    /// The longest wait for a lock held by another process, unless the caller says otherwise.
    public static let defaultLockWait: Double = 5

    /// Opens (creating on first use) the catalog at `path`. A write that finds the catalog
    /// locked by another process waits up to `lockWait` seconds, then fails with
    /// `CatalogError.locked`, which names the process.
    public init(path: String, lockWait: Double = Catalog.defaultLockWait) throws {
        let url = URL(fileURLWithPath: path)
        let dir = url.deletingLastPathComponent().path
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: dir, isDirectory: &isDir), isDir.boolValue else {
            throw CatalogError.unusablePath(path, "its directory \(dir) does not exist")
        }
        do {
            var config = Configuration()
            config.busyMode = .timeout(max(0, lockWait))
            // A new catalog gets 16 KB pages (SQLite's default is 4 KB): an import writes
            // and checkpoints a quarter as many pages (82 MB district: 0.73 -> 0.65 s).
            // An existing file keeps the page size it was made with.
            config.prepareDatabase { db in try db.execute(sql: "PRAGMA page_size = \(Self.pageSize)") }
            writer = try DatabasePool(path: path, configuration: config)
            try Self.migrator.migrate(writer)
        } catch let error as DatabaseError {
            if error.resultCode == .SQLITE_BUSY { throw CatalogError.locked(path, holder: CatalogLock.holder(of: path), seconds: lockWait) }
            throw CatalogError.unusablePath(path, error.message ?? "\(error)")
        }
        self.path = path
        self.lockWait = lockWait
    }

    /// Runs a write transaction; a lock another process held past `lockWait` becomes
    /// `CatalogError.locked` naming that process.
    func write<T>(_ body: (Database) throws -> T) throws -> T {
        do {
            return try writer.write(body)
        } catch let error as DatabaseError where error.resultCode == .SQLITE_BUSY {
            throw CatalogError.locked(path ?? ":memory:", holder: path.flatMap(CatalogLock.holder(of:)), seconds: lockWait)
        }
    }

    /// Opens an existing catalog for reading only (`tiles list`, `show`, `query`): never
    /// creates one, so a mistyped path is an error that names it, not an empty catalog.
    /// A lock held by another process is waited for up to `lockWait` seconds.
    public init(readingExisting path: String, lockWait: Double = Catalog.defaultLockWait) throws {
        guard FileManager.default.fileExists(atPath: path) else {
            throw CatalogError.unusablePath(path, "there is no catalog there (tiles import or serve creates one; check --catalog)")
        }
        do {
            var config = Configuration()
            config.readonly = true
            config.busyMode = .timeout(max(0, lockWait))
            writer = try DatabaseQueue(path: path, configuration: config)
            let current = try writer.read { db in try Self.migrator.hasCompletedMigrations(db) }
            guard current else {
                throw CatalogError.unusablePath(path, "it was made by an older twinscene; open it once with tiles import or serve to upgrade it")
            }
        } catch let error as DatabaseError {
            throw CatalogError.unusablePath(path, error.message ?? "\(error)")
        }
        self.path = path
        self.lockWait = lockWait
    }

    /// An in-memory catalog, for tests.
    public init() throws {
        writer = try DatabaseQueue()
        try Self.migrator.migrate(writer)
        path = nil
        lockWait = 0
    }

    /// Page size of newly created catalog files.
    static let pageSize = 16_384

    static var migrator: DatabaseMigrator {
        var m = DatabaseMigrator()
        m.registerMigration("v1-tiles-objects-rtree") { db in
            try db.create(table: "tile") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("name", .text).notNull().unique()
                t.column("sourcePath", .text).notNull()
                t.column("sha256", .text).notNull()
                t.column("epsg", .integer).notNull()
                t.column("minX", .double).notNull()
                t.column("minY", .double).notNull()
                t.column("maxX", .double).notNull()
                t.column("maxY", .double).notNull()
                t.column("objectCount", .integer).notNull()
                t.column("importedAt", .datetime).notNull()
                t.column("sourceVersion", .text).notNull()
            }
            try db.create(table: "cityObject") { t in
                t.autoIncrementedPrimaryKey("id")
                t.belongsTo("tile", onDelete: .cascade).notNull()
                t.column("objectId", .text).notNull()
                t.column("type", .text).notNull()
                t.column("parentId", .text)
                t.column("role", .integer).notNull()
                t.column("height", .double)
                t.column("minZ", .double)
                t.column("maxZ", .double)
                t.column("footprintSource", .text).notNull()
                t.column("footprint", .blob).notNull()
                t.column("attributes", .text).notNull()
                t.uniqueKey(["tileId", "objectId"])
            }
            try db.execute(sql: """
                CREATE VIRTUAL TABLE objectExtent USING rtree(id, minX, maxX, minY, maxY);
                CREATE TRIGGER cityObjectExtentDelete AFTER DELETE ON cityObject
                BEGIN DELETE FROM objectExtent WHERE id = OLD.id; END;
                """)
        }
        // The unique (tileId, objectId) index already serves lookups by tile; the separate
        // tileId index made every inserted row update one more B-tree.
        m.registerMigration("v2-drop-redundant-tile-index") { db in
            try db.execute(sql: "DROP INDEX IF EXISTS cityObject_on_tileId")
        }
        // Footprints are unions (GEOS) and heights span parts since this version: tiles
        // imported before are marked stale, so importing the same file again replaces them
        // instead of answering "unchanged" (serve does so with its bundled tiles at start).
        m.registerMigration("v3-footprints-by-union") { db in
            try db.execute(sql: "UPDATE tile SET sha256 = ''")
        }
        return m
    }

    /// What SQLite finds wrong with the catalog file and its R*Tree; empty when sound.
    public func integrityProblems() throws -> [String] {
        try writer.read { db in
            var problems = try String.fetchAll(db, sql: "PRAGMA integrity_check").filter { $0 != "ok" }
            if let rtree = try String.fetchOne(db, sql: "SELECT rtreecheck('objectExtent')"), rtree != "ok" {
                problems.append(rtree)
            }
            return problems
        }
    }

    /// Every tile, by name.
    public func tiles() throws -> [TileInfo] {
        try writer.read { db in try TileInfo.order(TileInfo.Columns.name).fetchAll(db) }
    }

    /// One tile by name.
    public func tile(named name: String) throws -> TileInfo? {
        try writer.read { db in try TileInfo.filter(TileInfo.Columns.name == name).fetchOne(db) }
    }

    /// How many objects of each type a tile holds.
    public func typeCounts(tile name: String) throws -> [String: Int] {
        try writer.read { db in
            let rows = try Row.fetchAll(db, sql: """
                SELECT o.type, count(*) AS n FROM cityObject o JOIN tile t ON t.id = o.tileId
                WHERE t.name = ? GROUP BY o.type
                """, arguments: [name])
            return Dictionary(uniqueKeysWithValues: rows.map { ($0["type"] as String, $0["n"] as Int) })
        }
    }

    /// Removes a tile and its objects; false when there was no such tile.
    @discardableResult
    public func remove(tile name: String) throws -> Bool {
        try write { db in try Self.deleteTile(named: name, db) }
    }

    /// Deletes a tile, its objects and their R*Tree entries; false when there was none.
    static func deleteTile(named name: String, _ db: Database) throws -> Bool {
        try RTreeLoader.removeMany(selectedBy: "SELECT o.id FROM cityObject o JOIN tile t ON t.id = o.tileId WHERE t.name = ?",
                                   arguments: [name], from: "objectExtent", db)
        return try TileInfo.filter(TileInfo.Columns.name == name).deleteAll(db) > 0
    }

    /// Objects whose extent touches the box (edges included), at most `limit` of them in
    /// tile and object order; `truncated` when more would have answered.
    ///
    /// The R*Tree finds the candidates (its boxes are 32-bit floats rounded outwards: at
    /// eastings near 35.5 million a box grows by up to 4 m, so it finds every object and a few
    /// beyond); each is then checked on its exact extent, the bounds of its footprint's outer
    /// rings as stored, which is also the extent returned.
    public func query(_ box: Extent2D, limit: Int = 10_000) throws -> (objects: [ObjectSummary], truncated: Bool) {
        let limit = max(0, limit)
        return try writer.read { db in
            let rows = try Row.fetchCursor(db, sql: """
                SELECT t.name AS tile, o.objectId, o.type, o.role, o.height, o.footprint
                FROM objectExtent e JOIN cityObject o ON o.id = e.id JOIN tile t ON t.id = o.tileId
                WHERE e.maxX >= ? AND e.minX <= ? AND e.maxY >= ? AND e.minY <= ?
                ORDER BY t.name, o.objectId
                """, arguments: [box.minX, box.maxX, box.minY, box.maxY])
            var found: [ObjectSummary] = []
            while let row = try rows.next() {
                let blob: Data = row["footprint"]
                guard let e = FootprintCoding.decode([UInt8](blob)).flatMap(Extent2D.init(footprint:)),
                      e.maxX >= box.minX, e.minX <= box.maxX, e.maxY >= box.minY, e.minY <= box.maxY else { continue }
                if found.count == limit { return (found, true) }
                found.append(ObjectSummary(tile: row["tile"], objectId: row["objectId"], type: row["type"], role: row["role"],
                                           height: row["height"], minX: e.minX, minY: e.minY, maxX: e.maxX, maxY: e.maxY))
            }
            return (found, false)
        }
    }

    /// The objects of `query`, without saying whether the list was cut.
    public func objects(in box: Extent2D, limit: Int = 10_000) throws -> [ObjectSummary] {
        try query(box, limit: limit).objects
    }

    /// Buildings and building parts of each tile, by tile name (other objects are the rest
    /// of its `objectCount`).
    public func buildingCounts() throws -> [String: (buildings: Int, parts: Int)] {
        try writer.read { db in
            let rows = try Row.fetchAll(db, sql: """
                SELECT t.name AS name, sum(o.type = 'Building') AS buildings, sum(o.type = 'BuildingPart') AS parts
                FROM tile t LEFT JOIN cityObject o ON o.tileId = t.id GROUP BY t.id
                """)
            return Dictionary(uniqueKeysWithValues: rows.map { ($0["name"] as String, (($0["buildings"] as Int?) ?? 0, ($0["parts"] as Int?) ?? 0)) })
        }
    }

    /// Footprints of the obstacles of the named tiles (parts rolled up into parents).
    public func obstacles(tiles names: [String]) throws -> [ObstacleFootprint] {
        try writer.read { db in
            var out: [ObstacleFootprint] = []
            for name in names {
                let rows = try Row.fetchCursor(db, sql: """
                    SELECT o.objectId, o.footprint, o.height FROM cityObject o JOIN tile t ON t.id = o.tileId
                    WHERE t.name = ? AND o.role = ? ORDER BY o.id
                    """, arguments: [name, ObjectRole.obstacle.rawValue])
                while let row = try rows.next() {
                    let blob: Data = row["footprint"]
                    guard let polys = FootprintCoding.decode([UInt8](blob)), !polys.isEmpty else { continue }
                    out.append(ObstacleFootprint(objectId: row["objectId"], polygons: polys, height: row["height"] ?? 0))
                }
            }
            return out
        }
    }

    /// All records of a tile, in import order (for round-trip tests and `tiles show`).
    public func records(tile name: String) throws -> [CityObjectRecord] {
        try writer.read { db in
            let rows = try Row.fetchAll(db, sql: """
                SELECT o.* FROM cityObject o JOIN tile t ON t.id = o.tileId WHERE t.name = ? ORDER BY o.id
                """, arguments: [name])
            return rows.map { row in
                let blob: Data = row["footprint"]
                return CityObjectRecord(
                    id: row["objectId"], type: row["type"], parent: row["parentId"],
                    role: ObjectRole(rawValue: row["role"]) ?? .other,
                    footprint: FootprintCoding.decode([UInt8](blob)) ?? [],
                    footprintSource: FootprintSource(rawValue: row["footprintSource"]) ?? .none,
                    minZ: row["minZ"], maxZ: row["maxZ"], height: row["height"], attributes: row["attributes"])
            }
        }
    }
}

/// Catalog failures an operator can act on.
public enum CatalogError: Error, CustomStringConvertible, Equatable {
    case unusablePath(String, String)
    case mixedCRS(tile: String, epsg: Int, expected: Int)
    case unknownTile(String)
    /// Another process held the catalog's lock for longer than the wait: who, if known.
    case locked(String, holder: String?, seconds: Double)

    public var description: String {
        switch self {
        case .locked(let path, let holder, let seconds):
            return "the catalog \(path) is locked by \(holder ?? "another connection") and stayed locked for "
                + String(format: "%g", seconds) + " s; nothing was changed: try again once it is done (or wait longer with --wait)"

        case .unusablePath(let path, let why): return "cannot open the catalog \(path): \(why)"
        case .mixedCRS(let tile, let epsg, let expected):
            return "tile '\(tile)' is in EPSG:\(epsg) but the scene is in EPSG:\(expected); a scene cannot mix reference systems"
        case .unknownTile(let name): return "no tile named '\(name)' in the catalog (see `twinscene tiles list`)"
        }
    }
}
