import Districts
import Foundation
import SceneCore
import Testing
@testable import CityTiles

/// Reference systems, exact spatial queries, a locked catalog and building counts: what an
/// operator meets beyond importing one good file.
@Suite struct CatalogRulesTests {
    // MARK: reference systems

    @Test(arguments: [
        ("EPSG:7415", ReferenceSystem.epsg(7415)),
        ("epsg:28992", .epsg(28992)),
        ("https://www.opengis.net/def/crs/EPSG/0/7415", .epsg(7415)),
        ("http://www.opengis.net/def/crs/EPSG/0/2056", .epsg(2056)),
        ("https://www.opengis.net/def/crs/EPSG/0/4523/", .epsg(4523)),
        ("urn:ogc:def:crs:EPSG::2056", .epsg(2056)),
        ("urn:ogc:def:crs:EPSG:9.8.15:7415", .epsg(7415)),
        // Compound systems written as two codes: named as such, never cut to one part.
        ("EPSG:4326+5773", .compound([4326, 5773])),
        ("urn:ogc:def:crs,crs:EPSG::28992,crs:EPSG::5709", .compound([28992, 5709])),
        ("http://www.opengis.net/def/crs-compound?1=http://www.opengis.net/def/crs/EPSG/0/28992&2=http://www.opengis.net/def/crs/EPSG/0/5709",
         .compound([28992, 5709])),
        // Not an EPSG code at all, or broken.
        ("OGC:CRS84", .unrecognized), ("EPSG:", .unrecognized), ("EPSG:74a5", .unrecognized), ("EPSG:4326+", .unrecognized),
        ("https://www.opengis.net/def/crs/EPSG/0/7415/extra", .unrecognized), ("https://example.com/def/crs/EPSG/0/7415", .unrecognized),
        ("7415", .unrecognized), ("EPSG:-7415", .unrecognized), ("EPSG:٣٣", .unrecognized),
    ])
    func referenceSystemsAreReadAsWritten(_ text: String, _ expected: ReferenceSystem) {
        #expect(ReferenceSystem(parsing: text) == expected)
        // The old reader took the trailing digits: EPSG:4326+5773 became 5773, its vertical part.
        #expect(TileHeader.epsgCode(text) == expected.code)
    }

