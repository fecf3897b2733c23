import Foundation
import Report
import Sweep
import TrainingTypes

/// Everything the live dashboard (`sgdr-search serve`) reads of a sweep, in one place: each
/// function opens the store read-only (`StoreAccess.read`), reads, closes it and answers plain
/// values and JSON text. The HTTP server (the Dashboard target) calls nothing else, so faster
/// reads of the store are plugged in here. Opening per call is what makes a database that
/// disappears (or a PostgreSQL server that goes down) one failed call rather than a stale
/// connection: the next call opens it again and recovers.
public struct DashboardData: @unchecked Sendable {
    /// The database as messages show it (a path, or a URL with its password masked).
    public let db: String
    let openStore: StoreOpener

    /// `openStore` is called with `(db, .read)` only. (A `StoreOpener` is a plain closure: the
    /// executable's opener is a value's method, safe from any thread.)
    public init(db: String, openStore: @escaping StoreOpener) {
        self.db = db
        self.openStore = openStore
    }

    func withStore<T>(_ body: (any TrialStore, SweepInfo, SearchSpace) throws -> T) throws -> T {
        let (store, info, space) = try SweepCommands.openExisting(db, openStore)
        defer { try? store.close() }
        return try body(store, info, space)
    }

    /// Opens the sweep once: nil when it can be read, else the one line saying why not.
    public func check() -> String? {
        do {
            try withStore { _, _, _ in }
            return nil
        } catch {
            return "\(error)"
        }
    }

    // MARK: The version

    /// A cheap fingerprint of what the sweep's pages show: the counts by status, the largest
    /// trial number, the best done trial and the owners of the running trials. It changes when a
    /// trial is stored, claimed, finished or interrupted, or a running trial changes owner.
    public struct Version: Hashable, Sendable {
        public var text: String
        public var counts: TrialCounts
        /// Trials the sweep has now (the space's, or a race's stored ones).
        public var total: Int
        /// Every trial of the sweep finished (for a race: and the race is over).
        public var finished: Bool
    }

    public func version() throws -> Version {
        try withStore { store, info, space in
            let counts = try store.counts()
            let best = try store.bestDone(space.objective)
            let owners = try store.runningOwners().sorted()
            let total = space.ranking.currentTotal(stored: counts.total)
            var text = info.name + "|" + info.spaceHash + "|"
            text += TrialStatus.allCases.map { "\($0.rawValue)=\(counts[$0])" }.joined(separator: ",")
            text += "|next=\(counts.nextNumber)|best=\(best.map { "\($0.id):\(JSONText.number($0.score))" } ?? "-")"
            text += "|owners=" + owners.joined(separator: ",")
            var finished = counts.total > 0 && counts.finished == counts.total && counts.total >= total
            // A race between two rounds has every stored trial finished: it is over only when the
            // race says so (a race is never a million trials).
            if finished, space.racing != nil {
                finished = space.ranking.raceSummary(try store.trials(withEpochs: false))?.isFinished ?? true
            }
            // A short hash: the version is compared, never read.
            return Version(text: String(SHA256.hex(text).prefix(16)), counts: counts, total: total,
                           finished: finished)
        }
    }

    // MARK: The report's sections

    /// What the static report shows, read as `report` reads it (the top `top` SGDR
    /// configurations plotted): its input, for `renderReportSections`.
    public func reportInput(top: Int) throws -> ReportInput {
        let (sweep, summary) = try StoredSweep.loadForReport(db: db, openStore: openStore, plotting: top)
        return sweep.reportInput(db: db, generatedAt: nil, summary: summary)
    }

    // MARK: JSON

    /// `GET /api/sweep`: the sweep's name, space, settings, counts and whether it is finished.
    public func sweepJSON() throws -> String {
        try withStore { store, info, space in
            let counts = try store.counts()
            let total = space.ranking.currentTotal(stored: counts.total)
            var race: RaceSummary?
            if space.racing != nil {
                race = space.ranking.raceSummary(try store.trials(withEpochs: false))
            }
            let allFinished = counts.total > 0 && counts.finished == counts.total && counts.total >= total
            let finished = allFinished && (race?.isFinished ?? true)
            var o = JSONObject()
            o["name"] = .string(info.name)
            o["database"] = .string(db)
            o["strategy"] = .string(space.strategy.rawValue)
            o["objective"] = .string(space.objective.rawValue)
            o["configurations"] = .int(space.configurationCount)
            o["repeats"] = .int(space.repeats)
            o["swept"] = .raw("[" + space.sweptLogScales.map {
                "{\"log\":\($0.log),\"name\":\(JSONText.string($0.name))}"
            }.joined(separator: ",") + "]")
            o["settings"] = .raw("[" + space.reportSettings.map {
                "{\"key\":\(JSONText.string($0.key)),\"value\":\(JSONText.string($0.value))}"
            }.joined(separator: ",") + "]")
            o["created_at"] = .number(info.createdAt)
            o["trials"] = .int(total)
            o["stored"] = .int(counts.total)
            o["counts"] = .raw("{" + TrialStatus.allCases.map { "\(JSONText.string($0.rawValue)):\(counts[$0])" }.joined(separator: ",") + "}")
            o["finished"] = .bool(finished)
            if let race {
                o["race"] = .raw("{\"rounds\":\(race.rounds),\"rounds_done\":\(race.roundsDone),\"finished\":\(race.isFinished),"
                    + "\"survivors\":\(race.survivors),\"eliminated\":\(race.eliminated),\"saved\":\(race.saved),"
                    + "\"full_grid\":\(race.fullGrid)}")
            } else {
                o["race"] = .null
            }
            o["note"] = info.earlierRulesNote(path: db).map { .string($0) } ?? .null
            return o.text
        }
    }

