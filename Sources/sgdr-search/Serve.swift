import App
import ArgumentParser
import Dashboard
import Foundation
import Sweep

struct Serve: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "A live dashboard of a sweep: a read-only web page and JSON API that update while the sweep runs (docs/DASHBOARD.md).")

    @OptionGroup var database: DatabaseArgument

    @Option(parsing: .unconditional, help: ArgumentHelp("The port to listen on (0: any free port; the one chosen is printed).", valueName: "n"))
    var port = 8080

    @Option(help: ArgumentHelp("The address to listen on (default 127.0.0.1: this machine only; 0.0.0.0 or :: for every interface).",
                               valueName: "addr"))
    var host = "127.0.0.1"

    @Option(parsing: .unconditional,
            help: ArgumentHelp("SGDR configurations plotted beside the baselines, as report --top (0 to 50).", valueName: "k"))
    var top = 5

    func run() throws {
        guard (0...65535).contains(port) else {
            throw fail(OptionProblem(option: "--port", message: "must be an integer in [0, 65535] (got \(port))"))
        }
        guard (0...50).contains(top) else {
            throw fail(OptionProblem(option: "--top", message: "must be an integer in [0, 50] (got \(top))"))
        }
        guard Self.isAddress(host) else {
            throw fail(OptionProblem(option: "--host", message: "must be an IPv4 or IPv6 address such as 127.0.0.1, 0.0.0.0 or ::1 (got \"\(host)\")"))
        }
        let location = database.location
        // PostgreSQL: every transaction of the session is read-only (the server refuses writes).
        let readOnly = StoreLocation(db: location.isPostgres ? Self.readOnlyURL(location.db) : location.db, sweep: location.sweep)
        let data = DashboardData(db: location.display, openStore: { path, _ in
            // A server that goes down fails the read under way within seconds (the next poll
            // opens the store again), not after the workers' minute of reconnecting.
            try readOnly.open(path: path, access: .read, reconnectSeconds: 2)
        })
        try exitWith(Dashboard.serve(data: data, options: Dashboard.Options(host: host, port: port, top: top), console: .standard))
    }

    /// A numeric IPv4 or IPv6 address (no name lookups: what is bound is what was asked).
    static func isAddress(_ text: String) -> Bool {
        var v4 = in_addr(), v6 = in6_addr()
        return inet_pton(AF_INET, text, &v4) == 1 || inet_pton(AF_INET6, text, &v6) == 1
    }

    /// `url` with libpq's `options=-c default_transaction_read_only=on` added.
    static func readOnlyURL(_ url: String) -> String {
        url + (url.contains("?") ? "&" : "?") + "options=-c%20default_transaction_read_only%3Don"
    }
}