    /// A one-building document naming `crs` (or none).
    func document(_ dir: URL, _ name: String, crs: String?, x: Int = 0) throws -> String {
        let path = dir.appendingPathComponent(name).path
        let metadata = crs.map { #","metadata":{"referenceSystem":"\#($0)"}"# } ?? ""
        try #"{"type":"CityJSON","version":"2.0","transform":{"scale":[0.001,0.001,0.001],"translate":[85000,446000,0]}\#(metadata),"CityObjects":{"B1":{"type":"Building","geometry":[{"type":"MultiSurface","lod":"0","boundaries":[[[0,1,2,3]]]}]}},"vertices":[[\#(x),0,0],[\#(x + 10000),0,0],[\#(x + 10000),8000,0],[\#(x),8000,0]]}"#
            .write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func refusal(_ body: () throws -> Void) -> String? {
        do { try body(); return nil } catch { return "\(error)" }
    }

    @Test func crsFillsInOnlyForFilesThatNameNoneAndACorrectionReplaces() throws {
        let dir = temporaryDirectory()
        let catalog = try Catalog(path: dir.appendingPathComponent("c.sqlite").path)
        // A file naming EPSG:7415 imported with --crs EPSG:2056 is refused: --crs does not relabel.
        let named = try document(dir, "named.city.json", crs: "https://www.opengis.net/def/crs/EPSG/0/7415")
        let clash = refusal { _ = try catalog.importTile(path: named, crsOverride: 2056) }
        #expect(clash?.contains("names EPSG:7415 but --crs says EPSG:2056") == true, "\(clash ?? "imported")")
        #expect(try catalog.tiles().isEmpty)
        // The same --crs as the file's own is fine.
        #expect(try catalog.importTile(path: named, crsOverride: 7415).epsg == 7415)
        // A file naming none takes --crs; imported again with a corrected --crs it is replaced, not "unchanged".
        let bare = try document(dir, "bare.city.json", crs: nil)
        #expect(refusal { _ = try catalog.importTile(path: bare) }?.contains("--crs EPSG:N") == true)
        #expect(try catalog.importTile(path: bare, crsOverride: 28992).status == .imported)
        #expect(try catalog.importTile(path: bare, crsOverride: 28992).status == .unchanged)
        let corrected = try catalog.importTile(path: bare, crsOverride: 7415)
        #expect(corrected.status == .replaced)
        #expect(try catalog.tile(named: "bare")?.epsg == 7415)
        // Without --crs, the unchanged file keeps what it was given.
        #expect(try catalog.importTile(path: bare).status == .unchanged)
    }

    @Test func aCompoundOrUnknownSystemIsRefusedNamingFileAndText() throws {
        let dir = temporaryDirectory()
        let catalog = try Catalog(path: dir.appendingPathComponent("c.sqlite").path)
        for (name, crs, mentions) in [("plus.city.json", "EPSG:4326+5773", "joins EPSG:4326 and EPSG:5773"),
                                      ("urn.city.json", "urn:ogc:def:crs,crs:EPSG::28992,crs:EPSG::5709", "joins EPSG:28992 and EPSG:5709"),
                                      ("other.city.json", "OGC:CRS84", "\"OGC:CRS84\" is not an EPSG code")] {
            let path = try document(dir, name, crs: crs)
            // Neither alone nor with --crs: the file says something the catalog cannot keep.
            for override in [nil, 7415] as [Int?] {
                do {
                    _ = try catalog.importTile(path: path, crsOverride: override)
                    Issue.record("\(name) was imported")
                } catch let e as TileError {
                    #expect(e.file == path)
                    #expect(e.description.contains(mentions), "\(e)")
                }
            }
        }
        #expect(try catalog.tiles().isEmpty)
    }

    // MARK: exact queries

    /// A tile of `count` small buildings at eastings near 35.5 million (EPSG:4523), where a
    /// 32-bit float is 4 m apart, written by the district generator's geometry moved there.
    /// Returns the path and each building's extent as written (independent of the reader).
    func farEastTile(_ dir: URL, count: Int) throws -> (path: String, extents: [String: Extent2D]) {
        let path = dir.appendingPathComponent("far.city.jsonl").path
        var extents: [String: Extent2D] = [:]
        var lines = [#"{"type":"CityJSON","version":"2.0","transform":{"scale":[0.001,0.001,0.001],"translate":[35500000,3400000,0]},"metadata":{"referenceSystem":"EPSG:4523"},"CityObjects":{},"vertices":[]}"#]
        var rng = SeededGenerator(seed: 4523)
        for k in 0..<count {
            // Buildings 3-9 m wide anywhere in a 300 x 300 m square, at millimetre positions.
            let x = Int.random(in: 0..<300_000, using: &rng), y = Int.random(in: 0..<300_000, using: &rng)
            let w = Int.random(in: 3_000..<9_000, using: &rng), h = Int.random(in: 3_000..<9_000, using: &rng)
            extents["B\(k)"] = Extent2D(minX: 35_500_000 + Double(x) / 1000, minY: 3_400_000 + Double(y) / 1000,
                                        maxX: 35_500_000 + Double(x + w) / 1000, maxY: 3_400_000 + Double(y + h) / 1000)
            lines.append(#"{"type":"CityJSONFeature","id":"B\#(k)","CityObjects":{"B\#(k)":{"type":"Building","geometry":[{"type":"MultiSurface","lod":"0","boundaries":[[[0,1,2,3]]]}]}},"vertices":[[\#(x),\#(y),0],[\#(x + w),\#(y),0],[\#(x + w),\#(y + h),0],[\#(x),\#(y + h),0]]}"#)
        }
        try lines.joined(separator: "\n").write(toFile: path, atomically: true, encoding: .utf8)
        return (path, extents)
    }

    @Test func queriesAnswerExactlyWhereTheRTreeRoundsOutwards() throws {
        let dir = temporaryDirectory()
        let catalog = try Catalog(path: dir.appendingPathComponent("c.sqlite").path)
        let (path, written) = try farEastTile(dir, count: 400)
        _ = try catalog.importTile(path: path)
        #expect(try catalog.tiles().first?.objectCount == 400)
        var rng = SeededGenerator(seed: 20261207)
        var extraCandidates = 0
        for _ in 0..<200 {
            let x = 35_500_000 + Double.random(in: -10..<300, using: &rng), y = 3_400_000 + Double.random(in: -10..<300, using: &rng)
            let box = Extent2D(minX: x, minY: y, maxX: x + Double.random(in: 0..<40, using: &rng), maxY: y + Double.random(in: 0..<40, using: &rng))
            // Brute force over the extents as written (edges touching count).
            let expected = Set(written.compactMap { id, e -> String? in
                guard e.maxX >= box.minX, e.minX <= box.maxX, e.maxY >= box.minY, e.minY <= box.maxY else { return nil }
                return id
            })
            let (found, truncated) = try catalog.query(box, limit: 10_000)
            #expect(!truncated)
            #expect(Set(found.map(\.objectId)) == expected, "box \(box)")
            for o in found { #expect(o.maxX >= box.minX && o.minX <= box.maxX && o.maxY >= box.minY && o.minY <= box.maxY) }
            // What the R*Tree alone would have answered: its float boxes, rounded outwards.
            let loose = written.values.filter { e in
                Double(Float(e.maxX).nextUp) >= box.minX && Double(Float(e.minX).nextDown) <= box.maxX
                    && Double(Float(e.maxY).nextUp) >= box.minY && Double(Float(e.minY).nextDown) <= box.maxY
            }
            extraCandidates += loose.count - expected.count
        }
        // The test means something only if the float boxes would have let extra objects in.
        #expect(extraCandidates > 0)
        // Exact extents come back as the file wrote them (millimetres), not as floats.
        let one = try #require(try catalog.query(Extent2D(minX: 0, minY: 0, maxX: 1e9, maxY: 1e9), limit: 1).objects.first)
        let record = try #require(written[one.objectId])
        #expect(abs(one.minX - record.minX) < 1e-6 && abs(one.maxY - record.maxY) < 1e-6)
    }

    @Test func aQuerySaysWhenItWasCut() throws {
        let dir = temporaryDirectory()
        let catalog = try Catalog(path: dir.appendingPathComponent("c.sqlite").path)
        _ = try catalog.importTile(path: farEastTile(dir, count: 30).path)
        let all = Extent2D(minX: 0, minY: 0, maxX: 1e9, maxY: 1e9)
        #expect(try catalog.query(all, limit: 30) .truncated == false)
        let cut = try catalog.query(all, limit: 29)
        #expect(cut.truncated && cut.objects.count == 29)
        // In tile and object order, the first 29 of the 30.
        #expect(cut.objects.map(\.objectId) == Array(try catalog.query(all, limit: 30).objects.map(\.objectId).prefix(29)))
    }

    // MARK: a locked catalog

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/python3")))
    func aLockedCatalogWaitsThenNamesWhoHoldsIt() async throws {
        let dir = temporaryDirectory()
        let path = dir.appendingPathComponent("c.sqlite").path
        let good = dir.appendingPathComponent("good.city.jsonl").path
        try DistrictGenerator(buildings: 5, seed: 8).write(to: good)
        let other = dir.appendingPathComponent("other.city.jsonl").path
        try DistrictGenerator(buildings: 7, seed: 9).write(to: other)
        do { _ = try Catalog(path: path).importTile(path: good) }
        let catalog = try Catalog(path: path, lockWait: 0.3)
        // Another process takes the write lock and keeps it (Python's sqlite3: an independent SQLite).
        let holder = Process()
        holder.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        holder.arguments = ["-c", """
            import sqlite3, sys, time
            c = sqlite3.connect(sys.argv[1], isolation_level=None)
            c.execute("BEGIN IMMEDIATE")
            c.execute("UPDATE tile SET sourcePath = sourcePath")
            print("locked", flush=True)
            time.sleep(30)
            """, path]
        let out = Pipe()
        holder.standardOutput = out
        try holder.run()
        defer { kill(holder.processIdentifier, SIGKILL); holder.waitUntilExit() }
        #expect(String(decoding: out.fileHandleForReading.availableData, as: UTF8.self).hasPrefix("locked"))
        let started = Date()
        do {
            _ = try catalog.importTile(path: other)
            Issue.record("the import went through a held lock")
        } catch let e as CatalogError {
            guard case .locked(let p, let who, let seconds) = e else { Issue.record("\(e)"); return }
            #expect(p == path && seconds == 0.3)
            #expect(who?.contains("process \(holder.processIdentifier)") == true, "\(e)")
            #expect(who?.contains("python3") == true, "\(e)")
            #expect(e.description.contains("nothing was changed"))
        }
        #expect(Date().timeIntervalSince(started) >= 0.3)
        kill(holder.processIdentifier, SIGKILL)
        holder.waitUntilExit()
        // Nothing of the refused import is there; once free, it goes through.
        #expect(try catalog.tiles().map(\.name) == ["good"])
        #expect(try catalog.importTile(path: other).status == .imported)
    }

    // MARK: buildings and parts

    @Test(.enabled(if: SharedData.available, SharedData.skipNote))
    func buildingsAndPartsAreCountedApart() throws {
        let catalog = try Catalog()
        _ = try catalog.importTile(path: SharedData.path("cityjson/cjio_zurich_subset_lod2.city.json"))
        _ = try catalog.importTile(path: SharedData.path("cityjson/cjio_delft.city.json"))
        let counts = try catalog.buildingCounts()
        // shared/data/README.md: Zurich 49 buildings and 161 parts; Delft 160 buildings among 570 objects.
        #expect(counts["cjio_zurich_subset_lod2"]?.buildings == 49 && counts["cjio_zurich_subset_lod2"]?.parts == 161)
        #expect(counts["cjio_delft"]?.buildings == 160 && counts["cjio_delft"]?.parts == 0)
    }
}
