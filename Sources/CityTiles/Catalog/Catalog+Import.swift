import Crypto
import Foundation
import GRDB

/// What an import did.
public struct ImportSummary: Codable, Sendable, Equatable {
    public enum Status: String, Codable, Sendable { case imported, replaced, unchanged }
    public var tile: String
    public var file: String
    public var status: Status
    public var objects: Int
    public var bytes: Int
    public var epsg: Int
    public var seconds: Double
    /// The version the file was written in, when it was upgraded on import.
    public var upgradedFrom: String?
}

/// Progress of a running import, reported after each batch of objects.
public struct ImportProgress: Sendable {
    public var bytesRead: Int
    public var totalBytes: Int
    public var objects: Int
    public var seconds: Double

    public var fraction: Double { totalBytes > 0 ? Double(bytesRead) / Double(totalBytes) : 1 }
    public var megabytesPerSecond: Double { seconds > 0 ? Double(bytesRead) / 1_000_000 / seconds : 0 }
    public var objectsPerSecond: Double { seconds > 0 ? Double(objects) / seconds : 0 }
}

extension Catalog {
    /// The catalog name of a tile file: its base name without `.city.json(l)`.
    public static func tileName(for path: String) -> String {
        var name = (path as NSString).lastPathComponent
        for suffix in [".city.jsonl", ".city.json", ".jsonl", ".json"] where name.lowercased().hasSuffix(suffix) {
            name = String(name.dropLast(suffix.count))
            break
        }
        return name
    }

    /// Imports one tile file in a single transaction: all of it or, on any error, nothing.
    /// Importing an unchanged file again changes nothing; a changed one replaces the old version.
    /// With `workers` above 0, large files are parsed on that many threads while this one
    /// writes the rows (the same rows, in the same order, and the same errors).
    @discardableResult
    public func importTile(path: String, crsOverride: Int? = nil, workers: Int = 0, pieceBytes: Int = 1 << 20,
                           progress: (@Sendable (ImportProgress) -> Void)? = nil) throws -> ImportSummary {
        let started = Date()
        let name = Self.tileName(for: path)
        try CityJSONReader.precheck(path: path)
        // A tile of this name may be unchanged: hash the file first to find out. Otherwise
        // the file is hashed as it is read, in the same pass.
        var known: (digest: String, size: Int)?
        if let existing = try tile(named: name) {
            let (digest, size) = try Self.digest(path: path)
            // The same bytes with another --crs are a correction: imported again (and
            // refused if the file names a system of its own that differs).
            if existing.sha256 == digest, crsOverride == nil || crsOverride == existing.epsg {
                return ImportSummary(tile: name, file: path, status: .unchanged, objects: existing.objectCount, bytes: size,
                                     epsg: existing.epsg, seconds: Date().timeIntervalSince(started), upgradedFrom: nil)
            }
            known = (digest, size)
        }
        let size = known?.size ?? (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
        var summary = try write { db in
            var hash = SHA256()
            let replaced = try Self.deleteTile(named: name, db)
            var tile = TileInfo(id: nil, name: name, sourcePath: path, sha256: known?.digest ?? "", epsg: 0,
                                minX: 0, minY: 0, maxX: 0, maxY: 0, objectCount: 0, importedAt: Date(), sourceVersion: "")
            try tile.insert(db)
            guard let tileId = tile.id else { throw CatalogError.unknownTile(name) }
            var extent = Extent2D.empty
            var count = 0
            var lastReport = started
            var extents: [RTreeLoader.Entry] = []
            var footprintBlob: [UInt8] = []
            let objectInsert = try PreparedInsert(db, sql: """
                INSERT INTO cityObject (tileId, objectId, type, parentId, role, height, minZ, maxZ, footprintSource, footprint, attributes)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """)
            objectInsert.bind(1, tileId)
            let header = try CityJSONReader.read(path: path, crsOverride: crsOverride, workers: workers, pieceBytes: pieceBytes,
                                                 progress: { bytes in
                let now = Date()
                if let progress, now.timeIntervalSince(lastReport) >= 0.5 {
                    lastReport = now
                    progress(ImportProgress(bytesRead: bytes, totalBytes: size, objects: count, seconds: now.timeIntervalSince(started)))
                }
            }, onChunk: known == nil ? { hash.update(bufferPointer: $0) } : nil, sink: { records in
                for r in records {
                    FootprintCoding.encode(r.footprint, into: &footprintBlob)
                    objectInsert.bind(2, r.id)
                    objectInsert.bind(3, r.type)
                    objectInsert.bind(4, r.parent)
                    objectInsert.bind(5, Int64(r.role.rawValue))
                    objectInsert.bind(6, r.height)
                    objectInsert.bind(7, r.minZ)
                    objectInsert.bind(8, r.maxZ)
                    objectInsert.bind(9, r.footprintSource.rawValue)
                    objectInsert.bind(10, blob: footprintBlob)
                    objectInsert.bind(11, r.attributes)
                    if try objectInsert.run(db) != nil {
                        throw TileError(file: path, object: r.id, problem: "the CityObject id appears twice in the tile")
                    }
                    if let e = r.extent {
                        extents.append(RTreeLoader.Entry(id: db.lastInsertedRowID, e))
                        extent.add(e)
                    }
                    count += 1
                }
            })
            try RTreeLoader.add(extents, to: "objectExtent", db)
            if known == nil { tile.sha256 = Self.hex(hash.finalize()) }
            tile.epsg = header.epsg ?? 0
            if !extent.isEmpty { (tile.minX, tile.minY, tile.maxX, tile.maxY) = (extent.minX, extent.minY, extent.maxX, extent.maxY) }
            tile.objectCount = count
            tile.sourceVersion = header.version
            try tile.update(db)
            return ImportSummary(tile: name, file: path, status: replaced ? .replaced : .imported, objects: count, bytes: size,
                                 epsg: tile.epsg, seconds: Date().timeIntervalSince(started),
                                 upgradedFrom: header.isUpgraded ? header.version : nil)
        }
        // Timed after the commit, which writes the pages out.
        summary.seconds = Date().timeIntervalSince(started)
        return summary
    }

    /// SHA-256 and size of a file, read in chunks.
    static func digest(path: String) throws -> (String, Int) {
        let handle = try CityJSONReader.openForReading(path)
        defer { try? handle.close() }
        var hash = SHA256()
        var size = 0
        while let chunk = try handle.read(upToCount: 4 << 20), !chunk.isEmpty {
            hash.update(data: chunk)
            size += chunk.count
        }
        if size == 0 { throw TileError(file: path, problem: "the file is empty") }
        return (hex(hash.finalize()), size)
    }

    static func hex(_ digest: SHA256.Digest) -> String {
        digest.map { String(format: "%02x", $0) }.joined()
    }
}
