import Foundation
import Synchronization
import GRDB
import Schedules
import StoreSQL
import Sweep
import TrainingTypes

/// Errors of the SQLite store itself. Contract violations are `TrialStoreError`s.
public enum SQLiteStoreError: Error, Hashable, CustomStringConvertible {
    /// `create: false` and there is no file at the path.
    case noDatabase(path: String)
    /// The file exists but does not hold a sgdr-search sweep (a text file, another
    /// application's SQLite database, ...).
    case notASweepDatabase(path: String, reason: String)
    /// The database was written by a newer sgdr-search with a schema this build does not know.
    case newerSchema(path: String, version: Int)
    /// `appendEpochs` (or `finish`) with an epoch number the trial's current attempt already has.
    case duplicateEpoch(trial: String, epoch: Int)
    /// Any other SQLite (or decoding) error, with SQLite's message.
    case database(path: String, message: String)
    /// The file cannot be opened, read or written, said in words: "cannot open PATH: the folder
    /// /x does not exist", "cannot write PATH: the disk is full".
    case file(path: String, problem: String)

    public var description: String {
        switch self {
        case .file(let path, let problem): "sweep database \(path): \(problem)"
        case .noDatabase(let path): "no sweep database at \(path)"
        case .notASweepDatabase(let path, let reason): "\(path) is not a sgdr-search sweep database: \(reason)"
        case .newerSchema(let path, let version):
            "\(path) was written by a newer sgdr-search (schema version \(version); this build knows \(SQLiteSchema.version))"
        case .duplicateEpoch(let trial, let epoch): "trial \(trial) already has epoch \(epoch)"
        case .database(let path, let message): "sweep database \(path): \(message)"
        }
    }
}

/// A `TrialStore` in an SQLite file, shared safely by threads and processes.
///
/// One GRDB `DatabasePool` per instance: WAL journal, `synchronous = NORMAL`, a 10 s busy
/// timeout, foreign keys on. Every method is one transaction; writes are `BEGIN IMMEDIATE`, so
/// that a writer in another process waits for the lock (up to the busy timeout) instead of
/// failing on a lock upgrade, and claims are exclusive across processes. Reads are WAL
/// snapshots. See `SQLiteSchema` and the README for the tables.
///
/// `readOnly` opens one read-only connection that never writes, nor creates a file beside the
/// database (for the reading commands: a user who may read a sweep but not write its folder).
/// `close()` checkpoints the WAL into the file and, when no other connection has it open, turns
/// the file back to a rollback journal, so that a finished sweep is one self-contained file that
/// read-only readers open without creating `-wal`/`-shm` files.
public final class SQLiteTrialStore: TrialStore, Sendable {
    public let path: String
    /// True for the reading commands' store, and for a sweep made with earlier schedule rules
    /// (read, never written: opening it for writing would already change its file).
    public let isReadOnly: Bool
    /// A `DatabasePool`, or a read-only `DatabaseQueue` when `isReadOnly`.
    private let pool: any DatabaseWriter
    /// Whether `trials` has the plateau columns (schema version 2; a version-1 file has not).
    private let hasPlateauColumns: Bool
    /// Decoded `step_milestones` texts (every trial of a sweep has the same).
    private let milestones = MilestoneCache()

    /// Seconds after its last heartbeat at which a running trial is runnable by any worker
    /// (nil: only `isAbandoned` frees a running trial; see `TrialStore`'s Leases).
    public let lease: Double?
    /// Where heartbeats, lease expiry and the start and finish times read the time (a test's
    /// `ManualClock`; by default the real time).
    public let clock: SweepClock

    /// Opens the sweep database at `path`, creating it (and its schema) when `create` is true.
    /// With `create: false` a missing file is an error (`no sweep database at PATH`) and no file
    /// is created; `readOnly` opens an existing file for reading only.
    public init(path: String, create: Bool = true, readOnly: Bool = false, lease: Double? = nil,
                clock: SweepClock = .system) throws {
        self.path = path
        self.lease = lease
        self.clock = clock
        let fm = FileManager.default
        var isDirectory: ObjCBool = false
        let exists = fm.fileExists(atPath: path, isDirectory: &isDirectory)
        if isDirectory.boolValue {
            throw SQLiteStoreError.notASweepDatabase(path: path, reason: "it is a directory")
        }
        if (!create || readOnly) && !exists { throw SQLiteStoreError.noDatabase(path: path) }
        if exists {
            if !fm.isReadableFile(atPath: path) {
                throw SQLiteStoreError.file(path: path, problem: "cannot read it: permission denied")
            }
            let size = (try? fm.attributesOfItem(atPath: path)[.size]).flatMap { ($0 as? NSNumber)?.int64Value } ?? 1
            if size > 0 {
                if readOnly {
                    let queue = try Self.openReadOnly(path: path, create: false)
                    pool = queue
                    isReadOnly = true
                    hasPlateauColumns = try Self.plateauColumns(queue, path: path)
                    return
                }
                if !fm.isWritableFile(atPath: path) || !fm.isWritableFile(atPath: Self.folder(of: path)) {
                    try Self.checkWritable(path: path, exists: true)
                }
                if try Self.probe(path: path, create: create) {
                    // A sweep of earlier rules: read as it is, never migrated nor written.
                    let queue = try Self.openReadOnly(path: path, create: false)
                    pool = queue
                    isReadOnly = true
                    hasPlateauColumns = try Self.plateauColumns(queue, path: path)
                    return
                }
            } else if !create || readOnly {
                throw SQLiteStoreError.notASweepDatabase(path: path, reason: "the file is empty")
            }
        }
        if !fm.isWritableFile(atPath: exists ? path : Self.folder(of: path)) {
            try Self.checkWritable(path: path, exists: exists)
        }

        var config = Configuration()
        config.busyMode = .timeout(10)
        // (DatabasePool gives its reader connections a 10 s busy timeout of its own.)
        config.foreignKeysEnabled = true
        config.journalMode = .wal  // DatabasePool's default; also sets synchronous = NORMAL
        config.label = "sgdr-search.sweep"
        let pool: DatabasePool
        do {
            pool = try Self.openPool(path: path, configuration: config)
        } catch let error as DatabaseError where error.resultCode == .SQLITE_NOTADB {
            throw SQLiteStoreError.notASweepDatabase(path: path, reason: "not an SQLite database")
        } catch {
            throw Self.wrap(error, path)
        }
        try Self.checkAndMigrate(pool, path: path, create: create)
        self.pool = pool
        isReadOnly = false
        hasPlateauColumns = true
    }

