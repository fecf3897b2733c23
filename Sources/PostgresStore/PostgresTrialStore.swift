import Foundation
import Schedules
import StoreSQL
import Sweep
import TrainingTypes

/// Errors of the PostgreSQL store: each one line that names the database with its password
/// masked (`PostgresTrialStore.display(_:)`), never libpq's multi-line text, SQL or credentials.
/// Contract violations are `TrialStoreError`s.
public enum PostgresStoreError: Error, Hashable, CustomStringConvertible {
    /// The URL is malformed, or the connection was refused (wrong password, no such database,
    /// server unreachable, ...).
    case connect(database: String, message: String)
    /// The connection broke and could not be made again within the reconnect window.
    case lostConnection(database: String, message: String, seconds: Double)
    /// `create: false` and the database holds no sweep tables, or not the sweep asked for.
    case noSweep(database: String, sweep: String?, available: [String])
    /// The database holds several sweeps and no `--sweep NAME` chose one.
    case severalSweeps(database: String, names: [String])
    /// The tables were made by a newer sgdr-search.
    case newerSchema(database: String, version: Int)
    /// `appendEpochs` (or `finish`) with an epoch number the trial's current attempt already has.
    case duplicateEpoch(trial: String, epoch: Int)
    /// Any other refusal of the server (its SQLSTATE and primary message) or malformed stored data.
    case database(database: String, message: String)

    public var description: String {
        switch self {
        case .connect(let db, let message): "PostgreSQL database \(db): \(message)"
        case .lostConnection(let db, let message, let seconds):
            "PostgreSQL database \(db): lost the connection and could not reconnect within \(Int(seconds)) s (\(message))"
        case .noSweep(let db, let sweep, let available):
            if let sweep {
                "PostgreSQL database \(db) holds no sweep \"\(sweep)\""
                    + (available.isEmpty ? "" : " (it holds: \(available.joined(separator: ", ")))")
            } else {
                "PostgreSQL database \(db) holds no sweep"
            }
        case .severalSweeps(let db, let names):
            "PostgreSQL database \(db) holds several sweeps (\(names.joined(separator: ", "))): choose one with --sweep NAME"
        case .newerSchema(let db, let version):
            "PostgreSQL database \(db) was written by a newer sgdr-search (schema version \(version); this build knows \(PostgresSchema.version))"
        case .duplicateEpoch(let trial, let epoch): "trial \(trial) already has epoch \(epoch)"
        case .database(let db, let message): "PostgreSQL database \(db): \(message)"
        }
    }
}

/// The tables, in one PostgreSQL database shared by many sweeps: every row carries its sweep's
/// name. Made on first use (under an advisory lock, so that workers starting together do not
/// race); `sgdr_schema.version` tells the version.
enum PostgresSchema {
    static let version = 2
    /// From version 1: the other metrics of a user's own trainer, per epoch.
    static let upgrade = """
        ALTER TABLE sgdr_epochs ADD COLUMN IF NOT EXISTS extra text;
        INSERT INTO sgdr_schema (version) VALUES (2);
        """
    /// A constant key for `pg_advisory_xact_lock` while the tables are made.
    static let lockKey = 0x5367_6472  // "Sgdr"

    static let create = """
        CREATE TABLE sgdr_schema (version integer NOT NULL);
        CREATE TABLE sgdr_sweeps (
            name            text PRIMARY KEY,
            space_json      text NOT NULL,
            space_hash      text NOT NULL,
            created_at      double precision NOT NULL,
            schedule_rules  integer NOT NULL
        );
        CREATE TABLE sgdr_trials (
            sweep               text NOT NULL REFERENCES sgdr_sweeps (name) ON DELETE CASCADE,
            id                  text NOT NULL,
            number              bigint NOT NULL,
            configuration       text NOT NULL,
            schedule            text NOT NULL
                                CHECK (schedule IN ('sgdr', 'step', 'cosine', 'constant', 'plateau')),
            repeat_index        bigint NOT NULL,
            seed                bigint NOT NULL,
            lr_max              double precision NOT NULL,
            lr_min              double precision NOT NULL,
            t0                  bigint NOT NULL,
            tmult               double precision NOT NULL,
            lr_max_compression  double precision NOT NULL,
            trigger_val_acc     double precision NOT NULL,
            epochs              bigint NOT NULL,
            step_milestones     text NOT NULL,
            step_factor         double precision NOT NULL,
            plateau_factor      double precision NOT NULL,
            plateau_patience    bigint NOT NULL,
            plateau_min_delta   double precision NOT NULL,
            swept               text NOT NULL,
            status              text NOT NULL DEFAULT 'pending'
                                CHECK (status IN ('pending', 'running', 'done', 'diverged', 'failed', 'interrupted')),
            owner               text,
            attempts            integer NOT NULL DEFAULT 0,
            started_at          double precision,
            finished_at         double precision,
            seconds             double precision,
            error               text,
            best_val_acc        double precision,
            best_epoch          bigint,
            final_val_acc       double precision,
            heartbeat_at        double precision,
            claim_token         text,
            PRIMARY KEY (sweep, id),
            UNIQUE (sweep, number)
        );
        CREATE INDEX sgdr_trials_runnable ON sgdr_trials (sweep, number) WHERE status IN ('pending', 'interrupted');
        CREATE INDEX sgdr_trials_running ON sgdr_trials (sweep, number) WHERE status = 'running';
        CREATE TABLE sgdr_epochs (
            sweep          text NOT NULL,
            trial_id       text NOT NULL,
            epoch          bigint NOT NULL,
            lr             double precision,
            train_loss     double precision,
            train_acc      double precision,
            val_loss       double precision,
            val_acc        double precision,
            train_seconds  double precision,
            extra          text,
            PRIMARY KEY (sweep, trial_id, epoch),
            FOREIGN KEY (sweep, trial_id) REFERENCES sgdr_trials (sweep, id) ON DELETE CASCADE
        );
        INSERT INTO sgdr_schema (version) VALUES (2);
        """
}

