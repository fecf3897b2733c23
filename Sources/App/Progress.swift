import Foundation
import Report
import Sweep
#if canImport(Glibc)
import Glibc
#endif

/// Progress on stderr: on a terminal one live line redrawn in place (done/total, running, best
/// so far, elapsed, ETA); otherwise one line per finished trial.
// @unchecked: the mutable properties are used only under `lock` (`failure` is read after the
// workers have stopped).
public final class ProgressReporter: @unchecked Sendable {
    let console: Console
    let total: Int
    let objective: Objective
    let lock = NSLock()
    var done: Int
    var finishedHere = 0
    var running: Set<String> = []
    var best: (id: String, score: Double)?
    let start = DispatchTime.now().uptimeNanoseconds
    var lastDraw: UInt64 = 0
    var drewLine = false
    /// The first write that failed; later progress is not written.
    public private(set) var failure: OutputError?
    /// Called once, on the first failed write (the sweep stops as on Ctrl-C).
    let onFailure: @Sendable (OutputError) -> Void

    /// `alreadyFinished` trials were finished before this run (pass them to `handle(_:counted: false)`
    /// so that the best so far includes them).
    public init(console: Console, total: Int, alreadyFinished: Int, objective: Objective,
                onFailure: @escaping @Sendable (OutputError) -> Void = { _ in }) {
        self.console = console
        self.total = total
        self.done = alreadyFinished
        self.objective = objective
        self.onFailure = onFailure
    }

    var elapsed: Double { Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 }

    var eta: String {
        guard finishedHere > 0 else { return "?" }
        return formatDuration(elapsed / Double(finishedHere) * Double(total - done))
    }

    var bestText: String {
        best.map { "best \($0.id) \(String(format: "%.4f", $0.score))" } ?? "best -"
    }

    /// Reports an event; `counted: false` only updates the best so far (a trial finished earlier).
    public func handle(_ event: SweepEvent, counted: Bool = true) {
        lock.withLock {
            if !counted {
                if case .finished(let record) = event { consider(record) }
                return
            }
            switch event {
            case .started(let spec):
                running.insert(spec.id)
                draw(force: true)
            case .epoch:
                draw(force: false)
            case .interrupted(let spec):
                running.remove(spec.id)
                draw(force: true)
            case .finished(let record):
                running.remove(record.spec.id)
                done += 1
                finishedHere += 1
                let score = consider(record)
                if console.isTerminal {
                    draw(force: true)
                } else {
                    let result = record.status == .done
                        ? "\(objective.rawValue) \(score.map { String(format: "%.4f", $0) } ?? "-")"
                        : record.status.rawValue + (record.error.map { ": \($0)" } ?? "")
                    let width = String(total).count
                    let n = String(repeating: " ", count: max(0, width - String(done).count)) + String(done)
                    write { c throws(OutputError) in
                        try c.err("[\(n)/\(total)] \(record.spec.id) \(result) (\(String(format: "%.1f", record.seconds ?? 0)) s) | \(bestText) | elapsed \(formatDuration(elapsed)), ETA \(eta)\n")
                    }
                }
            }
        }
    }

    /// Makes `id` (finished before this run, with `score`) the best so far unless one beats it.
    public func seedBest(id: String, score: Double) {
        lock.withLock { if score > (best?.score ?? -.infinity) { best = (id, score) } }
    }

    /// The record's objective value; it becomes the best so far when it beats it.
    @discardableResult
    func consider(_ record: TrialRecord) -> Double? {
        let score = record.score(objective)
        if record.status == .done, let score, score > (best?.score ?? -.infinity) {
            best = (record.spec.id, score)
        }
        return score
    }

    /// Redraws the live line (terminal only), at most ten times a second unless forced.
    func draw(force: Bool) {
        guard console.isTerminal else { return }
        let now = DispatchTime.now().uptimeNanoseconds
        guard force || now - lastDraw > 100_000_000 else { return }
        lastDraw = now
        drewLine = true
        let line = Self.liveLine(count: "\(done)/\(total) done, \(running.count) running", best: bestText,
                                 elapsed: formatDuration(elapsed), eta: eta, width: console.terminalWidth)
        write { c throws(OutputError) in try c.terminal("\r\u{1B}[K" + line) }
    }

    /// The live line, control characters escaped, cut to fit `width` columns (nil: unknown, the
    /// whole line) with one column to spare, so that it never wraps (a wrapped line could not be
    /// redrawn in place: every update would leave a stale line behind). What goes first as the
    /// width shrinks: the elapsed time, then the best so far; a line still too long is cut with `…`.
    static func liveLine(count: String, best: String, elapsed: String, eta: String, width: Int?) -> String {
        let candidates = ["\(count) | \(best) | elapsed \(elapsed), ETA \(eta)",
                          "\(count) | \(best) | ETA \(eta)",
                          "\(count) | ETA \(eta)"].map { escapeControlCharacters($0, keepingNewlines: false) }
        guard let width else { return candidates[0] }
        let room = max(1, width - 1)
        if let fitting = candidates.first(where: { $0.count <= room }) { return fitting }
        return String(candidates[2].prefix(room - 1)) + "\u{2026}"
    }

    /// Ends the live line so that what follows starts on a fresh line.
    public func close() {
        lock.withLock {
            if drewLine {
                write { c throws(OutputError) in try c.err("\n") }
                drewLine = false
            }
        }
    }

    /// Writes unless a write failed already; the first failure is kept and reported to `onFailure`.
    /// Called with `lock` held.
    private func write(_ body: (Console) throws(OutputError) -> Void) {
        guard failure == nil else { return }
        do throws(OutputError) {
            try body(console)
        } catch {
            failure = error
            onFailure(error)
        }
    }
}

/// Ctrl-C, SIGTERM and SIGHUP (the terminal was closed) while the value lives: the first sets the
/// flag (workers stop between batches and record their trials `interrupted`, and the database is
/// closed as on any ending); a second one exits at once with status 130. Keep it alive for as long
/// as the sweep runs; when it goes, the signals act as by default again.
public final class InterruptHandler {
    private let sources: [any DispatchSourceSignal]

    public init(_ flag: CancellationFlag, console: Console) {
        sources = Self.signals.map { sig in
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler {
                if flag.isCancelled { exit(130) }
                try? console.err("\nInterrupted: stopping the running trials (they will run again on resume)...\n")
                flag.cancel()
            }
            source.resume()
            return source
        }
    }

    static let signals = [SIGINT, SIGTERM, SIGHUP]

    deinit {
        for source in sources { source.cancel() }
        for sig in Self.signals { signal(sig, SIG_DFL) }
    }
}
