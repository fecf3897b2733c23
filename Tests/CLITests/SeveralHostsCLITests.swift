import Foundation
import PostgresTestSupport
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// Workers on "several hosts" (different --host-id) sharing one sweep in a PostgreSQL database
/// that the tests start themselves; the errors of a bad URL through the binary.
final class SeveralHostsCLITests: XCTestCase {
    nonisolated(unsafe) static var server: PostgresServer?
    nonisolated(unsafe) static var startError: (any Error)?
    var dir: URL!

    override class func setUp() {
        super.setUp()
        do { server = try PostgresServer.start() } catch let e as PostgresServer.Unavailable {
            startError = XCTSkip(e.description)
        } catch { startError = error }
    }

    override class func tearDown() {
        server?.stop()
        server = nil
        super.tearDown()
    }

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("hosts-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { if let dir { try? FileManager.default.removeItem(at: dir) } }

    func running() throws -> PostgresServer {
        if let server = Self.server { return server }
        throw Self.startError ?? XCTSkip("no PostgreSQL server")
    }

    /// 12 SGDR configurations and 2 baselines of about a second each (debug build, 2 cores).
    let spaceText = """
        { "name": "hosts", "strategy": "grid", "seed": 5, "concurrency": 1,
          "parameters": { "t0": {"values": [1, 2, 3]}, "tmult": {"values": [1, 2]}, "lr_max_compression": {"values": [1, 5]} },
          "fixed": {"lr_max": 0.05},
          "baselines": ["step", "cosine"],
          "training": { "dataset": "synthetic", "train_size": 4000, "val_size": 500, "epochs": 6,
                        "batch_size": 50, "hidden": [64] } }
        """

    func file(_ name: String, _ text: String) throws -> String {
        let url = dir.appendingPathComponent(name)
        try Data(text.utf8).write(to: url)
        return url.path
    }

    typealias Worker = ChildProcess

    /// The leaderboard CSV without the `seconds` column (timings differ between runs).
    func leaderboard(_ db: String) throws -> [[String]] { try BinaryRunner.leaderboardWithoutSeconds(db) }

    func testFourHostsTwoKilledOneLateEveryTrialFinishesOnceAndTheLeaderboardMatchesOneSQLiteProcess() throws {
        let server = try running()
        let database = try server.createDatabase()
        let url = server.url(database)
        let space = try file("hosts.json", spaceText)
        let lease = 3.0
        func worker(_ host: String) throws -> Worker {
            try Worker([space, "--db", url, "--host-id", host, "--lease", String(lease), "--concurrency", "1"], in: dir)
        }
        func runningOwners() throws -> [String: String] {  // trial id -> owner
            let text = try server.sql("SELECT id || ' ' || owner FROM sgdr_trials WHERE status = 'running'", database: database)
            return Dictionary(uniqueKeysWithValues: text.split(separator: "\n").map { line in
                let parts = line.split(separator: " ", maxSplits: 1)
                return (String(parts[0]), String(parts.count > 1 ? parts[1] : ""))
            })
        }

        var workers = try (1...4).map { try worker("h\($0)") }
        defer { for w in workers where w.process.isRunning { kill(w.process.processIdentifier, SIGKILL) } }
        // Kill h1 and h2 with -9 while each runs a trial: freeze both (SIGSTOP), check that each
        // holds a running trial, else let them go on and look again.
        let deadline = Date().addingTimeInterval(120)
        func holdsTrials(_ owners: [String: String]) -> Bool {
            owners.values.contains { $0.hasPrefix("h1:") } && owners.values.contains { $0.hasPrefix("h2:") }
        }
        while Date() < deadline {
            if (try? server.sql("SELECT to_regclass('sgdr_trials') IS NOT NULL", database: database)) == "t",
               holdsTrials(try runningOwners()) {
                kill(workers[0].process.processIdentifier, SIGSTOP)
                kill(workers[1].process.processIdentifier, SIGSTOP)
                Thread.sleep(forTimeInterval: 0.2)  // a write already sent is committed meanwhile
                if holdsTrials(try runningOwners()) { break }
                kill(workers[0].process.processIdentifier, SIGCONT)
                kill(workers[1].process.processIdentifier, SIGCONT)
            }
            Thread.sleep(forTimeInterval: 0.05)
        }
        kill(workers[0].process.processIdentifier, SIGKILL)
        kill(workers[1].process.processIdentifier, SIGKILL)
        let killedAt = Date().timeIntervalSince1970
        XCTAssertTrue(workers[0].waitForExit(timeout: 10) && workers[1].waitForExit(timeout: 10))
        Thread.sleep(forTimeInterval: 0.3)  // the server notices the closed connections
        let killed = try runningOwners().filter { $0.value.hasPrefix("h1:") || $0.value.hasPrefix("h2:") }
        XCTAssertEqual(killed.count, 2, "h1 and h2 each left a running trial: \(killed)")

        workers.append(try worker("h5"))  // one more, started later
        for w in workers[2...] {
            XCTAssertTrue(w.waitForExit(timeout: 300), "a worker did not finish: \(w.stderr)")
            XCTAssertEqual(w.process.terminationStatus, 0, w.stderr)
        }

        // Every trial finished exactly once; attempts > 1 only for the killed ones' trials, which
        // ran again once their lease expired (the workers above would otherwise wait for them
        // for ever). How soon after the kill is a figure, printed, not a bound of the test.
        let rows = try server.sql("SELECT id, status, attempts, started_at FROM sgdr_trials ORDER BY number", database: database)
            .split(separator: "\n").map { $0.split(separator: "|").map(String.init) }
        XCTAssertEqual(rows.count, 14)
        var again: [Double] = []
        for row in rows {
            XCTAssertEqual(row[1], "done", "\(row)")
            XCTAssertEqual(Int(row[2]), killed[row[0]] == nil ? 1 : 2, "\(row)")
            if killed[row[0]] != nil, let started = Double(row[3]) {
                again.append(started - killedAt)
            }
        }
        print(String(format: "Several hosts: the killed workers' trials ran again %@ s after kill -9 (lease %.0f s)",
                     again.map { String(format: "%.1f", $0) }.joined(separator: " and "), lease))
        let finished = workers.flatMap(\.finishedIDs)
        XCTAssertEqual(finished.count, 14, "\(finished)")
        XCTAssertEqual(Set(finished).count, 14, "no trial reported finished twice: \(finished)")
        for w in workers { XCTAssertFalse(w.stderr.contains(PostgresServer.password), "the password leaked: \(w.stderr)") }

        // Bit for bit the leaderboard of one process on SQLite.
        let sqlite = dir.appendingPathComponent("one.sqlite").path
        let single = try BinaryRunner.run([space, "--db", sqlite])
        XCTAssertEqual(single.status, 0, single.stderr)
        XCTAssertEqual(try leaderboard(url), try leaderboard(sqlite))

        let status = try BinaryRunner.run(["status", url])
        XCTAssertEqual(status.status, 0, status.stderr)
        XCTAssertTrue(status.stdout.contains("done 14"), status.stdout)
        XCTAssertTrue(status.stdout.contains("postgresql://sgdr:***@127.0.0.1:\(server.port)/\(database)"), status.stdout)
        XCTAssertFalse(status.stdout.contains(PostgresServer.password), status.stdout)
    }

    /// Issues 18 and 20: a sobol sweep of a user's own trainer on two "hosts" of one PostgreSQL
    /// database, with leases: every trial once (no point proposed twice), and the leaderboard of
    /// one SQLite process.
    func testTwoHostsShareATrainerSobolSweepInPostgreSQL() throws {
        let server = try running()
        let url = server.url(try server.createDatabase())
        let toy = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/trainers/toy_trainer.py").path
        let space = try file("toy.json", """
            {"name": "toy-hosts", "strategy": "sobol", "trials": 3, "seed": 4, "repeats": 2, "concurrency": 1,
             "parameters": {"t0": {"min": 1, "max": 3}, "lr_max": {"min": 0.1, "max": 0.5}}, "baselines": ["cosine"],
             "trainer": {"command": ["python3", "\(toy)"], "epochs": 4}}
            """)
        let sqlite = dir.appendingPathComponent("one.sqlite").path
        let one = try Worker([space, "--db", sqlite], in: dir)
        one.process.waitUntilExit()
        XCTAssertEqual(one.process.terminationStatus, 0, one.stderr)
        let a = try Worker([space, "--db", url, "--host-id", "hostA", "--lease", "30", "--concurrency", "1"], in: dir,
                           environment: ["TOY_SLEEP": "0.05"])
        XCTAssertTrue(a.wait(timeout: 120) { $0.finishedIDs.count >= 1 }, a.stderr)
        let b = try Worker(["resume", url, "--host-id", "hostB", "--lease", "30", "--concurrency", "1"], in: dir,
                           environment: ["TOY_SLEEP": "0.05"])
        a.process.waitUntilExit()
        b.process.waitUntilExit()
        XCTAssertEqual(a.process.terminationStatus, 0, a.stderr)
        XCTAssertEqual(b.process.terminationStatus, 0, b.stderr)
        XCTAssertEqual(Set(a.finishedIDs).intersection(b.finishedIDs), [], "no trial ran twice")
        XCTAssertEqual(a.finishedIDs.count + b.finishedIDs.count, 8)
        XCTAssertEqual(try leaderboard(url), try leaderboard(sqlite))
    }

    /// Issue 20: a tpe sweep on two "hosts" of one PostgreSQL database, with leases: each
    /// proposal stored and run once, and the leaderboard of one SQLite process (the proposals
    /// follow from the seed and the results, not from which host finished first).
    func testTwoHostsShareATPESweepInPostgreSQL() throws {
        let server = try running()
        let url = server.url(try server.createDatabase())
        let toy = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/trainers/toy_trainer.py").path
        let space = try file("toy-tpe.json", """
            {"name": "toy-tpe-hosts", "strategy": "tpe", "trials": 7, "seed": 4, "repeats": 1, "concurrency": 1,
             "tpe": {"startup": 3, "parallel": 2},
             "parameters": {"t0": {"min": 1, "max": 3}, "lr_max": {"min": 0.1, "max": 0.5}}, "baselines": ["cosine"],
             "trainer": {"command": ["python3", "\(toy)"], "epochs": 4}}
            """)
        let sqlite = dir.appendingPathComponent("one-tpe.sqlite").path
        let one = try Worker([space, "--db", sqlite], in: dir)
        one.process.waitUntilExit()
        XCTAssertEqual(one.process.terminationStatus, 0, one.stderr)
        let a = try Worker([space, "--db", url, "--host-id", "hostA", "--lease", "30", "--concurrency", "1"], in: dir,
                           environment: ["TOY_SLEEP": "0.05"])
        XCTAssertTrue(a.wait(timeout: 120) { $0.finishedIDs.count >= 1 }, a.stderr)
        let b = try Worker(["resume", url, "--host-id", "hostB", "--lease", "30", "--concurrency", "1"], in: dir,
                           environment: ["TOY_SLEEP": "0.05"])
        a.process.waitUntilExit()
        b.process.waitUntilExit()
        XCTAssertEqual(a.process.terminationStatus, 0, a.stderr)
        XCTAssertEqual(b.process.terminationStatus, 0, b.stderr)
        XCTAssertEqual(Set(a.finishedIDs).intersection(b.finishedIDs), [], "no trial ran twice")
        XCTAssertEqual(a.finishedIDs.count + b.finishedIDs.count, 8)
        XCTAssertEqual(try leaderboard(url), try leaderboard(sqlite))
    }

    func testBadDatabaseURLsAreOneLineExitOneAndWriteNothing() throws {
        let server = try running()
        let database = try server.createDatabase()
        let space = try file("hosts.json", spaceText)
        let port = try PostgresServer.freePort()
        let cases: [(url: String, expected: String)] = [
            (server.url(database, password: "wrong-pw"), "password authentication failed for user \"sgdr\""),
            (server.url("no_such_db"), "database \"no_such_db\" does not exist"),
            ("postgresql://sgdr:\(PostgresServer.password)@127.0.0.1:\(port)/\(database)", "cannot reach the server: Connection refused"),
        ]
        for (url, expected) in cases {
            let masked = url.replacingOccurrences(of: ":wrong-pw@", with: ":***@")
                .replacingOccurrences(of: ":\(PostgresServer.password)@", with: ":***@")
            for arguments in [[space, "--db", url], ["status", url], ["resume", url], ["leaderboard", url], ["best", url],
                              ["report", url, "--out", dir.appendingPathComponent("r.html").path]] {
                let r = try BinaryRunner.run(arguments)
                XCTAssertEqual(r.status, 1, "\(arguments[0]): \(r.stderr)")
                XCTAssertEqual(r.stderrLines, ["Error: PostgreSQL database \(masked): \(expected)"], "\(arguments[0])")
                XCTAssertEqual(r.stdout, "")
                XCTAssertFalse(r.stderr.contains("wrong-pw") || r.stderr.contains(PostgresServer.password))
            }
        }
        XCTAssertEqual(try server.sql("SELECT to_regclass('sgdr_trials') IS NULL", database: database), "t",
                       "nothing was written")
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.appendingPathComponent("r.html").path))
    }

    func testSeveralSweepsInOneDatabaseNeedSweepName() throws {
        let server = try running()
        let url = server.url(try server.createDatabase())
        let small = spaceText.replacingOccurrences(of: "\"train_size\": 4000", with: "\"train_size\": 500")
            .replacingOccurrences(of: "\"t0\": {\"values\": [1, 2, 3]}", with: "\"t0\": {\"values\": [1]}")
        for name in ["alpha", "beta"] {
            let space = try file("\(name).json", small.replacingOccurrences(of: "\"name\": \"hosts\"", with: "\"name\": \"\(name)\""))
            let r = try BinaryRunner.run([space, "--db", url])
            XCTAssertEqual(r.status, 0, r.stderr)
        }
        let masked = url.replacingOccurrences(of: ":\(PostgresServer.password)@", with: ":***@")
        let both = try BinaryRunner.run(["best", url])
        XCTAssertEqual(both.status, 1)
        XCTAssertEqual(both.stderrLines, ["Error: PostgreSQL database \(masked) holds several sweeps (alpha, beta): choose one with --sweep NAME"])
        for name in ["alpha", "beta"] {
            let r = try BinaryRunner.run(["status", url, "--sweep", name])
            XCTAssertEqual(r.status, 0, r.stderr)
            XCTAssertTrue(r.stdout.hasPrefix("Sweep \(name) (\(masked)): grid, 6 configurations x 1 repeat = 6 trials"), r.stdout)
        }
        let missing = try BinaryRunner.run(["leaderboard", url, "--sweep", "gamma"])
        XCTAssertEqual(missing.stderrLines, ["Error: PostgreSQL database \(masked) holds no sweep \"gamma\" (it holds: alpha, beta)"])

        // The report's default page of a PostgreSQL sweep names the database, so it never
        // overwrites the page of an SQLite sweep of the same name (runs/alpha.html).
        let database = String(url.split(separator: "/").last!)
        let sqlitePage = dir.appendingPathComponent("runs/alpha.html")
        try FileManager.default.createDirectory(at: sqlitePage.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data("the SQLite sweep's page".utf8).write(to: sqlitePage)
        let report = try BinaryRunner.run(["report", url, "--sweep", "alpha"], in: dir)
        XCTAssertEqual(report.status, 0, report.stderr)
        XCTAssertEqual(report.stderr, "Wrote runs/alpha.postgres-\(database).html\n")
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir.appendingPathComponent("runs/alpha.postgres-\(database).html").path))
        XCTAssertEqual(try String(contentsOf: sqlitePage, encoding: .utf8), "the SQLite sweep's page")
    }
}