/// A `TrialStore` on one PostgreSQL database, shared by threads, processes and hosts.
///
/// - One database holds many sweeps, keyed by name. An instance serves one sweep: the one named
///   at `init`, the only one the database holds (`create: false`), or the one its first
///   `create(_:)` stores.
/// - Every method's effect is one transaction, on a connection from a small pool (one connection
///   per thread that is inside a store call at the moment). A claim is one statement that locks
///   the trial it takes with `FOR UPDATE SKIP LOCKED`, so that claimers on any host never wait
///   for each other and never get the same trial; it reads the running trials' owners (for the
///   next claim's `isAbandoned`) in the same round trip. `appendEpochs` and `finish` of a trial
///   this instance claimed are one statement each (guarded by the claim's token and the count
///   of epochs it stored since), else two round trips (BEGIN, lock the row, read its epochs;
///   then insert, update, COMMIT); reads are `REPEATABLE READ` snapshots.
/// - A dropped connection (server restart, network) is made again with backoff (0.1 s doubling
///   to 5 s) for up to `reconnectSeconds`, and the call is retried; a retry after a commit whose
///   answer was lost recognises its own effect (a claim token; the finished or interrupted
///   state under the same owner; epochs already stored), so no trial is lost or claimed twice.
/// - `lease`: a running trial whose heartbeat (`heartbeat(trial:owner:)`, also set by the
///   claim) is older than this many seconds, by the server's clock, is runnable by any worker.
///   (`clock`, for tests, replaces the server's clock; see `nowSQL`.)
// @unchecked: the mutable properties (`idle`, `sweepName`, `runningOwners`, `attempts`) are used
// only under `lock` (or in init and deinit); a connection (not Sendable) belongs to the one call
// that took it from `idle` until it is put back.
public final class PostgresTrialStore: TrialStore, @unchecked Sendable {
    /// The URL as given, password masked: what messages show.
    public let database: String
    public let lease: Double?
    /// nil (the default): heartbeats and lease expiry read the server's clock, start and finish
    /// times this host's. A clock (a test's `ManualClock`) is read for all of them instead.
    public let clock: SweepClock?
    public let reconnectSeconds: Double
    private let url: String
    private let lock = NSLock()
    private var idle: [PGConnection] = []
    private var sweepName: String?
    /// The owners of running trials as the last claim read them (nil before the first).
    private var runningOwners: [String]?
    /// The attempts this instance claimed and has not finished or interrupted: their claim token
    /// and the numbers and val_acc of the epochs it stored since (what a one-round-trip finish
    /// needs to write the summary).
    private var attempts: [String: Attempt] = [:]

    struct Attempt {
        var owner: String
        var token: String
        var epochs: [(Int, Double)]
    }

    /// Whether `text` is a PostgreSQL URL (`postgresql://` or `postgres://`, lower case as libpq
    /// requires) rather than a path.
    public static func isURL(_ text: String) -> Bool {
        text.hasPrefix("postgresql://") || text.hasPrefix("postgres://")
    }

    /// `url` with its password (in the user part, or a `password=` parameter) replaced by `***`.
    public static func display(_ url: String) -> String {
        var text = url
        if let scheme = text.range(of: "://") {
            let rest = text[scheme.upperBound...]
            let authorityEnd = rest.firstIndex { $0 == "/" || $0 == "?" } ?? rest.endIndex
            if let at = rest[..<authorityEnd].lastIndex(of: "@"),
               let colon = rest[..<at].firstIndex(of: ":") {
                text.replaceSubrange(rest.index(after: colon)..<at, with: "***")
            }
        }
        // password=... among the query parameters (or in a key=value connection string).
        if let regex = try? NSRegularExpression(pattern: "(password=)[^&\\s]*", options: [.caseInsensitive]) {
            text = regex.stringByReplacingMatches(in: text, range: NSRange(text.startIndex..., in: text),
                                                  withTemplate: "$1***")
        }
        return text
    }

    /// Connects to the database at `url` and checks (or, with `create`, makes) the tables.
    /// `sweep`: the sweep this instance serves; nil: the only one stored (`create: false`), or
    /// the one the first `create(_:)` stores. Throws `PostgresStoreError`s (one line each).
    public init(url: String, sweep: String? = nil, create: Bool = true, lease: Double? = nil,
                reconnectSeconds: Double = 60, connectTimeout: Int = 10, clock: SweepClock? = nil) throws {
        self.url = url
        self.database = Self.display(url)
        self.lease = lease
        self.clock = clock
        self.reconnectSeconds = reconnectSeconds
        self.connectTimeout = connectTimeout
        if case .failure(let failure) = PGConnection.parse(url) {
            throw PostgresStoreError.connect(database: database, message: "malformed URL: \(failure.message)")
        }
        // The first connection: its refusal is reported at once, never retried.
        do {
            lock.withLock { idle = [] }
            let first = try PGConnection(url: url, connectTimeout: connectTimeout)
            lock.withLock { idle.append(first) }
        } catch let failure as PGFailure {
            throw PostgresStoreError.connect(database: database, message: failure.message)
        }
        let exists = try transaction { db, _ -> Bool in
            try db.exec("SELECT pg_advisory_xact_lock($1)", [String(PostgresSchema.lockKey)])
            let table = try db.exec("SELECT to_regclass('sgdr_schema') IS NOT NULL AS present")
            if table.text(0, "present") == "t" {
                let rows = try db.exec("SELECT max(version) AS version FROM sgdr_schema")
                let version = rows.text(0, "version").flatMap { Int($0) } ?? 0
                if version > PostgresSchema.version {
                    throw PostgresStoreError.newerSchema(database: self.database, version: version)
                }
                if version < PostgresSchema.version { try db.exec(PostgresSchema.upgrade) }
                return true
            }
            if create { try db.exec(PostgresSchema.create) }
            return false
        }
        if !exists && !create { throw PostgresStoreError.noSweep(database: database, sweep: sweep, available: []) }
        if let sweep {
            if !create {
                let names = try sweepNames()
                guard names.contains(sweep) else {
                    throw PostgresStoreError.noSweep(database: database, sweep: sweep, available: names)
                }
            }
            sweepName = sweep
        } else if !create {
            let names = try sweepNames()
            switch names.count {
            case 0: throw PostgresStoreError.noSweep(database: database, sweep: nil, available: [])
            case 1: sweepName = names[0]
            default: throw PostgresStoreError.severalSweeps(database: database, names: names)
            }
        }
    }

    private let connectTimeout: Int

    deinit {
        for c in idle { c.close() }
    }

