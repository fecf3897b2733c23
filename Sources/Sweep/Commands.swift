import Engine
import Foundation
import Synchronization
import Schedules

/// Opens the store of a sweep database: `create` false must fail, without creating anything,
/// when `path` does not exist.
public typealias StoreOpener = (_ path: String, _ create: Bool) throws -> any TrialStore

/// A refusal or failure of a sweep command, printed as `Error: ...`.
public struct SweepError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public var exitCode: Int32
    public init(_ description: String, exitCode: Int32 = 1) {
        self.description = description
        self.exitCode = exitCode
    }
}

/// The library behind the subcommands `run`, `resume`, `leaderboard`, `best` and `status`:
/// each returns the process's exit status, and writes only to the given console.
public enum SweepCommands {
    public static let exitInterrupted: Int32 = 130
    /// An invalid space file, like an invalid option elsewhere in the tool (EX_USAGE).
    public static let exitUsage: Int32 = 64
    /// stdout or stderr is a closed pipe (`| head -1`): the command ends quietly with the status
    /// a shell reports for `seq` or `yes` there (128 + SIGPIPE).
    public static let exitBrokenPipe: Int32 = 141

    /// How `run` and `resume` run the trials.
    public struct RunOptions {
        /// Overrides the space's `concurrency`.
        public var concurrency: Int?
        /// Set by Ctrl-C / SIGTERM when `handleSignals`, or by a test.
        public var cancellation = CancellationFlag()
        public var handleSignals = false
        /// nil: the engine, on the space's data set loaded once.
        public var makeExecutor: ((SearchSpace) throws -> any TrialExecutor)?
        public var owner = Owner.current
        public var isAbandoned: @Sendable (String) -> Bool = Owner.isAbandoned
        /// Leaderboard rows printed at the end.
        public var top = 10
        /// The store's lease in seconds (the runner renews it every lease/4), or nil.
        public var lease: Double?
        /// Byte budget of the engine's trajectory cache (0: no sharing of epochs between trials).
        public var cacheBytes = TrajectoryCache.defaultBudgetBytes

        public init(concurrency: Int? = nil) { self.concurrency = concurrency }
    }

    // MARK: run / resume

