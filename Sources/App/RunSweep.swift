import Engine
import EngineAdapter
import Foundation
import Report
import Schedules
import Sweep
import Synchronization

extension SweepCommands {
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
        if options.makeExecutor == nil, let problem = space.startProblem() { console.error("\(spaceFile): \(problem)"); return 1 }
        return report(console) {
            // Declared before the store, so that it outlives the store's close (a signal in
            // between would otherwise kill the process with the database's -wal left behind).
            let interrupts = options.handleSignals ? InterruptHandler(options.cancellation, console: console) : nil
            defer { withExtendedLifetime(interrupts) {} }
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

    /// `sgdr-search resume DB`: resumes from the space stored in the database.
    public static func resume(db: String, options: RunOptions, openStore: StoreOpener, console: Console) -> Int32 {
        report(console) {
            let interrupts = options.handleSignals ? InterruptHandler(options.cancellation, console: console) : nil
            defer { withExtendedLifetime(interrupts) {} }
            let (store, info, space) = try openExisting(db, openStore, access: .write)
            defer { try? store.close() }
            try refuseEarlierRules(info, path: db)
            let concurrency = options.concurrency ?? space.concurrency ?? ProcessInfo.processInfo.activeProcessorCount
            if let problem = space.memoryProblem(concurrency: concurrency, cacheBytes: options.cacheBytes) {
                throw SweepError("\(db): \(problem)")
            }
            if options.makeExecutor == nil, space.trainer != nil, let problem = space.startProblem() {
                throw SweepError("\(db): \(problem)")
            }
            return try execute(space, store: store, path: db, options: options, console: console)
        }
    }

    /// Stores the sweep the first time; afterwards checks that the space is the stored one, but
    /// for `trials` (random and sobol search; it may only grow) and `concurrency`.
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
                + ". Only \"trials\" (random or sobol search, to grow it) and \"concurrency\" may change between runs: "
                + "use a new \"name\" or --db PATH for a new sweep, or restore the space to resume this one.")
        }
        if let old = stored?.trials, let new = space.trials, new < old {
            throw SweepError(
                "\(path): trials: \(old) -> \(new): a \(space.strategy.rawValue) search can only grow (its database already holds "
                + "\(old) configurations); give \"trials\" >= \(old), or use a new \"name\" or --db PATH.")
        }
        if let stored, let problem = space.ranking.growthProblem(from: stored, path: path) {
            throw SweepError(problem)
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

    /// Trials stored per transaction (without racing): the first batch before the workers start
    /// (small, so that the first trial starts at once), the others while they run, as the claims
    /// near them.
    static let firstTrialBatch = 2_000, trialBatch = 20_000

    /// Stores the space's trials (idempotent; without racing in batches, the first before the
    /// workers start and the others as they are needed; with racing a round at a time), runs
    /// the runnable ones, prints the results.
    static func execute(_ space: SearchSpace, store: any TrialStore, path: String, options: RunOptions,
                        console: Console) throws -> Int32 {
        let ranking = space.ranking
        let (counts, feeder) = try ranking.storeTrials(in: store, firstBatch: firstTrialBatch, batch: trialBatch)
        let total = ranking.currentTotal(stored: counts.total)
        let concurrency = options.concurrency ?? space.concurrency ?? ProcessInfo.processInfo.activeProcessorCount
        let finished = counts.finished
        let repeats = space.repeats == 1 ? "1 repeat" : "\(space.repeats) repeats"
        let trialsText = ranking.trialsPhrase(total: total)
        try console.err("Sweep \(space.name): \(space.configurationCount) configurations x \(repeats) = \(trialsText)"
                    + (finished == 0 ? "" : " (\(finished) already finished\(try StatusWords.takenBackNote(store: store, running: counts[.running], isAbandoned: options.isAbandoned)))")
                    + ", concurrency \(concurrency), database \(path)\n")
        var ending = SweepRunner.Ending.exhausted
        var finishedHere = 0
        if finished < total && !options.cancellation.isCancelled {
            let executor = try options.makeExecutor?(space) ?? Self.executor(for: space, cacheBytes: options.cacheBytes)
            // A race's total is its most: eliminations end it sooner (and its ETA is an upper bound).
            // A failed write of the progress (a full disk, a closed pipe) stops the sweep as Ctrl-C
            // does: the running trials are recorded interrupted, then the failure ends the command.
            let progress = ProgressReporter(console: console, total: ranking.progressTotal,
                                            alreadyFinished: finished, objective: space.objective,
                                            onFailure: { [cancellation = options.cancellation] _ in cancellation.cancel() })
            if let best = try store.bestDone(space.objective) { progress.seedBest(id: best.id, score: best.score) }
            var settings = SweepRunner.Settings()
            settings.isAbandoned = options.isAbandoned
            settings.lease = options.lease
            settings.feeder = feeder
            let decisions = RaceTiming()
            let replenish = ranking.replenish(store)
            if let replenish {
                // The next round's trials, once the current round is decided, timed.
                settings.replenish = {
                    let start = DispatchTime.now().uptimeNanoseconds
                    defer { decisions.add(DispatchTime.now().uptimeNanoseconds - start) }
                    return try replenish()
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
            if replenish != nil {
                let (count, nanos) = decisions.total
                try console.err(String(format: space.strategy == .tpe
                                        ? "TPE proposal calls: %d, %.1f ms in total (reading the trials, proposing, adding them)\n"
                                        : "Race decisions: %d, %.1f ms in total (reading the trials, deciding, adding the next round)\n",
                                   count, Double(nanos) / 1e6))
            }
        } else if options.cancellation.isCancelled {
            ending = .cancelled
        }
        let ranked = try ranking.ranked(store, top: options.top)
        try console.err(StatusWords.sharedRunLine(finishedHere: finishedHere, finishedBefore: finished,
                                                  sweepFinished: try store.counts().finished, sweepTrials: ranked.trials))
        try console.out(EndOfRunTable.text(ranked, objective: space.objective, swept: space.sweptNames, path: path))
        try console.out("\n" + BestSummary(rows: ranked.top + ranked.best, space: space, database: path).text())
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
}

/// How often, and how long, a racing sweep's workers spent deciding rounds.
final class RaceTiming: Sendable {
    private let state = Mutex<(count: Int, nanos: UInt64)>((0, 0))
    func add(_ nanos: UInt64) { state.withLock { $0.count += 1; $0.nanos += nanos } }
    var total: (count: Int, nanos: UInt64) { state.withLock { $0 } }
}