    /// The names of the sweeps the database holds, sorted.
    public func sweepNames() throws -> [String] {
        try transaction(readOnly: true) { db, _ in
            let rows = try db.exec("SELECT name FROM sgdr_sweeps ORDER BY name")
            return (0..<rows.count).compactMap { rows.text($0, "name") }
        }
    }

    /// The sweep this instance serves (nil until it is known).
    public var sweep: String? { lock.withLock { sweepName } }

    // MARK: - TrialStore

    public func create(_ info: SweepInfo) throws -> SweepInfo {
        let name = lock.withLock { sweepName } ?? info.name
        let stored = try transaction { db, _ -> SweepInfo in
            try db.exec("""
                INSERT INTO sgdr_sweeps (name, space_json, space_hash, created_at, schedule_rules)
                VALUES ($1, $2, $3, $4, $5) ON CONFLICT (name) DO NOTHING
                """, [name, info.spaceJSON, info.spaceHash, Self.text(info.createdAt), String(info.scheduleRules.rawValue)])
            guard let stored = try self.fetchInfo(db, name) else {
                throw PostgresStoreError.database(database: self.database, message: "the sweep \(name) vanished")
            }
            return stored
        }
        lock.withLock { sweepName = name }
        return stored
    }

    public func info() throws -> SweepInfo? {
        guard let name = sweep else { return nil }
        return try transaction(readOnly: true) { db, _ in try self.fetchInfo(db, name) }
    }

    public func updateSpace(json: String, hash: String) throws {
        guard let name = sweep else { throw TrialStoreError.notCreated }
        try transaction { db, _ in
            let r = try db.exec("UPDATE sgdr_sweeps SET space_json = $2, space_hash = $3 WHERE name = $1", [name, json, hash])
            if r.affected == 0 { throw TrialStoreError.notCreated }
        }
    }

    public func addTrials(_ specs: [TrialSpec]) throws {
        guard let name = sweep else { throw TrialStoreError.notCreated }
        let columns = ["id", "number", "configuration", "schedule", "repeat_index", "seed"]
            + ScheduleParameter.allCases.map(\.name)
            + ["epochs", "step_milestones", "step_factor", "plateau_factor", "plateau_patience", "plateau_min_delta", "swept"]
        var rows: [[String?]] = []
        for spec in specs {
            let s = spec.schedule, p = s.parameters
            let head: [String] = [spec.id, String(spec.number), spec.configuration, s.kind.rawValue,
                                  String(spec.repeatIndex), String(Int64(bitPattern: spec.seed))]
            let parameters: [String] = ScheduleParameter.allCases.map { q in
                q.isInteger ? fmt(q.value(in: p)) : Self.text(q.value(in: p))
            }
            let tail: [String] = [String(s.epochs), JSONText.array(s.stepMilestones), Self.text(s.stepFactor),
                                  Self.text(s.plateau.factor), String(s.plateau.patience), Self.text(s.plateau.minDelta),
                                  JSONText.object(spec.swept)]
            rows.append(head + parameters + tail)
        }
        try transaction { db, _ in
            let present = try db.exec("SELECT 1 FROM sgdr_sweeps WHERE name = $1", [name])
            if present.count == 0 { throw TrialStoreError.notCreated }
            // Multi-row inserts of up to 500 trials (PostgreSQL allows 65535 parameters).
            let width = columns.count + 1
            var start = 0
            while start < rows.count {
                let chunk = rows[start..<min(start + 500, rows.count)]
                var values: [String] = []
                var parameters: [String?] = [name]
                for (i, row) in chunk.enumerated() {
                    let base = 2 + i * (width - 1)
                    values.append("($1, " + (0..<(width - 1)).map { "$\(base + $0)" }.joined(separator: ", ") + ")")
                    parameters.append(contentsOf: row)
                }
                try db.exec("""
                    INSERT INTO sgdr_trials (sweep, \(columns.joined(separator: ", ")))
                    VALUES \(values.joined(separator: ", ")) ON CONFLICT DO NOTHING
                    """, parameters)
                start += chunk.count
            }
        }
    }

    /// One round trip: one statement that locks the smallest runnable trial with `FOR UPDATE
    /// SKIP LOCKED` (pending, interrupted, or running under an abandoned owner or with an
    /// expired lease), deletes the epochs of its earlier attempt and claims it; in the same
    /// round trip, the owners of the running trials are read for the next claim's `isAbandoned`.
    /// So a claim judges the owners as the previous claim of this instance saw them (the first
    /// claim reads them first: two round trips), and a claim that finds nothing asks
    /// `isAbandoned` again about the owners it just read and claims again when one more is gone.
    public func claim(owner: String, isAbandoned: (String) -> Bool) throws -> TrialSpec? {
        guard let name = sweep else { return nil }
        let token = UUID().uuidString
        let now = hostNow
        let spec = try withRetries(.own) { db, retrying -> TrialSpec? in
            if retrying {
                // An earlier attempt may have committed before its connection broke.
                let mine = try db.exec("""
                    SELECT * FROM sgdr_trials WHERE sweep = $1 AND claim_token = $2 AND status = \(TrialStatus.running.sql) AND owner = $3
                    """, [name, token, owner])
                if mine.count > 0 { return try self.decodeSpec(mine, 0) }
            }
            var owners = self.lock.withLock { self.runningOwners }
            if owners == nil {
                let rows = try db.exec("""
                    SELECT DISTINCT owner FROM sgdr_trials WHERE sweep = $1 AND status = \(TrialStatus.running.sql) AND owner IS NOT NULL
                    """, [name])
                owners = (0..<rows.count).compactMap { rows.text($0, "owner") }
            }
            var dead = Set(owners!.filter(isAbandoned))
            while true {
                let (claimed, running) = try self.claimRoundTrip(db, name, dead: dead, owner: owner, now: now, token: token)
                self.lock.withLock { self.runningOwners = running }
                if let claimed { return claimed }
                // Nothing runnable: unless an owner read just now is gone too, that is the answer.
                let deadNow = Set(running.filter(isAbandoned))
                if deadNow.isSubset(of: dead) { return nil }
                dead.formUnion(deadNow)
            }
        }
        if let spec { lock.withLock { attempts[spec.id] = Attempt(owner: owner, token: token, epochs: []) } }
        return spec
    }

