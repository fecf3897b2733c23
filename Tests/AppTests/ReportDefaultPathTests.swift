import App
import XCTest

/// Where `sgdr-search report DB` writes its page without `--out` (issue 22: a PostgreSQL sweep
/// named like an SQLite one silently overwrote the SQLite sweep's `runs/NAME.html`). The paths
/// below are written by hand from the README's rule; no server is needed, since the path comes
/// from the URL as given.
final class ReportDefaultPathTests: XCTestCase {
    func path(_ database: String, sweep: String = "fashion-quick") -> String {
        SweepCommands.defaultReportPath(sweep: sweep, database: database)
    }

    func testAnSQLiteSweepKeepsRunsNameHTML() {
        XCTAssertEqual(path("runs/fashion-quick.sqlite"), "runs/fashion-quick.html")
        // Any file, wherever it is: the page is named after the sweep.
        XCTAssertEqual(path("/tmp/other.sqlite"), "runs/fashion-quick.html")
        // A file whose name merely contains "postgresql" is a file.
        XCTAssertEqual(path("postgresql.sqlite"), "runs/fashion-quick.html")
    }

    func testAPostgreSQLSweepGetsItsOwnPageNamedAfterTheDatabase() {
        XCTAssertEqual(path("postgresql://sweeper:***@127.0.0.1:5432/sweeps"), "runs/fashion-quick.postgres-sweeps.html")
        XCTAssertEqual(path("postgres://sweeper@db.example.org/sweeps?sslmode=require"), "runs/fashion-quick.postgres-sweeps.html")
        XCTAssertEqual(path("postgresql://localhost/sweeps", sweep: "other"), "runs/other.postgres-sweeps.html")
        // libpq's dbname= parameter names the database as well (and wins over the path).
        XCTAssertEqual(path("postgresql://localhost/a?connect_timeout=5&dbname=b"), "runs/fashion-quick.postgres-b.html")
        // Percent-encoded, and characters a file name should not hold replaced by "_".
        XCTAssertEqual(path("postgresql://localhost/my%20db"), "runs/fashion-quick.postgres-my_db.html")
        XCTAssertEqual(path("postgresql://localhost/a%2Fb"), "runs/fashion-quick.postgres-a_b.html")
    }

    func testAPostgreSQLURLWithoutADatabaseNameStillDiffersFromSQLite() {
        XCTAssertEqual(path("postgresql://localhost"), "runs/fashion-quick.postgres.html")
        XCTAssertEqual(path("postgresql://sweeper@localhost:5432/"), "runs/fashion-quick.postgres.html")
        XCTAssertEqual(path("postgresql://"), "runs/fashion-quick.postgres.html")
        XCTAssertEqual(path("postgresql:///?sslmode=disable"), "runs/fashion-quick.postgres.html")
    }
}
