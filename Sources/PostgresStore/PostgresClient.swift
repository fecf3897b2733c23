import CLibPQ
import Foundation

// The only file that calls libpq. Synchronous on purpose: the sweep's worker threads block on
// training anyway, and a store call is one short transaction.

/// A failure of libpq, already reduced to one line without credentials or SQL text.
enum PGFailure: Error {
    /// The connection could not be opened (`message` is one line: wrong password, no such database,
    /// server unreachable, ...). `transient` when retrying later may succeed (the server is
    /// starting up, shutting down, or not listening).
    case connect(message: String, transient: Bool)
    /// The connection broke during a statement (server restart, network): retry on a new one.
    case connectionLost(message: String)
    /// The server refused a statement: its SQLSTATE and primary message.
    case statement(sqlState: String, message: String)

    var message: String {
        switch self {
        case .connect(let m, _), .connectionLost(let m), .statement(_, let m): m
        }
    }
}

/// A statement's rows in text format.
struct PGRows {
    var columns: [String: Int]
    var values: [[String?]]
    /// The affected row count of an INSERT/UPDATE/DELETE (0 otherwise).
    var affected: Int

    var count: Int { values.count }

    func text(_ row: Int, _ column: String) -> String? {
        guard let c = columns[column] else { return nil }
        return values[row][c]
    }
}

/// One libpq connection. Not thread-safe: a pool hands it to one thread at a time.
final class PGConnection {
    private var conn: OpaquePointer?

    /// Connects with a `postgresql://` URL (or any libpq connection string); what the URL leaves
    /// out comes from libpq's environment variables (PGHOST, PGUSER, PGPASSWORD, ...) and
    /// `~/.pgpass`, as for `psql`.
    init(url: String, connectTimeout: Int) throws {
        // Our defaults first, the URL last: with expand_dbname the URL's own settings win.
        let keys = ["connect_timeout", "fallback_application_name", "dbname"]
        let values = [String(connectTimeout), "sgdr-search", url]
        let c = Self.withCStrings(keys) { k in
            Self.withCStrings(values) { v in PQconnectdbParams(k, v, 1) }
        }
        guard let c else { throw PGFailure.connect(message: "out of memory", transient: false) }
        if PQstatus(c) != CONNECTION_OK {
            let raw = String(cString: PQerrorMessage(c))
            PQfinish(c)
            throw PGFailure.connect(message: Self.oneLine(connectError: raw), transient: Self.isTransient(raw))
        }
        conn = c
        // Quiet notices ("relation already exists, skipping") instead of libpq's stderr default.
        PQsetNoticeProcessor(c, { _, _ in }, nil)
    }

    deinit { close() }

    func close() {
        if let c = conn { PQfinish(c) }
        conn = nil
    }

    var isBroken: Bool { conn.map { PQstatus($0) != CONNECTION_OK } ?? true }

    /// The server's major version, e.g. 15.
    var serverVersion: Int { conn.map { Int(PQserverVersion($0)) / 10000 } ?? 0 }

    /// Runs one statement with text parameters ($1, $2, ...; nil is NULL).
    @discardableResult
    func exec(_ sql: String, _ parameters: [String?] = []) throws -> PGRows {
        guard let c = conn else { throw PGFailure.connectionLost(message: "the connection is closed") }
        let result: OpaquePointer? = {
            if parameters.isEmpty { return PQexec(c, sql) }
            var buffers: [UnsafeMutablePointer<CChar>?] = parameters.map { $0.map { strdup($0) } ?? nil }
            defer { for b in buffers { free(b) } }
            return buffers.withUnsafeMutableBufferPointer { p in
                p.baseAddress!.withMemoryRebound(to: UnsafePointer<CChar>?.self, capacity: p.count) { values in
                    PQexecParams(c, sql, Int32(parameters.count), nil, values, nil, nil, 0)
                }
            }
        }()
        defer { PQclear(result) }
        // No result at all: libpq could not send the statement (out of memory, or the
        // connection is gone), which its error message says.
        guard let r = result else {
            throw PGFailure.connectionLost(message: Self.oneLine(connectError: String(cString: PQerrorMessage(c))))
        }
        return try rows(of: r, c)
    }

    /// Runs several `;`-separated statements (no parameters: values go in as `literal`s) in one
    /// round trip, and returns each statement's rows. On the first failure the server skips the
    /// rest (and an open transaction is aborted): that failure is thrown.
    func batch(_ sql: String) throws -> [PGRows] {
        guard let c = conn else { throw PGFailure.connectionLost(message: "the connection is closed") }
        guard PQsendQuery(c, sql) == 1 else {
            throw PGFailure.connectionLost(message: Self.oneLine(connectError: String(cString: PQerrorMessage(c))))
        }
        var results: [PGRows] = []
        var failure: PGFailure?
        while let r = PQgetResult(c) {
            defer { PQclear(r) }
            if failure != nil { continue }
            do { results.append(try rows(of: r, c)) } catch let f as PGFailure { failure = f }
        }
        if let failure { throw failure }
        if PQstatus(c) != CONNECTION_OK {
            throw PGFailure.connectionLost(message: Self.oneLine(connectError: String(cString: PQerrorMessage(c))))
        }
        return results
    }