    /// Whether the file's `trials` table has the plateau columns of schema version 2.
    private static func plateauColumns(_ reader: any DatabaseReader, path: String) throws -> Bool {
        do {
            return try reader.read { db in
                try Row.fetchAll(db, sql: "PRAGMA table_info(trials)").contains { ($0["name"] as String?) == "plateau_factor" }
            }
        } catch {
            throw wrap(error, path)
        }
    }

    /// The folder that holds `path` ("." for a bare file name).
    static func folder(of path: String) -> String {
        let dir = (path as NSString).deletingLastPathComponent
        return dir.isEmpty ? "." : dir
    }

    /// Says why the file (or, for a new one, its folder) cannot be written, before SQLite does.
    private static func checkWritable(path: String, exists: Bool) throws {
        let fm = FileManager.default
        let dir = folder(of: path)
        var isDirectory: ObjCBool = false
        if !fm.fileExists(atPath: dir, isDirectory: &isDirectory) {
            throw SQLiteStoreError.file(path: path, problem: "cannot create it: the folder \(dir) does not exist")
        }
        if !isDirectory.boolValue {
            throw SQLiteStoreError.file(path: path, problem: "cannot create it: \(dir) is not a folder")
        }
        if exists {
            let what = fm.isWritableFile(atPath: path) ? "its folder \(dir) is not writable (SQLite keeps its -wal and -shm files there)"
                : "the file is read-only"
            throw SQLiteStoreError.file(path: path, problem: "cannot write it: \(what); the reading commands leaderboard, best, status and report work on it")
        }
        throw SQLiteStoreError.file(path: path, problem: "cannot create it: the folder \(dir) is not writable")
    }

    /// One read-only connection: no write, no file created. A sweep in WAL mode whose `-wal`
    /// and `-shm` files are gone (closed uncleanly, then checkpointed by a reader that could not
    /// remove them, or copied alone) cannot be opened read-only in a folder we may not write:
    /// then it is read as an immutable file, which it is (nobody can write it in WAL mode there
    /// without creating those files).
    private static func openReadOnly(path: String, create: Bool) throws -> DatabaseQueue {
        var config = Configuration()
        config.readonly = true
        config.busyMode = .timeout(10)
        config.label = "sgdr-search.sweep.read"
        let fm = FileManager.default
        do {
            let queue = try DatabaseQueue(path: path, configuration: config)
            try inspect(queue, path: path, create: create)
            return queue
        } catch let error as SQLiteStoreError {
            throw error
        } catch let error as DatabaseError
                    where (error.resultCode == .SQLITE_CANTOPEN || error.resultCode == .SQLITE_READONLY)
                          && !fm.fileExists(atPath: path + "-wal") && !fm.isWritableFile(atPath: folder(of: path)) {
            do {
                let uri = "file:" + (path.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? path) + "?immutable=1"
                let queue = try DatabaseQueue(path: uri, configuration: config)
                try inspect(queue, path: path, create: create)
                return queue
            } catch let error as SQLiteStoreError {
                throw error
            } catch {
                throw wrap(error, path)
            }
        } catch {
            throw wrap(error, path)
        }
    }

    /// Opens the pool, waiting out a concurrent opener: switching a new file to WAL
    /// (`PRAGMA journal_mode = WAL`) needs an exclusive lock and answers SQLITE_BUSY at once,
    /// without the busy handler, while another process (or pool) is doing the same.
    private static func openPool(path: String, configuration: GRDB.Configuration) throws -> DatabasePool {
        let deadline = Date().addingTimeInterval(10)
        var delay = 0.005
        while true {
            do {
                return try DatabasePool(path: path, configuration: configuration)
            } catch let error as DatabaseError
                        where (error.resultCode == .SQLITE_BUSY || isWALActivation(error)) && Date() < deadline {
                // (Switching to WAL also fails, without SQLITE_BUSY, while another process
                // reads the file in rollback mode.)
                Thread.sleep(forTimeInterval: delay)
                delay = min(delay * 2, 0.1)
            }
        }
    }

