/// One epoch of a schedule, as `sgdr-search schedule` prints it.
public struct ScheduleRow: Hashable, Sendable {
    /// 1-based.
    public var epoch: Int
    /// The rate `beginEpoch()` answered for this epoch.
    public var lr: Double
    /// SGDR only (nil for the baselines): the state while this epoch ran. `tCur` is 0 and
    /// `triggered` false for the epochs before the schedule started (they run at `lr_max`).
    public var tCur: Int?
    public var tI: Int?
    public var triggered: Bool?
    /// SGDR only: the peak of the current cycle.
    public var peak: Double?
    /// The validation accuracy fed to `endEpoch(valAcc:)` at the end of this epoch.
    public var valAcc: Double

    public init(epoch: Int, lr: Double, tCur: Int? = nil, tI: Int? = nil, triggered: Bool? = nil,
                peak: Double? = nil, valAcc: Double) {
        self.epoch = epoch
        self.lr = lr
        self.tCur = tCur
        self.tI = tI
        self.triggered = triggered
        self.peak = peak
        self.valAcc = valAcc
    }
}

/// The validation accuracy a table without real accuracies feeds at the end of epoch `epoch`:
/// `epoch / (epochs + 1)`, strictly increasing in (0, 1), so every epoch improves on the last.
public func improvingValAcc(epoch: Int, epochs: Int) -> Double {
    Double(epoch) / Double(epochs + 1)
}

/// Runs a fresh schedule of `config` for `config.epochs` epochs, one row per epoch.
///
/// With `valAccs`, `valAccs[e - 1]` is fed at the end of epoch `e` (it needs at least
/// `config.epochs` values; extra ones are ignored). Without it, SGDR's trigger counts as reached
/// before epoch 1 (`trigger_val_acc` is ignored) and every epoch improves on the last
/// (`improvingValAcc`): docs/SCHEDULE.md's "val_acc improving every epoch" picture.
public func scheduleTable(config: ScheduleConfig, valAccs: [Double]? = nil) -> [ScheduleRow] {
    let epochs = config.epochs
    guard epochs >= 1 else { return [] }
    if let valAccs {
        precondition(valAccs.count >= epochs, "scheduleTable: \(valAccs.count) val_acc values for \(epochs) epochs")
    }
    func valAcc(_ e: Int) -> Double { valAccs?[e - 1] ?? improvingValAcc(epoch: e, epochs: epochs) }

    var rows: [ScheduleRow] = []
    rows.reserveCapacity(epochs)
    switch config.kind {
    case .sgdr:
        var parameters = config.parameters
        if valAccs == nil { parameters.triggerValAcc = 0 }
        var schedule = SGDRSchedule(parameters)
        for e in 1...epochs {
            let triggered = schedule.triggered
            let lr = schedule.beginEpoch()
            rows.append(ScheduleRow(epoch: e, lr: lr, tCur: schedule.tCur, tI: schedule.tI,
                                    triggered: triggered, peak: schedule.peak, valAcc: valAcc(e)))
            schedule.endEpoch(valAcc: valAcc(e))
        }
    case .step, .cosine, .constant, .plateau:
        var schedule = config.makeSchedule()
        for e in 1...epochs {
            let lr = schedule.beginEpoch()
            rows.append(ScheduleRow(epoch: e, lr: lr, valAcc: valAcc(e)))
            schedule.endEpoch(valAcc: valAcc(e))
        }
    }
    return rows
}

/// The CSV columns of a schedule table: `epoch,lr`, then for `sgdr` `t_cur,t_i,triggered,peak`,
/// then `val_acc` when real accuracies were given.
public func scheduleCSVColumns(kind: ScheduleKind, includeValAcc: Bool) -> [String] {
    var columns = ["epoch", "lr"]
    if kind == .sgdr { columns += ["t_cur", "t_i", "triggered", "peak"] }
    if includeValAcc { columns.append("val_acc") }
    return columns
}

/// A schedule table as CSV: a header line, then one line per row, each ending in "\n".
/// Rates print in Swift's shortest round-trip form (`0.1`, `1e-05`): parsing them back with
/// `Double(_:)` gives the same bits.
public func scheduleCSV(_ rows: [ScheduleRow], kind: ScheduleKind, includeValAcc: Bool) -> String {
    var out = scheduleCSVColumns(kind: kind, includeValAcc: includeValAcc).joined(separator: ",") + "\n"
    for row in rows {
        var fields = [String(row.epoch), "\(row.lr)"]
        if kind == .sgdr {
            fields += [row.tCur.map { String($0) } ?? "", row.tI.map { String($0) } ?? "",
                       row.triggered.map { String($0) } ?? "", row.peak.map { "\($0)" } ?? ""]
        }
        if includeValAcc { fields.append("\(row.valAcc)") }
        out += fields.joined(separator: ",")
        out += "\n"
    }
    return out
}

/// Why a validation-accuracy file (one accuracy per line, epoch order) is unusable.
public enum ValAccProblem: Error, Hashable, Sendable, CustomStringConvertible {
    /// Line `line` (1-based) is not a number in [0, 1]; `text` is the line, trimmed.
    case badLine(line: Int, text: String)
    /// Fewer values than epochs.
    case tooShort(count: Int, needed: Int)

    public var description: String {
        switch self {
        case .badLine(let line, let text):
            text.isEmpty ? "line \(line) is empty, not a number in [0, 1]"
                : "line \(line) is \"\(text)\", not a number in [0, 1]"
        case .tooShort(let count, let needed):
            "has \(count) value\(count == 1 ? "" : "s"), needs at least \(needed) (one per epoch)"
        }
    }
}

/// Parses a validation-accuracy file's text: one number in [0, 1] per line, in epoch order,
/// at least `needed` of them. Whitespace around a value, "\r\n" line ends and blank lines at the
/// end are accepted; every line before those must be a value (extra values are checked too).
public func parseValAccs(_ text: String, needed: Int) throws(ValAccProblem) -> [Double] {
    var lines = text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).map { line in
        line.drop(while: \.isWhitespace).reversed().drop(while: \.isWhitespace).reversed()
    }.map { String($0) }
    while let last = lines.last, last.isEmpty { lines.removeLast() }
    var values: [Double] = []
    values.reserveCapacity(lines.count)
    for (index, line) in lines.enumerated() {
        guard let value = Double(line), value.isFinite, value >= 0, value <= 1 else {
            throw .badLine(line: index + 1, text: line)
        }
        values.append(value)
    }
    if values.count < needed { throw .tooShort(count: values.count, needed: needed) }
    return values
}
