import TrainingTypes
import Foundation
import PostgresStore
import PostgresTestSupport
import Sweep
import XCTest

/// A private PostgreSQL server for one test class at a time: started in the class's setUp and
/// stopped in its tearDown (the server's atexit handler covers a crash in between).
enum ClassServer {
    nonisolated(unsafe) static var server: PostgresServer?
    nonisolated(unsafe) static var startError: (any Error)?

    static func start() {
        startError = nil
        do { server = try PostgresServer.start() } catch let e as PostgresServer.Unavailable {
            startError = XCTSkip(e.description)
        } catch { startError = error }
    }

    static func stop() {
        server?.stop()
        server = nil
    }

    static func running() throws -> PostgresServer {
        if let server { return server }
        throw startError ?? XCTSkip("no PostgreSQL server")
    }

    /// A store on a new database of its own.
    static func newStore(sweep: String? = nil, lease: Double? = nil, reconnectSeconds: Double = 60,
                         clock: SweepClock? = nil) throws -> PostgresTrialStore {
        let server = try running()
        return try PostgresTrialStore(url: server.url(try server.createDatabase()), sweep: sweep, lease: lease,
                                      reconnectSeconds: reconnectSeconds, clock: clock)
    }
}

/// The contract (every test of `TrialStoreContract`, inherited) on a private server.
final class PostgresTrialStoreContractTests: TrialStoreContract {
    override class func setUp() {
        super.setUp()
        ClassServer.start()
    }

    override class func tearDown() {
        ClassServer.stop()
        super.tearDown()
    }

    override func makeStore() throws -> any TrialStore { try ClassServer.newStore() }
    override func makeStore(lease: Double?, clock: SweepClock) throws -> any TrialStore {
        try ClassServer.newStore(lease: lease, clock: clock)
    }

    // A subclass must declare at least one test method of its own: XCTest's discovery lists the
    // inherited ones only for a class it lists (one without would silently run no test at all).

    /// Without a clock (as the command runs it), the lease is judged by the server's clock: a
    /// heartbeat aged by SQL well beyond the lease frees the trial, a fresh one holds it. (The
    /// margins are minutes, so no machine is that slow: the contract's exact cases run on a
    /// `ManualClock`.)
    func testWithoutAClockTheServersClockJudgesTheLease() throws {
        let server = try ClassServer.running()
        let database = try server.createDatabase()
        let store = try PostgresTrialStore(url: server.url(database), lease: 600)
        _ = try store.create(Self.sweepInfo)
        try store.addTrials([Self.spec(0), Self.spec(1)])
        let first = try XCTUnwrap(store.claim(owner: "hostA:1:1", isAbandoned: never))
        let second = try XCTUnwrap(store.claim(owner: "hostB:2:2", isAbandoned: never))
        try store.heartbeat(trial: first.id, owner: "hostA:1:1")
        XCTAssertNil(try store.claim(owner: "hostC:3:3", isAbandoned: never), "fresh heartbeats hold")
        _ = try server.sql("UPDATE sgdr_trials SET heartbeat_at = heartbeat_at - 660 WHERE id = '\(second.id)'",
                           database: database)
        XCTAssertEqual(try store.claim(owner: "hostC:3:3", isAbandoned: never), second)
        assertThrows(.notOwner(trial: second.id, owner: "hostB:2:2")) {
            try store.heartbeat(trial: second.id, owner: "hostB:2:2")
        }
        XCTAssertNil(try store.claim(owner: "hostD:4:4", isAbandoned: never), "the new claim's heartbeat holds")
        try store.close()
    }
}

/// What only the PostgreSQL store needs: several sweeps per database, reconnecting, one-line errors.
final class PostgresTrialStoreTests: XCTestCase {
    typealias C = TrialStoreContract

    override class func setUp() {
        super.setUp()
        ClassServer.start()
    }

    override class func tearDown() {
        ClassServer.stop()
        super.tearDown()
    }

    func running() throws -> PostgresServer { try ClassServer.running() }