    static func isWALActivation(_ error: DatabaseError) -> Bool {
        error.message?.hasPrefix("could not activate WAL Mode") ?? false
    }

    /// Refuses what is not a sweep database of ours: throws unless `reader` holds our schema,
    /// or nothing yet (then `create` must be true).
    private static func inspect(_ reader: any DatabaseReader, path: String, create: Bool) throws {
        let migrator = SQLiteSchema.migrator
        let (tables, applied, userVersion) = try reader.read { db -> (Set<String>, Set<String>, Int) in
            let tables = try Set(String.fetchAll(db, sql: """
                SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'
                """))
            let applied = tables.contains(SQLiteSchema.migrationTable)
                ? try migrator.appliedIdentifiers(db) : []
            let userVersion = try Int.fetchOne(db, sql: "PRAGMA user_version") ?? 0
            return (tables, applied, userVersion)
        }
        if tables.isSubset(of: [SQLiteSchema.migrationTable]) && applied.isEmpty {
            if !create {
                throw SQLiteStoreError.notASweepDatabase(path: path, reason: "it has no sweep tables")
            }
            return
        }
        if userVersion > SQLiteSchema.version {
            throw SQLiteStoreError.newerSchema(path: path, version: userVersion)
        }
        guard applied.contains("v1"), SQLiteSchema.tables.isSubset(of: tables) else {
            let names = tables.sorted().prefix(5).joined(separator: ", ")
            throw SQLiteStoreError.notASweepDatabase(
                path: path, reason: "it is an SQLite database with other tables (\(names))")
        }
    }

    /// A version-1 database that holds a sweep: made with the earlier trigger rule, read as it
    /// is and never migrated (commands refuse to extend it; see `ScheduleRules`).
    private static func holdsEarlierSweep(_ reader: any DatabaseReader) throws -> Bool {
        try reader.read { db in
            let version = try Int.fetchOne(db, sql: "PRAGMA user_version") ?? 0
            guard version == 1 else { return false }
            return try Int.fetchOne(db, sql: "SELECT count(*) FROM sweep") ?? 0 > 0
        }
    }

    /// Checks an existing file through a read-only connection, which changes nothing in it
    /// (a pool would switch a foreign database to WAL before we could look). Returns whether it
    /// holds a sweep made with earlier schedule rules.
    private static func probe(path: String, create: Bool) throws -> Bool {
        do {
            let queue = try openReadOnly(path: path, create: create)
            let earlier = try holdsEarlierSweep(queue)
            try queue.close()
            return earlier
        } catch let error as SQLiteStoreError {
            throw error
        } catch {
            throw wrap(error, path)
        }
    }

    /// Checks again (the file may be new) and migrates a new database.
    private static func checkAndMigrate(_ pool: DatabasePool, path: String, create: Bool) throws {
        let migrator = SQLiteSchema.migrator
        do {
            try inspect(pool, path: path, create: create)
            do {
                try migrator.migrate(pool)
            } catch {
                // Another process may be migrating the same new file: the migrator reads what is
                // applied outside its transactions (one per migration), so one of our migrations
                // can collide with one of theirs and be rolled back while theirs go on. Wait for
                // theirs to complete (up to the busy timeout) instead of failing.
                let deadline = Date().addingTimeInterval(10)
                while try !pool.read(migrator.hasCompletedMigrations) {
                    guard Date() < deadline else { throw error }
                    Thread.sleep(forTimeInterval: 0.01)
                }
            }
        } catch let error as SQLiteStoreError {
            throw error
        } catch {
            throw wrap(error, path)
        }
    }

    // MARK: - TrialStore

    public func create(_ info: SweepInfo) throws -> SweepInfo {
        try write { db in
            if let stored = try Self.fetchInfo(db) { return stored }
            try db.execute(
                sql: """
                    INSERT INTO sweep (id, name, space_json, space_hash, created_at, schedule_rules)
                    VALUES (1, ?, ?, ?, ?, ?)
                    """,
                arguments: [info.name, info.spaceJSON, info.spaceHash, info.createdAt, info.scheduleRules.rawValue])
            return info
        }
    }

    public func info() throws -> SweepInfo? {
        try read { try Self.fetchInfo($0) }
    }

    public func updateSpace(json: String, hash: String) throws {
        try write { db in
            try db.execute(sql: "UPDATE sweep SET space_json = ?, space_hash = ? WHERE id = 1", arguments: [json, hash])
            if db.changesCount == 0 { throw TrialStoreError.notCreated }
        }
    }

