import Districts
import Crypto
import Foundation
import GRDB
import Testing
@testable import CityTiles
import SceneCore

/// Parsing on worker threads must change nothing but the speed: the same rows, the same
/// roll-up of parts into parents (which may land in different pieces), the same errors.
@Suite struct ParallelImportTests {
    /// Tiny pieces, so that even the small shared files are cut into many.
    static let pieceBytes = 700

    /// Imported whole on one thread, then in pieces on two workers; also in pieces on one
    /// thread, which must agree too.
    func importBoth(_ path: String) throws -> (sequential: [CityObjectRecord], parallel: [CityObjectRecord]) {
        let name = Catalog.tileName(for: path)
        let one = try Catalog(), two = try Catalog(), inline = try Catalog()
        // cjio_multi_lod names no reference system (its coordinates are RD); --crs is for it alone.
        let crs = path.hasSuffix("cjio_multi_lod.city.json") ? 7415 : nil
        try one.importTile(path: path, crsOverride: crs, workers: 0, pieceBytes: Self.whole)
        try two.importTile(path: path, crsOverride: crs, workers: 2, pieceBytes: Self.pieceBytes)
        try inline.importTile(path: path, crsOverride: crs, workers: 0, pieceBytes: Self.pieceBytes)
        let inPieces = try inline.records(tile: name).sorted { $0.id < $1.id }
        let parallel = try two.records(tile: name).sorted { $0.id < $1.id }
        #expect(inPieces == parallel)
        return (try one.records(tile: name).sorted { $0.id < $1.id }, parallel)
    }

    /// Pieces so large that any test file is read whole.
    static let whole = 1 << 30

    func error(importing path: String, workers: Int) -> String? {
        guard let catalog = try? Catalog() else { return "no catalog" }
        do {
            try catalog.importTile(path: path, workers: workers, pieceBytes: workers == 0 ? Self.whole : Self.pieceBytes)
            return nil
        } catch {
            // Nothing of a refused file may stay behind.
            #expect((try? catalog.tiles().isEmpty) == true)
            return "\(error)"
        }
    }

    @Test(.enabled(if: SharedData.available, SharedData.skipNote),
          arguments: ["3dbag_b2.city.json", "cjio_zurich_subset_lod2.city.json", "cjio_delft.city.json", "cjio_multi_lod.city.json",
                      "3dbag_delft_subset.city.jsonl", "3dbag_b2.city.jsonl"])
    func sharedTilesGiveTheSameRecordsOnWorkers(_ file: String) throws {
        let (sequential, parallel) = try importBoth(SharedData.path("cityjson/" + file))
        #expect(!sequential.isEmpty)
        #expect(sequential == parallel)
        // The roll-up happened in both: parts under a parent are no obstacles of their own.
        let parts = parallel.filter { $0.type == "BuildingPart" && $0.parent != nil }
        #expect(parts.allSatisfy { $0.role == .part })
    }

    @Test func generatedDistrictGivesTheSameRecordsOnWorkers() throws {
        let dir = temporaryDirectory()
        let gen = DistrictGenerator(buildings: 300, seed: 5)
        let seq = dir.appendingPathComponent("gen.city.jsonl").path, doc = dir.appendingPathComponent("gen.city.json").path
        try gen.write(to: seq)
        try gen.writeDocument(to: doc)
        let a = try importBoth(seq), b = try importBoth(doc)
        #expect(a.sequential.count == 300 && a.sequential == a.parallel)
        #expect(b.sequential == b.parallel && b.parallel == a.parallel)
    }

    @Test(.enabled(if: SharedData.available, SharedData.skipNote))
    func sharedInvalidFilesGiveTheSameErrorsOnWorkers() throws {
        let dir = SharedData.path("cityjson/invalid")
        for file in try FileManager.default.contentsOfDirectory(atPath: dir) {
            let path = dir + "/" + file
            let sequential = error(importing: path, workers: 0)
            #expect(sequential != nil)
            #expect(error(importing: path, workers: 2) == sequential, "\(file)")
        }
    }

