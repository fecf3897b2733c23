import Schedules
import TrainingTypes

/// One `path = value` line of a space's canonical form.
public struct CanonicalEntry: Hashable, Sendable {
    public var path: String
    public var value: String
}

extension SearchSpace {
    /// The decoded space as `path = value` lines, defaults filled in, in a fixed order: two files
    /// that decode to the same sweep have the same lines, whatever their layout, key order
    /// (outside `parameters`, whose order is the grid's order) or spelling of numbers.
    /// `trials`, `concurrency` and a race's `repeats` may change between runs of a sweep and are
    /// left out unless asked for.
    public func canonicalEntries(includingMutable: Bool = false) -> [CanonicalEntry] {
        var e: [CanonicalEntry] = []
        func add(_ path: String, _ value: String) { e.append(CanonicalEntry(path: path, value: value)) }
        func list(_ xs: [Double]) -> String { "[" + xs.map(fmt).joined(separator: ", ") + "]" }
        add("name", name)
        add("strategy", strategy.rawValue)
        add("seed", String(seed))
        // A race may grow in repeats between runs (more rounds for the survivors).
        if racing == nil || includingMutable { add("repeats", String(repeats)) }
        add("objective", objective.rawValue)
        if includingMutable {
            add("trials", trials.map(String.init) ?? "-")
            add("concurrency", concurrency.map(String.init) ?? "-")
        }
        add("parameters", "[" + parameters.map(\.parameter.rawValue).joined(separator: ", ") + "]")
        for d in parameters {
            let path = "parameters." + d.parameter.rawValue
            switch d.kind {
            case .values(let vs): add(path + ".values", list(vs))
            case .range(let lo, let hi, let log, let integer):
                add(path + ".min", fmt(lo))
                add(path + ".max", fmt(hi))
                add(path + ".log", String(log))
                add(path + ".int", String(integer))
            }
        }
        add("configurations", String(configurations.count))
        for (i, c) in configurations.enumerated() {
            for (p, v) in c { add("configurations[\(i)].\(p.rawValue)", fmt(v)) }
        }
        for p in ScheduleParameter.canonicalOrder { if let v = fixed[p] { add("fixed." + p.rawValue, fmt(v)) } }
        add("fixed.step_milestones", list(stepMilestones))
        add("fixed.step_factor", fmt(stepFactor))
        add("fixed.plateau_factor", fmt(plateau.factor))
        add("fixed.plateau_patience", String(plateau.patience))
        add("fixed.plateau_min_delta", fmt(plateau.minDelta))
        add("baselines", "[" + baselines.map(\.rawValue).joined(separator: ", ") + "]")
        if let racing {
            add("racing.first_round", String(racing.firstRound))
            add("racing.confidence", fmt(racing.confidence))
        }
        if let tpe {
            add("tpe.startup", String(tpe.startup))
            add("tpe.candidates", String(tpe.candidates))
            add("tpe.gamma", fmt(tpe.gamma))
            add("tpe.parallel", String(tpe.parallel))
        }
        if let trainer {
            // The script and its settings are the sweep's identity; the time-outs only decide
            // when a trial fails, and may change between runs (like concurrency).
            add("trainer.command", "[" + trainer.command.map(JSONText.string).joined(separator: ", ") + "]")
            add("trainer.epochs", String(trainer.epochs))
            add("trainer.threads", String(trainer.threads))
            for v in trainer.environment { add("trainer.env." + v.name, JSONText.string(v.value)) }
            add("trainer.working_dir", trainer.workingDirectory.map(JSONText.string) ?? "-")
            if includingMutable {
                add("trainer.timeout_s", trainer.timeoutSeconds.map(fmt) ?? "-")
                add("trainer.epoch_timeout_s", fmt(trainer.epochTimeoutSeconds))
            }
        } else {
            let settings = trainingSettings
            for option in TrainingOption.allCases {
                if let text = option.canonicalText(settings) { add("training." + option.name, text) }
            }
        }
        return e
    }

    /// SHA-256 of the canonical form (without `trials` and `concurrency`), 64 hex digits.
    public var canonicalHash: String {
        SHA256.hex(canonicalEntries().map { "\($0.path) = \($0.value)" }.joined(separator: "\n"))
    }

    /// What differs from `old`, one line per key path: `training.epochs: 10 -> 20`
    /// (`trials` and `concurrency` are not listed).
    public func changes(from old: SearchSpace) -> [String] {
        let a = old.canonicalEntries(), b = canonicalEntries()
        let oldValues = Dictionary(a.map { ($0.path, $0.value) }, uniquingKeysWith: { x, _ in x })
        let newValues = Dictionary(b.map { ($0.path, $0.value) }, uniquingKeysWith: { x, _ in x })
        var lines: [String] = []
        var seen: Set<String> = []
        for entry in a + b where !seen.contains(entry.path) {
            seen.insert(entry.path)
            let o = oldValues[entry.path], n = newValues[entry.path]
            if o != n { lines.append("\(entry.path): \(o ?? "(absent)") -> \(n ?? "(absent)")") }
        }
        return lines
    }
}