    func newStore(sweep: String? = nil, lease: Double? = nil, reconnectSeconds: Double = 60) throws -> PostgresTrialStore {
        try ClassServer.newStore(sweep: sweep, lease: lease, reconnectSeconds: reconnectSeconds)
    }

    func info(_ name: String) -> SweepInfo {
        var info = C.sweepInfo
        info.name = name
        info.spaceHash = "hash-\(name)"
        return info
    }

    func testSeveralSweepsInOneDatabaseStayApart() throws {
        let server = try running()
        let url = server.url(try server.createDatabase())
        let a = try PostgresTrialStore(url: url)
        let b = try PostgresTrialStore(url: url)
        XCTAssertEqual(try a.create(info("alpha")), info("alpha"))
        XCTAssertEqual(try b.create(info("beta")), info("beta"))
        try a.addTrials((0..<3).map { C.spec($0) })
        try b.addTrials((0..<5).map { C.spec($0) })   // the same ids, another sweep
        let claimed = try XCTUnwrap(a.claim(owner: "p1", isAbandoned: { _ in false }))
        try a.finish(trial: claimed.id, owner: "p1", TrialFinish(status: .done, seconds: 1),
                     appending: [C.epoch(1, valAcc: 0.5)])
        XCTAssertEqual(try a.trials().map(\.status), [.done, .pending, .pending])
        XCTAssertEqual(try b.trials().map(\.status), Array(repeating: .pending, count: 5))
        XCTAssertEqual(try b.trials().flatMap(\.epochs), [])
        XCTAssertThrowsError(try b.appendEpoch(C.epoch(1, valAcc: 0.1), trial: claimed.id, owner: "p1")) {
            XCTAssertEqual($0 as? TrialStoreError, .notOwner(trial: claimed.id, owner: "p1"))
        }

        // Opening an existing database: --sweep chooses; without it, several sweeps are refused.
        XCTAssertThrowsError(try PostgresTrialStore(url: url, create: false)) {
            XCTAssertEqual("\($0)", "PostgreSQL database \(PostgresTrialStore.display(url)) holds several sweeps (alpha, beta): choose one with --sweep NAME")
        }
        let reopened = try PostgresTrialStore(url: url, sweep: "beta", create: false)
        XCTAssertEqual(try reopened.info(), info("beta"))
        XCTAssertEqual(try reopened.trials().count, 5)
        XCTAssertThrowsError(try PostgresTrialStore(url: url, sweep: "gamma", create: false)) {
            XCTAssertEqual("\($0)", "PostgreSQL database \(PostgresTrialStore.display(url)) holds no sweep \"gamma\" (it holds: alpha, beta)")
        }
        XCTAssertEqual(try a.sweepNames(), ["alpha", "beta"])
    }

    func testOneSweepIsFoundWithoutItsName() throws {
        let server = try running()
        let url = server.url(try server.createDatabase())
        XCTAssertThrowsError(try PostgresTrialStore(url: url, create: false)) {
            XCTAssertEqual("\($0)", "PostgreSQL database \(PostgresTrialStore.display(url)) holds no sweep")
        }
        XCTAssertEqual(try server.sql("SELECT to_regclass('sgdr_trials') IS NULL", database: String(url.split(separator: "/").last!)),
                       "t", "create: false makes no tables")
        _ = try PostgresTrialStore(url: url).create(info("only"))
        let store = try PostgresTrialStore(url: url, create: false)
        XCTAssertEqual(store.sweep, "only")
        XCTAssertEqual(try store.info(), info("only"))
    }

    func testDroppedConnectionsAreMadeAgainWithoutLosingTheTrial() throws {
        let server = try running()
        let database = try server.createDatabase()
        let store = try PostgresTrialStore(url: server.url(database))
        _ = try store.create(C.sweepInfo)
        try store.addTrials((0..<3).map { C.spec($0) })
        let spec = try XCTUnwrap(store.claim(owner: "p1", isAbandoned: { _ in false }))
        try store.appendEpoch(C.epoch(1, valAcc: 0.3), trial: spec.id, owner: "p1")
        try server.dropConnections(database: database)
        try store.appendEpoch(C.epoch(2, valAcc: 0.4), trial: spec.id, owner: "p1")
        try server.dropConnections(database: database)
        try store.finish(trial: spec.id, owner: "p1", TrialFinish(status: .done, seconds: 2), appending: [C.epoch(3, valAcc: 0.5)])
        let r = try XCTUnwrap(store.trials().first { $0.spec.id == spec.id })
        XCTAssertEqual(r.status, .done)
        XCTAssertEqual(r.attempts, 1)
        XCTAssertEqual(r.epochs.map(\.epoch), [1, 2, 3])
    }

