import Foundation
import Report
import Sweep

/// The sentences `status` and the end of a sweep print about time, a race and the trials
/// taken back or run elsewhere: worded so that a reader cannot take one span for another.
enum StatusWords {
    /// `2026-12-01 06:09:31 UTC`: a stored Unix time, in UTC (the same text on every machine).
    static func utc(_ time: Double) -> String {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = "yyyy-MM-dd HH:mm:ss"
        return f.string(from: Date(timeIntervalSince1970: time)) + " UTC"
    }

    /// The time line of `status`: when the sweep was created, and either how long after that its
    /// last trial finished (from the stored times only) or, while a trial runs, how long ago it was
    /// created; then the summed training time.
    /// `  created 2026-12-01 06:09:31 UTC; last trial finished 3.2 s after that; training time 4.1 s in total`
    static func timeLine(createdAt: Double, lastFinish: Double, now: Double?, trainSeconds: Double) -> String {
        var line = "  created \(utc(createdAt)); "
        if let now {
            line += "running now, \(formatDuration(max(0, now - createdAt))) after its creation"
        } else if lastFinish > createdAt {
            line += "last trial finished \(formatDuration(lastFinish - createdAt)) after that"
        } else {
            line += "no trial finished yet"
        }
        return line + "; training time \(formatDuration(trainSeconds)) in total\n"
    }

    /// The race line of `status`: rounds, the configurations left (`still racing` while the race
    /// runs, `survived` once it is over) and the trials saved against the full grid.
    static func raceLine(_ race: RaceSummary) -> String {
        let left = race.survivors
        let configurations = "\(left) configuration\(left == 1 ? "" : "s")"
        return "  race: \(race.roundsDone) of \(race.rounds) rounds done"
            + (race.isFinished ? " (finished)" : "")
            + "; " + (race.isFinished ? "\(configurations) survived" : "\(configurations) still racing") + ", "
            + "\(race.eliminated) eliminated; \(race.trials) trials so far of the full grid's \(race.fullGrid)"
            + (race.isFinished ? " (\(race.saved) saved)" : " (at least \(race.saved) saved)") + "\n"
    }

    /// For the sweep's opening line: the trials left `running` by processes that are gone (a
    /// `kill -9`, a lost host whose lease ran out), which this run takes back and runs again.
    /// Empty when there are none.
    static func takenBackNote(store: any TrialStore, running: Int, isAbandoned: (String) -> Bool) throws -> String {
        guard running > 0 else { return "" }
        let owners = try store.runningOwners()
        let dead = owners.filter(isAbandoned)
        guard !dead.isEmpty else { return "" }
        let count = dead.count == owners.count
            ? "\(running) trial\(running == 1 ? "" : "s")" : "the trials"
        return "; \(count) left running by a process that stopped (\(dead.sorted().joined(separator: ", "))) "
            + "taken back, to run again from their start"
    }

    /// At the end of a run shared with other processes (several workers on one database): what
    /// this process did against the whole sweep, since the progress lines counted only its own.
    /// Empty when the process ran every finished trial of this run alone.
    static func sharedRunLine(finishedHere: Int, finishedBefore: Int, sweepFinished: Int, sweepTrials: Int) -> String {
        let byOthers = sweepFinished - finishedBefore - finishedHere
        guard byOthers > 0 else { return "" }
        return "This process finished \(finishedHere) trial\(finishedHere == 1 ? "" : "s"); the sweep has \(sweepFinished) of "
            + "\(sweepTrials) trials finished (\(byOthers) by other processes during this run); the table below ranks them all.\n"
    }
}