    /// The claim statement and the read of the running trials' owners, in one round trip (one
    /// implicit transaction; each statement sees what committed before it, the claim included).
    private func claimRoundTrip(_ db: PGConnection, _ name: String, dead: Set<String>, owner: String, now: Double,
                                token: String) throws -> (TrialSpec?, [String]) {
        let l = db.literal
        let results = try db.batch("""
            WITH pick AS (
                SELECT number, id FROM sgdr_trials
                WHERE sweep = \(l(name)) AND (status IN \(TrialStatus.sqlList([.pending, .interrupted])) OR (status = \(TrialStatus.running.sql) AND (
                    owner = ANY (\(l(Self.textArray(dead.sorted())))::text[])
                    OR heartbeat_at < \(nowSQL(db)) - \(l(lease.map { Self.text($0) }))::double precision)))
                ORDER BY number LIMIT 1 FOR UPDATE SKIP LOCKED),
            cleared AS (DELETE FROM sgdr_epochs WHERE sweep = \(l(name)) AND trial_id = (SELECT id FROM pick))
            UPDATE sgdr_trials SET status = \(TrialStatus.running.sql), owner = \(l(owner)), attempts = attempts + 1,
                started_at = \(l(Self.text(now))), finished_at = NULL, seconds = NULL, error = NULL,
                best_val_acc = NULL, best_epoch = NULL, final_val_acc = NULL,
                heartbeat_at = \(nowSQL(db)), claim_token = \(l(token))
            WHERE sweep = \(l(name)) AND number = (SELECT number FROM pick)
            RETURNING *;
            SELECT DISTINCT owner FROM sgdr_trials WHERE sweep = \(l(name)) AND status = \(TrialStatus.running.sql) AND owner IS NOT NULL
            """)
        guard results.count == 2 else { throw malformed("unexpected answer to a batch") }
        let claimed = results[0], owners = results[1]
        let running = (0..<owners.count).compactMap { owners.text($0, "owner") }
        return (claimed.count == 1 ? try decodeSpec(claimed, 0) : nil, running)
    }

    /// "Now" for heartbeats and lease expiry, as SQL: the server's clock (`clock_timestamp()`,
    /// so that workers on hosts whose clocks disagree judge every lease by one clock), or the
    /// injected `clock`'s reading as a literal. (A test's clock is passed in rather than the
    /// test ageing the stored heartbeat with an UPDATE: then the expiry would still be judged
    /// against the server's real time, and a case just inside the lease would depend on how
    /// fast the test runs.)
    private func nowSQL(_ db: PGConnection) -> String {
        guard let clock else { return "extract(epoch FROM clock_timestamp())" }
        return "\(db.literal(Self.text(clock.now())))::double precision"
    }

    /// "Now" for a trial's start and finish times: this host's clock, or the injected one.
    private var hostNow: Double { clock?.now() ?? Date().timeIntervalSince1970 }

    /// A text[] parameter in PostgreSQL's array syntax.
    static func textArray(_ items: [String]) -> String {
        "{" + items.map { "\"" + $0.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\"" }
            .joined(separator: ",") + "}"
    }

    /// Renews the lease of a trial running under `owner` (throws `notOwner` when it is no longer
    /// running under it: another worker took it over, the worker must stop it without writing).
    public func heartbeat(trial id: String, owner: String) throws {
        let name = try createdName()
        try withRetries(.own) { db, _ in
            let r = try db.exec("""
                UPDATE sgdr_trials SET heartbeat_at = \(self.nowSQL(db))
                WHERE sweep = $1 AND id = $2 AND status = \(TrialStatus.running.sql) AND owner = $3
                """, [name, id, owner])
            if r.affected == 0 { try self.checkRunning(db, name, id, owner, lock: false) }
        }
    }

    /// One round trip when this instance claimed the trial and knows the epochs it stored since
    /// (`appendFast`), else two (BEGIN, lock the row, read its epochs; then INSERT and COMMIT).
    public func appendEpochs(_ metrics: [EpochMetrics], trial id: String, owner: String) throws {
        let name = try createdName()
        let known = lock.withLock { attempts[id] }.flatMap { $0.owner == owner ? $0 : nil }
        try withRetries(.own) { db, retrying in
            if !retrying, let known, try self.appendFast(db, name, id, metrics, known) { return }
            let stored = try self.lockRunning(db, name, id, owner)
            // On a retry, epochs an earlier attempt stored (its commit's answer was lost) are skipped.
            let fresh = try self.checkedNew(metrics, stored: stored, trial: id, skippingStored: retrying)
            _ = try db.batch(self.insertEpochsSQL(db, name, id, fresh) + "COMMIT")
        }
        lock.withLock {
            guard var attempt = attempts[id], attempt.owner == owner else { return }
            let had = Set(attempt.epochs.map(\.0))
            attempt.epochs += metrics.filter { !had.contains($0.epoch) }.map { ($0.epoch, $0.valAcc) }
            attempts[id] = attempt
        }
    }

    /// `appendEpochs` as one statement, when the attempt is `known`'s (its claim token) and holds
    /// the epochs `known` lists (their count) and `metrics` are new: true when it stored them;
    /// false (nothing stored) when any of that does not hold, for the general path to decide.
    private func appendFast(_ db: PGConnection, _ name: String, _ id: String, _ metrics: [EpochMetrics],
                            _ known: Attempt) throws -> Bool {
        guard !metrics.isEmpty, let values = freshValues(db, name, id, metrics, known) else { return false }
        let l = db.literal
        let r = try db.exec("""
            WITH attempt AS (
                SELECT 1 FROM sgdr_trials
                WHERE sweep = \(l(name)) AND id = \(l(id)) AND status = \(TrialStatus.running.sql) AND owner = \(l(known.owner))
                    AND claim_token = \(l(known.token))
                FOR UPDATE)
            INSERT INTO sgdr_epochs (sweep, trial_id, epoch, lr, train_loss, train_acc, val_loss, val_acc, train_seconds, extra)
            SELECT * FROM (VALUES \(values)) AS v
            WHERE EXISTS (SELECT 1 FROM attempt)
                AND (SELECT count(*) FROM sgdr_epochs WHERE sweep = \(l(name)) AND trial_id = \(l(id))) = \(known.epochs.count)
            """)
        return r.affected == metrics.count
    }