    /// `sgdr-search [run] SPACE [--db PATH]`: validates the space (nothing is created when it is
    /// invalid), creates or resumes its database, runs what is left, prints the results.
    public static func run(spaceFile: String, db: String?, options: RunOptions, openStore: StoreOpener,
                           console: Console) -> Int32 {
        let space: SearchSpace
        do {
            space = try SearchSpace.load(path: spaceFile)
        } catch {
            console.error("\(error)")
            return exitUsage
        }
        let path = db ?? space.defaultDatabasePath
        return report(console) {
            if db == nil {
                try FileManager.default.createDirectory(
                    atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            }
            let store = try openStore(path, true)
            let effective = try prepare(space, store: store, path: path)
            return try execute(effective, store: store, path: path, options: options, console: console)
        }
    }

    /// `sgdr-search resume DB`: resumes from the space stored in the database.
    public static func resume(db: String, options: RunOptions, openStore: StoreOpener, console: Console) -> Int32 {
        report(console) {
            let (store, info, space) = try openExisting(db, openStore)
            try refuseEarlierRules(info, path: db)
            return try execute(space, store: store, path: db, options: options, console: console)
        }
    }

    /// Stores the sweep the first time; afterwards checks that the space is the stored one, but
    /// for `trials` (random search; it may only grow) and `concurrency`.
    public static func prepare(_ space: SearchSpace, store: any TrialStore, path: String) throws -> SearchSpace {
        let hash = space.canonicalHash
        if let stored = try store.info() { try refuseEarlierRules(stored, path: path) }
        let info = try store.create(SweepInfo(name: space.name, spaceJSON: space.source, spaceHash: hash,
                                              createdAt: Date().timeIntervalSince1970))
        try refuseEarlierRules(info, path: path)
        let stored = try? SearchSpace.parse(data: Data(info.spaceJSON.utf8), file: path)
        if info.spaceHash != hash {
            let changes = stored.map { space.changes(from: $0) } ?? []
            throw SweepError(
                "\(path) holds the sweep \"\(info.name)\" with a different space; "
                + (changes.isEmpty ? "the stored space differs" : "changed: " + changes.joined(separator: "; "))
                + ". Only \"trials\" (random search, to grow it) and \"concurrency\" may change between runs: "
                + "use a new \"name\" or --db PATH for a new sweep, or restore the space to resume this one.")
        }
        if let old = stored?.trials, let new = space.trials, new < old {
            throw SweepError(
                "\(path): trials: \(old) -> \(new): a random search can only grow (its database already holds "
                + "\(old) configurations); give \"trials\" >= \(old), or use a new \"name\" or --db PATH.")
        }
        if space.racing != nil, let old = stored?.repeats, space.repeats < old {
            throw SweepError(
                "\(path): repeats: \(old) -> \(space.repeats): a race can only grow (more rounds for the "
                + "configurations still racing); give \"repeats\" >= \(old), or use a new \"name\" or --db PATH.")
        }
        if info.spaceJSON != space.source { try store.updateSpace(json: space.source, hash: hash) }
        return space
    }

    /// A sweep made under other schedule rules is never resumed or grown: its stored results
    /// would be mixed with trials this build runs differently.
    static func refuseEarlierRules(_ info: SweepInfo, path: String) throws {
        guard let note = info.scheduleRules.earlierRuleNote else { return }
        throw SweepError("\(path) cannot be resumed or grown: \(note). Its results stay readable "
                         + "(leaderboard, best, status, report); to run the space again, use a new \"name\" or --db PATH.")
    }

    static func openExisting(_ path: String, _ openStore: StoreOpener) throws -> (any TrialStore, SweepInfo, SearchSpace) {
        let store = try openStore(path, false)
        guard let info = try store.info() else { throw SweepError("\(path) holds no sweep") }
        do {
            return (store, info, try SearchSpace.parse(data: Data(info.spaceJSON.utf8), file: "\(path) (stored space)"))
        } catch {
            throw SweepError("\(error)")
        }
    }

    /// Adds the space's trials (idempotent), runs the runnable ones, prints the results.
    static func execute(_ space: SearchSpace, store: any TrialStore, path: String, options: RunOptions,
                        console: Console) throws -> Int32 {
        if space.racing == nil {
            try store.addTrials(space.trialSpecs())
        } else {
            try store.addTrials(space.wantedTrialSpecs(try store.trials()))
        }
        let before = try store.trials()
        let concurrency = options.concurrency ?? space.concurrency ?? ProcessInfo.processInfo.activeProcessorCount
        let finished = before.filter { $0.status.isFinished }
        let repeats = space.repeats == 1 ? "1 repeat" : "\(space.repeats) repeats"
        let trialsText = space.racing == nil ? "\(before.count) trials"
            : "at most \(space.trialCount) trials, racing (\(before.count) so far)"
        try console.err("Sweep \(space.name): \(space.configurationCount) configurations x \(repeats) = \(trialsText)"
                    + (finished.isEmpty ? "" : " (\(finished.count) already finished)")
                    + ", concurrency \(concurrency), database \(path)\n")
        var ending = SweepRunner.Ending.exhausted
        if finished.count < before.count {
            if options.handleSignals { InterruptHandler.install(options.cancellation, console: console) }
            let executor: any TrialExecutor
            if let make = options.makeExecutor {
                executor = try make(space)
            } else {
                let data: DataSet
                do { data = try DataSet.load(space.data, includeTest: false) } catch { throw SweepError("cannot load the data set: \(error)") }
                BLAS.setThreads(space.trainingThreads)
                executor = EngineExecutor(data: data, training: space.training, cacheBytes: options.cacheBytes)
            }
            // A race's total is its most: eliminations end it sooner (and its ETA is an upper bound).
            let progress = ProgressReporter(console: console, total: space.racing == nil ? before.count : space.trialCount,
                                            alreadyFinished: finished.count,
                                            objective: space.objective)
            // A failed write of the progress (a full disk, a closed pipe) stops the sweep as Ctrl-C
            // does: the running trials are recorded interrupted, then the failure ends the command.
            progress.onFailure = { [cancellation = options.cancellation] _ in cancellation.cancel() }
            for record in finished { progress.handle(.finished(record), counted: false) }
            let runner = SweepRunner(store: store, executor: executor, concurrency: concurrency,
                                     owner: options.owner, cancellation: options.cancellation)
            runner.isAbandoned = options.isAbandoned
            runner.lease = options.lease
            let decisions = RaceTiming()
            if space.racing != nil {
                // The next round's trials, once the current round is decided (any process may add
                // them: adding is idempotent and the decision a function of the stored trials).
                runner.replenish = {
                    let start = DispatchTime.now().uptimeNanoseconds
                    defer { decisions.add(DispatchTime.now().uptimeNanoseconds - start) }
                    let trials = try store.trials()
                    let existing = Set(trials.map(\.spec.id))
                    let new = space.wantedTrialSpecs(trials).filter { !existing.contains($0.id) }
                    if !new.isEmpty { try store.addTrials(new) }
                    return !new.isEmpty
                }
            }
            runner.onEvent = { progress.handle($0) }
            defer { progress.close() }
            ending = try runner.run()
            progress.close()
            if let failure = progress.failure { throw failure }
            let (worker, training) = runner.timing
            if worker > 0 {
                try console.err(String(format: "Storage and dispatch: %.3f s of %.2f s of worker time (%.2f%%)\n",
                                   worker - training, worker, 100 * (worker - training) / worker))
            }
            if let engine = executor as? EngineExecutor {
                try console.err(engine.cache.statistics.summary + "\n")
            }
            if space.racing != nil {
                let (count, nanos) = decisions.total
                try console.err(String(format: "Race decisions: %d, %.1f ms in total (reading the trials, deciding, adding the next round)\n",
                                   count, Double(nanos) / 1e6))
            }
        }
        let after = try store.trials()
        let rows = space.leaderboard(after)
        try console.out(LeaderboardFormat.table(Array(rows.prefix(options.top)), swept: space.sweptNames))
        if rows.count > options.top { try console.out("(\(rows.count - options.top) more: sgdr-search leaderboard \(path))\n") }
        try console.out("\n" + BestSummary(rows: rows, space: space).text())
        if ending == .cancelled {
            try console.err("Interrupted: the unfinished trials will run again with: sgdr-search resume \(path)\n")
            return exitInterrupted
        }
        let elsewhere = after.filter { $0.status == .running }.count
        if elsewhere > 0 {
            try console.err("\(elsewhere) trial\(elsewhere == 1 ? " is" : "s are") still running in another process.\n")
        }
        return 0
    }

    // MARK: results

    /// `sgdr-search leaderboard DB [--csv FILE] [--top N]` (`top` 0: the header alone).
    public static func leaderboard(db: String, csv: String?, top: Int?, openStore: StoreOpener, console: Console) -> Int32 {
        report(console) {
            if let csv, csv != "-" { try checkOutput(csv, option: "--csv", database: db) }
            let sweep = try StoredSweep.load(db: db, openStore: openStore)
            if let note = sweep.earlierRulesNote(path: db) { try console.err(note + "\n") }
            let space = sweep.space
            var rows = space.leaderboard(sweep.trials)
            if let top { rows = Array(rows.prefix(top)) }
            guard let csv else {
                try console.out(LeaderboardFormat.table(rows, swept: space.sweptNames))
                return 0
            }
            let text = LeaderboardFormat.csv(rows, swept: space.sweptNames)
            if csv == "-" {
                try console.data(text)
            } else {
                try writeOutput(text, to: csv, option: "--csv", database: db)
            }
            return 0
        }
    }

    /// `sgdr-search best DB [--json]`.
    public static func best(db: String, json: Bool, openStore: StoreOpener, console: Console) -> Int32 {
        report(console) {
            let sweep = try StoredSweep.load(db: db, openStore: openStore)
            if let note = sweep.earlierRulesNote(path: db) { try console.err(note + "\n") }
            let summary = BestSummary(rows: sweep.space.leaderboard(sweep.trials), space: sweep.space)
            guard summary.best != nil else {
                let done = sweep.trials.filter { $0.status == .done }.count
                throw SweepError("\(db): no SGDR configuration has finished yet (\(done) of \(sweep.trials.count) trials done); "
                                 + "run or resume the sweep: sgdr-search resume \(db)")
            }
            if json { try console.data(summary.json()) } else { try console.out(summary.text()) }
            return 0
        }
    }

    /// `sgdr-search status DB`.
    public static func status(db: String, openStore: StoreOpener, console: Console,
                              isAbandoned: (String) -> Bool = Owner.isAbandoned) -> Int32 {
        report(console) {
            let sweep = try StoredSweep.load(db: db, openStore: openStore)
            if let note = sweep.earlierRulesNote(path: db) { try console.err(note + "\n") }
            try console.out(statusText(space: sweep.space, info: sweep.info, trials: sweep.trials, path: db,
                                   now: Date().timeIntervalSince1970, isAbandoned: isAbandoned))
            return 0
        }
    }

    public static func statusText(space: SearchSpace, info: SweepInfo, trials: [TrialRecord], path: String,
                                  now: Double, isAbandoned: (String) -> Bool) -> String {
        var counts: [TrialStatus: Int] = [:]
        for t in trials { counts[t.status, default: 0] += 1 }
        let repeats = space.repeats == 1 ? "1 repeat" : "\(space.repeats) repeats"
        var out = "Sweep \(info.name) (\(path)): \(space.strategy.rawValue), \(space.configurationCount) configurations x \(repeats) = \(trials.count) trials\n"
        out += "  " + TrialStatus.allCases.map { "\($0.rawValue) \(counts[$0] ?? 0)" }.joined(separator: ", ") + "\n"
        if let race = space.raceState(trials) {
            let saved = space.trialCount - space.wantedTrialSpecs(trials).count
            out += "  race: \(race.roundsDone) of \(race.rounds) rounds done"
                + (race.isFinished ? " (finished)" : "")
                + "; \(race.survivors.count) configuration\(race.survivors.count == 1 ? "" : "s") still racing, "
                + "\(race.eliminated.count) eliminated; \(trials.count) trials so far of the full grid's \(space.trialCount)"
                + (race.isFinished ? " (\(saved) saved)" : " (at least \(saved) saved)") + "\n"
        }
        let live = trials.filter { $0.status == .running && !($0.owner.map(isAbandoned) ?? true) }
        let lastFinish = trials.compactMap(\.finishedAt).max() ?? info.createdAt
        let end = live.isEmpty ? lastFinish : now
        let trainSeconds = trials.compactMap(\.seconds).reduce(0, +)
        out += "  elapsed \(ProgressReporter.clock(max(0, end - info.createdAt))) since the sweep was created"
            + (live.isEmpty ? "" : " (running now)") + "; training time \(ProgressReporter.clock(trainSeconds)) in total\n"
        let left = trials.filter { !$0.status.isFinished }
        if left.isEmpty {
            out += "  nothing left to run\n"
        } else {
            let finishedSeconds = trials.filter { $0.status.isFinished }.compactMap(\.seconds)
            let concurrency = space.concurrency ?? ProcessInfo.processInfo.activeProcessorCount
            let estimate = finishedSeconds.isEmpty ? "" :
                ", about \(ProgressReporter.clock(finishedSeconds.reduce(0, +) / Double(finishedSeconds.count) * Double(left.count) / Double(concurrency))) at concurrency \(concurrency)"
            let ids = left.prefix(8).map { "\($0.spec.id) (\($0.status.rawValue))" }.joined(separator: ", ")
            out += "  still to run: \(left.count) trial\(left.count == 1 ? "" : "s")\(estimate): \(ids)\(left.count > 8 ? ", ..." : "")\n"
            if !live.isEmpty {
                out += "  running in live processes: " + live.map { "\($0.spec.id) (\($0.owner ?? "?"))" }.joined(separator: ", ") + "\n"
            }
            out += "  resume with: sgdr-search resume \(path)\n"
        }
        let failures = trials.filter { $0.status == .failed }
        for f in failures.prefix(5) { out += "  failed \(f.spec.id): \(f.error ?? "no message")\n" }
        return out
    }

    /// Runs `body`, printing any error as one `Error:` line; a failed write to stdout or stderr
    /// ends it as `Console.exitStatus(after:)` says.
    static func report(_ console: Console, _ body: () throws -> Int32) -> Int32 {
        do {
            return try body()
        } catch let e as OutputError {
            return console.exitStatus(after: e)
        } catch let e as SweepError {
            console.error(e.description)
            return e.exitCode
        } catch {
            console.error("\(error)")
            return 1
        }
    }

    /// Refuses an output path that is the sweep database or one of its companion files (exit 64).
    public static func checkOutput(_ path: String, option: String, database: String) throws(SweepError) {
        do throws(OutputFileError) {
            try OutputFile.checkNotDatabase(path, database: database)
        } catch {
            throw SweepError("\(option) \(error)", exitCode: error.exitCode)
        }
    }

    /// Writes an output file (see `OutputFile`), after checking it is not the sweep database.
    /// Throws `SweepError`, or `OutputError` when the file is a pipe whose reader went away (the
    /// command then ends quietly, as on a closed stdout).
    public static func writeOutput(_ text: String, to path: String, option: String, database: String) throws {
        try checkOutput(path, option: option, database: database)
        do throws(OutputFileError) {
            try OutputFile.write(text, to: path)
        } catch {
            if error.isBrokenPipe { throw OutputError(stream: .stdout, code: error.code) }
            throw SweepError("\(option) \(error)", exitCode: error.exitCode)
        }
    }
}

/// A stored sweep, read back for the results commands and the HTML report.
public struct StoredSweep: Sendable {
    public var space: SearchSpace
    public var info: SweepInfo
    public var trials: [TrialRecord]

