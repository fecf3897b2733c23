import Foundation
import Schedules
import Sweep
import TrainingTypes

/// Runs trials in the user's own training script (the space's `trainer`), one process per trial,
/// over the line protocol of `docs/TRAINER-PROTOCOL.md`: the schedule (its trigger, compression
/// and every baseline) stays here; the script applies the rate it is told each epoch and answers
/// with the epoch's metrics. Every fault of the script — it cannot start, exits, crashes, hangs,
/// breaks the protocol — fails that trial with a one-line reason (with the last line the script
/// wrote to stderr) and nothing else; the sweep goes on.
public struct TrainerExecutor: TrialExecutor {
    public let trainer: TrainerOptions
    /// The sweep's name, sent in the start message.
    public let sweepName: String
    /// The directory the tool runs in, for relative paths (captured once).
    public let baseDirectory: String
    /// The tool's environment, as the script inherits it (before the trainer's own settings).
    public let baseEnvironment: [String: String]
    /// Seconds a script has to exit after its last epoch (or after a stop), before it is killed.
    public var exitGraceSeconds: Double = 30

    public init(trainer: TrainerOptions, sweepName: String,
                baseDirectory: String = FileManager.default.currentDirectoryPath,
                baseEnvironment: [String: String] = ProcessInfo.processInfo.environment) {
        self.trainer = trainer
        self.sweepName = sweepName
        self.baseDirectory = baseDirectory
        self.baseEnvironment = baseEnvironment
    }

    /// The folder the script runs in.
    public var workingDirectory: String {
        guard let dir = trainer.workingDirectory else { return baseDirectory }
        return dir.hasPrefix("/") ? dir : baseDirectory + "/" + dir
    }

    /// The script's environment: the tool's, the thread counts, then `trainer.env`.
    public var environment: [String: String] {
        var env = baseEnvironment
        for name in ["OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"] { env[name] = String(trainer.threads) }
        for v in trainer.environment { env[v.name] = v.value }
        return env
    }

    /// Why the script cannot be started at all (its folder or program missing), checked before
    /// a sweep creates its database; nil when it can.
    public func startProblem() -> String? {
        guard ChildProcess.isUsableFolder(workingDirectory) else {
            return "trainer.working_dir: \(workingDirectory) is not a folder that exists"
        }
        if case .failure(let fault) = ChildProcess.locate(trainer.command[0], searchPath: environment["PATH"],
                                                          workingDirectory: workingDirectory) {
            return "trainer.command[0]: \(fault)"
        }
        return nil
    }

    public func execute(_ spec: TrialSpec, onEpoch: (EpochMetrics) throws -> Void,
                        isCancelled: () -> Bool) throws -> ExecutionOutcome {
        let env = environment
        let executable: String
        switch ChildProcess.locate(trainer.command[0], searchPath: env["PATH"], workingDirectory: workingDirectory) {
        case .success(let path): executable = path
        case .failure(let fault): throw TrainerFault("cannot start the trainer: \(fault)")
        }
        let start = ChildProcess.now()
        let trialDeadline = trainer.timeoutSeconds.map { start + UInt64($0 * 1e9) } ?? .max
        let child: ChildProcess
        do {
            child = try ChildProcess(executable: executable, arguments: Array(trainer.command.dropFirst()),
                                     environment: env.map { "\($0.key)=\($0.value)" }.sorted(),
                                     workingDirectory: workingDirectory)
        } catch {
            throw TrainerFault("cannot start the trainer: \(error)")
        }
        defer { child.terminate(grace: 1) }
        /// A fault, with the script's exit status if it has exited and its last stderr line.
        func fault(_ what: String) -> TrainerFault {
            var text = what
            if let status = child.waitForExit(deadline: ChildProcess.now() + 200_000_000) {
                text += " (\(status.description))"
            }
            if let line = child.lastErrorLine { text += "; its stderr ended with: \(line)" }
            return TrainerFault(text)
        }
        func send(_ message: String) throws {
            do { try child.send(message) } catch { throw fault("\(error)") }
        }

        let epochs = spec.schedule.epochs
        try send(TrainerMessage.start(spec, sweep: sweepName, epochs: epochs, threads: trainer.threads))
        var schedule = spec.schedule.makeSchedule()
        for e in 1...epochs {
            if isCancelled() {
                try? child.send(TrainerMessage.stop(reason: "interrupted"))
                return .cancelled
            }
            let lr = schedule.beginEpoch()
            try send(TrainerMessage.epoch(e, lr: lr))
            let sent = ChildProcess.now()
            let epochDeadline = min(trialDeadline, sent + UInt64(trainer.epochTimeoutSeconds * 1e9))
            switch child.readLine(deadline: epochDeadline, isCancelled: isCancelled) {
            case .cancelled:
                try? child.send(TrainerMessage.stop(reason: "interrupted"))
                return .cancelled
            case .timedOut:
                if epochDeadline == trialDeadline && trialDeadline != .max {
                    throw fault("the trial took more than timeout_s = \(fmt(trainer.timeoutSeconds ?? 0)) s (in epoch \(e)); the trainer was stopped")
                }
                throw fault("epoch \(e) took more than epoch_timeout_s = \(fmt(trainer.epochTimeoutSeconds)) s; the trainer was stopped")
            case .lineTooLong:
                throw fault("the trainer wrote a line of more than \(ChildProcess.maxLineBytes / (1 << 20)) MiB to stdout in epoch \(e) (stdout is for the protocol; print logs to stderr)")
            case .endOfOutput:
                throw fault("the trainer exited before answering epoch \(e) of \(epochs)")
            case .line(let bytes):
                let answer: TrainerAnswer
                do { answer = try TrainerAnswer.parse(bytes, expecting: e) } catch { throw fault("\(error)") }
                switch answer {
                case .diverged:
                    try? child.send(TrainerMessage.stop(reason: "diverged"))
                    return .diverged
                case .metrics(var m):
                    m.lr = lr
                    if m.trainSeconds.isNaN { m.trainSeconds = Double(ChildProcess.now() - sent) / 1e9 }
                    schedule.endEpoch(valAcc: m.valAcc)
                    try onEpoch(m)
                }
            }
        }
        try send(TrainerMessage.stop(reason: "done"))
        child.closeInput()
        let exitDeadline = min(trialDeadline, ChildProcess.now() + UInt64(exitGraceSeconds * 1e9))
        guard let status = child.waitForExit(deadline: exitDeadline) else {
            throw fault("the trainer did not exit within \(fmt(exitGraceSeconds)) s after its last epoch; it was stopped")
        }
        guard status == .exited(0) else {
            throw fault("the trainer ended with \(status.description) after its last epoch")
        }
        return .completed
    }
}

/// A trainer's fault: the trial's one-line error.
public struct TrainerFault: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}