    public func addTrials(_ specs: [TrialSpec]) throws {
        try write { db in
            guard try Self.fetchInfo(db) != nil else { throw TrialStoreError.notCreated }
            let insert = try db.cachedStatement(sql: """
                INSERT INTO trials (id, number, configuration, schedule, repeat_index, seed,
                    \(Self.parameterColumns),
                    epochs, step_milestones, step_factor, plateau_factor, plateau_patience, plateau_min_delta,
                    swept, status, attempts)
                VALUES (?, ?, ?, ?, ?, ?, \(Self.parameterPlaceholders), ?, ?, ?, ?, ?, ?, ?, ?, 0)
                ON CONFLICT (id) DO NOTHING
                """)
            for spec in specs {
                let s = spec.schedule
                let p = s.parameters
                let values: [(any DatabaseValueConvertible)?] = [
                    spec.id, spec.number, spec.configuration, s.kind.rawValue, spec.repeatIndex,
                    Int64(bitPattern: spec.seed),
                ] + Self.parameterValues(p) + [
                    s.epochs, JSONText.array(s.stepMilestones), s.stepFactor,
                    s.plateau.factor, s.plateau.patience, s.plateau.minDelta, JSONText.object(spec.swept),
                    TrialStatus.pending.rawValue,
                ]
                try insert.execute(arguments: StatementArguments(values))
            }
        }
    }

    /// `isAbandoned` runs inside the write transaction (other writers wait meanwhile), at most
    /// once per owner of a running trial numbered below the first pending/interrupted one:
    /// keep it quick (e.g. a `kill(pid, 0)` check).
    public func claim(owner: String, isAbandoned: (String) -> Bool) throws -> TrialSpec? {
        let now = clock.now()
        return try write { db -> TrialSpec? in
            // The smallest pending or interrupted number: two index lookups on (status, number).
            let first = try db.cachedStatement(
                sql: "SELECT min(number) FROM trials WHERE status = ?")
            var best: Int? = nil
            for status in [TrialStatus.pending, .interrupted] {
                if let n = try Int.fetchOne(first, arguments: [status.rawValue]) { best = min(best ?? n, n) }
            }
            // Running trials below it (a handful: one per live worker) are runnable when abandoned
            // or when their lease has expired. (`*`: a version-1 or -2 database, read as it is, has
            // no heartbeat_at.)
            let running = try Row.fetchCursor(db.cachedStatement(sql: """
                SELECT * FROM trials WHERE status = \(TrialStatus.running.sql) AND number < ? ORDER BY number
                """), arguments: [best ?? Int.max])
            var verdicts: [String: Bool] = [:]
            while let row = try running.next() {
                let expired = lease.map { lease in (row["heartbeat_at"] as Double?).map { $0 < now - lease } ?? false } ?? false
                if !expired, let holder = row["owner"] as String? {
                    let dead = verdicts[holder] ?? isAbandoned(holder)
                    verdicts[holder] = dead
                    if !dead { continue }
                }
                best = row["number"]
                break
            }
            guard let number = best,
                  let row = try Row.fetchOne(db.cachedStatement(sql: "SELECT * FROM trials WHERE number = ?"),
                                             arguments: [number])
            else { return nil }
            let spec = try Self.decodeSpec(row)
            try db.execute(sql: "DELETE FROM epochs WHERE trial_id = ?", arguments: [spec.id])
            try db.execute(sql: """
                UPDATE trials SET status = \(TrialStatus.running.sql), owner = ?, attempts = attempts + 1, started_at = ?,
                    finished_at = NULL, seconds = NULL, error = NULL,
                    best_val_acc = NULL, best_epoch = NULL, final_val_acc = NULL, heartbeat_at = ?
                WHERE id = ?
                """, arguments: [owner, now, now, spec.id])
            return spec
        }
    }

    public func heartbeat(trial id: String, owner: String) throws {
        let now = clock.now()
        try write { db in
            try Self.checkRunning(db, id, owner)
            try db.execute(sql: "UPDATE trials SET heartbeat_at = ? WHERE id = ?", arguments: [now, id])
        }
    }

    public func appendEpochs(_ metrics: [EpochMetrics], trial id: String, owner: String) throws {
        try write { db in
            try Self.checkRunning(db, id, owner)
            try Self.insertEpochs(db, metrics, trial: id)
        }
    }

    private static func insertEpochs(_ db: Database, _ metrics: [EpochMetrics], trial id: String) throws {
        for m in metrics {
            do {
                try db.cachedStatement(sql: """
                    INSERT INTO epochs (trial_id, epoch, lr, train_loss, train_acc, val_loss, val_acc, train_seconds, extra)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """).execute(arguments: [id, m.epoch, m.lr, m.trainLoss, m.trainAcc, m.valLoss, m.valAcc, m.trainSeconds,
                                             m.extra.isEmpty ? nil : JSONText.object(m.extra)])
            } catch let error as DatabaseError where error.extendedResultCode == .SQLITE_CONSTRAINT_PRIMARYKEY {
                throw SQLiteStoreError.duplicateEpoch(trial: id, epoch: m.epoch)
            }
        }
    }