    /// The VALUES rows of `metrics`, nil when one of them repeats an epoch number (given twice,
    /// or among `known`'s): the general path reports that.
    private func freshValues(_ db: PGConnection, _ name: String, _ id: String, _ metrics: [EpochMetrics],
                             _ known: Attempt) -> String? {
        var seen = Set(known.epochs.map(\.0))
        for m in metrics where !seen.insert(m.epoch).inserted { return nil }
        let l = db.literal
        let sweepAndTrial = "\(l(name)), \(l(id))"
        return metrics.map { m in
            "(\(sweepAndTrial), \(m.epoch)::bigint, " + [m.lr, m.trainLoss, m.trainAcc, m.valLoss, m.valAcc, m.trainSeconds]
                .map { "\(l(Self.text($0)))::double precision" }.joined(separator: ", ") + ", \(Self.extraSQL(m, l)))"
        }.joined(separator: ", ")
    }

    /// One round trip when this instance claimed the trial and knows the epochs it stored since
    /// (`finishFast`), else two (BEGIN, lock the row, read its epochs; then INSERT, UPDATE and
    /// COMMIT).
    public func finish(trial id: String, owner: String, _ finish: TrialFinish, appending newEpochs: [EpochMetrics]) throws {
        let name = try createdName()
        let now = hostNow
        let known = lock.withLock { attempts[id] }.flatMap { $0.owner == owner ? $0 : nil }
        defer { lock.withLock { if attempts[id]?.owner == owner { attempts[id] = nil } } }
        try withRetries(.own) { db, retrying in
            if retrying, let (status, holder) = try self.state(db, name, id, lock: false),
               status == finish.status, holder == owner { return }  // the earlier attempt committed
            if let known, try self.finishFast(db, name, id, finish, newEpochs, known, now: now) { return }
            let stored = try self.lockRunning(db, name, id, owner)
            let fresh = try self.checkedNew(newEpochs, stored: stored, trial: id, skippingStored: false)
            let l = db.literal
            _ = try db.batch(self.insertEpochsSQL(db, name, id, fresh)
                + self.finishUpdateSQL(db, name, id, finish, all: stored + fresh.map { ($0.epoch, $0.valAcc) }, now: now)
                + " AND status = \(TrialStatus.running.sql) AND owner = \(l(owner));\nCOMMIT")
        }
    }

    /// `finish` as one statement, when the attempt is `known`'s (its claim token) and holds the
    /// epochs `known` lists (their count) and `newEpochs` are new: true when it finished the
    /// trial; false (nothing written) when any of that does not hold, for the general path.
    private func finishFast(_ db: PGConnection, _ name: String, _ id: String, _ finish: TrialFinish,
                            _ newEpochs: [EpochMetrics], _ known: Attempt, now: Double) throws -> Bool {
        let values: String?
        if newEpochs.isEmpty {
            values = nil
        } else {
            guard let v = freshValues(db, name, id, newEpochs, known) else { return false }
            values = v
        }
        let l = db.literal
        let update = finishUpdateSQL(db, name, id, finish, all: known.epochs + newEpochs.map { ($0.epoch, $0.valAcc) }, now: now)
        let guarded = update + """
             AND status = \(TrialStatus.running.sql) AND owner = \(l(known.owner)) AND claim_token = \(l(known.token))
                AND (SELECT count(*) FROM sgdr_epochs WHERE sweep = \(l(name)) AND trial_id = \(l(id))) = \(known.epochs.count)
            """
        let r: PGRows
        if let values {
            r = try db.exec("""
                WITH done AS (\(guarded) RETURNING 1),
                inserted AS (
                    INSERT INTO sgdr_epochs (sweep, trial_id, epoch, lr, train_loss, train_acc, val_loss, val_acc, train_seconds, extra)
                    SELECT * FROM (VALUES \(values)) AS v WHERE EXISTS (SELECT 1 FROM done))
                SELECT count(*) AS finished FROM done
                """)
            return r.text(0, "finished") == "1"
        }
        r = try db.exec(guarded)
        return r.affected == 1
    }

    /// The UPDATE that finishes a trial, with its summary over `all` its epochs (as TrialRecord
    /// defines it: the first on ties), without a trailing `;`; the caller adds its guard.
    private func finishUpdateSQL(_ db: PGConnection, _ name: String, _ id: String, _ finish: TrialFinish,
                                 all stored: [(Int, Double)], now: Double) -> String {
        let all = stored.sorted { $0.0 < $1.0 }
            .map { EpochMetrics(epoch: $0.0, lr: .nan, trainLoss: .nan, trainAcc: .nan, valLoss: .nan, valAcc: $0.1, trainSeconds: .nan) }
        let l = db.literal
        return """
            UPDATE sgdr_trials SET status = \(l(finish.status.rawValue)), seconds = \(l(Self.text(finish.seconds))),
                error = \(l(finish.error)), finished_at = \(l(Self.text(now))),
                best_val_acc = \(l(all.bestValAcc.map { Self.text($0) })), best_epoch = \(l(all.bestEpoch.map { String($0) })),
                final_val_acc = \(l(all.finalValAcc.map { Self.text($0) })), claim_token = NULL
            WHERE sweep = \(l(name)) AND id = \(l(id))
            """
    }

    public func interrupt(trial id: String, owner: String) throws {
        let name = try createdName()
        defer { lock.withLock { if attempts[id]?.owner == owner { attempts[id] = nil } } }
        try withRetries(.own) { db, retrying in
            let r = try db.exec("""
                UPDATE sgdr_trials SET status = \(TrialStatus.interrupted.sql) WHERE sweep = $1 AND id = $2 AND status = \(TrialStatus.running.sql) AND owner = $3
                """, [name, id, owner])
            if r.affected == 1 { return }
            if retrying, let (status, holder) = try self.state(db, name, id, lock: false), status == .interrupted, holder == owner {
                return  // the earlier attempt committed
            }
            try self.checkRunning(db, name, id, owner, lock: false)
        }
    }

