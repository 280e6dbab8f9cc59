import Districts
import Foundation
import Testing
@testable import CityTiles

@Suite struct BadTileTests {
    /// A catalog holding one good tile, to show that refusals leave it exactly as it was.
    func seededCatalog() throws -> (Catalog, [TileInfo], URL) {
        let dir = temporaryDirectory()
        let good = dir.appendingPathComponent("good.city.jsonl").path
        try DistrictGenerator(buildings: 6, seed: 3).write(to: good)
        let catalog = try Catalog(path: dir.appendingPathComponent("catalog.sqlite").path)
        _ = try catalog.importTile(path: good)
        return (catalog, try catalog.tiles(), dir)
    }

    func expectRefused(_ path: String, _ catalog: Catalog, _ before: [TileInfo], object: String? = nil, mentions: String,
                       sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            _ = try catalog.importTile(path: path)
            Issue.record("\(path) was imported but should have been refused", sourceLocation: sourceLocation)
        } catch let e as TileError {
            #expect(e.file == path, sourceLocation: sourceLocation)
            if let object { #expect(e.object == object, "\(e)", sourceLocation: sourceLocation) }
            #expect(e.description.contains(mentions), "\(e)", sourceLocation: sourceLocation)
        } catch {
            Issue.record("unexpected error \(error)", sourceLocation: sourceLocation)
        }
        #expect((try? catalog.tiles()) == before, "the catalog changed", sourceLocation: sourceLocation)
        #expect((try? catalog.records(tile: "good").count) == 6, sourceLocation: sourceLocation)
    }

    @Test(.enabled(if: SharedData.available, SharedData.skipNote))
    func sharedInvalidCorpusIsRefusedWithFileObjectAndProblem() throws {
        let (catalog, before, _) = try seededCatalog()
        let dir = "cityjson/invalid/"
        expectRefused(SharedData.path(dir + "corpus_invalid_missing_type.json"), catalog, before, mentions: "no top-level \"type\"")
        expectRefused(SharedData.path(dir + "corpus_invalid_out_of_range_vertex_index.json"), catalog, before,
                      mentions: "boundary points at vertex 99, the file has 3 vertices")
        expectRefused(SharedData.path(dir + "corpus_invalid_u64_f64_bounds.json"), catalog, before, mentions: "outside the 64-bit range")
        // A single feature pretty-printed over ten lines: the layout is named, and the
        // feature's own problem with it.
        expectRefused(SharedData.path(dir + "corpus_invalid_cityjsonfeature_root_id_unresolved.city.jsonl"), catalog, before,
                      object: "missing-main-object", mentions: "names none of its 1 CityObjects")
        expectRefused(SharedData.path(dir + "cjval_duplicate.json"), catalog, before, mentions: "duplicate key")
    }

    @Test func aSequenceFileHoldingOnePrettyPrintedValueIsNamedAsSuch() throws {
        let (catalog, before, dir) = try seededCatalog()
        let document = dir.appendingPathComponent("doc.city.jsonl").path
        try """
            {
              "type": "CityJSON", "version": "2.0",
              "CityObjects": {}, "vertices": []
            }
            """.write(toFile: document, atomically: true, encoding: .utf8)
        expectRefused(document, catalog, before, mentions: "it is a CityJSON document; name it .city.json")
        let feature = dir.appendingPathComponent("feature.city.jsonl").path
        try """
            {
              "type": "CityJSONFeature", "id": "B",
              "CityObjects": { "B": { "type": "Building" } },
              "vertices": []
            }
            """.write(toFile: feature, atomically: true, encoding: .utf8)
        expectRefused(feature, catalog, before, mentions: "one JSON value over 5 lines")
        expectRefused(feature, catalog, before, mentions: "a lone CityJSONFeature with no header line")
        // Not one value either: the JSON error of line 1 stands.
        let broken = dir.appendingPathComponent("broken.city.jsonl").path
        try "{\n\"type\": \"CityJSONFeature\",\n".write(toFile: broken, atomically: true, encoding: .utf8)
        expectRefused(broken, catalog, before, mentions: "invalid JSON: line 1")
    }