    public func finish(trial id: String, owner: String, _ finish: TrialFinish, appending newEpochs: [EpochMetrics]) throws {
        let now = clock.now()
        try write { db in
            try Self.checkRunning(db, id, owner)
            try Self.insertEpochs(db, newEpochs, trial: id)
            let epochs = try Self.fetchEpochs(db, trial: id)
            // The summary as TrialRecord defines it (first epoch on ties).
            try db.execute(sql: """
                UPDATE trials SET status = ?, seconds = ?, error = ?, finished_at = ?,
                    best_val_acc = ?, best_epoch = ?, final_val_acc = ?
                WHERE id = ?
                """, arguments: [finish.status.rawValue, finish.seconds, finish.error, now,
                                 epochs.bestValAcc, epochs.bestEpoch, epochs.finalValAcc, id])
        }
    }

    public func interrupt(trial id: String, owner: String) throws {
        try write { db in
            try Self.checkRunning(db, id, owner)
            try db.execute(sql: "UPDATE trials SET status = \(TrialStatus.interrupted.sql) WHERE id = ?", arguments: [id])
        }
    }

    public func trials() throws -> [TrialRecord] { try trials(withEpochs: true) }

    /// The columns `decodeRecord` reads, in its order (a version-1 file, without the plateau
    /// columns, gives their defaults in their place).
    /// The schedule parameters' columns come last, in `ScheduleParameter` order.
    private var recordColumns: String {
        """
        id, number, configuration, schedule, repeat_index, seed, epochs, step_milestones, step_factor, swept,
        status, owner, attempts, started_at, finished_at, seconds, error, best_val_acc, best_epoch, final_val_acc,
        """ + (hasPlateauColumns ? "plateau_factor, plateau_patience, plateau_min_delta, " : "0.1, 3, 0.0001, ")
            + Self.parameterColumns
    }

    /// `lr_max, lr_min, t0, ...`: one column per schedule parameter, named as in space files.
    static let parameterColumns = ScheduleParameter.allCases.map(\.name).joined(separator: ", ")
    static let parameterPlaceholders = ScheduleParameter.allCases.map { _ in "?" }.joined(separator: ", ")

    /// The parameters' values in `parameterColumns` order (integers as integers).
    static func parameterValues(_ p: SGDRParameters) -> [(any DatabaseValueConvertible)?] {
        ScheduleParameter.allCases.map { q -> (any DatabaseValueConvertible)? in
            q.isInteger ? Int64(exactly: q.value(in: p).rounded(.towardZero)) : q.value(in: p)
        }
    }

    public func trials(withEpochs: Bool) throws -> [TrialRecord] {
        try read { db in
            var epochs: [String: [EpochMetrics]] = [:]
            if withEpochs {
                let epochRows = try Row.fetchCursor(db, sql: "SELECT * FROM epochs ORDER BY trial_id, epoch")
                while let row = try epochRows.next() {
                    epochs[row["trial_id"], default: []].append(Self.decodeEpoch(row))
                }
            }
            var records: [TrialRecord] = []
            if let n = try Int.fetchOne(db, sql: "SELECT count(*) FROM trials") { records.reserveCapacity(n) }
            let rows = try Row.fetchCursor(db, sql: "SELECT \(recordColumns) FROM trials ORDER BY number")
            while let row = try rows.next() {
                var record = try decodeRecord(row)
                if withEpochs {
                    record.epochs = epochs[record.spec.id] ?? []
                    record.summary = nil
                }
                records.append(record)
            }
            return records
        }
    }

    /// Straight through SQLite's C interface: a million rows in a fraction of a second.
    public func briefs(_ objective: Objective) throws -> [TrialBrief] {
        let column = objective == .bestValAcc ? "best_val_acc" : "final_val_acc"
        return try read { db in
            var out: [TrialBrief] = []
            if let n = try Int.fetchOne(db, sql: "SELECT count(*) FROM trials") { out.reserveCapacity(n) }
            let statement = try db.makeStatement(
                sql: "SELECT number, status, \(column), seconds, finished_at, attempts FROM trials")
            let rows = RawRows(statement, in: db)
            defer { rows.reset() }
            var sorted = true
            while try rows.next() {
                let number = rows.int(0)
                guard let status = rows.text(1).flatMap(TrialStatus.init(rawValue:)) else {
                    throw SQLiteStoreError.database(path: path, message: "trial number \(number) has an unknown status")
                }
                if let last = out.last, last.number > number { sorted = false }
                out.append(TrialBrief(number: number, status: status, score: status.isFinished ? rows.real(2) : nil,
                                      seconds: rows.real(3), finishedAt: rows.real(4), claimed: rows.int(5) > 0))
            }
            if !sorted { out.sort { $0.number < $1.number } }
            return out
        }
    }

    /// Straight through SQLite's C interface, as `briefs`: one pass in number order, in two
    /// stages on two threads (`TrialLinePipe`): one steps the statement and copies each row's
    /// columns into a block, the calling thread decodes the blocks' swept texts (once per run
    /// of equal texts) and hands the lines to `body`, in order.
    public func forEachTrialLine(_ body: (TrialLine) throws -> Void) throws {
        try forEachTrialLine(rowsPerBlock: TrialLinePipe.rowsPerBlock, body)
    }