    @Test func brokenDocumentsGiveTheSameErrorsOnWorkers() throws {
        let dir = temporaryDirectory()
        let doc = dir.appendingPathComponent("d.city.json").path
        try DistrictGenerator(buildings: 60, seed: 8).writeDocument(to: doc)
        let text = try String(contentsOfFile: doc, encoding: .utf8)
        let late = "GEN.8.50"
        let cases: [(String, String, String)] = [
            ("truncated", String(text.prefix(text.count * 2 / 3)), "truncated"),
            ("bad-index", text.replacingOccurrences(of: "\"\(late)\":", with: "\"BAD\":{\"type\":\"Building\",\"geometry\":[{\"type\":\"MultiPoint\",\"lod\":\"0\",\"boundaries\":[99999]}]},\"\(late)\":"), "vertex 99999"),
            ("duplicate-id", text.replacingOccurrences(of: "\"GEN.8.55\":", with: "\"GEN.8.3\":"), "duplicate key \"GEN.8.3\""),
            ("no-type", text.replacingOccurrences(of: "\"GEN.8.40\":{\"type\":\"Building\",", with: "\"GEN.8.40\":{"), "has no \"type\""),
            ("float-vertex", text.replacingOccurrences(of: "\"vertices\":[[", with: "\"vertices\":[[0.5,0,0],["), "not an integer"),
            ("no-crs", text.replacingOccurrences(of: "\"referenceSystem\"", with: "\"referenceSystem_\""), "--crs EPSG:N"),
            ("bad-json-late", text.replacingOccurrences(of: "\"GEN.8.45\":{\"type\":\"Building\",", with: "\"GEN.8.45\":{\"type\":\"Building\",,"), "GEN.8.45"),
        ]
        for (name, broken, mentions) in cases {
            #expect(broken != text, "\(name) changed nothing")
            let path = dir.appendingPathComponent("\(name).city.json").path
            try broken.write(toFile: path, atomically: true, encoding: .utf8)
            let sequential = error(importing: path, workers: 0)
            #expect(sequential?.contains(mentions) == true, "\(name): \(sequential ?? "imported")")
            #expect(error(importing: path, workers: 2) == sequential, "\(name)")
        }
    }