    /// `GET /api/leaderboard`: rows `offset+1 ... offset+limit` of the leaderboard (the CSV's
    /// columns), and how many configurations it has. The first page is ranked from the trials'
    /// briefs with its rows read in full; any other from the compact table (`LeaderboardPage`),
    /// which reads in full only the page's rows: a page deep in a million rows costs what the
    /// second one does.
    public func leaderboardJSON(offset: Int, limit: Int) throws -> String {
        try withStore { store, _, space in
            let rows: [LeaderboardRow], total: Int
            if offset == 0 {
                let ranked = try space.ranking.ranked(store, top: limit)
                (rows, total) = (ranked.top, ranked.configurationCount)
            } else {
                let page = try space.ranking.page(store, offset: offset, limit: limit)
                (rows, total) = (page.rows, page.total)
            }
            var o = JSONObject()
            o["configurations"] = .int(total)
            o["offset"] = .int(offset)
            o["limit"] = .int(limit)
            o["objective"] = .string(space.objective.rawValue)
            o["rows"] = .raw("[" + rows.map { Self.rowJSON($0) }.joined(separator: ",") + "]")
            return o.text
        }
    }

    static func rowJSON(_ r: LeaderboardRow) -> String {
        var o = JSONObject()
        o["rank"] = .int(r.rank)
        o["configuration"] = .string(r.configuration)
        o["schedule"] = .string(r.schedule.kind.rawValue)
        o["swept"] = .raw(JSONText.object(r.swept))
        o["best_val_acc"] = r.bestValAcc.map { .number($0) } ?? .null
        o["best_val_acc_std"] = r.bestValAccStd.map { .number($0) } ?? .null
        o["final_val_acc"] = r.finalValAcc.map { .number($0) } ?? .null
        o["best_epoch"] = r.bestEpoch.map { .int($0) } ?? .null
        o["repeats_done"] = .int(r.repeatsDone)
        o["repeats"] = .int(r.repeats)
        o["status"] = .string(r.status.rawValue)
        o["status_text"] = .string(r.statusText)
        o["eliminated_after"] = r.eliminatedAfter.map { .int($0) } ?? .null
        if let d = r.vsBaseline, let h = d.halfWidth95 {
            o["diff_vs_baseline"] = .number(d.mean)
            o["diff_ci95"] = .number(h)
        } else {
            o["diff_vs_baseline"] = .null
            o["diff_ci95"] = .null
        }
        o["seconds"] = .number(r.seconds)
        return o.text
    }

    /// A running trial and who runs it.
    public struct RunningTrial: Sendable {
        public var id: String
        public var number: Int
        public var configuration: String
        public var swept: [String: Double]
        public var owner: String?
        public var host: String?
        public var pid: Int?
        public var attempts: Int
        public var startedAt: Double?
        /// Its last heartbeat (the lease is judged by it; see `TrialStore.heartbeats`), nil when none is stored.
        public var heartbeatAt: Double?
        /// Epochs stored so far, and the last one's validation accuracy.
        public var epochs: Int
        public var lastValAcc: Double?
        /// "alive" (a live process on this host), "gone" (a dead process on this host: its
        /// trial runs again on resume or once its lease runs out), or "other host" (not checked).
        public var liveness: String
    }

    /// At most this many running trials are listed (a sweep runs at most 256 at once per process).
    public static let maxRunning = 500

    /// The running trials (at most `maxRunning`, by number) and how many there are.
    public func runningTrials(now: Double = Date().timeIntervalSince1970) throws -> (trials: [RunningTrial], count: Int) {
        try withStore { store, _, space in
            let briefs = try store.briefs(space.objective)
            let numbers = briefs.filter { $0.status == .running }.map(\.number)
            let records = try store.trials(numbers: Array(numbers.prefix(Self.maxRunning)))
            let epochs = try store.epochs(ofTrials: records.map(\.spec.id))
            let heartbeats = try store.heartbeats()
            let localHost = Owner.hostName()
            let trials = records.map { r -> RunningTrial in
                let e = epochs[r.spec.id] ?? []
                let host = r.owner.flatMap(Owner.host)
                let pid = r.owner.flatMap { o -> Int? in
                    let parts = o.split(separator: ":", omittingEmptySubsequences: false)
                    return parts.count >= 3 ? Int(parts[parts.count - 2]) : nil
                }
                let liveness = host != localHost ? "other host" : (r.owner.map { Owner.isAbandoned($0) } ?? true) ? "gone" : "alive"
                return RunningTrial(id: r.spec.id, number: r.spec.number, configuration: r.spec.configuration,
                                    swept: r.spec.swept, owner: r.owner, host: host, pid: pid, attempts: r.attempts,
                                    startedAt: r.startedAt, heartbeatAt: heartbeats[r.spec.id], epochs: e.count, lastValAcc: e.last?.valAcc, liveness: liveness)
            }
            return (trials, numbers.count)
        }
    }

