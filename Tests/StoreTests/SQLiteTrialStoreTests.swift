import TrainingTypes
import Foundation
import GRDB
import Schedules
@testable import SQLiteStore
import Sweep
import XCTest

/// What only the SQLite store promises: persistence, several connections (processes) on one
/// file, the file checks and the schema users query with `sqlite3`.
final class SQLiteTrialStoreTests: XCTestCase {
    var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("sgdr-sqlite-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    func path(_ name: String = "sweep.sqlite") -> String { directory.appendingPathComponent(name).path }

    typealias C = TrialStoreContract
    let never: (String) -> Bool = { _ in false }

    func storeWithTrials(_ count: Int, path: String) throws -> SQLiteTrialStore {
        let store = try SQLiteTrialStore(path: path)
        _ = try store.create(C.sweepInfo)
        try store.addTrials((0..<count).map { C.spec($0) })
        return store
    }

    /// A raw connection, as `sqlite3` would see the file.
    func raw(_ path: String) throws -> DatabaseQueue {
        var config = Configuration()
        config.readonly = true
        return try DatabaseQueue(path: path, configuration: config)
    }

    // MARK: Persistence

    /// `forEachTrialLine` is filled on a helper thread, a block at a time: in blocks of 1, 2, 3
    /// and 64 rows the lines are `trials()`'s, in order; a body that throws ends the pass with
    /// its error (in the store's words, as any error of a read), and the store reads again afterwards; a row the helper cannot read (a status
    /// written past the schema's CHECK) ends it with the store's error, after the rows before it.
    func testTrialLinesComeInOrderFromAnyNumberOfBlocks() throws {
        let file = path()
        let store = try storeWithTrials(11, path: file)
        defer { try? store.close() }
        for _ in 0..<3 {
            let spec = try XCTUnwrap(store.claim(owner: "p1", isAbandoned: never))
            try store.finish(trial: spec.id, owner: "p1", TrialFinish(status: .done, seconds: 2),
                             appending: [C.epoch(1, valAcc: 0.25 + Double(spec.number) / 100)])
        }
        let expected = try store.trials().map(TrialLine.init)
        XCTAssertEqual(expected.count, 11)
        for rowsPerBlock in [1, 2, 3, 64] {
            var lines: [TrialLine] = []
            try store.forEachTrialLine(rowsPerBlock: rowsPerBlock) { lines.append($0) }
            XCTAssertEqual(lines, expected, "\(rowsPerBlock) a block")
        }
        struct Stop: Error {}
        var seen = 0
        XCTAssertThrowsError(try store.forEachTrialLine(rowsPerBlock: 2) { _ in
            seen += 1
            if seen == 5 { throw Stop() }
        }) { XCTAssertTrue("\($0)".hasSuffix("Stop()"), "\($0)") }
        XCTAssertEqual(seen, 5)
        var again: [TrialLine] = []
        try store.forEachTrialLine(rowsPerBlock: 2) { again.append($0) }
        XCTAssertEqual(again, expected)

        var config = Configuration()
        config.prepareDatabase { try $0.execute(sql: "PRAGMA ignore_check_constraints = ON") }
        let writer = try DatabaseQueue(path: file, configuration: config)
        try writer.write { try $0.execute(sql: "UPDATE trials SET status = 'lost' WHERE number = 7") }
        try writer.close()
        var before: [Int] = []
        XCTAssertThrowsError(try store.forEachTrialLine(rowsPerBlock: 3) { before.append($0.number) }) { error in
            XCTAssertTrue("\(error)".contains("trial number 7 has an unknown status"), "\(error)")
        }
        XCTAssertEqual(before, Array(0..<7))
    }

    func testEverythingPersistsAcrossReopen() throws {
        let file = path()
        var before: [TrialRecord] = []
        do {
            let store = try storeWithTrials(5, path: file)
            let a = try XCTUnwrap(store.claim(owner: "p1", isAbandoned: never))
            for e in 1...3 { try store.appendEpoch(C.epoch(e, valAcc: 0.1 * Double(e)), trial: a.id, owner: "p1") }
            try store.finish(trial: a.id, owner: "p1", TrialFinish(status: .done, seconds: 4.5))
            let b = try XCTUnwrap(store.claim(owner: "p1", isAbandoned: never))
            try store.appendEpoch(C.epoch(1, valAcc: 0.2), trial: b.id, owner: "p1")
            try store.interrupt(trial: b.id, owner: "p1")
            _ = try store.claim(owner: "p1", isAbandoned: never)
            before = try store.trials()
        }
        let reopened = try SQLiteTrialStore(path: file, create: false)
        XCTAssertEqual(try reopened.info(), C.sweepInfo)
        XCTAssertEqual(try reopened.trials(), before)
        XCTAssertEqual(before.map(\.status), [.done, .running, .pending, .pending, .pending])
        // The running trial of the earlier "process" is taken over once its owner is dead.
        let again = try XCTUnwrap(reopened.claim(owner: "p2", isAbandoned: { $0 == "p1" }))
        XCTAssertEqual(again.number, 1)
    }

    // MARK: Several connections on one file

    func testTwoInstancesOnOneFileClaimEveryTrialExactlyOnce() throws {
        let file = path()
        let count = 300
        let first = try storeWithTrials(count, path: file)
        let second = try SQLiteTrialStore(path: file, create: false)
        let stores = [first, second]
        let claims = Locked<[String: [String]]>([:])
        let errors = Locked<[String]>([])
        DispatchQueue.concurrentPerform(iterations: 6) { t in
            let store = stores[t % 2]
            let owner = "store\(t % 2)-thread\(t)"
            do {
                while let spec = try store.claim(owner: owner, isAbandoned: { _ in false }) {
                    claims.mutate { $0[spec.id, default: []].append(owner) }
                    try store.appendEpoch(C.epoch(1, valAcc: 0.5), trial: spec.id, owner: owner)
                    try store.finish(trial: spec.id, owner: owner, TrialFinish(status: .done, seconds: 0.1))
                }
            } catch {
                errors.mutate { $0.append("\(owner): \(error)") }
            }
        }
        XCTAssertEqual(errors.value, [])
        let claimed = claims.value
        XCTAssertEqual(claimed.count, count)
        XCTAssertEqual(claimed.values.filter { $0.count != 1 }, [])
        let records = try second.trials()
        XCTAssertEqual(records.filter { $0.status == .done && $0.attempts == 1 && $0.epochs.count == 1 }.count, count)
        // (No fairness is promised: one instance may get most of the work.)
    }

    /// Real processes: this test binary runs `SQLiteStoreWorkerProcess` twice as children on one
    /// file while this process claims too. Every worker thread, once it holds its first trial,
    /// waits until all three processes hold one (the file shows an owner of each; a bound of
    /// 60 s against a hang), so each process provably claims while the others hold claims.
    func testSeveralProcessesClaimEveryTrialExactlyOnce() throws {
        let file = path()
        let count = 240
        let store = try storeWithTrials(count, path: file)
        let binary = CommandLine.arguments[0]
        guard binary.hasSuffix(".xctest") else { throw XCTSkip("not run from the xctest binary: \(binary)") }
        var children: [Process] = []
        for i in 0..<2 {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: binary)
            process.arguments = ["StoreTests.SQLiteStoreWorkerProcess/testWorker"]
            var env = ProcessInfo.processInfo.environment
            env["SGDR_SQLITE_WORKER_DB"] = file
            env["SGDR_SQLITE_WORKER_NAME"] = "child\(i)"
            process.environment = env
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            children.append(process)
        }
        let errors = Locked<[String]>([])
        DispatchQueue.concurrentPerform(iterations: 2) { t in
            do { try SQLiteStoreWorkerProcess.work(store, owner: "parent-\(t)") } catch {
                errors.mutate { $0.append("\(error)") }
            }
        }
        for child in children {
            child.waitUntilExit()
            XCTAssertEqual(child.terminationStatus, 0, "a worker process failed")
        }
        XCTAssertEqual(errors.value, [])
        let records = try store.trials()
        XCTAssertEqual(records.count, count)
        XCTAssertEqual(records.filter { $0.status == .done && $0.attempts == 1 && $0.epochs.count == 2 }.count, count,
                       "every trial claimed and finished exactly once")
        let byProcess = Dictionary(grouping: records.compactMap(\.owner)) { String($0.prefix(6)) }.mapValues(\.count)
        XCTAssertEqual(Set(byProcess.keys), ["child0", "child1", "parent"], "every process finished trials: \(byProcess)")
        XCTAssertEqual(byProcess.values.reduce(0, +), count)
    }