    /// `forEachTrialLine` in blocks of `rowsPerBlock` rows (tests: many blocks from a few rows).
    func forEachTrialLine(rowsPerBlock: Int, _ body: (TrialLine) throws -> Void) throws {
        try read { db in
            let statement = try db.makeStatement(sql: """
                SELECT number, configuration, repeat_index, schedule, swept, status, attempts, seconds,
                    best_val_acc, best_epoch, final_val_acc FROM trials ORDER BY number
                """)
            let rows = RawRows(statement, in: db)
            defer { rows.reset() }
            try TrialLinePipe.run(rows: rows, path: path, rowsPerBlock: rowsPerBlock) { block in
                // The last swept text's values: the reader's own (written over in place: `body`
                // keeps no copy), or the general reader's for a text not of the plain form.
                var lastStart = -1, lastEnd = -1
                try block.sweptBytes.withUnsafeBufferPointer { all in
                    for r in 0..<block.count {
                        let start = r == 0 ? 0 : block.sweptEnd[r - 1], end = block.sweptEnd[r]
                        let same = lastStart >= 0 && end - start == lastEnd - lastStart
                            && (end == start || memcmp(all.baseAddress! + start, all.baseAddress! + lastStart, end - start) == 0)
                        if !same {
                            let text = UnsafeBufferPointer(rebasing: all[start..<end])
                            block.general = block.reader.read(text) ? nil : SweptValues(
                                try Self.json(JSONText.numbers, String(decoding: text, as: UTF8.self), "number \(block.number[r])"))
                        }
                        (lastStart, lastEnd) = (start, end)
                        try body(TrialLine(
                            number: block.number[r], configuration: block.configuration[r], repeatIndex: block.repeatIndex[r],
                            kind: block.kind[r], swept: block.general ?? block.reader.values, status: block.status[r],
                            attempts: block.attempts[r], seconds: block.seconds[r], bestValAcc: block.bestValAcc[r],
                            bestEpoch: block.bestEpoch[r], finalValAcc: block.finalValAcc[r]))
                    }
                }
            }
        }
    }

    public func trials(numbers: [Int]) throws -> [TrialRecord] {
        try read { db in
            let statement = try db.cachedStatement(sql: "SELECT \(recordColumns) FROM trials WHERE number = ?")
            var out: [TrialRecord] = []
            for n in Set(numbers).sorted() {
                if let row = try Row.fetchOne(statement, arguments: [n]) { out.append(try decodeRecord(row)) }
            }
            return out
        }
    }

    public func epochs(ofTrials ids: [String]) throws -> [String: [EpochMetrics]] {
        try read { db in
            var out: [String: [EpochMetrics]] = [:]
            let statement = try db.cachedStatement(sql: "SELECT * FROM epochs WHERE trial_id = ? ORDER BY epoch")
            for id in Set(ids) {
                let epochs = try Row.fetchAll(statement, arguments: [id]).map(Self.decodeEpoch)
                if !epochs.isEmpty { out[id] = epochs }
            }
            return out
        }
    }

    public func heartbeats() throws -> [String: Double] {
        try read { db in
            var out: [String: Double] = [:]
            for row in try Row.fetchAll(db, sql: """
                SELECT id, heartbeat_at FROM trials WHERE status = \(TrialStatus.running.sql) AND heartbeat_at IS NOT NULL
                """) { out[row[0]] = row[1] }
            return out
        }
    }

    public func runningOwners() throws -> Set<String> {
        try read { db in
            Set(try String.fetchAll(db, sql: "SELECT DISTINCT owner FROM trials WHERE status = \(TrialStatus.running.sql) AND owner IS NOT NULL"))
        }
    }

    public func counts() throws -> TrialCounts {
        try read { db in
            var counts = TrialCounts()
            for row in try Row.fetchAll(db, sql: "SELECT status, count(*) FROM trials GROUP BY status") {
                let text: String = row[0]
                guard let status = TrialStatus(rawValue: text) else {
                    throw SQLiteStoreError.database(path: path, message: "a trial has the unknown status \(text)")
                }
                counts.byStatus[status] = row[1]
            }
            counts.nextNumber = try Int.fetchOne(db, sql: "SELECT max(number) + 1 FROM trials") ?? 0
            return counts
        }
    }

    public func bestDone(_ objective: Objective) throws -> (id: String, score: Double)? {
        // The column names are our own (Objective's raw values are the columns' names).
        let column = objective == .bestValAcc ? "best_val_acc" : "final_val_acc"
        return try read { db in
            try Row.fetchOne(db, sql: """
                SELECT id, \(column) FROM trials WHERE status = \(TrialStatus.done.sql) AND \(column) IS NOT NULL
                ORDER BY \(column) DESC, number LIMIT 1
                """).map { ($0[0], $0[1]) }
        }
    }

    /// Checkpoints the WAL into the file and closes every connection. When no other process has
    /// the file open, it also goes back to a rollback journal: the finished sweep is then one
    /// file, which readers open without creating `-wal`/`-shm` beside it. Never waits for
    /// another process (a busy file stays in WAL mode, for its last user to close).
    public func close() throws {
        guard let pool = pool as? DatabasePool else {
            try pool.close()
            return
        }
        pool.releaseMemory()  // closes the idle reader connections: the writer is the last one
        do {
            try pool.writeWithoutTransaction { db in
                try db.execute(sql: "PRAGMA busy_timeout = 0")
                _ = try? db.checkpoint(.truncate)
                _ = try? String.fetchOne(db, sql: "PRAGMA journal_mode = DELETE")
            }
            try pool.close()
        } catch {
            throw Self.wrap(error, path)
        }
    }

