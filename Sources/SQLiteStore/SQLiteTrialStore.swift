import Engine
import Foundation
import GRDB
import Schedules
import Sweep

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

    public var description: String {
        switch self {
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
public final class SQLiteTrialStore: TrialStore, Sendable {
    public let path: String
    /// A `DatabasePool`; a read-only `DatabaseQueue` for a sweep made with earlier schedule
    /// rules, which is read and never written (opening a pool would already change its file).
    private let pool: any DatabaseWriter

    /// Opens the sweep database at `path`, creating it (and its schema) when `create` is true.
    /// With `create: false` a missing file is an error (`no sweep database at PATH`) and no file
    /// is created.
    /// Seconds after its last heartbeat at which a running trial is runnable by any worker
    /// (nil: only `isAbandoned` frees a running trial; see `TrialStore`'s Leases).
    public let lease: Double?

    public init(path: String, create: Bool = true, lease: Double? = nil) throws {
        self.path = path
        self.lease = lease
        let fm = FileManager.default
        var isDirectory: ObjCBool = false
        let exists = fm.fileExists(atPath: path, isDirectory: &isDirectory)
        if isDirectory.boolValue {
            throw SQLiteStoreError.notASweepDatabase(path: path, reason: "it is a directory")
        }
        if !create && !exists { throw SQLiteStoreError.noDatabase(path: path) }
        if exists {
            let size = (try? fm.attributesOfItem(atPath: path)[.size]).flatMap { ($0 as? NSNumber)?.int64Value } ?? 1
            if size > 0 {
                if try Self.probe(path: path, create: create) {
                    do { pool = try Self.openReadOnly(path: path) } catch { throw Self.wrap(error, path) }
                    return
                }
            } else if !create {
                throw SQLiteStoreError.notASweepDatabase(path: path, reason: "the file is empty")
            }
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
            } catch let error as DatabaseError where error.resultCode == .SQLITE_BUSY && Date() < deadline {
                Thread.sleep(forTimeInterval: delay)
                delay = min(delay * 2, 0.1)
            }
        }
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
            let queue = try openReadOnly(path: path)
            try inspect(queue, path: path, create: create)
            let earlier = try holdsEarlierSweep(queue)
            try queue.close()
            return earlier
        } catch let error as SQLiteStoreError {
            throw error
        } catch {
            throw wrap(error, path)
        }
    }

    private static func openReadOnly(path: String) throws -> DatabaseQueue {
        var config = Configuration()
        config.readonly = true
        config.busyMode = .timeout(10)
        config.label = "sgdr-search.sweep"
        return try DatabaseQueue(path: path, configuration: config)
    }

    /// Checks again (the file may be new) and migrates a new database.
    private static func checkAndMigrate(_ pool: DatabasePool, path: String, create: Bool) throws {
        let migrator = SQLiteSchema.migrator
        do {
            try inspect(pool, path: path, create: create)
            do {
                try migrator.migrate(pool)
            } catch {
                // Another process may have migrated the new file between our check and our
                // migration (the migrator reads what is applied outside its transaction):
                // then its migration won and ours was rolled back whole.
                guard try pool.read(migrator.hasCompletedMigrations) else { throw error }
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
                    lr_max, lr_min, t0, tmult, lr_max_compression, trigger_val_acc,
                    epochs, step_milestones, step_factor, plateau_factor, plateau_patience, plateau_min_delta,
                    swept, status, attempts)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', 0)
                ON CONFLICT (id) DO NOTHING
                """)
            for spec in specs {
                let s = spec.schedule
                let p = s.parameters
                let values: [(any DatabaseValueConvertible)?] = [
                    spec.id, spec.number, spec.configuration, s.kind.rawValue, spec.repeatIndex,
                    Int64(bitPattern: spec.seed),
                    p.lrMax, p.lrMin, p.t0, p.tmult, p.lrMaxCompression, p.triggerValAcc,
                    s.epochs, try Self.json(s.stepMilestones), s.stepFactor,
                    s.plateau.factor, s.plateau.patience, s.plateau.minDelta, try Self.json(spec.swept),
                ]
                try insert.execute(arguments: StatementArguments(values))
            }
        }
    }

    /// `isAbandoned` runs inside the write transaction (other writers wait meanwhile), at most
    /// once per owner of a running trial numbered below the first pending/interrupted one:
    /// keep it quick (e.g. a `kill(pid, 0)` check).
    public func claim(owner: String, isAbandoned: (String) -> Bool) throws -> TrialSpec? {
        let now = Date().timeIntervalSince1970
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
                SELECT * FROM trials WHERE status = 'running' AND number < ? ORDER BY number
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
                UPDATE trials SET status = 'running', owner = ?, attempts = attempts + 1, started_at = ?,
                    finished_at = NULL, seconds = NULL, error = NULL,
                    best_val_acc = NULL, best_epoch = NULL, final_val_acc = NULL, heartbeat_at = ?
                WHERE id = ?
                """, arguments: [owner, now, now, spec.id])
            return spec
        }
    }

    public func heartbeat(trial id: String, owner: String) throws {
        let now = Date().timeIntervalSince1970
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
                    INSERT INTO epochs (trial_id, epoch, lr, train_loss, train_acc, val_loss, val_acc, train_seconds)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                    """).execute(arguments: [id, m.epoch, m.lr, m.trainLoss, m.trainAcc, m.valLoss, m.valAcc, m.trainSeconds])
            } catch let error as DatabaseError where error.extendedResultCode == .SQLITE_CONSTRAINT_PRIMARYKEY {
                throw SQLiteStoreError.duplicateEpoch(trial: id, epoch: m.epoch)
            }
        }
    }

    public func finish(trial id: String, owner: String, _ finish: TrialFinish, appending newEpochs: [EpochMetrics]) throws {
        let now = Date().timeIntervalSince1970
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
            try db.execute(sql: "UPDATE trials SET status = 'interrupted' WHERE id = ?", arguments: [id])
        }
    }

    public func trials() throws -> [TrialRecord] {
        try read { db in
            var epochs: [String: [EpochMetrics]] = [:]
            let epochRows = try Row.fetchCursor(db, sql: "SELECT * FROM epochs ORDER BY trial_id, epoch")
            while let row = try epochRows.next() {
                epochs[row["trial_id"], default: []].append(Self.decodeEpoch(row))
            }
            var records: [TrialRecord] = []
            let rows = try Row.fetchCursor(db, sql: "SELECT * FROM trials ORDER BY number")
            while let row = try rows.next() {
                let spec = try Self.decodeSpec(row)
                let statusText: String = row["status"]
                guard let status = TrialStatus(rawValue: statusText) else {
                    throw SQLiteStoreError.database(path: "", message: "trial \(spec.id) has unknown status \(statusText)")
                }
                records.append(TrialRecord(
                    spec: spec, status: status, owner: row["owner"], attempts: row["attempts"],
                    startedAt: row["started_at"], finishedAt: row["finished_at"], seconds: row["seconds"],
                    error: row["error"], epochs: epochs[spec.id] ?? []))
            }
            return records
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

    /// Contract errors pass through; SQLite's become `SQLiteStoreError`s that name the file.
    private static func wrap(_ error: any Error, _ path: String) -> any Error {
        switch error {
        case is TrialStoreError: return error
        case let e as SQLiteStoreError:
            if case .database("", let message) = e { return SQLiteStoreError.database(path: path, message: message) }
            return e
        case let e as DatabaseError:
            if e.resultCode == .SQLITE_NOTADB {
                return SQLiteStoreError.notASweepDatabase(path: path, reason: "not an SQLite database")
            }
            var message = "SQLite error \(e.extendedResultCode.rawValue): \(e.message ?? "\(e.resultCode)")"
            if let sql = e.sql { message += " (while executing `\(sql)`)" }
            return SQLiteStoreError.database(path: path, message: message)
        default:
            return SQLiteStoreError.database(path: path, message: String(describing: error))
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
                     valAcc: real(row, "val_acc"), trainSeconds: real(row, "train_seconds"))
    }

    private static func decodeSpec(_ row: Row) throws -> TrialSpec {
        let id: String = row["id"]
        let kindText: String = row["schedule"]
        guard let kind = ScheduleKind(rawValue: kindText) else {
            throw SQLiteStoreError.database(path: "", message: "trial \(id) has unknown schedule \(kindText)")
        }
        let parameters = SGDRParameters(
            lrMax: real(row, "lr_max"), lrMin: real(row, "lr_min"), t0: row["t0"], tmult: real(row, "tmult"),
            lrMaxCompression: real(row, "lr_max_compression"), triggerValAcc: real(row, "trigger_val_acc"))
        let schedule = ScheduleConfig(
            kind: kind, parameters: parameters, epochs: row["epochs"],
            stepMilestones: try fromJSON([Double].self, row["step_milestones"], id),
            stepFactor: real(row, "step_factor"),
            // Missing from a version-1 database (which has no plateau trials): the defaults.
            plateau: PlateauSettings(factor: (row["plateau_factor"] as Double?) ?? 0.1,
                                     patience: (row["plateau_patience"] as Int?) ?? 3,
                                     minDelta: (row["plateau_min_delta"] as Double?) ?? 1e-4))
        let seed: Int64 = row["seed"]
        return TrialSpec(
            id: id, number: row["number"], configuration: row["configuration"], repeatIndex: row["repeat_index"],
            seed: UInt64(bitPattern: seed), schedule: schedule,
            swept: try fromJSON([String: Double].self, row["swept"], id))
    }

    // MARK: - JSON columns

    private static func json<T: Encodable>(_ value: T) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(
            positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    private static func fromJSON<T: Decodable>(_ type: T.Type, _ text: String, _ id: String) throws -> T {
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(
            positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
        do {
            return try decoder.decode(type, from: Data(text.utf8))
        } catch {
            throw SQLiteStoreError.database(path: "", message: "trial \(id) has malformed JSON \(text)")
        }
    }
}