    @Test func aFileWithoutTransformIsRefusedNotReadAsMetres() throws {
        let (catalog, before, dir) = try seededCatalog()
        let object = #""B1":{"type":"Building","attributes":{},"geometry":[{"type":"MultiSurface","lod":"0","boundaries":[[[0,1,2,3]]]}]}"#
        let vertices = "[[0,0,0],[10000,0,0],[10000,8000,0],[0,8000,0]]"
        for version in ["2.0", "1.1"] {
            let document = dir.appendingPathComponent("no-transform-\(version).city.json").path
            try #"{"type":"CityJSON","version":"\#(version)","metadata":{"referenceSystem":"EPSG:7415"},"CityObjects":{\#(object)},"vertices":\#(vertices)}"#
                .write(toFile: document, atomically: true, encoding: .utf8)
            expectRefused(document, catalog, before, mentions: "no \"transform\": CityJSON \(version) requires one")
        }
        let sequence = dir.appendingPathComponent("no-transform.city.jsonl").path
        try (#"{"type":"CityJSON","version":"2.0","metadata":{"referenceSystem":"EPSG:7415"},"CityObjects":{},"vertices":[]}"# + "\n"
             + #"{"type":"CityJSONFeature","id":"B1","CityObjects":{\#(object)},"vertices":\#(vertices)}"#)
            .write(toFile: sequence, atomically: true, encoding: .utf8)
        expectRefused(sequence, catalog, before, mentions: "no \"transform\"")
        // With one, the same file is fine: 10 x 8 m at a scale of 1 mm.
        let good = dir.appendingPathComponent("with-transform.city.json").path
        try #"{"type":"CityJSON","version":"2.0","transform":{"scale":[0.001,0.001,0.001],"translate":[85000,446000,0]},"metadata":{"referenceSystem":"EPSG:7415"},"CityObjects":{\#(object)},"vertices":\#(vertices)}"#
            .write(toFile: good, atomically: true, encoding: .utf8)
        let summary = try catalog.importTile(path: good)
        #expect(summary.objects == 1)
    }

    @Test func objectLevelProblemsNameTheObject() throws {
        let (catalog, before, dir) = try seededCatalog()
        let header = #"{"type":"CityJSON","version":"2.0","transform":{"scale":[1,1,1],"translate":[0,0,0]},"CityObjects":{},"vertices":[],"metadata":{"referenceSystem":"EPSG:7415"}}"#
        let missingType = dir.appendingPathComponent("t1.city.jsonl").path
        try (header + "\n" + #"{"type":"CityJSONFeature","id":"B1","CityObjects":{"B1":{"geometry":[]}},"vertices":[]}"#).write(toFile: missingType, atomically: true, encoding: .utf8)
        expectRefused(missingType, catalog, before, object: "B1", mentions: "has no \"type\"")
        let badIndex = dir.appendingPathComponent("t2.city.jsonl").path
        try (header + "\n" + #"{"type":"CityJSONFeature","id":"B2","CityObjects":{"B2":{"type":"Building","geometry":[{"type":"MultiSurface","lod":"0","boundaries":[[[0,1,7]]]}]}},"vertices":[[0,0,0],[1,0,0],[1,1,0]]}"#).write(toFile: badIndex, atomically: true, encoding: .utf8)
        expectRefused(badIndex, catalog, before, object: "B2", mentions: "vertex 7, the file has 3 vertices")
        let unresolved = dir.appendingPathComponent("t3.city.jsonl").path
        try (header + "\n" + #"{"type":"CityJSONFeature","id":"X","CityObjects":{"B3":{"type":"Building"}},"vertices":[]}"#).write(toFile: unresolved, atomically: true, encoding: .utf8)
        expectRefused(unresolved, catalog, before, object: "X", mentions: "names none of its 1 CityObjects")
        // A good first feature then a bad one: nothing of the file lands.
        let lateFailure = dir.appendingPathComponent("t4.city.jsonl").path
        try (header + "\n" + #"{"type":"CityJSONFeature","id":"A","CityObjects":{"A":{"type":"Building"}},"vertices":[]}"# + "\n{\"type\":\"CityJSONFeature\",").write(toFile: lateFailure, atomically: true, encoding: .utf8)
        expectRefused(lateFailure, catalog, before, mentions: "line 3")
        let noCRS = dir.appendingPathComponent("t5.city.json").path
        try #"{"type":"CityJSON","version":"2.0","transform":{"scale":[1,1,1],"translate":[0,0,0]},"CityObjects":{},"vertices":[]}"#.write(toFile: noCRS, atomically: true, encoding: .utf8)
        expectRefused(noCRS, catalog, before, mentions: "--crs EPSG:N")
        let old = dir.appendingPathComponent("t6.city.json").path
        try #"{"type":"CityJSON","version":"1.0","CityObjects":{},"vertices":[]}"#.write(toFile: old, atomically: true, encoding: .utf8)
        expectRefused(old, catalog, before, mentions: "version 1.0 is not supported")
    }

    @Test func brokenFilesAreRefused() throws {
        let (catalog, before, dir) = try seededCatalog()
        let empty = dir.appendingPathComponent("empty.city.json").path
        _ = FileManager.default.createFile(atPath: empty, contents: Data())
        expectRefused(empty, catalog, before, mentions: "empty")
        let truncated = dir.appendingPathComponent("trunc.city.json").path
        try #"{"type":"CityJSON","version":"2.0","CityObjects":{"A":{"type":"Bui"#.write(toFile: truncated, atomically: true, encoding: .utf8)
        expectRefused(truncated, catalog, before, mentions: "truncated")
        let binary = dir.appendingPathComponent("bin.city.json").path
        _ = FileManager.default.createFile(atPath: binary, contents: Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13]))
        expectRefused(binary, catalog, before, mentions: "binary data")
        let wrongExtension = dir.appendingPathComponent("tile.txt").path
        try "{}".write(toFile: wrongExtension, atomically: true, encoding: .utf8)
        expectRefused(wrongExtension, catalog, before, mentions: "unknown extension")
        expectRefused(dir.appendingPathComponent("missing.city.json").path, catalog, before, mentions: "no such file")
    }

    @Test func aGigabyteOfGarbageIsRefusedQuickly() throws {
        let (catalog, before, dir) = try seededCatalog()
        let path = dir.appendingPathComponent("garbage.city.jsonl").path
        _ = FileManager.default.createFile(atPath: path, contents: Data("not json at all ".utf8))
        let h = try #require(FileHandle(forWritingAtPath: path))
        try h.truncate(atOffset: 1 << 30)   // sparse: no disk used
        try h.close()
        expectRefused(path, catalog, before, mentions: "not a CityJSON text")
        try? FileManager.default.removeItem(atPath: path)
    }
}