    // MARK: Opening files

    func testCreateFalseOnMissingPathThrowsAndCreatesNothing() throws {
        let file = path("missing.sqlite")
        XCTAssertThrowsError(try SQLiteTrialStore(path: file, create: false)) { error in
            XCTAssertEqual(error as? SQLiteStoreError, .noDatabase(path: file))
            XCTAssertEqual("\(error)", "no sweep database at \(file)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: file))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory.path), [])
    }

    func testCreateMakesANewFile() throws {
        let file = path("new.sqlite")
        let store = try SQLiteTrialStore(path: file)
        XCTAssertTrue(FileManager.default.fileExists(atPath: file))
        XCTAssertNil(try store.info())
        XCTAssertEqual(try store.trials(), [])
        _ = try SQLiteTrialStore(path: file, create: false)  // an empty sweep database is one
    }

    func testTextFileIsRefusedAndLeftAlone() throws {
        let file = path("notes.txt")
        let text = String(repeating: "this is not a database\n", count: 100)
        try text.write(toFile: file, atomically: true, encoding: .utf8)
        for create in [true, false] {
            XCTAssertThrowsError(try SQLiteTrialStore(path: file, create: create)) { error in
                guard case .notASweepDatabase(file, _)? = error as? SQLiteStoreError else {
                    return XCTFail("unexpected \(error)")
                }
                XCTAssertTrue("\(error)".hasPrefix("\(file) is not a sgdr-search sweep database"), "\(error)")
            }
        }
        XCTAssertEqual(try String(contentsOfFile: file, encoding: .utf8), text)
    }

    func testOtherSQLiteDatabaseIsRefused() throws {
        let file = path("other.sqlite")
        try DatabaseQueue(path: file).write { db in
            try db.execute(sql: "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT); INSERT INTO notes (body) VALUES ('x')")
        }
        XCTAssertThrowsError(try SQLiteTrialStore(path: file)) { error in
            guard case .notASweepDatabase(file, let reason)? = error as? SQLiteStoreError else {
                return XCTFail("unexpected \(error)")
            }
            XCTAssertTrue(reason.contains("notes"), reason)
        }
        XCTAssertEqual(try raw(file).read { try String.fetchAll($0, sql: "SELECT name FROM sqlite_master WHERE type = 'table'") },
                       ["notes"], "nothing added to a foreign database")
        XCTAssertEqual(try raw(file).read { try String.fetchOne($0, sql: "PRAGMA journal_mode") }, "delete",
                       "a foreign database keeps its journal mode")
    }

    func testEmptyFileNeedsCreate() throws {
        let file = path("empty.sqlite")
        XCTAssertTrue(FileManager.default.createFile(atPath: file, contents: Data()))
        XCTAssertThrowsError(try SQLiteTrialStore(path: file, create: false)) { error in
            XCTAssertEqual(error as? SQLiteStoreError, .notASweepDatabase(path: file, reason: "the file is empty"))
        }
        XCTAssertNoThrow(try SQLiteTrialStore(path: file, create: true))
    }

    func testNewerSchemaIsRefused() throws {
        let file = path()
        _ = try SQLiteTrialStore(path: file)
        try DatabaseQueue(path: file).write { try $0.execute(sql: "PRAGMA user_version = 7") }
        XCTAssertThrowsError(try SQLiteTrialStore(path: file)) { error in
            XCTAssertEqual(error as? SQLiteStoreError, .newerSchema(path: file, version: 7))
        }
    }

    func testConcurrentOpeningOfANewFile() throws {
        let file = path()
        let errors = Locked<[String]>([])
        DispatchQueue.concurrentPerform(iterations: 4) { _ in
            do { _ = try SQLiteTrialStore(path: file).create(C.sweepInfo) } catch { errors.mutate { $0.append("\(error)") } }
        }
        XCTAssertEqual(errors.value, [])
        XCTAssertEqual(try SQLiteTrialStore(path: file, create: false).info(), C.sweepInfo)
    }

    // MARK: Errors from SQLite

    func testSQLiteErrorsSurfaceReadably() throws {
        let file = path()
        let store = try storeWithTrials(2, path: file)
        var clash = C.spec(9)
        clash.number = 1  // another id with a stored number
        XCTAssertThrowsError(try store.addTrials([C.spec(5), clash])) { error in
            guard case .database(file, let message)? = error as? SQLiteStoreError else { return XCTFail("\(error)") }
            XCTAssertTrue(message.contains("UNIQUE constraint failed: trials.number"), message)
            XCTAssertTrue("\(error)".hasPrefix("sweep database \(file): "), "\(error)")
        }
        XCTAssertEqual(try store.trials().count, 2, "addTrials is one transaction")

        let spec = try XCTUnwrap(store.claim(owner: "p", isAbandoned: never))
        try store.appendEpoch(C.epoch(1, valAcc: 0.1), trial: spec.id, owner: "p")
        XCTAssertThrowsError(try store.appendEpoch(C.epoch(1, valAcc: 0.2), trial: spec.id, owner: "p")) { error in
            XCTAssertEqual(error as? SQLiteStoreError, .duplicateEpoch(trial: spec.id, epoch: 1))
        }
    }

    func testErrorsAreOneLineNamingTheFileWithoutSQL() throws {
        let file = path()
        let store = try storeWithTrials(2, path: file)
        var clash = C.spec(9)
        clash.number = 1
        XCTAssertThrowsError(try store.addTrials([clash])) { error in
            let text = "\(error)"
            XCTAssertFalse(text.contains("\n"), text)
            XCTAssertFalse(text.contains("INSERT"), text)
            XCTAssertTrue(text.hasPrefix("sweep database \(file): SQLite error 2067: UNIQUE constraint failed"), text)
        }
        let missingFolder = directory.appendingPathComponent("no/such/folder/x.sqlite").path
        XCTAssertThrowsError(try SQLiteTrialStore(path: missingFolder)) { error in
            XCTAssertEqual("\(error)", "sweep database \(missingFolder): cannot create it: the folder \(directory.path)/no/such/folder does not exist")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: directory.appendingPathComponent("no").path))
    }

    /// SQLite's codes in words: the file and what is wrong, one line, never SQL or its jargon alone.
    func testSQLiteCodesAreSaidInWords() {
        let file = path()
        func said(_ code: ResultCode, _ message: String = "x", sql: String? = nil) -> String {
            "\(SQLiteTrialStore.describe(DatabaseError(resultCode: code, message: message, sql: sql), file))"
        }
        XCTAssertEqual(said(.SQLITE_IOERR_WRITE, "disk I/O error"),
                       "sweep database \(file): a disk read or write failed (SQLite error 778: disk I/O error; is the disk full, removed or failing?)")
        XCTAssertEqual(said(.SQLITE_FULL), "sweep database \(file): cannot write it: the disk is full (SQLite error 13)")
        XCTAssertEqual(said(.SQLITE_CORRUPT), "sweep database \(file): the file is damaged (SQLite error 11: database disk image is malformed)")
        XCTAssertEqual(said(.SQLITE_BUSY), "sweep database \(file): another process kept it locked for more than 10 s (SQLite error 5); try again")
        XCTAssertEqual(said(.SQLITE_READONLY), "sweep database \(file): cannot write it: the file or its folder is read-only (SQLite error 8)")
        XCTAssertEqual(said(.SQLITE_ERROR, "could not activate WAL Mode at path: \(file)"),
                       "sweep database \(file): cannot use it: SQLite could not switch it to WAL mode (the file and its folder must be writable, on a local file system)")
        XCTAssertEqual(said(.SQLITE_CANTOPEN, "unable to open database file"),
                       "sweep database \(file): cannot open it (SQLite error 14: unable to open the database file)")
        let constraint = said(.SQLITE_CONSTRAINT_UNIQUE, "UNIQUE constraint failed: trials.number",
                              sql: "INSERT INTO trials (id, number)\nVALUES (?, ?)")
        XCTAssertEqual(constraint, "sweep database \(file): SQLite error 2067: UNIQUE constraint failed: trials.number")
    }

    // MARK: Closing and reading

    /// After `close()` a sweep is one file, in rollback-journal mode, that reads back whole; it
    /// goes back to WAL when opened for writing again.
    func testCloseLeavesOneFile() throws {
        let file = path()
        let store = try storeWithTrials(3, path: file)
        let spec = try XCTUnwrap(store.claim(owner: "p1", isAbandoned: never))
        try store.finish(trial: spec.id, owner: "p1", TrialFinish(status: .done, seconds: 1), appending: [C.epoch(1, valAcc: 0.5)])
        let before = try store.trials()
        XCTAssertTrue(FileManager.default.fileExists(atPath: file + "-wal"))
        try store.close()
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory.path), ["sweep.sqlite"])
        try raw(file).read { db in
            XCTAssertEqual(try String.fetchOne(db, sql: "PRAGMA journal_mode"), "delete")
        }
        let reader = try SQLiteTrialStore(path: file, create: false, readOnly: true)
        XCTAssertEqual(try reader.trials(), before)
        try reader.close()
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory.path), ["sweep.sqlite"],
                       "a read-only reader creates no file")
        let writer = try SQLiteTrialStore(path: file, create: false)
        XCTAssertEqual(try writer.trials(), before)
        try raw(file).read { db in XCTAssertEqual(try String.fetchOne(db, sql: "PRAGMA journal_mode"), "wal") }
        try writer.close()
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory.path), ["sweep.sqlite"])
    }

    /// A store another connection holds open stays in WAL mode at close, without waiting.
    func testCloseWhileAnotherConnectionReadsDoesNotWait() throws {
        let file = path()
        let store = try storeWithTrials(3, path: file)
        let other = try SQLiteTrialStore(path: file, create: false)
        XCTAssertEqual(try other.trials().count, 3)
        // Not a speed target: a close that waited for the other connection would take the whole
        // busy timeout (10 s, SQLiteTrialStore's), and then still leave the file in WAL mode.
        let start = Date()
        try store.close()
        XCTAssertLessThan(Date().timeIntervalSince(start), 10, "close waited out the busy timeout")
        try raw(file).read { db in XCTAssertEqual(try String.fetchOne(db, sql: "PRAGMA journal_mode"), "wal") }
        XCTAssertEqual(try other.trials().count, 3)
        try other.close()
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory.path), ["sweep.sqlite"])
    }

    func testReadOnlyStoreNeverWrites() throws {
        let file = path()
        try storeWithTrials(2, path: file).close()
        let reader = try SQLiteTrialStore(path: file, create: false, readOnly: true)
        XCTAssertEqual(try reader.counts().total, 2)
        XCTAssertThrowsError(try reader.claim(owner: "p", isAbandoned: never)) { error in
            XCTAssertTrue("\(error)".contains("cannot write it: the file or its folder is read-only"), "\(error)")
        }
        XCTAssertThrowsError(try SQLiteTrialStore(path: path("missing.sqlite"), create: true, readOnly: true)) { error in
            XCTAssertEqual(error as? SQLiteStoreError, .noDatabase(path: path("missing.sqlite")))
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("missing.sqlite")))
    }

    // MARK: Schema

    func testSchemaAsSQLiteUsersSeeIt() throws {
        let file = path()
        let store = try storeWithTrials(3, path: file)
        let spec = try XCTUnwrap(store.claim(owner: "p1", isAbandoned: never))
        for (e, acc) in [0.5, 0.7, 0.7, 0.6].enumerated() {
            try store.appendEpoch(C.epoch(e + 1, valAcc: acc), trial: spec.id, owner: "p1")
        }
        try store.finish(trial: spec.id, owner: "p1", TrialFinish(status: .done, seconds: 9))
        let second = try XCTUnwrap(store.claim(owner: "p1", isAbandoned: never))
        try store.appendEpoch(C.epoch(1, valAcc: 0.9), trial: second.id, owner: "p1")
        try store.finish(trial: second.id, owner: "p1", TrialFinish(status: .done, seconds: 1))

        try raw(file).read { db in
            XCTAssertEqual(try String.fetchOne(db, sql: "PRAGMA journal_mode"), "wal")
            XCTAssertEqual(try Int.fetchOne(db, sql: "PRAGMA user_version"), 4)
            XCTAssertEqual(try String.fetchAll(db, sql: "SELECT identifier FROM grdb_migrations"), ["v1", "v2", "v3", "v4"])
            func columns(_ table: String) throws -> [String] {
                try String.fetchAll(db, sql: "SELECT name FROM pragma_table_info(?) ORDER BY cid", arguments: [table])
            }
            XCTAssertEqual(try columns("sweep"), ["id", "name", "space_json", "space_hash", "created_at", "schedule_rules"])
            XCTAssertEqual(try columns("trials"), [
                "id", "number", "configuration", "schedule", "repeat_index", "seed", "lr_max", "lr_min", "t0",
                "tmult", "lr_max_compression", "trigger_val_acc", "epochs", "step_milestones", "step_factor",
                "plateau_factor", "plateau_patience", "plateau_min_delta", "swept", "status", "owner", "attempts", "started_at", "finished_at", "seconds", "error",
                "best_val_acc", "best_epoch", "final_val_acc", "heartbeat_at",
            ])
            XCTAssertEqual(try columns("epochs"),
                           ["trial_id", "epoch", "lr", "train_loss", "train_acc", "val_loss", "val_acc", "train_seconds", "extra"])
            let indexes = try String.fetchAll(db, sql: "SELECT sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL")
            XCTAssertTrue(indexes.contains { $0.contains("trials (status, number)") }, "\(indexes)")

            let info = try XCTUnwrap(Row.fetchOne(db, sql: "SELECT * FROM sweep"))
            XCTAssertEqual(info["name"], C.sweepInfo.name)
            XCTAssertEqual(info["space_json"], C.sweepInfo.spaceJSON)
            XCTAssertEqual(info["created_at"], C.sweepInfo.createdAt)
            XCTAssertEqual(info["schedule_rules"], ScheduleRules.current.rawValue)
            XCTAssertEqual(try String.fetchAll(db, sql: "SELECT DISTINCT schedule FROM trials ORDER BY schedule"),
                           ["cosine", "sgdr", "step"])

            // Summary columns, computed at finish like TrialRecord (first epoch on ties).
            let row = try XCTUnwrap(Row.fetchOne(db, sql: "SELECT * FROM trials WHERE id = ?", arguments: [spec.id]))
            XCTAssertEqual(row["best_val_acc"], 0.7)
            XCTAssertEqual(row["best_epoch"], 2)
            XCTAssertEqual(row["final_val_acc"], 0.6)
            XCTAssertEqual(row["status"], "done")
            XCTAssertEqual(row["schedule"], "sgdr")
            XCTAssertEqual(row["seed"], 0 as Int64)
            XCTAssertEqual(row["swept"], #"{"lr_max":0.30000000000000004,"t0":1,"tmult":1.15}"#)
            XCTAssertEqual(row["step_milestones"], "[0.5,0.75]")
            XCTAssertEqual(try String.fetchAll(db, sql: "SELECT id FROM trials WHERE best_val_acc IS NOT NULL ORDER BY best_val_acc DESC"),
                           [second.id, spec.id])
            // Seeds are UInt64 stored as their Int64 bit pattern.
            XCTAssertEqual(try Int64.fetchOne(db, sql: "SELECT seed FROM trials WHERE number = 2"), -1)
            XCTAssertEqual(try Int.fetchOne(db, sql: "SELECT count(*) FROM epochs WHERE trial_id = ?", arguments: [spec.id]), 4)
        }
        // Foreign keys: deleting a trial deletes its epochs.
        try DatabaseQueue(path: file).write { db in
            try db.execute(sql: "DELETE FROM trials WHERE id = ?", arguments: [spec.id])
            XCTAssertEqual(try Int.fetchOne(db, sql: "SELECT count(*) FROM epochs WHERE trial_id = ?", arguments: [spec.id]), 0)
            XCTAssertThrowsError(try db.execute(sql: "UPDATE trials SET status = 'bogus'"))
        }
    }

    // MARK: A version-1 sweep (made with the earlier trigger rule)

    /// `Tests/Fixtures/v1-sweep.sqlite`: 12 finished trials written by the code before schema
    /// version 2, copied to a temporary folder.
    func v1Fixture() throws -> String {
        let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Fixtures/v1-sweep.sqlite")
        let file = path("v1.sqlite")
        try FileManager.default.copyItem(atPath: fixture.path, toPath: file)
        return file
    }

    func testVersion1SweepIsReadAsItIsAndNeverMigrated() throws {
        let file = try v1Fixture()
        let before = try Data(contentsOf: URL(fileURLWithPath: file))
        for create in [false, true] {
            let store = try SQLiteTrialStore(path: file, create: create)
            let info = try XCTUnwrap(store.info())
            XCTAssertEqual(info.name, "v1-fixture")
            XCTAssertEqual(info.scheduleRules, .triggerEpochNotAnImprovement)
            let trials = try store.trials()
            XCTAssertEqual(trials.count, 12)
            XCTAssertTrue(trials.allSatisfy { $0.status == .done && $0.epochs.count == 5 })
            XCTAssertEqual(Set(trials.map(\.spec.schedule.kind)), [.sgdr, .step, .cosine])
            XCTAssertTrue(trials.allSatisfy { $0.spec.schedule.plateau == PlateauSettings() })
            // Nothing can be written to it.
            XCTAssertThrowsError(try store.addTrials([C.spec(40)]))
            XCTAssertNil(try store.claim(owner: "p", isAbandoned: { _ in true }), "every trial is finished")
        }
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: file)), before, "the file is untouched")
        try raw(file).read { db in
            XCTAssertEqual(try Int.fetchOne(db, sql: "PRAGMA user_version"), 1)
            XCTAssertEqual(try String.fetchAll(db, sql: "SELECT identifier FROM grdb_migrations"), ["v1"])
        }
    }

    func testVersion1DatabaseWithoutASweepIsMigrated() throws {
        // A version-1 file that never got its sweep row holds no results: it is migrated.
        let file = path()
        try DatabaseQueue(path: file).write { db in
            try db.execute(sql: "CREATE TABLE grdb_migrations (identifier TEXT NOT NULL PRIMARY KEY)")
        }
        let v1 = try raw(try v1Fixture()).read { db in
            try String.fetchAll(db, sql: "SELECT sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'grdb%'")
        }
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            for statement in v1 { try db.execute(sql: statement) }
            try db.execute(sql: "PRAGMA user_version = 1")
        }
        try migrator.migrate(DatabaseQueue(path: file))
        let store = try SQLiteTrialStore(path: file)
        XCTAssertEqual(try store.create(C.sweepInfo).scheduleRules, .current)
        try store.addTrials((0..<5).map { C.spec($0) })
        XCTAssertEqual(try store.trials().map(\.spec), (0..<5).map { C.spec($0) }, "plateau trials round-trip")
        try raw(file).read { db in XCTAssertEqual(try Int.fetchOne(db, sql: "PRAGMA user_version"), 4) }
    }

    // MARK: Performance

    /// Figures printed for the README (no bounds: timings are the machine's).
    func testPerformanceFigures() throws {
        let file = path()
        let store = try storeWithTrials(1001, path: file)
        let spec = try XCTUnwrap(store.claim(owner: "p", isAbandoned: never))
        var start = Date()
        for e in 1...1000 { try store.appendEpoch(C.epoch(e, valAcc: 0.5), trial: spec.id, owner: "p") }
        let appendSeconds = Date().timeIntervalSince(start)
        try store.finish(trial: spec.id, owner: "p", TrialFinish(status: .done, seconds: 1))

        var finished = 0
        var claimSeconds = 0.0, finishSeconds = 0.0
        while true {
            start = Date()
            guard let next = try store.claim(owner: "p", isAbandoned: never) else { break }
            claimSeconds += Date().timeIntervalSince(start)
            start = Date()
            try store.finish(trial: next.id, owner: "p", TrialFinish(status: .done, seconds: 1))
            finishSeconds += Date().timeIntervalSince(start)
            finished += 1
        }
        let claimFinishSeconds = claimSeconds + finishSeconds
        start = Date()
        let records = try store.trials()
        let readSeconds = Date().timeIntervalSince(start)
        XCTAssertEqual(finished, 1000)
        XCTAssertEqual(records.count, 1001)
        print(String(format: "SQLiteTrialStore: 1000 appendEpoch %.3f s (%.2f ms each); claim+finish of 1000 trials %.3f s (%.2f ms per trial: claim %.3f s, finish %.3f s); trials() of 1001 trials + 2001 epochs %.3f s",
                     appendSeconds, appendSeconds, claimFinishSeconds, claimFinishSeconds, claimSeconds, finishSeconds, readSeconds))
    }
}

