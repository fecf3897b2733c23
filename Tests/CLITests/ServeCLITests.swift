import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import PostgresTestSupport
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// `sgdr-search serve`: the JSON API (every endpoint, every bad request), its options, its stop
/// on SIGTERM, a database that goes away and comes back, and the page in headless Chromium
/// (Debian's `chromium`, driven by Tests/Fixtures/browser/watch_page.py) updating itself while a
/// concurrent sweep finishes new trials, over SQLite and PostgreSQL. Expected rows come from
/// another command (`leaderboard --csv`), never from the server.
final class ServeCLITests: XCTestCase {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fixtures")
    var dir: URL!
    var servers: [ChildProcess] = []

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("serve-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        for s in servers where s.process.isRunning {
            kill(s.process.processIdentifier, SIGKILL)
            s.process.waitUntilExit()
        }
        if let dir { try? FileManager.default.removeItem(at: dir) }
    }

    /// A random sweep of `trials` SGDR configurations and 2 baselines, 2 repeats each, on the toy
    /// trainer (8 epochs, a fraction of a second per trial). Raising `trials` grows the sweep.
    func space(trials: Int, name: String = "live") throws -> String {
        let toy = Self.fixtures.appendingPathComponent("trainers/toy_trainer.py").path
        let text = """
            {"name": "\(name)", "strategy": "random", "trials": \(trials), "seed": 3, "repeats": 2, "concurrency": 2,
             "parameters": {"t0": {"min": 1, "max": 4}, "lr_max_compression": {"min": 1, "max": 4}},
             "fixed": {"lr_max": 0.5, "lr_min": 0.005, "tmult": 1.5},
             "baselines": ["cosine", "step"],
             "trainer": {"command": ["python3", "\(toy)"], "epochs": 8}}
            """
        let url = dir.appendingPathComponent("\(name)-\(trials).json")
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url.path
    }

    func runSweep(_ space: String, db: String, _ extra: [String] = []) throws {
        let r = try BinaryRunner.run(["run", space, "--db", db] + extra)
        XCTAssertEqual(r.status, 0, r.stderr)
    }

    /// Starts `serve DB --port 0 ...` and answers its base URL once it listens (bounded wait).
    func serve(_ db: String, _ extra: [String] = []) throws -> (ChildProcess, String) {
        let child = try ChildProcess(["serve", db, "--port", "0"] + extra, in: dir)
        servers.append(child)
        var url: String?
        XCTAssertTrue(child.wait(timeout: 60) { c in
            url = c.stderr.firstMatch(of: /at (http:\/\/127\.0\.0\.1:\d+\/)/).map { String($0.1) }
            return url != nil
        }, "serve did not start: \(child.stderr)")
        return (child, try XCTUnwrap(url))
    }

    /// One request: status, headers, body (bounded against a hang).
    func request(_ url: String, method: String = "GET", body: Data? = nil) throws -> (status: Int, headers: [String: String], body: String) {
        var req = URLRequest(url: try XCTUnwrap(URL(string: url)), timeoutInterval: 60)
        req.httpMethod = method
        req.httpBody = body
        let done = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var answer: (Int, [String: String], String)?
        nonisolated(unsafe) var failure: (any Error)?
        URLSession.shared.dataTask(with: req) { data, response, error in
            if let http = response as? HTTPURLResponse {
                var headers: [String: String] = [:]
                for (k, v) in http.allHeaderFields { headers["\(k)".lowercased()] = "\(v)" }
                answer = (http.statusCode, headers, String(decoding: data ?? Data(), as: UTF8.self))
            } else {
                failure = error
            }
            done.signal()
        }.resume()
        XCTAssertEqual(done.wait(timeout: .now() + 90), .success, "no answer from \(url)")
        if let answer { return answer }
        throw failure ?? URLError(.badServerResponse)
    }

    /// Sends `text` as is over a loopback TCP connection and answers all that comes back
    /// (for requests URLSession would not send as they are).
    static func raw(port: UInt16, _ text: String) throws -> String {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.EIO) }
        defer { close(fd) }
        var timeout = timeval(tv_sec: 60, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw POSIXError(.ECONNREFUSED) }
        let bytes = Array(text.utf8)
        _ = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { break }
            out += buffer[..<n]
        }
        return String(decoding: out, as: UTF8.self)
    }

    func json(_ text: String) throws -> [String: Any] {
        try XCTUnwrap(JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], text)
    }

    /// The configurations of `leaderboard --csv -`, in rank order.
    func leaderboardConfigurations(_ db: String) throws -> [String] {
        let r = try BinaryRunner.run(["leaderboard", db, "--csv", "-"])
        XCTAssertEqual(r.status, 0, r.stderr)
        return r.stdout.split(separator: "\r\n").dropFirst().map { String($0.split(separator: ",")[1]) }
    }

    // MARK: The API

    func testEveryEndpointAnswersWhatTheOtherCommandsSay() throws {
        let db = dir.appendingPathComponent("live.sqlite").path
        try runSweep(try space(trials: 2), db: db)
        let (_, base) = try serve(db)
        let expected = try leaderboardConfigurations(db)
        XCTAssertEqual(expected.count, 4)

        let version = try request(base + "api/version")
        XCTAssertEqual(version.status, 200)
        XCTAssertEqual(version.headers["content-type"], "application/json; charset=utf-8")
        let v = try json(version.body)
        XCTAssertEqual(v["finished"] as? Bool, true)
        XCTAssertEqual(v["trials"] as? Int, 8)
        XCTAssertEqual((v["counts"] as? [String: Int])?["done"], 8)
        XCTAssertFalse((v["version"] as? String ?? "").isEmpty)

        let sweep = try json(try request(base + "api/sweep").body)
        XCTAssertEqual(sweep["name"] as? String, "live")
        XCTAssertEqual(sweep["strategy"] as? String, "random")
        XCTAssertEqual(sweep["configurations"] as? Int, 4)
        XCTAssertEqual(sweep["repeats"] as? Int, 2)
        XCTAssertEqual(sweep["finished"] as? Bool, true)

        let board = try json(try request(base + "api/leaderboard").body)
        XCTAssertEqual(board["configurations"] as? Int, 4)
        let rows = try XCTUnwrap(board["rows"] as? [[String: Any]])
        XCTAssertEqual(rows.compactMap { $0["configuration"] as? String }, expected)
        XCTAssertEqual(rows.compactMap { $0["rank"] as? Int }, [1, 2, 3, 4])
        let page2 = try json(try request(base + "api/leaderboard?offset=1&limit=2").body)
        XCTAssertEqual((page2["rows"] as? [[String: Any]])?.compactMap { $0["configuration"] as? String }, Array(expected[1...2]))

        let running = try json(try request(base + "api/trials/running").body)
        XCTAssertEqual(running["count"] as? Int, 0)

        let epochs = try json(try request(base + "api/trial/sgdr-0001.r1/epochs").body)
        XCTAssertEqual((epochs["epochs"] as? [[String: Any]])?.compactMap { $0["epoch"] as? Int }, Array(1...8))
        XCTAssertEqual(epochs["status"] as? String, "done")

        let sections = try json(try request(base + "api/sections?top=2").body)
        let ids = (sections["sections"] as? [[String: Any]])?.compactMap { $0["id"] as? String }
        XCTAssertEqual(ids, ["summary", "schedules", "errors", "parameters", "comparison", "leaderboard"])
        XCTAssertEqual(sections["version"] as? String, v["version"] as? String)

        let page = try request(base)
        XCTAssertEqual(page.status, 200)
        XCTAssertEqual(page.headers["content-type"], "text/html; charset=utf-8")
        XCTAssertTrue(page.body.contains("<table class=\"leaderboard\""))
        XCTAssertFalse(page.body.contains("src=\"http"), "the page loads nothing from elsewhere")
        let head = try request(base + "api/version", method: "HEAD")
        XCTAssertEqual(head.status, 200)
        XCTAssertEqual(head.body, "")
    }

    /// Trials in progress and who holds them: two trials made running by hand (`sqlite3`), one
    /// held by another host with a lease renewed at a known time, one with no heartbeat stored.
    /// `/api/trials/running` and the page's table say who, which process, and when the lease
    /// was last renewed.
    func testRunningTrialsShowTheirOwnerAndTheirLeasesLastHeartbeat() throws {
        let db = dir.appendingPathComponent("running.sqlite").path
        try runSweep(try space(trials: 2), db: db)
        let update = """
            UPDATE trials SET status = 'running', owner = 'far-away-host:4242:99', started_at = 1764115000,
                heartbeat_at = 1764115200.5, seconds = NULL, best_val_acc = NULL, best_epoch = NULL, final_val_acc = NULL
                WHERE id = 'sgdr-0000.r0';
            UPDATE trials SET status = 'running', owner = 'far-away-host:77:1', started_at = 1764115000,
                heartbeat_at = NULL, seconds = NULL, best_val_acc = NULL, best_epoch = NULL, final_val_acc = NULL
                WHERE id = 'sgdr-0001.r1';
            """
        let sqlite = try BinaryRunner.runExecutable(URL(fileURLWithPath: "/usr/bin/env"), ["sqlite3", db, update])
        try XCTSkipIf(sqlite.status != 0, "sqlite3 is not installed: \(sqlite.stderr)")
        let (_, base) = try serve(db)
        let running = try json(try request(base + "api/trials/running").body)
        XCTAssertEqual(running["count"] as? Int, 2)
        let trials = try XCTUnwrap(running["trials"] as? [[String: Any]])
        XCTAssertEqual(trials.compactMap { $0["id"] as? String }, ["sgdr-0000.r0", "sgdr-0001.r1"])
        XCTAssertEqual(trials.compactMap { $0["host"] as? String }, ["far-away-host", "far-away-host"])
        XCTAssertEqual(trials.compactMap { $0["pid"] as? Int }, [4242, 77])
        XCTAssertEqual(trials.compactMap { $0["liveness"] as? String }, ["other host", "other host"])
        XCTAssertEqual(trials[0]["heartbeat_at"] as? Double, 1764115200.5)
        XCTAssertGreaterThan(trials[0]["heartbeat_seconds_ago"] as? Double ?? -1, 0)
        XCTAssertTrue(trials[1]["heartbeat_at"] is NSNull, "\(trials[1])")
        XCTAssertTrue(trials[1]["heartbeat_seconds_ago"] is NSNull, "\(trials[1])")
        let sections = try json(try request(base + "api/sections").body)
        let table = try XCTUnwrap(sections["running"] as? String)
        XCTAssertTrue(table.contains("<th class=\"num\">last heartbeat</th>"), table)
        XCTAssertTrue(table.contains("data-started=\"1764115200.5\" data-suffix=\" ago\""), table)
        XCTAssertTrue(table.contains("<td>far-away-host</td><td class=\"num\">4242</td><td>other host</td>"), table)
    }

    func testEveryBadRequestIsOneJSONErrorLine() throws {
        let db = dir.appendingPathComponent("live.sqlite").path
        try runSweep(try space(trials: 2), db: db)
        let (_, base) = try serve(db)
        let cases: [(String, String, Int, String)] = [
            ("GET", "nope", 404, "no such path"),
            ("GET", "api/", 404, "no such path"),
            ("GET", "api/trial/sgdr-9999.r0/epochs", 404, "no trial sgdr-9999.r0"),
            ("GET", "api/trial/sgdr-0000.r7/epochs", 404, "no trial"),
            ("GET", "api/trial/a%20b/epochs", 400, "bad trial id"),
            ("GET", "api/leaderboard?limit=0", 400, "limit must be an integer in [1, 1000]"),
            ("GET", "api/leaderboard?limit=1001", 400, "limit must be an integer in [1, 1000]"),
            ("GET", "api/leaderboard?limit=x", 400, "limit must be"),
            ("GET", "api/leaderboard?offset=-1", 400, "offset must be an integer in [0, 10000000]"),
            ("GET", "api/leaderboard?sort=x", 400, "unknown query parameter sort"),
            ("GET", "api/sections?top=51", 400, "top must be an integer in [0, 50]"),
            ("GET", "api/version?x=1", 400, "unknown query parameter x"),
            ("GET", "api/leaderboard?limit=1&limit=2", 400, "given twice"),
            ("GET", "?" + String(repeating: "a", count: 3000), 414, "longer than 2048"),
            ("POST", "api/version", 405, "not allowed"),
            ("PUT", "", 405, "not allowed"),
            ("DELETE", "api/sweep", 405, "not allowed"),
        ]
        for (method, path, status, message) in cases {
            let r = try request(base + path, method: method)
            XCTAssertEqual(r.status, status, "\(method) \(path): \(r.body)")
            XCTAssertTrue(r.body.hasSuffix("}\n") && r.body.filter { $0 == "\n" }.count == 1, "\(path): \(r.body)")
            let error = try json(r.body)["error"] as? String
            XCTAssertTrue(error?.contains(message) == true, "\(method) \(path): \(r.body)")
            if status == 405 { XCTAssertEqual(r.headers["allow"], "GET, HEAD") }
        }
        let port = try XCTUnwrap(base.firstMatch(of: /:(\d+)\//).flatMap { UInt16($0.1) })
        let withBody = try Self.raw(port: port, "GET /api/version HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nConnection: close\r\n\r\nx")
        XCTAssertTrue(withBody.hasPrefix("HTTP/1.1 413"), withBody)
        XCTAssertTrue(withBody.contains("{\"error\":\"request bodies are not accepted"), withBody)
        // A path outside the server's own: never a file.
        let traversal = try request(base + "%2e%2e/%2e%2e/etc/passwd")
        XCTAssertEqual(traversal.status, 404)
        XCTAssertFalse(traversal.body.contains("root:"))
    }

    // MARK: Options, signals, failures

    func testBadOptionsAndMissingDatabaseAreOneLine() throws {
        let db = dir.appendingPathComponent("live.sqlite").path
        for (args, status, text) in [
            (["serve", db, "--port", "70000"], Int32(64), "--port"), (["serve", db, "--port", "-1"], 64, "--port"),
            (["serve", db, "--host", "example.com"], 64, "--host"), (["serve", db, "--top", "51"], 64, "--top"),
            (["serve", db], 1, "live.sqlite"),
        ] {
            let r = try BinaryRunner.run(args)
            XCTAssertEqual(r.status, status, "\(args): \(r.stderr)")
            XCTAssertEqual(r.stderrLines.count, 1, r.stderr)
            XCTAssertTrue(r.stderr.contains(text), r.stderr)
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: db), "serve must never create a database")
    }

    func testPortInUseIsOneLineAndSIGTERMStopsCleanly() throws {
        let db = dir.appendingPathComponent("live.sqlite").path
        try runSweep(try space(trials: 1), db: db)
        let (first, base) = try serve(db)
        let port = try XCTUnwrap(base.firstMatch(of: /:(\d+)\//).map { String($0.1) })
        let second = try BinaryRunner.run(["serve", db, "--port", port])
        XCTAssertEqual(second.status, 1, second.stderr)
        XCTAssertEqual(second.stderrLines.count, 1, second.stderr)
        XCTAssertTrue(second.stderr.contains("already in use"), second.stderr)
        kill(first.process.processIdentifier, SIGTERM)
        XCTAssertTrue(first.waitForExit(timeout: 60))
        XCTAssertEqual(first.process.terminationReason, .exit)
        XCTAssertEqual(first.process.terminationStatus, 0, first.stderr)
        XCTAssertTrue(first.stderr.hasSuffix("Stopped.\n"), first.stderr)
    }

    func testADatabaseThatDisappearsIsAnErrorUntilItIsBack() throws {
        let db = dir.appendingPathComponent("live.sqlite").path
        try runSweep(try space(trials: 1), db: db)
        let (child, base) = try serve(db)
        let aside = db + ".aside"
        try FileManager.default.moveItem(atPath: db, toPath: aside)
        // Past the version's half-second reuse: a bounded wait for the 503.
        var gone: (status: Int, headers: [String: String], body: String)?
        let end = Date().addingTimeInterval(60)
        repeat { gone = try request(base + "api/version") } while gone?.status == 200 && Date() < end
        XCTAssertEqual(gone?.status, 503)
        XCTAssertTrue(gone?.body.contains("database unavailable") == true, gone?.body ?? "")
        let page = try request(base)
        XCTAssertEqual(page.status, 200)
        XCTAssertTrue(page.body.contains("database unavailable"), "the page says so")
        try FileManager.default.moveItem(atPath: aside, toPath: db)
        XCTAssertEqual(try request(base + "api/version").status, 200)
        XCTAssertTrue(child.process.isRunning)
    }

    // MARK: In the browser

    /// Runs watch_page.py: loads the page, records it, optionally runs `then` (a concurrent
    /// sweep), and waits until the page has changed by itself.
    func watch(_ url: String, screenshot: String? = nil, then: [String]) throws -> [String: Any] {
        let out = dir.appendingPathComponent("seen-\(UUID().uuidString).json").path
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", Self.fixtures.appendingPathComponent("browser/watch_page.py").path, url, out]
            + (screenshot.map { ["--screenshot", $0] } ?? []) + (then.isEmpty ? [] : ["--then"] + then)
        let err = Pipe()
        p.standardError = err
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        let errText = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0, errText)
        return try json(String(contentsOfFile: out, encoding: .utf8))
    }

    func checkPageFollowsTheSweep(db: String, grow: [String], screenshot: String?) throws {
        let (_, base) = try serve(db, ["--top", "3"])
        let before = try leaderboardConfigurations(db)
        let binary = try BinaryRunner.binaryURL().path
        let seen = try watch(base, screenshot: screenshot, then: [binary] + grow)
        let first = try XCTUnwrap(seen["before"] as? [String: Any])
        XCTAssertEqual(first["rows"] as? [String], before)
        XCTAssertGreaterThan(first["chart_lines"] as? Int ?? 0, 0, "a learning-rate chart with data")
        XCTAssertGreaterThan(first["error_lines"] as? Int ?? 0, 0, "a val_acc chart with data")
        XCTAssertEqual(first["state"] as? String, "Sweep finished")
        XCTAssertEqual(seen["then_status"] as? Int, 0, seen["then_stderr"] as? String ?? "")
        let after = try XCTUnwrap(seen["after"] as? [String: Any])
        XCTAssertEqual(after["rows"] as? [String], try leaderboardConfigurations(db))
        XCTAssertEqual((after["rows"] as? [String])?.count, before.count + 2)
        XCTAssertEqual(after["marked"] as? Bool, true, "updated in place, not reloaded")
        XCTAssertEqual(after["banner"] as? String, "")
        if let screenshot {
            XCTAssertGreaterThan((try? FileManager.default.attributesOfItem(atPath: screenshot)[.size] as? Int) ?? 0, 1000)
        }
    }

    func testThePageInChromiumShowsTheSweepAndItsNewTrials() throws {
        let db = dir.appendingPathComponent("live.sqlite").path
        try runSweep(try space(trials: 2), db: db)
        // SGDR_SCREENSHOT=docs/dashboard.png keeps the screenshot (the README's).
        let shot = ProcessInfo.processInfo.environment["SGDR_SCREENSHOT"] ?? dir.appendingPathComponent("page.png").path
        try checkPageFollowsTheSweep(db: db, grow: ["run", try space(trials: 4), "--db", db], screenshot: shot)
    }

    nonisolated(unsafe) static var postgres: PostgresServer?
    nonisolated(unsafe) static var postgresError: (any Error)?

    override class func tearDown() {
        postgres?.stop()
        postgres = nil
        super.tearDown()
    }

    func testThePageInChromiumOverPostgreSQLAndAServerThatGoesDown() throws {
        if Self.postgres == nil && Self.postgresError == nil {
            do { Self.postgres = try PostgresServer.start() } catch let e as PostgresServer.Unavailable {
                Self.postgresError = XCTSkip(e.description)
            } catch { Self.postgresError = error }
        }
        guard let server = Self.postgres else { throw Self.postgresError ?? XCTSkip("no PostgreSQL server") }
        let database = try server.createDatabase()
        let url = server.url(database)
        // Two hosts: the first trials by one, the sweep grown by another while the page watches.
        try runSweep(try space(trials: 2), db: url, ["--host-id", "host-a"])
        try checkPageFollowsTheSweep(db: url, grow: ["run", try space(trials: 4), "--db", url, "--host-id", "host-b"],
                                     screenshot: nil)
        // A server that goes down: an error, then recovery.
        let (child, base) = try serve(url)
        try server.stopServer()
        // Past the version's half-second reuse (serve's first render read it at its start): a
        // bounded wait for the 503.
        var down = try request(base + "api/version")
        let downBy = Date().addingTimeInterval(60)
        while down.status == 200 && Date() < downBy { down = try request(base + "api/version") }
        XCTAssertEqual(down.status, 503, down.body)
        XCTAssertTrue(down.body.contains("database unavailable"), down.body)
        try server.startServer()
        var back = try request(base + "api/version")
        let end = Date().addingTimeInterval(60)
        while back.status != 200 && Date() < end { back = try request(base + "api/version") }
        XCTAssertEqual(back.status, 200, back.body)
        XCTAssertTrue(child.process.isRunning)

        // Read-only: a database of the earlier schema (version 1), which any writing command
        // upgrades on open, is refused by serve's read-only session and left as it was.
        _ = try server.sql("DELETE FROM sgdr_schema; INSERT INTO sgdr_schema (version) VALUES (1);", database: database)
        let refused = try BinaryRunner.run(["serve", url, "--port", "0"])
        XCTAssertEqual(refused.status, 1, refused.stderr)
        XCTAssertEqual(refused.stderrLines.count, 1, refused.stderr)
        XCTAssertTrue(refused.stderr.contains("read-only transaction"), refused.stderr)
        XCTAssertEqual(try server.sql("SELECT max(version) FROM sgdr_schema", database: database)
            .trimmingCharacters(in: .whitespacesAndNewlines), "1")
        XCTAssertEqual(try BinaryRunner.run(["status", url]).status, 0)
        XCTAssertEqual(try server.sql("SELECT max(version) FROM sgdr_schema", database: database)
            .trimmingCharacters(in: .whitespacesAndNewlines), "2", "status (not read-only) upgrades it")
    }
}
