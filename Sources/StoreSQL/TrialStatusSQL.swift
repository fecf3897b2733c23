import Sweep

/// What both SQL stores spell alike. Sweep knows no SQL; this small target is the one place the
/// SQLite and PostgreSQL stores share.
extension TrialStatus {
    /// The status as an SQL string literal, `'running'`: the stores write statuses only from here.
    public var sql: String { "'\(rawValue)'" }

    /// `('pending', 'running', ...)`: every status, for a CHECK constraint or an `IN`.
    public static func sqlList(_ statuses: [TrialStatus] = allCases) -> String {
        "(" + statuses.map(\.sql).joined(separator: ", ") + ")"
    }
}