    /// Opens an existing database (never creates one) and reads its space and trials.
    public static func load(db: String, openStore: StoreOpener) throws -> StoredSweep {
        let (store, info, space) = try SweepCommands.openExisting(db, openStore)
        return StoredSweep(space: space, info: info, trials: try store.trials())
    }

    /// For a sweep made under earlier schedule rules, the one line the read commands print on
    /// stderr (and the report shows on its page); nil otherwise.
    public func earlierRulesNote(path: String) -> String? {
        info.scheduleRules.earlierRuleNote.map { "Note: \(path): \($0)." }
    }
}

extension SearchSpace {
    /// The dataset and training settings, as (space key, value) in display order.
    public var settingsSummary: [(key: String, value: String)] {
        canonicalEntries().filter { $0.path.hasPrefix("training.") && $0.value != "-" }
            .map { (String($0.path.dropFirst("training.".count)), $0.value) }
            + [("strategy", strategy.rawValue), ("repeats", String(repeats)), ("seed", String(seed))]
    }

    /// The swept parameters by name, with whether their range is log-scaled.
    public var sweptLogScales: [(name: String, log: Bool)] {
        sweptNames.map { name in
            let log = parameters.contains { d in
                if d.parameter.rawValue == name, case .range(_, _, true, _) = d.kind { return true }
                return false
            }
            return (name, log)
        }
    }
}

/// How often, and how long, a racing sweep's workers spent deciding rounds.
final class RaceTiming: Sendable {
    private let state = Mutex<(count: Int, nanos: UInt64)>((0, 0))
    func add(_ nanos: UInt64) { state.withLock { $0.count += 1; $0.nanos += nanos } }
    var total: (count: Int, nanos: UInt64) { state.withLock { $0 } }
}