    @Test func brokenSequencesNameTheSameLineOnWorkers() throws {
        let dir = temporaryDirectory()
        let seq = dir.appendingPathComponent("s.city.jsonl").path
        try DistrictGenerator(buildings: 80, seed: 2).write(to: seq)
        var lines = try String(contentsOfFile: seq, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        lines[70] = String(lines[70].dropLast(9))            // line 71 truncated
        lines[75] = lines[3]                                 // line 76 repeats line 4's id, after the error
        let path = dir.appendingPathComponent("broken.city.jsonl").path
        try lines.joined(separator: "\n").write(toFile: path, atomically: true, encoding: .utf8)
        let sequential = error(importing: path, workers: 0)
        #expect(sequential?.contains("line 71") == true, "\(sequential ?? "imported")")
        #expect(error(importing: path, workers: 2) == sequential)
        // With the id repeated before the broken line, the repeat is what is reported.
        lines[40] = lines[3]
        try lines.joined(separator: "\n").write(toFile: path, atomically: true, encoding: .utf8)
        let repeated = error(importing: path, workers: 0)
        #expect(repeated?.contains("line 41") == true, "\(repeated ?? "imported")")
        #expect(error(importing: path, workers: 2) == repeated)
    }

    /// Whatever a damaged file holds, workers and one thread agree: the same records, or
    /// the same error.
    @Test(arguments: ["m.city.json", "m.city.jsonl"])
    func randomDamageGivesTheSameOutcomeOnWorkers(_ name: String) throws {
        let dir = temporaryDirectory()
        let path = dir.appendingPathComponent(name).path
        let gen = DistrictGenerator(buildings: 12, seed: 6)
        if name.hasSuffix(".json") { try gen.writeDocument(to: path) } else { try gen.write(to: path) }
        let original = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        var rng = SeededGenerator(seed: 77)
        let alphabet = Array("{}[],:\"\\0123456789.-e \nab".utf8)
        func outcome(_ workers: Int) -> String {
            do {
                let catalog = try Catalog()
                try catalog.importTile(path: path, crsOverride: 7415, workers: workers, pieceBytes: workers == 0 ? Self.whole : 300)
                return "\(try catalog.records(tile: "m").sorted { $0.id < $1.id })"
            } catch {
                return "\(error)"
            }
        }
        for _ in 0..<80 {
            var bytes = original
            for _ in 0..<Int.random(in: 1...3, using: &rng) {
                let at = Int.random(in: 0..<bytes.count, using: &rng)
                switch Int.random(in: 0..<3, using: &rng) {
                case 0: bytes[at] = alphabet.randomElement(using: &rng)!
                case 1: bytes.remove(at: at)
                default: bytes.insert(alphabet.randomElement(using: &rng)!, at: at)
                }
            }
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            let one = outcome(0)
            #expect(outcome(2) == one, "\(String(decoding: bytes, as: UTF8.self).prefix(300))")
        }
    }

    @Test func digestIsTheFilesSHA256WhenWorkersHashIt() throws {
        let dir = temporaryDirectory()
        for name in ["h.city.json", "h.city.jsonl"] {
            let path = dir.appendingPathComponent(name).path
            let gen = DistrictGenerator(buildings: 90, seed: 12)
            if name.hasSuffix(".json") { try gen.writeDocument(to: path) } else { try gen.write(to: path) }
            let catalog = try Catalog()
            try catalog.importTile(path: path, workers: 2, pieceBytes: Self.pieceBytes)
            let want = SHA256.hash(data: try Data(contentsOf: URL(fileURLWithPath: path))).map { String(format: "%02x", $0) }.joined()
            #expect(try catalog.tile(named: "h")?.sha256 == want, "\(name)")
        }
    }

    @Test func newCatalogsUseLargePagesAndOldOnesKeepTheirs() throws {
        let dir = temporaryDirectory()
        let path = dir.appendingPathComponent("new.sqlite").path
        _ = try Catalog(path: path)
        #expect(try DatabaseQueue(path: path).read { try Int.fetchOne($0, sql: "PRAGMA page_size") } == Catalog.pageSize)
        // A catalog made with 4 KB pages (an earlier version) opens and takes imports as it is.
        let old = dir.appendingPathComponent("old.sqlite").path
        let queue = try DatabaseQueue(path: old)
        try queue.writeWithoutTransaction { db in
            try db.execute(sql: "PRAGMA page_size = 4096")
            try db.execute(sql: "CREATE TABLE t(x)")
            try db.execute(sql: "DROP TABLE t")
        }
        try queue.close()
        let catalog = try Catalog(path: old)
        let tile = dir.appendingPathComponent("p.city.jsonl").path
        try DistrictGenerator(buildings: 40, seed: 31).write(to: tile)
        try catalog.importTile(path: tile)
        #expect(try catalog.records(tile: "p").count == 40)
        #expect(try catalog.integrityProblems().isEmpty)
        #expect(try DatabaseQueue(path: old).read { try Int.fetchOne($0, sql: "PRAGMA page_size") } == 4096)
    }

    @Test func catalogStaysValidAfterImportsOnWorkers() throws {
        let dir = temporaryDirectory()
        let catalog = try Catalog(path: dir.appendingPathComponent("c.sqlite").path)
        for (k, n) in [200, 30, 500].enumerated() {
            let path = dir.appendingPathComponent("t\(k).city.jsonl").path
            try DistrictGenerator(buildings: n, seed: UInt64(k + 20)).write(to: path)
            try catalog.importTile(path: path, workers: 2, pieceBytes: Self.pieceBytes)
        }
        #expect(try catalog.integrityProblems().isEmpty)
        #expect(try catalog.objects(in: Extent2D(minX: 0, minY: 0, maxX: 1e7, maxY: 1e7), limit: 10_000).count == 730)
        // A small tile leaves row by row; one holding most of the tree has the tree rebuilt
        // from what stays.
        try catalog.remove(tile: "t1")
        #expect(try catalog.integrityProblems().isEmpty)
        #expect(try catalog.objects(in: Extent2D(minX: 0, minY: 0, maxX: 1e7, maxY: 1e7), limit: 10_000).count == 700)
        let kept = try catalog.records(tile: "t0")
        try catalog.remove(tile: "t2")
        #expect(try catalog.integrityProblems().isEmpty)
        let left = try catalog.objects(in: Extent2D(minX: 0, minY: 0, maxX: 1e7, maxY: 1e7), limit: 10_000)
        #expect(left.count == 200 && Set(left.map(\.objectId)) == Set(kept.map(\.id)))
        // Each kept object is still found by a box around it alone.
        for r in kept.prefix(20) {
            let e = try #require(r.extent)
            #expect(try catalog.objects(in: e).contains { $0.objectId == r.id })
        }
    }
}
