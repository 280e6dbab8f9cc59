import GRDB
import GRDBSQLite

/// An INSERT prepared once and run many times, binding values straight through the
/// SQLite C API: no argument array is built per row (the bulk of GRDB's cost per row
/// in an import of 100k objects).
struct PreparedInsert {
    let statement: Statement
    var handle: OpaquePointer { statement.sqliteStatement }
    /// SQLITE_TRANSIENT: SQLite copies the bytes before the call returns.
    @inline(__always) static var transient: sqlite3_destructor_type { unsafeBitCast(-1, to: sqlite3_destructor_type.self) }

    init(_ db: Database, sql: String) throws {
        statement = try db.makeStatement(sql: sql)
    }

    func bind(_ i: Int32, _ v: Int64) { sqlite3_bind_int64(handle, i, v) }
    func bind(_ i: Int32, _ v: Double) { sqlite3_bind_double(handle, i, v) }
    func bind(_ i: Int32, _ v: Double?) {
        if let v { sqlite3_bind_double(handle, i, v) } else { sqlite3_bind_null(handle, i) }
    }
    func bind(_ i: Int32, _ v: String?) {
        guard var v else { sqlite3_bind_null(handle, i); return }
        v.withUTF8 { b in _ = sqlite3_bind_text(handle, i, b.baseAddress, Int32(b.count), Self.transient) }
    }
    func bind(_ i: Int32, blob: [UInt8]) {
        blob.withUnsafeBytes { b in _ = sqlite3_bind_blob(handle, i, b.baseAddress, Int32(b.count), Self.transient) }
    }

    /// Runs the statement with the values bound since the last run; the result code on
    /// failure (SQLITE_CONSTRAINT for a duplicate key), nil on success.
    func run(_ db: Database) throws -> Int32? {
        let rc = sqlite3_step(handle)
        sqlite3_reset(handle)
        if rc == SQLITE_DONE { return nil }
        if rc & 0xFF == SQLITE_CONSTRAINT { return rc }
        throw DatabaseError(resultCode: ResultCode(rawValue: rc), message: String(cString: sqlite3_errmsg(db.sqliteConnection)),
                            sql: statement.sql)
    }
}
