import Engine
import Foundation
import Report
import Sweep
import Synchronization
import Schedules
#if canImport(Glibc)
import Glibc
#endif

/// How a command uses a sweep database.
public enum StoreAccess: Sendable {
    /// `run`: create the database when it does not exist.
    case create
    /// `resume`: an existing database, written.
    case write
    /// `leaderboard`, `best`, `status`, `report`: an existing database, only read (nothing is
    /// written nor created, so a user who cannot write its folder can read it).
    case read
}

/// Opens the store of a sweep database: any access but `create` must fail, without creating
/// anything, when `path` does not exist.
public typealias StoreOpener = (_ path: String, _ access: StoreAccess) throws -> any TrialStore

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
        let concurrency = options.concurrency ?? space.concurrency ?? ProcessInfo.processInfo.activeProcessorCount
        if let problem = space.memoryProblem(concurrency: concurrency, cacheBytes: options.cacheBytes) {
            console.error("\(spaceFile): \(problem)")
            return 1
        }
        if options.makeExecutor == nil, let problem = space.dataFilesProblem() { console.error("\(spaceFile): \(problem)"); return 1 }
        return report(console) {
            if db == nil { try makeFolder(of: path) }
            let existed = FileManager.default.fileExists(atPath: path)
            var stored = false
            do {
                let store = try openStore(path, .create)
                defer { try? store.close() }
                let effective = try prepare(space, store: store, path: path)
                stored = true
                return try execute(effective, store: store, path: path, options: options, console: console)
            } catch {
                // A database file this run created but could not store the sweep in: remove it,
                // so that nothing half-made is left (the next run creates it again). (A server's
                // database, `scheme://...`, is not a file.)
                if !existed && !stored && !path.contains("://") {
                    for suffix in ["", "-wal", "-shm", "-journal"] { try? FileManager.default.removeItem(atPath: path + suffix) }
                }
                throw error
            }
        }
    }

    /// Creates the folder of `path` (and its parents) if missing, or says in one line why not.
    static func makeFolder(of path: String) throws {
        let dir = (path as NSString).deletingLastPathComponent
        guard !dir.isEmpty else { return }
        var isDirectory: ObjCBool = false
        var prefix = dir.hasPrefix("/") ? "/" : ""
        for part in dir.split(separator: "/") {
            prefix += (prefix.isEmpty || prefix.hasSuffix("/") ? "" : "/") + part
            if FileManager.default.fileExists(atPath: prefix, isDirectory: &isDirectory) {
                if !isDirectory.boolValue {
                    throw SweepError("cannot create the folder \(dir) for the database \(path): \(prefix) is a file, not a folder; remove it or give --db PATH")
                }
                continue
            }
            if mkdir(prefix, 0o777) != 0 && errno != EEXIST {
                throw SweepError("cannot create the folder \(prefix) for the database \(path): \(String(cString: strerror(errno))); give --db PATH")
            }
        }
    }

    /// `sgdr-search resume DB`: resumes from the space stored in the database.
    public static func resume(db: String, options: RunOptions, openStore: StoreOpener, console: Console) -> Int32 {
        report(console) {
            let (store, info, space) = try openExisting(db, openStore, access: .write)
            defer { try? store.close() }
            try refuseEarlierRules(info, path: db)
            let concurrency = options.concurrency ?? space.concurrency ?? ProcessInfo.processInfo.activeProcessorCount
            if let problem = space.memoryProblem(concurrency: concurrency, cacheBytes: options.cacheBytes) {
                throw SweepError("\(db): \(problem)")
            }
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

    static func openExisting(_ path: String, _ openStore: StoreOpener, access: StoreAccess = .read) throws
        -> (any TrialStore, SweepInfo, SearchSpace) {
        let store = try openStore(path, access)
        do {
            guard let info = try store.info() else {
                throw SweepError("\(path) holds no sweep: its creation did not finish; run the space file again to create it")
            }
            do {
                return (store, info, try SearchSpace.parse(data: Data(info.spaceJSON.utf8), file: "\(path) (stored space)"))
            } catch {
                throw SweepError("\(error)")
            }
        } catch {
            try? store.close()
            throw error
        }
    }

    /// Trials stored per transaction (without racing): the first batch before the workers start
    /// (small, so that the first trial starts at once), the others while they run, as the claims
    /// near them.
    static let firstTrialBatch = 2_000, trialBatch = 20_000

    /// Stores the space's trials (idempotent; without racing in batches, the first before the
    /// workers start and the others as they are needed; with racing a round at a time), runs
    /// the runnable ones, prints the results.
    static func execute(_ space: SearchSpace, store: any TrialStore, path: String, options: RunOptions,
                        console: Console) throws -> Int32 {
        let interrupts = options.handleSignals ? InterruptHandler(options.cancellation, console: console) : nil
        defer { withExtendedLifetime(interrupts) {} }
        var feeder: TrialFeeder?
        var counts: TrialCounts
        if space.racing == nil {
            counts = try store.counts()
            // The stored trials are the first ones (they are stored in number order) unless a
            // store says otherwise: then store them all again (idempotent).
            let f = TrialFeeder(space: space, store: store,
                                start: counts.total == counts.nextNumber ? counts.total : 0, batchSize: trialBatch)
            if !f.isDone {
                try f.addBatch(firstTrialBatch)
                counts = try store.counts()
            }
            feeder = f
        } else {
            try store.addTrials(space.wantedTrialSpecs(try store.trials(withEpochs: false)))
            counts = try store.counts()
        }
        let total = space.racing == nil ? space.trialCount : counts.total
        let concurrency = options.concurrency ?? space.concurrency ?? ProcessInfo.processInfo.activeProcessorCount
        let finished = counts.finished
        let repeats = space.repeats == 1 ? "1 repeat" : "\(space.repeats) repeats"
        let trialsText = space.racing == nil ? "\(total) trials"
            : "at most \(space.trialCount) trials, racing (\(total) so far)"
        try console.err("Sweep \(space.name): \(space.configurationCount) configurations x \(repeats) = \(trialsText)"
                    + (finished == 0 ? "" : " (\(finished) already finished\(try StatusWords.takenBackNote(store: store, running: counts[.running], isAbandoned: options.isAbandoned)))")
                    + ", concurrency \(concurrency), database \(path)\n")
        var ending = SweepRunner.Ending.exhausted
        var finishedHere = 0
        if finished < total && !options.cancellation.isCancelled {
            let executor: any TrialExecutor
            if let make = options.makeExecutor {
                executor = try make(space)
            } else {
                let data: DataSet
                do { data = try DataSet.load(space.data, includeTest: false) } catch { throw SweepError("cannot load the data set: \(spaceDataMessage(error))") }
                BLAS.setThreads(space.trainingThreads)
                executor = EngineExecutor(data: data, training: space.training, cacheBytes: options.cacheBytes)
            }
            // A race's total is its most: eliminations end it sooner (and its ETA is an upper bound).
            // A failed write of the progress (a full disk, a closed pipe) stops the sweep as Ctrl-C
            // does: the running trials are recorded interrupted, then the failure ends the command.
            let progress = ProgressReporter(console: console, total: space.racing == nil ? total : space.trialCount,
                                            alreadyFinished: finished, objective: space.objective,
                                            onFailure: { [cancellation = options.cancellation] _ in cancellation.cancel() })
            if let best = try store.bestDone(space.objective) { progress.seedBest(id: best.id, score: best.score) }
            var settings = SweepRunner.Settings()
            settings.isAbandoned = options.isAbandoned
            settings.lease = options.lease
            settings.feeder = feeder
            let decisions = RaceTiming()
            if space.racing != nil {
                // The next round's trials, once the current round is decided (any process may add
                // them: adding is idempotent and the decision a function of the stored trials).
                settings.replenish = {
                    let start = DispatchTime.now().uptimeNanoseconds
                    defer { decisions.add(DispatchTime.now().uptimeNanoseconds - start) }
                    let trials = try store.trials(withEpochs: false)
                    let existing = Set(trials.map(\.spec.id))
                    let new = space.wantedTrialSpecs(trials).filter { !existing.contains($0.id) }
                    if !new.isEmpty { try store.addTrials(new) }
                    return !new.isEmpty
                }
            }
            settings.onEvent = { progress.handle($0) }
            let runner = SweepRunner(store: store, executor: executor, concurrency: concurrency,
                                     owner: options.owner, cancellation: options.cancellation, settings: settings)
            defer { progress.close() }
            ending = try runner.run()
            finishedHere = progress.finishedHere
            progress.close()
            if let failure = progress.failure { throw failure }
            let (worker, training) = runner.timing
            if worker > 0 {
                try console.err(String(format: "Storage and dispatch: %.3f s of %.2f s of worker time (%.2f%%)\n",
                                   worker - training, worker, 100 * (worker - training) / worker))
                try console.err("Store calls: \(runner.storeCalls.summary)\n")
            }
            if let engine = executor as? EngineExecutor {
                try console.err(engine.cache.statistics.summary + "\n")
                try console.err("Peak memory (RSS) so far: \(Memory.format(peakResidentBytes()))\n")
            }
            if space.racing != nil {
                let (count, nanos) = decisions.total
                try console.err(String(format: "Race decisions: %d, %.1f ms in total (reading the trials, deciding, adding the next round)\n",
                                   count, Double(nanos) / 1e6))
            }
        } else if options.cancellation.isCancelled {
            ending = .cancelled
        }
        let ranked = try RankedSweep(store: store, space: space, top: options.top)
        try console.err(StatusWords.sharedRunLine(finishedHere: finishedHere, finishedBefore: finished,
                                                  sweepFinished: try store.counts().finished, sweepTrials: ranked.trials))
        try console.out(EndOfRunTable.text(ranked, objective: space.objective, swept: space.sweptNames, path: path))
        try console.out("\n" + BestSummary(rows: ranked.top + ranked.best, space: space).text())
        if ending == .cancelled {
            try console.err("Interrupted: the unfinished trials will run again with: sgdr-search resume \(path)\n")
            return exitInterrupted
        }
        let elsewhere = ranked.running
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
            let (store, info, space) = try openExisting(db, openStore)
            defer { try? store.close() }
            if let note = info.earlierRulesNote(path: db) { try console.err(note + "\n") }
            let rows = try top.map { try RankedSweep(store: store, space: space, top: $0).top }
                ?? space.leaderboard(try store.trials(withEpochs: false))
            guard let csv else {
                try console.out(LeaderboardFormat.table(rows, swept: space.sweptNames))
                return 0
            }
            let text = LeaderboardFormat.csv(rows, swept: space.sweptNames)
            if csv == "-" {
                try console.data(text)
            } else {
                try writeOutput(text, to: csv, option: "--csv", database: db)
                try console.err("Wrote \(csv) (\(rows.count) configuration\(rows.count == 1 ? "" : "s"))\n")
            }
            return 0
        }
    }

    /// `sgdr-search best DB [--json]`.
    public static func best(db: String, json: Bool, openStore: StoreOpener, console: Console) -> Int32 {
        report(console) {
            let (store, info, space) = try openExisting(db, openStore)
            defer { try? store.close() }
            if let note = info.earlierRulesNote(path: db) { try console.err(note + "\n") }
            let ranked = try RankedSweep(store: store, space: space, top: 0)
            let summary = BestSummary(rows: ranked.best, space: space)
            guard summary.best != nil else {
                throw SweepError("\(db): no SGDR configuration has finished yet (\(ranked.done) of \(ranked.trials) trials done); "
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
            let (store, info, space) = try openExisting(db, openStore)
            defer { try? store.close() }
            if let note = info.earlierRulesNote(path: db) { try console.err(note + "\n") }
            let now = Date().timeIntervalSince1970
            if space.racing != nil {
                // A race's state follows from all its trials (a race is never a million of them).
                try console.out(statusText(space: space, info: info, trials: try store.trials(withEpochs: false), path: db,
                                           now: now, isAbandoned: isAbandoned))
            } else {
                try console.out(try statusText(space: space, info: info, briefs: store.briefs(space.objective),
                                               records: { try store.trials(numbers: $0) }, path: db,
                                               now: now, isAbandoned: isAbandoned))
            }
            return 0
        }
    }

    /// The status report of `trials` (read with or without their epochs).
    public static func statusText(space: SearchSpace, info: SweepInfo, trials: [TrialRecord], path: String,
                                  now: Double, isAbandoned: (String) -> Bool, localHost: String = Owner.hostName()) -> String {
        let byNumber = Dictionary(trials.map { ($0.spec.number, $0) }, uniquingKeysWith: { a, _ in a })
        var raceLine: String?
        if let race = space.raceState(trials) {
            raceLine = StatusWords.raceLine(race, space: space, storedTrials: trials.count)
        }
        return statusText(space: space, info: info, briefs: trials.map { TrialBrief($0, objective: space.objective) },
                          records: { $0.compactMap { byNumber[$0] } }, path: path, now: now, isAbandoned: isAbandoned,
                          localHost: localHost, raceLine: raceLine)
    }

    /// The status report, from every trial's brief and the few records it names (`records`
    /// reads trials by number): counts, times, what is left. Trials of the space not stored yet
    /// (a sweep whose start was interrupted) count as still to run.
    public static func statusText(space: SearchSpace, info: SweepInfo, briefs: [TrialBrief],
                                  records: ([Int]) throws -> [TrialRecord], path: String,
                                  now: Double, isAbandoned: (String) -> Bool, localHost: String = Owner.hostName(),
                                  raceLine: String? = nil) rethrows -> String {
        var counts: [TrialStatus: Int] = [:]
        var lastFinish = info.createdAt, trainSeconds = 0.0, finishedSeconds = 0.0, finishedCount = 0
        var leftNumbers: [Int] = [], runningNumbers: [Int] = [], failedNumbers: [Int] = []
        for b in briefs {
            counts[b.status, default: 0] += 1
            if let f = b.finishedAt { lastFinish = max(lastFinish, f) }
            if let s = b.seconds { trainSeconds += s }
            if b.status.isFinished {
                if let s = b.seconds { finishedSeconds += s; finishedCount += 1 }
            } else if leftNumbers.count < 8 {
                leftNumbers.append(b.number)
            }
            if b.status == .running { runningNumbers.append(b.number) }
            if b.status == .failed && failedNumbers.count < 5 { failedNumbers.append(b.number) }
        }
        let named = try Dictionary(records(leftNumbers + runningNumbers + failedNumbers).map { ($0.spec.number, $0) },
                                   uniquingKeysWith: { a, _ in a })
        let left = leftNumbers.compactMap { named[$0] }
        // Running trials: in live processes of this host (checked), or on other hosts, which
        // cannot be checked from here (a host that stopped leaves its trial running until its
        // lease runs out, or forever without one). Those of dead processes here are left out.
        let running = runningNumbers.compactMap { named[$0] }.filter { !($0.owner.map(isAbandoned) ?? true) }
        let live = running.filter { $0.owner.flatMap(Owner.host) == localHost }
        let remote = running.filter { $0.owner.flatMap(Owner.host) != localHost }
        let failures = failedNumbers.compactMap { named[$0] }

        // A race stores only the rounds it runs: its trials are the stored ones.
        let total = space.racing == nil ? max(space.trialCount, briefs.count) : briefs.count
        let unstored = total - briefs.count
        let repeats = space.repeats == 1 ? "1 repeat" : "\(space.repeats) repeats"
        var out = "Sweep \(info.name) (\(path)): \(space.strategy.rawValue), \(space.configurationCount) configurations x \(repeats) = \(total) trials"
            + (unstored > 0 ? " (\(briefs.count) stored so far)" : "") + "\n"
        out += "  " + TrialStatus.allCases.map { "\($0.rawValue) \(counts[$0] ?? 0)" }.joined(separator: ", ")
            + (unstored > 0 ? ", not stored yet \(unstored)" : "") + "\n"
        out += raceLine ?? ""
        out += StatusWords.timeLine(createdAt: info.createdAt, lastFinish: lastFinish, now: running.isEmpty ? nil : now, trainSeconds: trainSeconds)
        let leftCount = unstored + counts.filter { !$0.key.isFinished }.values.reduce(0, +)
        if leftCount == 0 {
            out += "  nothing left to run\n"
        } else {
            let concurrency = space.concurrency ?? ProcessInfo.processInfo.activeProcessorCount
            let estimate = finishedCount == 0 ? "" :
                ", about \(formatDuration(finishedSeconds / Double(finishedCount) * Double(leftCount) / Double(concurrency))) at concurrency \(concurrency)"
            var ids = left.map { "\($0.spec.id) (\($0.status.rawValue))" }
            if ids.count < 8 && unstored > 0 { ids.append("\(unstored) not stored yet") }
            let more = leftCount > left.count + (unstored > 0 && left.count < 8 ? unstored : 0)
            out += "  still to run: \(leftCount) trial\(leftCount == 1 ? "" : "s")\(estimate): \(ids.joined(separator: ", "))\(more ? ", ..." : "")\n"
            if !live.isEmpty {
                out += "  running in live processes: " + live.map { "\($0.spec.id) (\($0.owner ?? "?"))" }.joined(separator: ", ") + "\n"
            }
            if !remote.isEmpty {
                out += "  running on other hosts (not checked from here; a stopped host's trial runs again once its lease runs out): "
                    + remote.map { "\($0.spec.id) (\($0.owner ?? "?"))" }.joined(separator: ", ") + "\n"
            }
            out += "  resume with: sgdr-search resume \(path)\n"
        }
        for f in failures { out += "  failed \(f.spec.id): \(f.error ?? "no message")\n" }
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

/// The first rows of a sweep's leaderboard and the rows of its best SGDR configuration and
/// best baseline. Without racing they are ranked from the trials' briefs, and only those
/// configurations' trials are read in full (the end of a run, `best`, `leaderboard --top N` on a
/// million trials in about a second); a race (whose eliminations follow from all its trials) is
/// ranked from every trial, read without epochs.
public struct RankedSweep {
    /// The first `top` rows, ranked as in the whole leaderboard.
    public var top: [LeaderboardRow]
    /// The best SGDR configuration's row and the best baseline's (those that exist), for `BestSummary`.
    public var best: [LeaderboardRow]
    public var configurationCount: Int
    /// Trials stored, done, and running.
    public var trials: Int, done: Int, running: Int

    public init(store: any TrialStore, space: SearchSpace, top count: Int) throws {
        if space.racing != nil {
            let records = try store.trials(withEpochs: false)
            let rows = space.leaderboard(records)
            top = Array(rows.prefix(count))
            best = [Leaderboard.bestSGDR(rows), Leaderboard.bestBaseline(rows)].compactMap { $0 }
            configurationCount = rows.count
            (trials, done, running) = Self.tally(records.map(\.status))
            return
        }
        let briefs = try store.briefs(space.objective)
        (trials, done, running) = Self.tally(briefs.map(\.status))
        let repeats = space.repeats
        let ranking = Leaderboard.rank(briefs, repeats: repeats)
        configurationCount = ranking.count
        let baselines = space.baselines.count
        func scored(_ c: Leaderboard.RankedConfiguration) -> Bool {
            c.status.tier(score: c.score) == 0
        }
        var chosen: [(rank: Int, configuration: Leaderboard.RankedConfiguration)] =
            ranking.prefix(count).enumerated().map { ($0.offset + 1, $0.element) }
        var best: [Int] = []
        for wantBaseline in [false, true] {
            if let i = ranking.firstIndex(where: { scored($0) && ($0.index < baselines) == wantBaseline }) {
                best.append(ranking[i].index)
                if i >= count { chosen.append((i + 1, ranking[i])) }
            }
        }
        // Read with the best baseline among them, the rows' paired differences are the ones the
        // whole leaderboard gives (it is the best baseline of any subset that holds it).
        let numbers = chosen.flatMap { c in (c.configuration.index * repeats)..<((c.configuration.index + 1) * repeats) }
        var rowByIndex: [Int: LeaderboardRow] = [:]
        for row in Leaderboard.rows(try store.trials(numbers: numbers), objective: space.objective) {
            rowByIndex[row.trials[row.trials.startIndex].spec.number / repeats] = row
        }
        func row(_ c: (rank: Int, configuration: Leaderboard.RankedConfiguration)) -> LeaderboardRow? {
            guard var r = rowByIndex[c.configuration.index] else { return nil }
            r.rank = c.rank
            return r
        }
        top = chosen.prefix(min(count, ranking.count)).compactMap(row)
        self.best = best.compactMap { index in chosen.first { $0.configuration.index == index }.flatMap(row) }
    }

    private static func tally(_ statuses: [TrialStatus]) -> (Int, Int, Int) {
        (statuses.count, statuses.filter { $0 == .done }.count, statuses.filter { $0 == .running }.count)
    }
}

/// A stored sweep, read back for the results commands and the HTML report.
public struct StoredSweep: Sendable {
    public var space: SearchSpace
    public var info: SweepInfo
    /// Every trial, in number order: without epochs (each finished one with its summary), but
    /// for those `load(...plotting:)` chose.
    public var trials: [TrialRecord]

    /// Opens an existing database read-only (never creates one, nor writes it) and reads its
    /// space and trials, without their epochs. With `plotting: K`, also the epochs of the trials
    /// a report plots: the first K SGDR configurations that have epochs, and every baseline.
    public static func load(db: String, openStore: StoreOpener, plotting top: Int? = nil) throws -> StoredSweep {
        let (store, info, space) = try SweepCommands.openExisting(db, openStore)
        defer { try? store.close() }
        var trials = try store.trials(withEpochs: false)
        if let top {
            try attachPlottedEpochs(&trials, top: top, objective: space.objective, store: store)
        }
        return StoredSweep(space: space, info: info, trials: trials)
    }

    /// For a sweep made under earlier schedule rules, the one line the read commands print on
    /// stderr (and the report shows on its page); nil otherwise.
    public func earlierRulesNote(path: String) -> String? { info.earlierRulesNote(path: path) }

    /// Reads the epochs of the configurations a report plots into `trials`: in leaderboard
    /// order, every baseline and SGDR configurations until K of them have epochs. Only trials
    /// that were ever claimed can have epochs, so pending ones are never looked up.
    static func attachPlottedEpochs(_ trials: inout [TrialRecord], top: Int, objective: Objective,
                                    store: any TrialStore) throws {
        let rows = Leaderboard.rows(trials, objective: objective)
        let index = Dictionary(uniqueKeysWithValues: trials.enumerated().map { ($1.spec.id, $0) })
        var sgdrWithEpochs = 0
        var pending: [LeaderboardRow] = []
        func flush() throws {
            let ids = pending.flatMap { $0.trials.filter { $0.attempts > 0 || $0.status.isFinished }.map(\.spec.id) }
            let epochs = try store.epochs(ofTrials: ids)
            for row in pending {
                var has = false
                for t in row.trials {
                    if let e = epochs[t.spec.id], let i = index[t.spec.id] {
                        trials[i].epochs = e
                        trials[i].summary = nil
                        has = true
                    }
                }
                if has && row.schedule.kind == .sgdr { sgdrWithEpochs += 1 }
            }
            pending.removeAll()
        }
        for row in rows where row.schedule.kind != .sgdr { pending.append(row) }
        try flush()
        for row in rows where row.schedule.kind == .sgdr {
            guard sgdrWithEpochs < top else { break }
            guard row.trials.contains(where: { $0.attempts > 0 || $0.status.isFinished }) else { continue }
            pending.append(row)
            if pending.count >= max(1, top - sgdrWithEpochs) { try flush() }
        }
        try flush()
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

extension SweepInfo {
    /// For a sweep made under earlier schedule rules, the one line the read commands print on
    /// stderr; nil otherwise.
    public func earlierRulesNote(path: String) -> String? {
        scheduleRules.earlierRuleNote.map { "Note: \(path): \($0)." }
    }
}

/// How often, and how long, a racing sweep's workers spent deciding rounds.
final class RaceTiming: Sendable {
    private let state = Mutex<(count: Int, nanos: UInt64)>((0, 0))
    func add(_ nanos: UInt64) { state.withLock { $0.count += 1; $0.nanos += nanos } }
    var total: (count: Int, nanos: UInt64) { state.withLock { $0 } }
}