    func testServerRestartMidRunIsWaitedOut() throws {
        let server = try running()
        let database = try server.createDatabase()
        let store = try PostgresTrialStore(url: server.url(database), reconnectSeconds: 60)
        _ = try store.create(C.sweepInfo)
        try store.addTrials((0..<4).map { C.spec($0) })
        let spec = try XCTUnwrap(store.claim(owner: "p1", isAbandoned: { _ in false }))
        try store.appendEpoch(C.epoch(1, valAcc: 0.3), trial: spec.id, owner: "p1")

        try server.stopServer()
        let restarted = expectation(description: "restarted")
        DispatchQueue.global().asyncAfter(deadline: .now() + 1.5) {
            do { try server.startServer() } catch { XCTFail("restart: \(error)") }
            restarted.fulfill()
        }
        // These calls meet a stopped server, retry with backoff and succeed once it is back.
        try store.appendEpoch(C.epoch(2, valAcc: 0.4), trial: spec.id, owner: "p1")
        let next = try XCTUnwrap(store.claim(owner: "p1", isAbandoned: { _ in false }))
        wait(for: [restarted], timeout: 90)
        try store.finish(trial: spec.id, owner: "p1", TrialFinish(status: .done, seconds: 2))
        try store.finish(trial: next.id, owner: "p1", TrialFinish(status: .done, seconds: 2), appending: [C.epoch(1, valAcc: 0.2)])
        let records = try store.trials()
        XCTAssertEqual(records.map(\.status), [.done, .done, .pending, .pending])
        XCTAssertEqual(records.map(\.attempts), [1, 1, 0, 0])
        XCTAssertEqual(records[0].epochs.map(\.epoch), [1, 2])
    }

    func testUnreachableServerGivesUpAfterTheReconnectWindow() throws {
        let server = try running()
        let database = try server.createDatabase()
        let store = try PostgresTrialStore(url: server.url(database), reconnectSeconds: 1)
        _ = try store.create(C.sweepInfo)
        try server.stopServer()
        defer { try? server.startServer() }
        XCTAssertThrowsError(try store.trials()) { error in
            let text = "\(error)"
            XCTAssertTrue(text.hasPrefix("PostgreSQL database postgresql://sgdr:***@127.0.0.1:\(server.port)/\(database): lost the connection and could not reconnect within 1 s"), text)
            XCTAssertFalse(text.contains("\n"), text)
            XCTAssertFalse(text.contains(PostgresServer.password), text)
        }
    }

    // MARK: One-line errors without credentials

