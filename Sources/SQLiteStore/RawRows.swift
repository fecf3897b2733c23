import GRDB
import GRDBSQLite

/// A prepared statement's rows read straight through SQLite's C API, for the reads that must
/// be fast on a million rows (the trials' briefs and lines: GRDB's `Row` costs about three times as much).
/// The only file of the store that calls SQLite's C functions.
struct RawRows {
    private let statement: Statement
    private let connection: SQLiteConnection?
    private var s: SQLiteStatement { statement.sqliteStatement }

    init(_ statement: Statement, in db: Database) {
        self.statement = statement
        connection = db.sqliteConnection
    }

    /// Steps to the next row: false after the last. The statement is reset by `reset()`.
    func next() throws -> Bool {
        let rc = sqlite3_step(s)
        if rc == SQLITE_DONE { return false }
        guard rc == SQLITE_ROW else {
            throw DatabaseError(resultCode: ResultCode(rawValue: rc), message: String(cString: sqlite3_errmsg(connection)))
        }
        return true
    }

    func reset() { sqlite3_reset(s) }

    func int(_ column: Int32) -> Int { Int(sqlite3_column_int64(s, column)) }
    func real(_ column: Int32) -> Double? {
        sqlite3_column_type(s, column) == SQLITE_NULL ? nil : sqlite3_column_double(s, column)
    }
    func optionalInt(_ column: Int32) -> Int? {
        sqlite3_column_type(s, column) == SQLITE_NULL ? nil : Int(sqlite3_column_int64(s, column))
    }
    /// A text column's UTF-8 bytes (empty for NULL), valid until the next step.
    func bytes(_ column: Int32) -> UnsafeBufferPointer<UInt8> {
        guard let p = sqlite3_column_text(s, column) else { return UnsafeBufferPointer(start: nil, count: 0) }
        return UnsafeBufferPointer(start: p, count: Int(sqlite3_column_bytes(s, column)))
    }
    func text(_ column: Int32) -> String? { sqlite3_column_text(s, column).map { String(cString: $0) } }
}