    /// Round trip 1 of a write: BEGIN, lock the trial's row, check it runs under `owner`, and
    /// read its stored epochs' numbers and val_acc. The transaction stays open.
    private func lockRunning(_ db: PGConnection, _ name: String, _ id: String, _ owner: String) throws -> [(Int, Double)] {
        let l = db.literal
        let results = try db.batch("""
            BEGIN;
            SELECT status, owner FROM sgdr_trials WHERE sweep = \(l(name)) AND id = \(l(id)) FOR UPDATE;
            SELECT epoch, val_acc FROM sgdr_epochs WHERE sweep = \(l(name)) AND trial_id = \(l(id)) ORDER BY epoch
            """)
        guard results.count == 3 else { throw malformed("unexpected answer to a batch") }
        let state = results[1], epochs = results[2]
        guard state.count == 1 else { throw TrialStoreError.unknownTrial(id) }
        guard state.text(0, "status") == TrialStatus.running.rawValue, state.text(0, "owner") == owner else {
            throw TrialStoreError.notOwner(trial: id, owner: owner)
        }
        return try (0..<epochs.count).map { (try int(epochs, $0, "epoch"), try real(epochs, $0, "val_acc")) }
    }

    /// The epochs to insert: throws `duplicateEpoch` for a number already stored or given twice
    /// (or, `skippingStored`, leaves the stored ones out).
    private func checkedNew(_ metrics: [EpochMetrics], stored: [(Int, Double)], trial id: String,
                            skippingStored: Bool) throws -> [EpochMetrics] {
        var seen = Set(stored.map(\.0))
        var fresh: [EpochMetrics] = []
        for m in metrics {
            if seen.contains(m.epoch) {
                if skippingStored && stored.contains(where: { $0.0 == m.epoch }) { continue }
                throw PostgresStoreError.duplicateEpoch(trial: id, epoch: m.epoch)
            }
            seen.insert(m.epoch)
            fresh.append(m)
        }
        return fresh
    }

    /// One multi-row INSERT of `metrics` (with its `;`), or nothing.
    private func insertEpochsSQL(_ db: PGConnection, _ name: String, _ id: String, _ metrics: [EpochMetrics]) -> String {
        guard !metrics.isEmpty else { return "" }
        let l = db.literal
        let sweepAndTrial = "\(l(name)), \(l(id))"
        let rows = metrics.map { m in
            "(\(sweepAndTrial), \(m.epoch), " + [m.lr, m.trainLoss, m.trainAcc, m.valLoss, m.valAcc, m.trainSeconds]
                .map { "\(l(Self.text($0)))::double precision" }.joined(separator: ", ") + ", \(Self.extraSQL(m, l)))"
        }
        return """
            INSERT INTO sgdr_epochs (sweep, trial_id, epoch, lr, train_loss, train_acc, val_loss, val_acc, train_seconds, extra)
            VALUES \(rows.joined(separator: ", "));

            """
    }

    public func trials() throws -> [TrialRecord] {
        guard let name = sweep else { return [] }
        return try transaction(readOnly: true) { db, _ in
            var epochs: [String: [EpochMetrics]] = [:]
            let epochRows = try db.exec("SELECT * FROM sgdr_epochs WHERE sweep = $1 ORDER BY trial_id, epoch", [name])
            for i in 0..<epochRows.count {
                epochs[epochRows.text(i, "trial_id") ?? "", default: []].append(try self.decodeEpoch(epochRows, i))
            }
            let rows = try db.exec("SELECT * FROM sgdr_trials WHERE sweep = $1 ORDER BY number", [name])
            var records: [TrialRecord] = []
            records.reserveCapacity(rows.count)
            for i in 0..<rows.count {
                let spec = try self.decodeSpec(rows, i)
                let statusText = rows.text(i, "status") ?? ""
                guard let status = TrialStatus(rawValue: statusText) else {
                    throw self.malformed("trial \(spec.id) has unknown status \(statusText)")
                }
                records.append(TrialRecord(
                    spec: spec, status: status, owner: rows.text(i, "owner"),
                    attempts: try self.int(rows, i, "attempts"),
                    startedAt: try self.optionalDouble(rows, i, "started_at"),
                    finishedAt: try self.optionalDouble(rows, i, "finished_at"),
                    seconds: try self.optionalDouble(rows, i, "seconds"),
                    error: rows.text(i, "error"), epochs: epochs[spec.id] ?? []))
            }
            return records
        }
    }

    /// The trials with these numbers, without epochs (their summaries from the stored columns),
    /// in one query rather than every trial with its epochs.
    public func trials(numbers: [Int]) throws -> [TrialRecord] {
        guard let name = sweep, !numbers.isEmpty else { return [] }
        return try transaction(readOnly: true) { db, _ in
            let wanted = "{" + Set(numbers).sorted().map(String.init).joined(separator: ",") + "}"
            let rows = try db.exec("SELECT * FROM sgdr_trials WHERE sweep = $1 AND number = ANY ($2::bigint[]) ORDER BY number",
                                   [name, wanted])
            return try (0..<rows.count).map { i in
                let spec = try self.decodeSpec(rows, i)
                let statusText = rows.text(i, "status") ?? ""
                guard let status = TrialStatus(rawValue: statusText) else {
                    throw self.malformed("trial \(spec.id) has unknown status \(statusText)")
                }
                let summary = status.isFinished
                    ? EpochSummary(bestValAcc: try self.optionalDouble(rows, i, "best_val_acc"),
                                   bestEpoch: try rows.text(i, "best_epoch").map { _ in try self.int(rows, i, "best_epoch") },
                                   finalValAcc: try self.optionalDouble(rows, i, "final_val_acc"))
                    : nil
                return TrialRecord(
                    spec: spec, status: status, owner: rows.text(i, "owner"),
                    attempts: try self.int(rows, i, "attempts"),
                    startedAt: try self.optionalDouble(rows, i, "started_at"),
                    finishedAt: try self.optionalDouble(rows, i, "finished_at"),
                    seconds: try self.optionalDouble(rows, i, "seconds"),
                    error: rows.text(i, "error"), summary: summary)
            }
        }
    }

    /// The epochs of these trials, in one query.
    public func heartbeats() throws -> [String: Double] {
        guard let name = sweep else { return [:] }
        return try transaction(readOnly: true) { db, _ in
            let rows = try db.exec("""
                SELECT id, heartbeat_at FROM sgdr_trials WHERE sweep = $1 AND status = 'running' AND heartbeat_at IS NOT NULL
                """, [name])
            var out: [String: Double] = [:]
            for i in 0..<rows.count { out[rows.text(i, "id") ?? ""] = try self.double(rows, i, "heartbeat_at") }
            return out
        }
    }