    /// `value` as an SQL string literal (quoted and escaped by libpq), or NULL.
    func literal(_ value: String?) -> String {
        guard let value else { return "NULL" }
        guard let c = conn, let escaped = PQescapeLiteral(c, value, value.utf8.count) else {
            return "'" + value.replacingOccurrences(of: "'", with: "''") + "'"
        }
        defer { PQfreemem(escaped) }
        return String(cString: escaped)
    }

    private func rows(of r: OpaquePointer, _ c: OpaquePointer) throws -> PGRows {
        switch PQresultStatus(r) {
        case PGRES_COMMAND_OK, PGRES_TUPLES_OK:
            let rows = Int(PQntuples(r)), fields = Int(PQnfields(r))
            var columns: [String: Int] = [:]
            for f in 0..<fields { columns[String(cString: PQfname(r, Int32(f)))] = f }
            var values: [[String?]] = []
            values.reserveCapacity(rows)
            for i in 0..<rows {
                values.append((0..<fields).map { f in
                    PQgetisnull(r, Int32(i), Int32(f)) != 0 ? nil : String(cString: PQgetvalue(r, Int32(i), Int32(f)))
                })
            }
            return PGRows(columns: columns, values: values, affected: Int(String(cString: PQcmdTuples(r))) ?? 0)
        default:
            let sqlState = PQresultErrorField(r, Int32(UInt8(ascii: "C"))).map { String(cString: $0) }
            if PQstatus(c) != CONNECTION_OK || sqlState == nil || Self.isConnectionState(sqlState!) {
                throw PGFailure.connectionLost(message: Self.oneLine(connectError: String(cString: PQerrorMessage(c))))
            }
            let primary = PQresultErrorField(r, Int32(UInt8(ascii: "M"))).map { String(cString: $0) }
            throw PGFailure.statement(sqlState: sqlState!, message: Self.collapse(primary ?? "error \(sqlState!)"))
        }
    }

    // MARK: Connection strings

    /// The settings of a connection string or URL as libpq reads them (nil when malformed, with
    /// libpq's reason in one line).
    static func parse(_ url: String) -> Result<[String: String], PGFailure> {
        var error: UnsafeMutablePointer<CChar>? = nil
        guard let options = PQconninfoParse(url, &error) else {
            let reason = error.map { String(cString: $0) } ?? "malformed connection URL"
            if let error { PQfreemem(error) }
            return .failure(.connect(message: collapse(reason), transient: false))
        }
        defer { PQconninfoFree(options) }
        var settings: [String: String] = [:]
        var p = options
        while let keyword = p.pointee.keyword {
            if let value = p.pointee.val { settings[String(cString: keyword)] = String(cString: value) }
            p += 1
        }
        return .success(settings)
    }

    // MARK: Messages

    /// libpq's connection error (several lines, "connection to server at ... failed: FATAL: ...")
    /// as one line, without the server's address (the caller names the database).
    static func oneLine(connectError raw: String) -> String {
        let lines = raw.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty }
        // The last "failed:" line is the most specific; strip libpq's prefixes.
        var text = lines.last { $0.contains("failed:") } ?? lines.first ?? "connection failed"
        if let range = text.range(of: "failed: ") { text = String(text[range.upperBound...]) }
        var fromServer = false
        for prefix in ["FATAL:", "ERROR:"] where text.hasPrefix(prefix) {
            text = String(text.dropFirst(prefix.count))
            fromServer = true
        }
        // Without the server's word, the socket failed: say so (libpq's "Is the server
        // running ...?" hint is dropped).
        return fromServer ? collapse(text) : "cannot reach the server: " + collapse(text)
    }

    static func collapse(_ text: String) -> String {
        text.split(whereSeparator: { $0.isWhitespace }).joined(separator: " ")
    }

    /// Connection errors worth retrying: the server is not (yet, or no longer) accepting.
    static func isTransient(_ raw: String) -> Bool {
        let text = raw.lowercased()
        return ["connection refused", "the database system is starting up", "the database system is shutting down",
                "the database system is in recovery mode", "server closed the connection",
                "no such file or directory", "timeout expired", "terminating connection"]
            .contains { text.contains($0) }
    }

    /// SQLSTATEs that mean the connection, not the statement, failed: class 08 (connection
    /// exception) and 57P01-57P03 (admin shutdown, crash shutdown, cannot connect now).
    static func isConnectionState(_ state: String) -> Bool {
        state.hasPrefix("08") || state == "57P01" || state == "57P02" || state == "57P03"
    }

    private static func withCStrings<T>(_ strings: [String], _ body: (UnsafePointer<UnsafePointer<CChar>?>) -> T) -> T {
        var pointers: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) } + [nil]
        defer { for p in pointers { free(p) } }
        return pointers.withUnsafeMutableBufferPointer { p in
            p.baseAddress!.withMemoryRebound(to: UnsafePointer<CChar>?.self, capacity: p.count) { body($0) }
        }
    }
}