/// The child side of `testSeveralProcessesClaimEveryTrialExactlyOnce`: does nothing unless
/// started by it (with SGDR_SQLITE_WORKER_DB set).
final class SQLiteStoreWorkerProcess: XCTestCase {
    /// The owners' process prefixes that must all hold a trial before any worker goes on.
    static let processes = ["child0", "child1", "parent"]

    struct NoRendezvous: Error, CustomStringConvertible {
        var owners: Set<String>
        var description: String { "after 60 s only these processes had claimed a trial: \(owners.sorted())" }
    }

    static func work(_ store: SQLiteTrialStore, owner: String) throws {
        var first = true
        while let spec = try store.claim(owner: owner, isAbandoned: { _ in false }) {
            if first {
                first = false
                let end = Date().addingTimeInterval(60)
                while true {
                    let owners = Set(try store.trials(withEpochs: false).compactMap { $0.owner.map { String($0.prefix(6)) } })
                    if owners.isSuperset(of: processes) { break }
                    if Date() > end { throw NoRendezvous(owners: owners) }
                    Thread.sleep(forTimeInterval: 0.01)
                }
            }
            for e in 1...2 {
                try store.appendEpoch(TrialStoreContract.epoch(e, valAcc: 0.5), trial: spec.id, owner: owner)
            }
            try store.finish(trial: spec.id, owner: owner, TrialFinish(status: .done, seconds: 0.01))
        }
    }

    /// Not a test of its own: the body of a child process of the test above, skipped otherwise.
    func testWorker() throws {
        let env = ProcessInfo.processInfo.environment
        guard let file = env["SGDR_SQLITE_WORKER_DB"], let name = env["SGDR_SQLITE_WORKER_NAME"] else {
            throw XCTSkip("a child process of testSeveralProcessesClaimEveryTrialExactlyOnce, run only by it")
        }
        let store = try SQLiteTrialStore(path: file, create: false)
        let errors = Locked<[String]>([])
        DispatchQueue.concurrentPerform(iterations: 2) { t in
            do { try Self.work(store, owner: "\(name)-\(t)") } catch { errors.mutate { $0.append("\(error)") } }
        }
        XCTAssertEqual(errors.value, [])
    }
}
