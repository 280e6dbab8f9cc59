import Districts
import Crypto
import Foundation
import GRDB
import Testing
@testable import CityTiles

@Suite struct CatalogImportTests {
    /// Object counts by type from shared/data/README.md (computed outside the project).
    static let expected: [(file: String, crs: Int?, counts: [String: Int])] = [
        ("cityjson/3dbag_b2.city.json", nil, ["Building": 2, "BuildingPart": 2]),
        ("cityjson/3dbag_b2.city.jsonl", nil, ["Building": 2, "BuildingPart": 2]),
        ("cityjson/3dbag_delft_subset.city.jsonl", nil, ["Building": 10, "BuildingPart": 10]),
        ("cityjson/cjio_multi_lod.city.json", 7415, ["Building": 10]),
        ("cityjson/cjio_delft.city.json", nil, ["Building": 160, "Road": 143, "PlantCover": 126, "LandUse": 81,
                                                "GenericCityObject": 54, "Bridge": 3, "WaterBody": 3]),
        ("cityjson/cjio_zurich_subset_lod2.city.json", nil, ["Building": 49, "BuildingPart": 161]),
    ]

    @Test(.enabled(if: SharedData.available, SharedData.skipNote), arguments: 0..<6)
    func importsRealTilesWithTheRightCountsAndTypes(_ k: Int) throws {
        let (file, crs, counts) = Self.expected[k]
        let catalog = try Catalog()
        let summary = try catalog.importTile(path: SharedData.path(file), crsOverride: crs)
        #expect(summary.status == .imported)
        #expect(summary.objects == counts.values.reduce(0, +))
        #expect(try catalog.typeCounts(tile: summary.tile) == counts)
        let tile = try #require(try catalog.tile(named: summary.tile))
        #expect(tile.epsg == (file.contains("zurich") ? 2056 : 7415))
        #expect(tile.minX < tile.maxX && tile.minY < tile.maxY)
        if file.contains("zurich") { #expect(summary.upgradedFrom == "1.1") }
    }

    @Test(.enabled(if: SharedData.available, SharedData.skipNote))
    func delftFootprintsMatchAnIndependentReading() throws {
        let path = SharedData.path("cityjson/3dbag_delft_subset.city.jsonl")
        let catalog = try Catalog()
        let summary = try catalog.importTile(path: path)
        let records = Dictionary(uniqueKeysWithValues: try catalog.records(tile: summary.tile).map { ($0.id, $0) })
        // Independent reading with Foundation's JSONSerialization.
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
        let header = try JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as! [String: Any]
        let transform = header["transform"] as! [String: [Double]]
        var checked = 0
        func area(_ ring: [SIMD2<Double>]) -> Double {
            abs(zip(ring, ring.dropFirst() + ring.prefix(1)).reduce(0) { $0 + $1.0.x * $1.1.y - $1.1.x * $1.0.y }) / 2
        }
        func flat(_ b: Any) -> [Int] { (b as? [Any])?.flatMap(flat) ?? [(b as? Int) ?? 0] }
        for line in lines.dropFirst() {
            let f = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
            let verts = f["vertices"] as! [[Int]]
            let objects = f["CityObjects"] as! [String: [String: Any]]
            for (id, obj) in objects where obj["type"] as? String == "Building" {
                let geoms = obj["geometry"] as! [[String: Any]]
                let lod0 = try #require(geoms.first { $0["lod"] as? String == "0" })
                let ring = ((lod0["boundaries"] as! [[[Int]]])[0][0])
                let expected = ring.map { SIMD2(Double(verts[$0][0]) * transform["scale"]![0] + transform["translate"]![0],
                                                Double(verts[$0][1]) * transform["scale"]![1] + transform["translate"]![1]) }
                let record = try #require(records[id])
                #expect(record.footprintSource == .lod0)
                #expect(record.role == .obstacle)
                // The LoD0 outline unioned with the parts' ground surfaces (which 3D BAG draws
                // on the same outline): the same area within 1% (Shapely checks it exactly,
                // Tests/Conformance), the outline counter-clockwise.
                let got = record.footprint.reduce(0.0) { $0 + area($1[0]) - $1.dropFirst().reduce(0) { $0 + area($1) } }
                #expect(abs(got - area(expected)) < 0.01 * area(expected), "\(id): \(got) vs \(area(expected))")
                #expect(FootprintUnion.signedArea(record.footprint[0][0]) > 0)
                // Height: highest minus lowest z over the building's geometry and its parts'.
                let members = [obj] + objects.values.filter { ($0["parents"] as? [String])?.first == id }
                let zs = members.flatMap { m in (m["geometry"] as! [[String: Any]]).flatMap { flat($0["boundaries"]!) } }
                    .map { Double(verts[$0][2]) * transform["scale"]![2] + transform["translate"]![2] }
                #expect(abs((record.height ?? -1) - (zs.max()! - zs.min()!)) < 1e-6, "\(id)")
                #expect(record.minZ == zs.min() && record.maxZ == zs.max())
                checked += 1
            }
        }
        #expect(checked == 10)
        // Parts roll up: their parent carries the footprint, so parts are not obstacles themselves.
        #expect(records.values.filter { $0.type == "BuildingPart" }.allSatisfy { $0.role == .part && $0.parent != nil })
        #expect(try catalog.obstacles(tiles: [summary.tile]).count == 10)
    }

    @Test(.enabled(if: SharedData.available, SharedData.skipNote))
    func groundSurfaceAndOutlineFootprints() throws {
        let catalog = try Catalog()
        let s = try catalog.importTile(path: SharedData.path("cityjson/cjio_multi_lod.city.json"), crsOverride: 7415)
        let records = try catalog.records(tile: s.tile)
        #expect(records.allSatisfy { $0.footprintSource == .groundSurface && !$0.footprint.isEmpty && ($0.height ?? 0) > 0 })
        let delft = try catalog.importTile(path: SharedData.path("cityjson/cjio_delft.city.json"))
        let roads = try catalog.records(tile: delft.tile).filter { $0.type == "Road" }
        #expect(roads.allSatisfy { $0.role == .walkable })
    }

    @Test(.enabled(if: SharedData.available, SharedData.skipNote))
    func reimportChangesNothingAndAChangedFileReplaces() throws {
        let dir = temporaryDirectory()
        let file = dir.appendingPathComponent("district.city.jsonl").path
        try DistrictGenerator(buildings: 12, seed: 1).write(to: file)
        let catalog = try Catalog(path: dir.appendingPathComponent("c.sqlite").path)
        #expect(try catalog.importTile(path: file).status == .imported)
        let first = try #require(try catalog.tile(named: "district"))
        #expect(try catalog.importTile(path: file).status == .unchanged)
        #expect(try catalog.tile(named: "district") == first)
        try DistrictGenerator(buildings: 18, seed: 2).write(to: file)
        let replaced = try catalog.importTile(path: file)
        #expect(replaced.status == .replaced)
        #expect(try catalog.tiles().count == 1)
        #expect(try catalog.records(tile: "district").count == 18)
        #expect(try catalog.objects(in: Extent2D(minX: 0, minY: 0, maxX: 1e7, maxY: 1e7)).count == 18)
    }

    @Test func storedDigestIsTheFilesSHA256WhetherHashedWhileReadingOrBefore() throws {
        let dir = temporaryDirectory()
        let file = dir.appendingPathComponent("district.city.jsonl").path
        try DistrictGenerator(buildings: 30, seed: 4).write(to: file)
        let catalog = try Catalog(path: dir.appendingPathComponent("c.sqlite").path)
        func expected() throws -> String {
            SHA256.hash(data: try Data(contentsOf: URL(fileURLWithPath: file))).map { String(format: "%02x", $0) }.joined()
        }
        // A new tile is hashed while it is read.
        try catalog.importTile(path: file)
        #expect(try catalog.tile(named: "district")?.sha256 == expected())
        // A known tile is hashed first (to find it unchanged); a changed one keeps that hash.
        try DistrictGenerator(buildings: 31, seed: 4).write(to: file)
        #expect(try catalog.importTile(path: file).status == .replaced)
        #expect(try catalog.tile(named: "district")?.sha256 == expected())
        #expect(try catalog.importTile(path: file).status == .unchanged)
    }

    /// A catalog whose tiles came from a version before footprints were unions: opening it
    /// marks them stale once, and importing the same file again replaces them.
    @Test func tilesFromBeforeTheUnionAreReplacedOnceByTheSameFile() throws {
        let dir = temporaryDirectory()
        let file = dir.appendingPathComponent("gen.city.jsonl").path
        try DistrictGenerator(buildings: 12, seed: 3).write(to: file)
        let path = dir.appendingPathComponent("c.sqlite").path
        do {
            let catalog = try Catalog(path: path)
            #expect(try catalog.importTile(path: file).status == .imported)
            #expect(try catalog.importTile(path: file).status == .unchanged)
        }
        // As an older version left it: the migration not yet applied.
        let db = try DatabaseQueue(path: path)
        try db.write { try $0.execute(sql: "DELETE FROM grdb_migrations WHERE identifier = 'v3-footprints-by-union'") }
        try db.close()
        let catalog = try Catalog(path: path)
        #expect(try catalog.importTile(path: file).status == .replaced)
        #expect(try catalog.importTile(path: file).status == .unchanged)
        #expect(try catalog.records(tile: "gen").count == 12)
    }

    @Test func generatorRoundTrips() throws {
        let dir = temporaryDirectory()
        let file = dir.appendingPathComponent("gen.city.jsonl").path
        let gen = DistrictGenerator(buildings: 40, seed: 9)
        try gen.write(to: file)
        let catalog = try Catalog()
        let s = try catalog.importTile(path: file)
        #expect(s.objects == 40)
        let records = try catalog.records(tile: "gen")
        for (k, r) in records.enumerated() {
            let (ring, height) = gen.building(k)
            #expect(r.id == "GEN.9.\(k)")
            #expect(r.footprint.count == 1)
            let got = r.footprint[0][0]
            #expect(got.count == ring.count)
            for (a, b) in zip(got, ring) { #expect(abs(a.x - (b.x + gen.origin.x)) < 1e-6 && abs(a.y - (b.y + gen.origin.y)) < 1e-6) }
            #expect(abs((r.height ?? 0) - height) < 1e-6)
        }
        // The R*Tree answers a box around building 0 and not a far one.
        let e = try #require(records[0].extent)
        #expect(try catalog.objects(in: e).contains { $0.objectId == "GEN.9.0" })
        #expect(try catalog.objects(in: Extent2D(minX: 0, minY: 0, maxX: 1, maxY: 1)).isEmpty)
    }
}
