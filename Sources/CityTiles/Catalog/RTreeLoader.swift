import GRDB

/// Fills an SQLite R*Tree (a 2D `rtree(id, minX, maxX, minY, maxY)` table).
///
/// SQLite inserts R*Tree rows one at a time, rewriting nodes through SQL at each step:
/// about 8 µs a row, most of an import's time. When the new entries are at least as many
/// as those already in the tree, the tree is instead rebuilt whole, packed by
/// Sort-Tile-Recursive (Leutenegger et al., 1997), and written straight into its shadow
/// tables in SQLite's documented node format (sqlite.org/rtree.html, "Shadow Tables";
/// big-endian, float32 boxes rounded outwards). Rebuilding only when the tree at least
/// doubles keeps a run of imports linear overall; smaller batches go through plain INSERTs.
/// `rtreecheck()` verifies the result in the tests.
enum RTreeLoader {
    struct Entry {
        var id: Int64
        var minX: Float, maxX: Float, minY: Float, maxY: Float

        /// The box rounded outwards to float32, as SQLite stores it.
        init(id: Int64, _ e: Extent2D) {
            self.id = id
            minX = Self.down(e.minX); maxX = Self.up(e.maxX)
            minY = Self.down(e.minY); maxY = Self.up(e.maxY)
        }

        init(id: Int64, minX: Float, maxX: Float, minY: Float, maxY: Float) {
            self.id = id
            self.minX = minX; self.maxX = maxX; self.minY = minY; self.maxY = maxY
        }

        static func down(_ d: Double) -> Float { let f = Float(d); return Double(f) > d ? f.nextDown : f }
        static func up(_ d: Double) -> Float { let f = Float(d); return Double(f) < d ? f.nextUp : f }

        var centre: SIMD2<Float> { SIMD2((minX + maxX) / 2, (minY + maxY) / 2) }
    }

    /// SQLite's cap on entries per node.
    static let maxCells = 51
    /// Bytes per 2D entry: the 64-bit id and four float32.
    static let cellBytes = 24

    /// Adds `entries` to the R*Tree `table`.
    static func add(_ entries: [Entry], to table: String, _ db: Database) throws {
        guard !entries.isEmpty else { return }
        let existing = try Int.fetchOne(db, sql: "SELECT count(*) FROM \(table)_rowid") ?? 0
        if entries.count < existing {
            try insertRows(entries, table, db)
        } else {
            try rebuild(entries, table, db)
        }
    }

    /// Plain inserts through the virtual table, in x-then-y order of the centres (the tree
    /// then touches fewer nodes from one insert to the next).
    static func insertRows(_ entries: [Entry], _ table: String, _ db: Database) throws {
        let insert = try PreparedInsert(db, sql: "INSERT INTO \(table) (id, minX, maxX, minY, maxY) VALUES (?, ?, ?, ?, ?)")
        for e in entries.sorted(by: { ($0.centre.x, $0.centre.y) < ($1.centre.x, $1.centre.y) }) {
            insert.bind(1, e.id)
            insert.bind(2, Double(e.minX)); insert.bind(3, Double(e.maxX))
            insert.bind(4, Double(e.minY)); insert.bind(5, Double(e.maxY))
            if let rc = try insert.run(db) {
                throw DatabaseError(resultCode: ResultCode(rawValue: rc), message: "R*Tree entry \(e.id) exists already")
            }
        }
    }

    /// Removes the entries whose ids `idsSQL` selects. When they are at least half of the
    /// tree, the tree is rebuilt from the others (SQLite deletes R*Tree rows one by one, as
    /// slowly as it inserts them); otherwise nothing is done here and the rows go one by one
    /// (the catalog's trigger deletes them with their objects).
    static func removeMany(selectedBy idsSQL: String, arguments: StatementArguments, from table: String,
                           _ db: Database) throws {
        let total = try Int.fetchOne(db, sql: "SELECT count(*) FROM \(table)_rowid") ?? 0
        let removing = try Int.fetchOne(db, sql: "SELECT count(*) FROM \(table)_rowid WHERE rowid IN (\(idsSQL))",
                                        arguments: arguments) ?? 0
        guard removing > 0, removing * 2 >= total else { return }
        let kept = try entries(db, sql: "SELECT id, minX, maxX, minY, maxY FROM \(table) WHERE id NOT IN (\(idsSQL))",
                               arguments: arguments)
        try rebuild(kept, table, db, keepingExisting: false)
    }

    static func entries(_ db: Database, sql: String, arguments: StatementArguments = []) throws -> [Entry] {
        var out: [Entry] = []
        let rows = try Row.fetchCursor(db, sql: sql, arguments: arguments)
        while let r = try rows.next() {
            out.append(Entry(id: r[0], minX: Float(r[1] as Double), maxX: Float(r[2] as Double),
                             minY: Float(r[3] as Double), maxY: Float(r[4] as Double)))
        }
        return out
    }