    func assertOneLine(_ url: String, contains expected: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try PostgresTrialStore(url: url, create: false), file: file, line: line) { error in
            let text = "\(error)"
            XCTAssertTrue(text.hasPrefix("PostgreSQL database \(PostgresTrialStore.display(url)): "), text, file: file, line: line)
            XCTAssertTrue(text.contains(expected), text, file: file, line: line)
            XCTAssertFalse(text.contains("\n"), text, file: file, line: line)
            XCTAssertFalse(text.contains(PostgresServer.password), text, file: file, line: line)
            XCTAssertFalse(text.contains("wrong-pw"), text, file: file, line: line)
        }
    }

    func testWrongPasswordIsOneLine() throws {
        let server = try running()
        assertOneLine(server.url("postgres", password: "wrong-pw"), contains: "password authentication failed for user \"sgdr\"")
    }

    func testMissingDatabaseIsOneLine() throws {
        let server = try running()
        assertOneLine(server.url("no_such_db"), contains: "database \"no_such_db\" does not exist")
    }

    func testUnreachableHostIsOneLine() throws {
        let port = try PostgresServer.freePort()
        assertOneLine("postgresql://sgdr:\(PostgresServer.password)@127.0.0.1:\(port)/x", contains: "Connection refused")
    }

    func testMalformedURLIsOneLine() throws {
        assertOneLine("postgresql://sgdr:\(PostgresServer.password)@127.0.0.1/x?colour=blue",
                      contains: "malformed URL: invalid URI query parameter: \"colour\"")
        assertOneLine("postgresql://sgdr:\(PostgresServer.password)@127.0.0.1:notaport/x",
                      contains: "invalid integer value \"notaport\" for connection option \"port\"")
    }

    func testPasswordIsMasked() {
        XCTAssertEqual(PostgresTrialStore.display("postgresql://u:p%40ss@h:5/db"), "postgresql://u:***@h:5/db")
        XCTAssertEqual(PostgresTrialStore.display("postgres://u@h/db?password=x&sslmode=disable"),
                       "postgres://u@h/db?password=***&sslmode=disable")
        XCTAssertEqual(PostgresTrialStore.display("postgresql:///db"), "postgresql:///db")
        XCTAssertTrue(PostgresTrialStore.isURL("postgres://h/db"))
        XCTAssertFalse(PostgresTrialStore.isURL("PostgreSQL://h/db"), "libpq reads only lower-case schemes as URLs")
        XCTAssertFalse(PostgresTrialStore.isURL("runs/x.sqlite"))
    }

    func testNewerSchemaIsRefused() throws {
        let server = try running()
        let database = try server.createDatabase()
        _ = try PostgresTrialStore(url: server.url(database)).create(C.sweepInfo)
        try server.sql("UPDATE sgdr_schema SET version = 99", database: database)
        XCTAssertThrowsError(try PostgresTrialStore(url: server.url(database), create: false)) {
            XCTAssertTrue("\($0)".contains("was written by a newer sgdr-search (schema version 99"), "\($0)")
        }
    }

    func testDuplicateEpochIsRefusedWhole() throws {
        let store = try newStore()
        _ = try store.create(C.sweepInfo)
        try store.addTrials([C.spec(0)])
        let spec = try XCTUnwrap(store.claim(owner: "p1", isAbandoned: { _ in false }))
        try store.appendEpoch(C.epoch(1, valAcc: 0.3), trial: spec.id, owner: "p1")
        XCTAssertThrowsError(try store.appendEpochs([C.epoch(2, valAcc: 0.3), C.epoch(1, valAcc: 0.3)], trial: spec.id, owner: "p1")) {
            XCTAssertEqual($0 as? PostgresStoreError, .duplicateEpoch(trial: spec.id, epoch: 1))
        }
        XCTAssertEqual(try store.trials()[0].epochs.map(\.epoch), [1], "all or none")
    }


    /// The one-round-trip finish writes the summary from the epochs this instance stored since
    /// its claim; when another instance under the same owner stored some too, the count no
    /// longer matches and the general path counts them all.
    func testFinishCountsEpochsAnotherInstanceStoredUnderTheSameOwner() throws {
        let server = try running()
        let database = try server.createDatabase()
        let url = server.url(database)
        let a = try PostgresTrialStore(url: url)
        _ = try a.create(C.sweepInfo)
        try a.addTrials([C.spec(0)])
        let b = try PostgresTrialStore(url: url, create: false)
        let spec = try XCTUnwrap(a.claim(owner: "p1", isAbandoned: { _ in false }))
        try b.appendEpoch(C.epoch(1, valAcc: 0.9), trial: spec.id, owner: "p1")
        try a.appendEpoch(C.epoch(2, valAcc: 0.5), trial: spec.id, owner: "p1")
        try a.finish(trial: spec.id, owner: "p1", TrialFinish(status: .done, seconds: 1), appending: [C.epoch(3, valAcc: 0.6)])
        let r = try XCTUnwrap(a.trials().first)
        XCTAssertEqual(r.epochs.map(\.epoch), [1, 2, 3])
        XCTAssertEqual(try server.sql("SELECT best_val_acc, best_epoch, final_val_acc FROM sgdr_trials", database: database),
                       "0.9|1|0.6", "the stored summary counts the other instance's epoch")
    }

    /// A claim judges owners as this instance's previous claim read them; one that finds nothing
    /// asks again about the owners it read just now, so a trial whose owner died since is taken.
    func testEmptyClaimAsksAgainAboutOwnersReadJustNow() throws {
        let server = try running()
        let database = try server.createDatabase()
        let url = server.url(database)
        let a = try PostgresTrialStore(url: url)
        _ = try a.create(C.sweepInfo)
        try a.addTrials([C.spec(0), C.spec(1)])
        let b = try PostgresTrialStore(url: url, create: false)
        XCTAssertEqual(try a.claim(owner: "alive", isAbandoned: { _ in false })?.number, 0)
        XCTAssertEqual(try b.claim(owner: "dead", isAbandoned: { _ in false })?.number, 1)
        var asked: [String] = []
        let taken = try a.claim(owner: "alive", isAbandoned: { asked.append($0); return $0 == "dead" })
        XCTAssertEqual(taken?.number, 1, "the dead owner's trial, seen only by this claim's own read")
        XCTAssertTrue(asked.contains("dead"))
        XCTAssertNil(try a.claim(owner: "alive", isAbandoned: { $0 == "dead" }))
        // The one-round-trip finish of the trial taken over: its epochs, its summary.
        let spec = try XCTUnwrap(taken)
        try a.finish(trial: spec.id, owner: "alive", TrialFinish(status: .done, seconds: 1),
                     appending: [C.epoch(1, valAcc: 0.4), C.epoch(2, valAcc: 0.4)])
        XCTAssertEqual(try server.sql("SELECT best_val_acc, best_epoch, final_val_acc, attempts FROM sgdr_trials WHERE id = '\(spec.id)'",
                                      database: database), "0.4|1|0.4|2")
        XCTAssertThrowsError(try b.finish(trial: spec.id, owner: "dead", TrialFinish(status: .done, seconds: 1))) {
            XCTAssertEqual($0 as? TrialStoreError, .notOwner(trial: spec.id, owner: "dead"))
        }
    }

    /// Round trips on loopback, printed for the README (no bounds: timings are the machine's).
    func testPerformanceFigures() throws {
        let store = try newStore()
        _ = try store.create(C.sweepInfo)
        let count = 500
        try store.addTrials((0...count).map { C.spec($0) })
        let spec = try XCTUnwrap(store.claim(owner: "p", isAbandoned: { _ in false }))
        var start = Date()
        for e in 1...200 { try store.appendEpoch(C.epoch(e, valAcc: 0.5), trial: spec.id, owner: "p") }
        let appendSeconds = Date().timeIntervalSince(start)
        try store.finish(trial: spec.id, owner: "p", TrialFinish(status: .done, seconds: 1))
        var claimSeconds = 0.0, finishSeconds = 0.0, finished = 0
        let epochs = (1...3).map { C.epoch($0, valAcc: 0.5) }
        while true {
            start = Date()
            guard let next = try store.claim(owner: "p", isAbandoned: { _ in false }) else { break }
            claimSeconds += Date().timeIntervalSince(start)
            start = Date()
            try store.finish(trial: next.id, owner: "p", TrialFinish(status: .done, seconds: 1), appending: epochs)
            finishSeconds += Date().timeIntervalSince(start)
            finished += 1
        }
        start = Date()
        let records = try store.trials()
        let readSeconds = Date().timeIntervalSince(start)
        XCTAssertEqual(finished, count)
        XCTAssertEqual(records.count, count + 1)
        print(String(format: "PostgresTrialStore (loopback): appendEpochs %.2f ms each; claim %.2f ms, finish with 3 epochs %.2f ms per trial (%d trials); trials() of %d trials + %d epochs %.3f s",
                     appendSeconds / 200 * 1000, claimSeconds / Double(count) * 1000, finishSeconds / Double(count) * 1000,
                     count, count + 1, 200 + 3 * count, readSeconds))
    }
}