    // MARK: - Transactions and errors

    /// One IMMEDIATE transaction on the writer connection.
    private func write<T>(_ body: (Database) throws -> T) throws -> T {
        do {
            return try pool.writeWithoutTransaction { db in
                var result: T?
                try db.inTransaction(.immediate) {
                    result = try body(db)
                    return .commit
                }
                return result!
            }
        } catch {
            throw Self.wrap(error, path)
        }
    }

    /// One read transaction (a WAL snapshot) on a reader connection.
    private func read<T>(_ body: (Database) throws -> T) throws -> T {
        do {
            return try pool.read(body)
        } catch {
            throw Self.wrap(error, path)
        }
    }

    /// Contract errors pass through; SQLite's become `SQLiteStoreError`s that name the file and
    /// say what is wrong in one line (never the SQL statement).
    static func wrap(_ error: any Error, _ path: String) -> any Error {
        switch error {
        case is TrialStoreError: return error
        case let e as SQLiteStoreError:
            if case .database("", let message) = e { return SQLiteStoreError.database(path: path, message: message) }
            return e
        case let e as DatabaseError:
            return describe(e, path)
        default:
            return SQLiteStoreError.database(path: path, message: String(describing: error))
        }
    }

    /// SQLite's result codes, in words.
    static func describe(_ e: DatabaseError, _ path: String) -> SQLiteStoreError {
        let code = "SQLite error \(e.extendedResultCode.rawValue)"
        let fm = FileManager.default
        if isWALActivation(e) {
            return .file(path: path, problem: "cannot use it: SQLite could not switch it to WAL mode (the file and its folder must be writable, on a local file system)")
        }
        switch e.resultCode {
        case .SQLITE_NOTADB:
            return .notASweepDatabase(path: path, reason: "not an SQLite database")
        case .SQLITE_CANTOPEN:
            let dir = folder(of: path)
            var isDirectory: ObjCBool = false
            if !fm.fileExists(atPath: dir, isDirectory: &isDirectory) {
                return .file(path: path, problem: "cannot open it: the folder \(dir) does not exist")
            }
            if !isDirectory.boolValue { return .file(path: path, problem: "cannot open it: \(dir) is not a folder") }
            if fm.fileExists(atPath: path) && !fm.isReadableFile(atPath: path) {
                return .file(path: path, problem: "cannot open it: permission denied")
            }
            if !fm.isWritableFile(atPath: dir) {
                return .file(path: path, problem: "cannot open it: its folder \(dir) is not writable, and SQLite needs to create its -wal and -shm files there (\(code))")
            }
            return .file(path: path, problem: "cannot open it (\(code): unable to open the database file)")
        case .SQLITE_READONLY:
            return .file(path: path, problem: "cannot write it: the file or its folder is read-only (\(code))")
        case .SQLITE_FULL:
            return .file(path: path, problem: "cannot write it: the disk is full (\(code))")
        case .SQLITE_IOERR:
            return .file(path: path, problem: "a disk read or write failed (\(code): disk I/O error; is the disk full, removed or failing?)")
        case .SQLITE_CORRUPT:
            return .file(path: path, problem: "the file is damaged (\(code): database disk image is malformed)")
        case .SQLITE_BUSY, .SQLITE_LOCKED:
            return .file(path: path, problem: "another process kept it locked for more than 10 s (\(code)); try again")
        case .SQLITE_NOMEM:
            return .file(path: path, problem: "out of memory (\(code))")
        case .SQLITE_PERM, .SQLITE_AUTH:
            return .file(path: path, problem: "permission denied (\(code))")
        default:
            // The message alone: one line, without the statement it came from.
            let message = (e.message ?? "\(e.resultCode)").split(whereSeparator: \.isNewline).joined(separator: " ")
            return .database(path: path, message: "\(code): \(message)")
        }
    }

    // MARK: - Rows

    private static func checkRunning(_ db: Database, _ id: String, _ owner: String) throws {
        guard let row = try Row.fetchOne(db, sql: "SELECT status, owner FROM trials WHERE id = ?", arguments: [id]) else {
            throw TrialStoreError.unknownTrial(id)
        }
        guard row["status"] as String == TrialStatus.running.rawValue, row["owner"] as String? == owner else {
            throw TrialStoreError.notOwner(trial: id, owner: owner)
        }
    }

    private static func fetchInfo(_ db: Database) throws -> SweepInfo? {
        // `schedule_rules` is missing from a version-1 database: the earlier trigger rule.
        guard let row = try Row.fetchOne(db, sql: "SELECT * FROM sweep WHERE id = 1") else { return nil }
        let rulesValue = (row["schedule_rules"] as Int?) ?? ScheduleRules.triggerEpochNotAnImprovement.rawValue
        guard let rules = ScheduleRules(rawValue: rulesValue) else {
            throw SQLiteStoreError.database(path: "", message: "the sweep has unknown schedule rules \(rulesValue)")
        }
        return SweepInfo(name: row["name"], spaceJSON: row["space_json"], spaceHash: row["space_hash"],
                         createdAt: row["created_at"], scheduleRules: rules)
    }