    /// Replaces the tree by a packed one holding `entries` and, unless told otherwise, the
    /// entries it held.
    static func rebuild(_ entries: [Entry], _ table: String, _ db: Database, keepingExisting: Bool = true) throws {
        let nodeBytes = try Int.fetchOne(db, sql: "SELECT length(data) FROM \(table)_node WHERE nodeno = 1") ?? 0
        let capacity = min(maxCells, (nodeBytes - 4) / cellBytes)
        guard capacity >= 4 else { return try insertRows(entries, table, db) }
        var all = keepingExisting ? try Self.entries(db, sql: "SELECT id, minX, maxX, minY, maxY FROM \(table)") : []
        all += entries
        try db.execute(sql: "DELETE FROM \(table)_node; DELETE FROM \(table)_parent; DELETE FROM \(table)_rowid")

        let writeNode = try PreparedInsert(db, sql: "INSERT INTO \(table)_node (nodeno, data) VALUES (?, ?)")
        let writeParent = try PreparedInsert(db, sql: "INSERT INTO \(table)_parent (nodeno, parentnode) VALUES (?, ?)")
        let writeRowid = try PreparedInsert(db, sql: "INSERT INTO \(table)_rowid (rowid, nodeno) VALUES (?, ?)")
        var blob = [UInt8](repeating: 0, count: nodeBytes)
        if all.isEmpty {
            // An empty tree is an empty root leaf.
            encode([], depth: 0, into: &blob)
            writeNode.bind(1, Int64(1))
            writeNode.bind(2, blob: blob)
            _ = try writeNode.run(db)
            return
        }
        var nextNode: Int64 = 2
        var level = all
        var depth = 0
        // Leaf of each entry, written at the end in id order: appends to the rowid table's
        // B-tree instead of inserts all over it.
        var leafOf: [(id: Int64, node: Int64)] = []
        leafOf.reserveCapacity(all.count)
        while true {
            let groups = level.count <= capacity ? [level[...]] : strGroups(level, capacity)
            let isRoot = groups.count == 1
            var parents: [Entry] = []
            for group in groups {
                let nodeNo: Int64 = isRoot ? 1 : nextNode
                if !isRoot { nextNode += 1 }
                encode(group, depth: isRoot ? depth : 0, into: &blob)
                writeNode.bind(1, nodeNo)
                writeNode.bind(2, blob: blob)
                _ = try writeNode.run(db)
                for e in group {
                    if depth == 0 {
                        leafOf.append((e.id, nodeNo))
                    } else {
                        writeParent.bind(1, e.id); writeParent.bind(2, nodeNo)
                        _ = try writeParent.run(db)
                    }
                }
                var box = group.first!
                box.id = nodeNo
                for e in group.dropFirst() {
                    box.minX = min(box.minX, e.minX); box.maxX = max(box.maxX, e.maxX)
                    box.minY = min(box.minY, e.minY); box.maxY = max(box.maxY, e.maxY)
                }
                parents.append(box)
            }
            if isRoot { break }
            level = parents
            depth += 1
        }
        leafOf.sort { $0.id < $1.id }
        for (id, node) in leafOf {
            writeRowid.bind(1, id); writeRowid.bind(2, node)
            if try writeRowid.run(db) != nil {
                throw DatabaseError(resultCode: .SQLITE_CONSTRAINT, message: "R*Tree entry \(id) appears twice")
            }
        }
    }

    /// Sort-Tile-Recursive: vertical slices by centre x, each cut into runs by centre y.
    static func strGroups(_ entries: [Entry], _ capacity: Int) -> [ArraySlice<Entry>] {
        let nodes = (entries.count + capacity - 1) / capacity
        let slices = Int(Double(nodes).squareRoot().rounded(.up))
        let perSlice = slices * capacity
        let byX = entries.sorted { $0.centre.x < $1.centre.x }
        var groups: [ArraySlice<Entry>] = []
        groups.reserveCapacity(nodes)
        var start = 0
        while start < byX.count {
            let slice = byX[start..<min(start + perSlice, byX.count)].sorted { $0.centre.y < $1.centre.y }
            var k = 0
            while k < slice.count {
                groups.append(slice[k..<min(k + capacity, slice.count)])
                k += capacity
            }
            start += perSlice
        }
        return groups
    }

    /// One node in SQLite's format: depth (root only) and count as big-endian 16-bit,
    /// then per entry the big-endian 64-bit id and four big-endian float32.
    static func encode(_ group: ArraySlice<Entry>, depth: Int, into blob: inout [UInt8]) {
        for k in blob.indices { blob[k] = 0 }
        func put16(_ v: Int, _ at: Int) { blob[at] = UInt8(v >> 8 & 0xFF); blob[at + 1] = UInt8(v & 0xFF) }
        func put32(_ v: UInt32, _ at: Int) { for k in 0..<4 { blob[at + k] = UInt8(v >> (24 - 8 * UInt32(k)) & 0xFF) } }
        put16(depth, 0)
        put16(group.count, 2)
        var at = 4
        for e in group {
            let id = UInt64(bitPattern: e.id)
            put32(UInt32(id >> 32), at); put32(UInt32(id & 0xFFFF_FFFF), at + 4)
            put32(e.minX.bitPattern, at + 8); put32(e.maxX.bitPattern, at + 12)
            put32(e.minY.bitPattern, at + 16); put32(e.maxY.bitPattern, at + 20)
            at += cellBytes
        }
    }
}