    /// `GET /api/trials/running`.
    public func runningJSON(now: Double = Date().timeIntervalSince1970) throws -> String {
        let (trials, count) = try runningTrials(now: now)
        var o = JSONObject()
        o["count"] = .int(count)
        o["trials"] = .raw("[" + trials.map { t in
            var r = JSONObject()
            r["id"] = .string(t.id)
            r["number"] = .int(t.number)
            r["configuration"] = .string(t.configuration)
            r["swept"] = .raw(JSONText.object(t.swept))
            r["owner"] = t.owner.map { .string($0) } ?? .null
            r["host"] = t.host.map { .string($0) } ?? .null
            r["pid"] = t.pid.map { .int($0) } ?? .null
            r["attempts"] = .int(t.attempts)
            r["started_at"] = t.startedAt.map { .number($0) } ?? .null
            r["running_seconds"] = t.startedAt.map { .number(max(0, now - $0)) } ?? .null
            r["heartbeat_at"] = t.heartbeatAt.map { .number($0) } ?? .null
            r["heartbeat_seconds_ago"] = t.heartbeatAt.map { .number(max(0, now - $0)) } ?? .null
            r["epochs"] = .int(t.epochs)
            r["last_val_acc"] = t.lastValAcc.map { .number($0) } ?? .null
            r["liveness"] = .string(t.liveness)
            return r.text
        }.joined(separator: ",") + "]")
        return o.text
    }

    /// `GET /api/trial/ID/epochs`: nil when the sweep has no trial `id`.
    public func epochsJSON(trial id: String) throws -> String? {
        try withStore { store, _, space in
            // The trial's number from its id: the configurations are the space's, in order.
            guard let number = Self.number(ofTrial: id, space: space),
                  let record = try store.trials(numbers: [number]).first, record.spec.id == id else { return nil }
            let epochs = try store.epochs(ofTrials: [id])[id] ?? []
            var o = JSONObject()
            o["trial"] = .string(id)
            o["status"] = .string(record.status.rawValue)
            o["epochs"] = .raw("[" + epochs.map { e in
                "{\"epoch\":\(e.epoch),\"lr\":\(JSONText.number(e.lr)),\"train_acc\":\(JSONText.number(e.trainAcc)),"
                    + "\"train_loss\":\(JSONText.number(e.trainLoss)),\"val_acc\":\(JSONText.number(e.valAcc)),"
                    + "\"val_loss\":\(JSONText.number(e.valLoss))}"
            }.joined(separator: ",") + "]")
            return o.text
        }
    }

    /// The number of the trial `<configuration>.r<repeat>`: configurations in expansion order
    /// (the baselines, then `sgdr-0000`, ...), repeats inside (see `TrialSpec.number`).
    static func number(ofTrial id: String, space: SearchSpace) -> Int? {
        guard let dot = id.range(of: ".r", options: .backwards),
              let repeatIndex = Int(id[dot.upperBound...]), repeatIndex >= 0, repeatIndex < space.repeats else { return nil }
        let configuration = String(id[..<dot.lowerBound])
        let baselines = space.baselines.map(\.rawValue)
        let index: Int
        if let b = baselines.firstIndex(of: configuration) {
            index = b
        } else if configuration.hasPrefix("sgdr-"), let k = Int(configuration.dropFirst(5)), k >= 0,
                  k < space.configurationCount - baselines.count, SearchSpace.configurationID(k) == configuration {
            index = baselines.count + k
        } else {
            return nil
        }
        // A race numbers its trials round-major (`SearchSpace.trialSpecs(repeatsOf:)`).
        return space.racing == nil ? index * space.repeats + repeatIndex : repeatIndex << 32 | index
    }
}

/// A JSON object written with sorted keys, in the project's compact form (`JSONText`).
struct JSONObject {
    enum Value {
        case string(String), int(Int), number(Double), bool(Bool), null, raw(String)
        var text: String {
            switch self {
            case .string(let s): JSONText.string(s)
            case .int(let i): String(i)
            case .number(let x): JSONText.number(x)
            case .bool(let b): b ? "true" : "false"
            case .null: "null"
            case .raw(let r): r
            }
        }
    }

    private var values: [String: Value] = [:]

    subscript(key: String) -> Value? {
        get { values[key] }
        set { values[key] = newValue }
    }

    var text: String {
        "{" + values.keys.sorted().map { JSONText.string($0) + ":" + values[$0]!.text }.joined(separator: ",") + "}"
    }
}
