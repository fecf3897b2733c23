import Schedules
import Sweep
import TrainingTypes

/// The tool's messages to a trainer (protocol version 1, `docs/TRAINER-PROTOCOL.md`): one JSON
/// object per line, keys in a fixed order, numbers in their shortest round-trip form (a rate is
/// the exact double the schedule computed).
public enum TrainerMessage {
    public static let protocolVersion = 1

    public static func start(_ spec: TrialSpec, sweep: String, epochs: Int, threads: Int) -> String {
        object([
            ("type", JSONText.string("start")),
            ("protocol", String(protocolVersion)),
            ("sweep", JSONText.string(sweep)),
            ("trial", JSONText.string(spec.id)),
            ("number", String(spec.number)),
            ("configuration", JSONText.string(spec.configuration)),
            ("repeat", String(spec.repeatIndex)),
            ("seed", String(spec.seed)),
            ("epochs", String(epochs)),
            ("threads", String(threads)),
            ("schedule", schedule(spec.schedule)),
            ("swept", JSONText.object(spec.swept)),
        ])
    }

    public static func epoch(_ epoch: Int, lr: Double) -> String {
        object([("type", JSONText.string("epoch")), ("epoch", String(epoch)), ("lr", JSONText.number(lr))])
    }

    /// `reason`: `done` (every epoch ran), `diverged`, or `interrupted` (the tool stops).
    public static func stop(reason: String) -> String {
        object([("type", JSONText.string("stop")), ("reason", JSONText.string(reason))])
    }

    /// The schedule as the trial runs it: its kind and the parameters it uses.
    static func schedule(_ c: ScheduleConfig) -> String {
        var fields: [(String, String)] = [("kind", JSONText.string(c.kind.rawValue))]
        for p in ScheduleParameter.allCases where c.kind == .sgdr || p.usedByBaselines {
            fields.append((p.rawValue, JSONText.number(p.value(in: c.parameters))))
        }
        switch c.kind {
        case .step:
            fields.append(("step_milestones", JSONText.array(c.stepMilestones)))
            fields.append(("step_factor", JSONText.number(c.stepFactor)))
        case .plateau:
            fields.append(("plateau_factor", JSONText.number(c.plateau.factor)))
            fields.append(("plateau_patience", String(c.plateau.patience)))
            fields.append(("plateau_min_delta", JSONText.number(c.plateau.minDelta)))
        case .sgdr, .cosine, .constant: break
        }
        return object(fields, newline: false)
    }

    static func object(_ fields: [(String, String)], newline: Bool = true) -> String {
        "{" + fields.map { JSONText.string($0.0) + ":" + $0.1 }.joined(separator: ",") + "}" + (newline ? "\n" : "")
    }
}

/// A trainer's answer to one epoch.
enum TrainerAnswer {
    /// `lr` is filled in by the executor; a metric the trainer did not report is NaN (stored as
    /// NULL); `trainSeconds` NaN: the executor measures it.
    case metrics(EpochMetrics)
    /// `"diverged": true`: the loss became non-finite.
    case diverged

    static let knownKeys: Set<String> = ["epoch", "diverged", "val_acc", "train_loss", "train_acc", "val_loss", "train_seconds"]
    static let maxExtraMetrics = 64
    static let maxExtraKeyBytes = 100

    /// Parses and checks one line: a JSON object with `"epoch"` equal to `expected` and a
    /// `val_acc` in [0, 1] (unless `"diverged": true`). Other keys with a number are kept as extra
    /// metrics; other keys are ignored.
    static func parse(_ bytes: [UInt8], expecting expected: Int) throws(TrainerFault) -> TrainerAnswer {
        func shown() -> String {
            let text = String(decoding: bytes.prefix(120), as: UTF8.self)
            return bytes.count > 120 ? text + "…" : text
        }
        let value: JSONValue
        do { value = try JSONReader.parse(bytes) } catch {
            throw TrainerFault("the answer to epoch \(expected) is not JSON (\(error.message)): \(shown()) (stdout is for the protocol; print logs to stderr)")
        }
        guard case .object(let members) = value.kind else {
            throw TrainerFault("the answer to epoch \(expected) is not a JSON object: \(shown())")
        }
        var fields: [String: JSONValue] = [:]
        for m in members { fields[m.key] = m.value }
        guard let epochValue = fields["epoch"] else {
            throw TrainerFault("the answer to epoch \(expected) has no \"epoch\": \(shown())")
        }
        guard case .number(let got, _) = epochValue.kind, got == got.rounded(), abs(got) < 1e15 else {
            throw TrainerFault("the answer to epoch \(expected) has \"epoch\": \(epochValue.shortText); it must be the epoch's number, \(expected)")
        }
        if Int(got) != expected {
            let what = Int(got) < expected ? "repeats epoch \(Int(got))" : "is for epoch \(Int(got))"
            throw TrainerFault("the answer to epoch \(expected) \(what); every epoch is answered once, in order")
        }
        if let d = fields["diverged"] {
            guard case .bool(let b) = d.kind else {
                throw TrainerFault("epoch \(expected): \"diverged\" is \(d.shortText); it must be true or false")
            }
            if b { return .diverged }
        }
        func metric(_ key: String) throws(TrainerFault) -> Double {
            guard let v = fields[key] else { return .nan }
            switch v.kind {
            case .null: return .nan
            case .number(let x, _): return x
            default: throw TrainerFault("epoch \(expected): \"\(key)\" is \(v.shortText); it must be a number")
            }
        }
        guard let accValue = fields["val_acc"] else {
            throw TrainerFault("the answer to epoch \(expected) has no \"val_acc\" (a number in [0, 1]): \(shown())")
        }
        guard case .number(let acc, _) = accValue.kind, acc >= 0 && acc <= 1 else {
            throw TrainerFault("epoch \(expected): \"val_acc\" is \(accValue.shortText); it must be a number in [0, 1] (a fraction, not a percentage)")
        }
        let trainSeconds = try metric("train_seconds")
        if !trainSeconds.isNaN && !(trainSeconds >= 0) {
            throw TrainerFault("epoch \(expected): \"train_seconds\" is \(trainSeconds); it must be a number >= 0")
        }
        // Any other finite number is kept as an extra metric (others are ignored), within bounds.
        var extra: [String: Double] = [:]
        for m in members where !knownKeys.contains(m.key) {
            guard case .number(let x, _) = m.value.kind, x.isFinite else { continue }
            guard m.key.utf8.count <= maxExtraKeyBytes, extra.count < maxExtraMetrics else {
                throw TrainerFault("epoch \(expected): at most \(maxExtraMetrics) extra metrics with names of at most \(maxExtraKeyBytes) bytes are kept")
            }
            extra[m.key] = x
        }
        return .metrics(EpochMetrics(epoch: expected, lr: .nan, trainLoss: try metric("train_loss"),
                                     trainAcc: try metric("train_acc"), valLoss: try metric("val_loss"),
                                     valAcc: acc, trainSeconds: trainSeconds, extra: extra))
    }
}