    public func epochs(ofTrials ids: [String]) throws -> [String: [EpochMetrics]] {
        guard let name = sweep, !ids.isEmpty else { return [:] }
        return try transaction(readOnly: true) { db, _ in
            let rows = try db.exec("""
                SELECT * FROM sgdr_epochs WHERE sweep = $1 AND trial_id = ANY ($2::text[]) ORDER BY trial_id, epoch
                """, [name, Self.textArray(Set(ids).sorted())])
            var out: [String: [EpochMetrics]] = [:]
            for i in 0..<rows.count { out[rows.text(i, "trial_id") ?? "", default: []].append(try self.decodeEpoch(rows, i)) }
            return out
        }
    }

    /// In pages of 20,000 trials by number, in one read-only snapshot (a million trials never
    /// held as one result; after a reconnection, from a new snapshot, on after the last line given).
    public func forEachTrialLine(_ body: (TrialLine) throws -> Void) throws {
        guard let name = sweep else { return }
        // A retry (a new connection) goes on after the last line handed over.
        var delivered = Int.min
        try transaction(readOnly: true) { db, _ in
            var after = delivered
            while true {
                let rows = try db.exec("""
                    SELECT number, configuration, repeat_index, schedule, swept, status, attempts, seconds,
                        best_val_acc, best_epoch, final_val_acc FROM sgdr_trials
                    WHERE sweep = $1 AND number > $2 ORDER BY number LIMIT 20000
                    """, [name, String(after)])
                if rows.count == 0 { return }
                var lastSweptText: String?, lastSwept = SweptValues()
                for i in 0..<rows.count {
                    let number = try self.int(rows, i, "number")
                    let kindText = rows.text(i, "schedule") ?? ""
                    guard let kind = ScheduleKind(rawValue: kindText) else {
                        throw self.malformed("trial number \(number) has unknown schedule \(kindText)")
                    }
                    let sweptText = rows.text(i, "swept")
                    if sweptText != lastSweptText {
                        lastSwept = SweptValues(try self.fromJSON(JSONText.numbers, sweptText, "number \(number)"))
                        lastSweptText = sweptText
                    }
                    let statusText = rows.text(i, "status") ?? ""
                    guard let status = TrialStatus(rawValue: statusText) else {
                        throw self.malformed("trial number \(number) has unknown status \(statusText)")
                    }
                    let finished = status.isFinished
                    try body(TrialLine(
                        number: number, configuration: rows.text(i, "configuration") ?? "",
                        repeatIndex: try self.int(rows, i, "repeat_index"), kind: kind, swept: lastSwept, status: status,
                        attempts: try self.int(rows, i, "attempts"), seconds: try self.optionalDouble(rows, i, "seconds"),
                        bestValAcc: finished ? try self.optionalDouble(rows, i, "best_val_acc") : nil,
                        bestEpoch: finished ? try rows.text(i, "best_epoch").map { _ in try self.int(rows, i, "best_epoch") } : nil,
                        finalValAcc: finished ? try self.optionalDouble(rows, i, "final_val_acc") : nil))
                    after = number
                    delivered = number
                }
            }
        }
    }

    // MARK: - Connections and transactions

    private func takeConnection() throws -> PGConnection {
        if let c = lock.withLock({ idle.popLast() }) { return c }
        return try PGConnection(url: url, connectTimeout: connectTimeout)
    }

    private func putBack(_ c: PGConnection) {
        if c.isBroken { c.close(); return }
        lock.withLock { idle.append(c) }
    }

    /// Closes every idle connection (after one broke: the others most likely did too).
    private func dropIdle() {
        let stale = lock.withLock { () -> [PGConnection] in
            defer { idle = [] }
            return idle
        }
        for c in stale { c.close() }
    }

    /// Runs `body` in one transaction, retrying on a new connection while the server is
    /// unreachable (for up to `reconnectSeconds`) or when it asks for a retry (serialization
    /// failure, deadlock). `body`'s second argument is true on a retry.
    private func transaction<T>(readOnly: Bool = false, _ body: (PGConnection, Bool) throws -> T) throws -> T {
        try withRetries(readOnly ? .readSnapshot : .transaction, body)
    }

    enum Mode {
        /// BEGIN ... COMMIT around the body.
        case transaction
        /// A REPEATABLE READ, READ ONLY transaction around the body.
        case readSnapshot
        /// The body's statements autocommit, or it sends BEGIN and COMMIT itself in its batches
        /// (fewer round trips); on an error, ROLLBACK is sent.
        case own
    }

    private func withRetries<T>(_ mode: Mode, _ body: (PGConnection, Bool) throws -> T) throws -> T {
        let deadline = Date().addingTimeInterval(reconnectSeconds)
        var delay = 0.1
        var retrying = false
        var lastFailure = ""
        while true {
            var connection: PGConnection? = nil
            do {
                let db = try takeConnection()
                connection = db
                switch mode {
                case .transaction: try db.exec("BEGIN")
                case .readSnapshot: try db.exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                case .own: break
                }
                let result = try body(db, retrying)
                if mode != .own { try db.exec("COMMIT") }
                putBack(db)
                return result
            } catch let failure as PGFailure {
                let retry: Bool
                switch failure {
                case .connect(let message, let transient):
                    retry = transient
                    lastFailure = message
                    if !transient { throw PostgresStoreError.connect(database: database, message: message) }
                case .connectionLost(let message):
                    retry = true
                    lastFailure = message
                    connection?.close()
                    connection = nil
                    dropIdle()
                case .statement(let state, let message):
                    retry = state == "40001" || state == "40P01"
                    lastFailure = message
                    if let c = connection { rollback(c) }
                    connection = nil
                    if !retry { throw translate(state: state, message: message) }
                }
                if let c = connection { rollback(c) }
                guard retry, Date() < deadline else {
                    throw PostgresStoreError.lostConnection(database: database, message: lastFailure,
                                                            seconds: reconnectSeconds)
                }
                Thread.sleep(forTimeInterval: delay)
                delay = min(delay * 2, 5)
                retrying = true
            } catch {
                if let c = connection { rollback(c) }
                throw error
            }
        }
    }