    private static func fetchEpochs(_ db: Database, trial id: String) throws -> [EpochMetrics] {
        try Row.fetchAll(db, sql: "SELECT * FROM epochs WHERE trial_id = ? ORDER BY epoch", arguments: [id])
            .map(decodeEpoch)
    }

    /// SQLite stores a NaN as NULL: NULL metrics read back as NaN.
    private static func real(_ row: Row, _ column: String) -> Double {
        (row[column] as Double?) ?? .nan
    }

    private static func decodeEpoch(_ row: Row) -> EpochMetrics {
        EpochMetrics(epoch: row["epoch"], lr: real(row, "lr"), trainLoss: real(row, "train_loss"),
                     trainAcc: real(row, "train_acc"), valLoss: real(row, "val_loss"),
                     valAcc: real(row, "val_acc"), trainSeconds: real(row, "train_seconds"),
                     // (no `extra` column before schema version 4: read as none)
                     extra: (row["extra"] as String?).flatMap(JSONText.numbers) ?? [:])
    }

    /// A JSON column read by `read`, or an error naming the trial.
    private static func json<T>(_ read: (String) -> T?, _ text: String, _ id: String) throws -> T {
        guard let value = read(text) else {
            throw SQLiteStoreError.database(path: "", message: "trial \(id) has malformed JSON \(text)")
        }
        return value
    }

    private static func decodeSpec(_ row: Row) throws -> TrialSpec {
        let id: String = row["id"]
        let kindText: String = row["schedule"]
        guard let kind = ScheduleKind(rawValue: kindText) else {
            throw SQLiteStoreError.database(path: "", message: "trial \(id) has unknown schedule \(kindText)")
        }
        let parameters = SGDRParameters { real(row, $0.name) }
        let schedule = ScheduleConfig(
            kind: kind, parameters: parameters, epochs: row["epochs"],
            stepMilestones: try json(JSONText.doubles, row["step_milestones"], id),
            stepFactor: real(row, "step_factor"),
            // Missing from a version-1 database (which has no plateau trials): the defaults.
            plateau: PlateauSettings(factor: (row["plateau_factor"] as Double?) ?? 0.1,
                                     patience: (row["plateau_patience"] as Int?) ?? 3,
                                     minDelta: (row["plateau_min_delta"] as Double?) ?? 1e-4))
        let seed: Int64 = row["seed"]
        return TrialSpec(
            id: id, number: row["number"], configuration: row["configuration"], repeatIndex: row["repeat_index"],
            seed: UInt64(bitPattern: seed), schedule: schedule,
            swept: try json(JSONText.numbers, row["swept"], id))
    }

    /// A row of `recordColumns`, by position (a million rows read in about a second).
    private func decodeRecord(_ row: Row) throws -> TrialRecord {
        func real(_ i: Int) -> Double { (row[i] as Double?) ?? .nan }
        let id: String = row[0]
        let kindText: String = row[3]
        guard let kind = ScheduleKind(rawValue: kindText) else {
            throw SQLiteStoreError.database(path: path, message: "trial \(id) has unknown schedule \(kindText)")
        }
        let milestonesText: String = row[7]
        let stepMilestones = try milestones.value(milestonesText) { try Self.json(JSONText.doubles, milestonesText, id) }
        // The parameter columns start at 23, in table order.
        var parameters = SGDRParameters()
        for (i, q) in ScheduleParameter.allCases.enumerated() { q.set(real(23 + i), in: &parameters) }
        let seed: Int64 = row[5]
        let spec = TrialSpec(
            id: id, number: row[1], configuration: row[2], repeatIndex: row[4], seed: UInt64(bitPattern: seed),
            schedule: ScheduleConfig(kind: kind, parameters: parameters, epochs: row[6],
                                     stepMilestones: stepMilestones, stepFactor: real(8),
                                     plateau: PlateauSettings(factor: real(20), patience: row[21], minDelta: real(22))),
            swept: try Self.json(JSONText.numbers, row[9], id))
        let statusText: String = row[10]
        guard let status = TrialStatus(rawValue: statusText) else {
            throw SQLiteStoreError.database(path: path, message: "trial \(id) has unknown status \(statusText)")
        }
        let summary: EpochSummary? = status.isFinished
            ? EpochSummary(bestValAcc: row[17], bestEpoch: row[18], finalValAcc: row[19]) : nil
        return TrialRecord(spec: spec, status: status, owner: row[11], attempts: row[12], startedAt: row[13],
                           finishedAt: row[14], seconds: row[15], error: row[16], summary: summary)
    }
}

/// Decoded texts of one column, shared (a sweep has one `step_milestones` text).
final class MilestoneCache: Sendable {
    private let values = Mutex<[String: [Double]]>([:])

    func value(_ text: String, _ decode: () throws -> [Double]) throws -> [Double] {
        if let v = values.withLock({ $0[text] }) { return v }
        let v = try decode()
        values.withLock { if $0.count < 64 { $0[text] = v } }
        return v
    }
}

