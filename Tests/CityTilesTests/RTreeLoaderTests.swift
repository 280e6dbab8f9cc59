import Foundation
import GRDB
import Testing
@testable import CityTiles
import SceneCore

/// The packed R*Tree written into SQLite's shadow tables must be a tree SQLite itself
/// accepts (`rtreecheck`) and answers queries exactly like one built by INSERTs.
@Suite struct RTreeLoaderTests {
    func makeTable() throws -> DatabaseQueue {
        let db = try DatabaseQueue()
        try db.write { try $0.execute(sql: "CREATE VIRTUAL TABLE box USING rtree(id, minX, maxX, minY, maxY)") }
        return db
    }

    func randomExtents(_ n: Int, firstId: Int64, seed: UInt64) -> [(Int64, Extent2D)] {
        var rng = SeededGenerator(seed: seed)
        return (0..<n).map { k in
            let x = 85_000 + Double.random(in: 0..<1, using: &rng) * 15_000, y = 446_000 + Double.random(in: 0..<1, using: &rng) * 10_000
            return (firstId + Int64(k), Extent2D(minX: x, minY: y, maxX: x + 1 + Double.random(in: 0..<1, using: &rng) * 40, maxY: y + 1 + Double.random(in: 0..<1, using: &rng) * 40))
        }
    }

    func check(_ db: DatabaseQueue, against all: [(Int64, Extent2D)], seed: UInt64) throws {
        try db.read { db in
            #expect(try String.fetchOne(db, sql: "SELECT rtreecheck('box')") == "ok")
            #expect(try Int.fetchOne(db, sql: "SELECT count(*) FROM box") == all.count)
            var rng = SeededGenerator(seed: seed)
            for _ in 0..<50 {
                let x = 85_000 + Double.random(in: 0..<1, using: &rng) * 15_000, y = 446_000 + Double.random(in: 0..<1, using: &rng) * 10_000, w = Double.random(in: 0..<1, using: &rng) * 800
                let q = Extent2D(minX: x, minY: y, maxX: x + w, maxY: y + w)
                let got = try Int64.fetchSet(db, sql: "SELECT id FROM box WHERE maxX >= ? AND minX <= ? AND maxY >= ? AND minY <= ?",
                                             arguments: [q.minX, q.maxX, q.minY, q.maxY])
                let want = Set(all.filter { $0.1.intersects(q) }.map(\.0))
                // Boxes are stored rounded outwards, so the tree may add a box that only
                // touches the query after rounding, never lose one.
                #expect(want.isSubset(of: got))
                #expect(got.subtracting(want).count <= 1)
            }
        }
    }

    @Test(arguments: [1, 51, 52, 2_000, 30_000])
    func packedTreeIsValidAndAnswersLikeBruteForce(_ n: Int) throws {
        let db = try makeTable()
        let all = randomExtents(n, firstId: 1, seed: UInt64(n))
        try db.write { db in try RTreeLoader.rebuild(all.map { RTreeLoader.Entry(id: $0.0, $0.1) }, "box", db) }
        try check(db, against: all, seed: 7)
    }

    @Test func smallBatchesInsertAndLargeOnesRebuildKeepingWhatWasThere() throws {
        let db = try makeTable()
        var all = randomExtents(5_000, firstId: 1, seed: 1)
        try db.write { db in try RTreeLoader.add(all.map { RTreeLoader.Entry(id: $0.0, $0.1) }, to: "box", db) }
        // Fewer than present: row by row through the virtual table.
        let small = randomExtents(300, firstId: 10_000, seed: 2)
        try db.write { db in try RTreeLoader.add(small.map { RTreeLoader.Entry(id: $0.0, $0.1) }, to: "box", db) }
        all += small
        try check(db, against: all, seed: 3)
        // More than present: rebuilt whole, the earlier entries included.
        let large = randomExtents(8_000, firstId: 20_000, seed: 4)
        try db.write { db in try RTreeLoader.add(large.map { RTreeLoader.Entry(id: $0.0, $0.1) }, to: "box", db) }
        all += large
        try check(db, against: all, seed: 5)
        // SQLite keeps maintaining the packed tree: delete a third, insert some more.
        try db.write { db in try db.execute(sql: "DELETE FROM box WHERE id % 3 = 0") }
        all.removeAll { $0.0 % 3 == 0 }
        try check(db, against: all, seed: 6)
    }

    @Test func removingMostOfTheTreeRebuildsItFromTheRest() throws {
        let db = try makeTable()
        var all = randomExtents(3_000, firstId: 1, seed: 9)
        try db.write { db in try RTreeLoader.add(all.map { RTreeLoader.Entry(id: $0.0, $0.1) }, to: "box", db) }
        // A third: left to row-by-row deletes (nothing happens here).
        try db.write { db in try RTreeLoader.removeMany(selectedBy: "SELECT id FROM box WHERE id <= 1000", arguments: [], from: "box", db) }
        try check(db, against: all, seed: 10)
        // Two thirds: rebuilt from the rest.
        try db.write { db in try RTreeLoader.removeMany(selectedBy: "SELECT id FROM box WHERE id > ?", arguments: [1_000], from: "box", db) }
        all.removeAll { $0.0 > 1_000 }
        try check(db, against: all, seed: 11)
        // All of it: an empty tree that still takes inserts.
        try db.write { db in try RTreeLoader.removeMany(selectedBy: "SELECT id FROM box", arguments: [], from: "box", db) }
        try check(db, against: [], seed: 12)
        let more = randomExtents(10, firstId: 50_000, seed: 13)
        try db.write { db in try RTreeLoader.add(more.map { RTreeLoader.Entry(id: $0.0, $0.1) }, to: "box", db) }
        try check(db, against: more, seed: 14)
    }

    @Test func aDuplicateIdIsRefused() throws {
        let db = try makeTable()
        let e = Extent2D(minX: 0, minY: 0, maxX: 1, maxY: 1)
        #expect(throws: DatabaseError.self) {
            try db.write { db in try RTreeLoader.rebuild([RTreeLoader.Entry(id: 4, e), RTreeLoader.Entry(id: 4, e)], "box", db) }
        }
        let count = try db.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM box") }
        #expect(count == 0)
    }

    @Test func boxesAreRoundedOutwards() {
        let e = Extent2D(minX: 85_017.0213, minY: 446_017.0381, maxX: 85_044.9977, maxY: 446_043.8339)
        let r = RTreeLoader.Entry(id: 1, e)
        #expect(Double(r.minX) <= e.minX && Double(r.maxX) >= e.maxX)
        #expect(Double(r.minY) <= e.minY && Double(r.maxY) >= e.maxY)
        #expect(e.maxX - Double(r.maxX) > -0.01 && Double(r.minX) - e.minX > -0.01)
    }
}