    private func rollback(_ c: PGConnection) {
        _ = try? c.exec("ROLLBACK")
        putBack(c)
    }

    private func translate(state: String, message: String) -> PostgresStoreError {
        .database(database: database, message: "\(message) (SQLSTATE \(state))")
    }

    // MARK: - Rows

    private func createdName() throws -> String {
        guard let name = sweep else { throw TrialStoreError.notCreated }
        return name
    }

    private func state(_ db: PGConnection, _ name: String, _ id: String, lock: Bool) throws -> (TrialStatus, String?)? {
        let rows = try db.exec("SELECT status, owner FROM sgdr_trials WHERE sweep = $1 AND id = $2" + (lock ? " FOR UPDATE" : ""),
                               [name, id])
        guard rows.count == 1, let status = rows.text(0, "status").flatMap(TrialStatus.init(rawValue:)) else { return nil }
        return (status, rows.text(0, "owner"))
    }

    /// Locks the trial's row and checks that it is running under `owner`.
    private func checkRunning(_ db: PGConnection, _ name: String, _ id: String, _ owner: String, lock: Bool) throws {
        guard let (status, holder) = try state(db, name, id, lock: lock) else { throw TrialStoreError.unknownTrial(id) }
        guard status == .running, holder == owner else { throw TrialStoreError.notOwner(trial: id, owner: owner) }
    }

    private func fetchInfo(_ db: PGConnection, _ name: String) throws -> SweepInfo? {
        let rows = try db.exec("SELECT * FROM sgdr_sweeps WHERE name = $1", [name])
        guard rows.count == 1 else { return nil }
        let rulesValue = try int(rows, 0, "schedule_rules")
        guard let rules = ScheduleRules(rawValue: rulesValue) else {
            throw malformed("the sweep has unknown schedule rules \(rulesValue)")
        }
        return SweepInfo(name: name, spaceJSON: rows.text(0, "space_json") ?? "", spaceHash: rows.text(0, "space_hash") ?? "",
                         createdAt: try double(rows, 0, "created_at"), scheduleRules: rules)
    }

    /// An epoch's `extra` column: a JSON object of numbers, or NULL.
    static func extraSQL(_ m: EpochMetrics, _ literal: (String) -> String) -> String {
        m.extra.isEmpty ? "NULL::text" : "\(literal(JSONText.object(m.extra)))::text"
    }

    private func decodeEpoch(_ rows: PGRows, _ i: Int) throws -> EpochMetrics {
        EpochMetrics(epoch: try int(rows, i, "epoch"), lr: try real(rows, i, "lr"),
                     trainLoss: try real(rows, i, "train_loss"), trainAcc: try real(rows, i, "train_acc"),
                     valLoss: try real(rows, i, "val_loss"), valAcc: try real(rows, i, "val_acc"),
                     trainSeconds: try real(rows, i, "train_seconds"),
                     extra: rows.text(i, "extra").flatMap(JSONText.numbers) ?? [:])
    }

    private func decodeSpec(_ rows: PGRows, _ i: Int) throws -> TrialSpec {
        let id = rows.text(i, "id") ?? ""
        let kindText = rows.text(i, "schedule") ?? ""
        guard let kind = ScheduleKind(rawValue: kindText) else { throw malformed("trial \(id) has unknown schedule \(kindText)") }
        let parameters = try SGDRParameters { q in
            q.isInteger ? Double(try int(rows, i, q.name)) : try double(rows, i, q.name)
        }
        let schedule = ScheduleConfig(
            kind: kind, parameters: parameters, epochs: try int(rows, i, "epochs"),
            stepMilestones: try fromJSON(JSONText.doubles, rows.text(i, "step_milestones"), id),
            stepFactor: try double(rows, i, "step_factor"),
            plateau: PlateauSettings(factor: try double(rows, i, "plateau_factor"),
                                     patience: try int(rows, i, "plateau_patience"),
                                     minDelta: try double(rows, i, "plateau_min_delta")))
        guard let seed = rows.text(i, "seed").flatMap({ Int64($0) }) else { throw malformed("trial \(id) has no seed") }
        return TrialSpec(
            id: id, number: try int(rows, i, "number"), configuration: rows.text(i, "configuration") ?? "",
            repeatIndex: try int(rows, i, "repeat_index"), seed: UInt64(bitPattern: seed), schedule: schedule,
            swept: try fromJSON(JSONText.numbers, rows.text(i, "swept"), id))
    }

    private func malformed(_ message: String) -> PostgresStoreError {
        .database(database: database, message: message)
    }

    // MARK: - Values

    /// A double as PostgreSQL's float8 reads it back exactly (shortest round-trip digits;
    /// NaN and the infinities by name).
    static func text(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value < 0 ? "-Infinity" : "Infinity" }
        return "\(value)"
    }

    static func parseDouble(_ text: String) -> Double? {
        switch text {
        case "NaN": .nan
        case "Infinity": .infinity
        case "-Infinity": -.infinity
        default: Double(text)
        }
    }

    private func optionalDouble(_ rows: PGRows, _ i: Int, _ column: String) throws -> Double? {
        guard let text = rows.text(i, column) else { return nil }
        guard let value = Self.parseDouble(text) else { throw malformed("\(column) holds \(text)") }
        return value
    }

    private func double(_ rows: PGRows, _ i: Int, _ column: String) throws -> Double {
        guard let value = try optionalDouble(rows, i, column) else { throw malformed("\(column) is NULL") }
        return value
    }

    /// Epoch metrics: NULL (not written by this store, but allowed) reads as NaN.
    private func real(_ rows: PGRows, _ i: Int, _ column: String) throws -> Double {
        try optionalDouble(rows, i, column) ?? .nan
    }

    private func int(_ rows: PGRows, _ i: Int, _ column: String) throws -> Int {
        guard let text = rows.text(i, column), let value = Int(text) else { throw malformed("\(column) is not an integer") }
        return value
    }

    private func fromJSON<T>(_ read: (String) -> T?, _ text: String?, _ id: String) throws -> T {
        guard let text, let value = read(text) else { throw malformed("trial \(id) has malformed JSON") }
        return value
    }
}
