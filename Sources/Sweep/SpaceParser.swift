import Foundation
import Schedules
import TrainingTypes

extension SearchSpace {
    static let topKeys = ["name", "strategy", "seed", "repeats", "concurrency", "objective", "trials",
                          "parameters", "configurations", "fixed", "baselines", "racing", "training", "trainer", "tpe"]
    static let racingKeys = ["first_round", "confidence"]
    static let tpeKeys = ["startup", "candidates", "gamma", "parallel"]
    static let domainKeys = ["values", "min", "max", "log", "int"]
    /// 2^53: the largest bound of an `int` range (every whole number up to it is a double).
    static let maxIntegerBound: Double = 9_007_199_254_740_992
    static let plateauRules = PlateauSettings.rules
    static let fixedKeys = ScheduleParameter.allCases.map(\.rawValue) + ["step_milestones", "step_factor"]
        + plateauRules.map(\.name)
    static let trainingKeys = TrainingOption.allCases.map(\.name)
    /// Upper bounds that keep a typo from asking for a sweep that cannot end (listed in the
    /// README): trials count configurations x repeats, baselines included.
    public static let maxRepeats = 1000, maxTrials = 1_000_000, maxConcurrency = 256, maxConfigurations = 1_000_000

    /// Decodes and validates a space file. Nothing is run and nothing is written: every problem
    /// is reported here, with the file, the key path and what is allowed.
    public static func parse(data: Data, file: String) throws(SpaceError) -> SearchSpace {
        guard let text = String(data: data, encoding: .utf8) else {
            throw SpaceError(file: file, path: "", message: "is not UTF-8 text; a space file is a JSON object")
        }
        let root: JSONValue
        do {
            root = try JSONReader.parse(Array(data))
        } catch {
            throw SpaceError(file: file, path: "", message: error.message + "; a space file must be valid JSON",
                             line: error.line, column: error.column)
        }
        var d = SpaceDecoder(file: file)
        return try d.decode(root, source: text)
    }

    /// Reads and parses the file at `path`; an unreadable file is a `SpaceError` too.
    public static func load(path: String) throws(SpaceError) -> SearchSpace {
        guard let data = FileManager.default.contents(atPath: path) else {
            let exists = FileManager.default.fileExists(atPath: path)
            throw SpaceError(file: path, path: "", message: exists ? "cannot be read" : "no such file; give the path of a space file (see search-spaces/)")
        }
        return try parse(data: data, file: path)
    }
}

/// The validating walk over the JSON tree.
struct SpaceDecoder {
    let file: String

    func fail(_ path: String, _ message: String) -> SpaceError {
        SpaceError(file: file, path: path, message: message)
    }

    func members(_ v: JSONValue, _ path: String, allowed: [String], what: String) throws(SpaceError) -> [JSONValue.Member] {
        guard case .object(let ms) = v.kind else {
            throw fail(path.isEmpty ? "" : path, "expected an object, got \(v.typeName) \(v.shortText); \(what) is a JSON object {...}")
        }
        for m in ms where !allowed.contains(m.key) {
            let p = join(path, m.key)
            let hint = closestKey(to: m.key, in: allowed).map { "did you mean \"\($0)\"? " } ?? ""
            throw fail(p, "unknown key \"\(m.key)\"; \(hint)allowed keys: \(allowed.joined(separator: ", "))")
        }
        return ms
    }

    func join(_ path: String, _ key: String) -> String { path.isEmpty ? key : path + "." + key }

    func number(_ v: JSONValue, _ path: String, _ allowed: String) throws(SpaceError) -> Double {
        guard case .number(let x, _) = v.kind else {
            throw fail(path, "expected a number, got \(v.typeName) \(v.shortText); \(allowed)")
        }
        guard x.isFinite else { throw fail(path, "\(v.shortText) is out of range; \(allowed)") }
        return x
    }

    /// An integer: a whole number in any JSON spelling (`5`, `5.0`, `5e3`), like every integer
    /// of a space file (`seed` included).
    func integer(_ v: JSONValue, _ path: String, min lo: Int, max hi: Int, _ allowed: String) throws(SpaceError) -> Int {
        let x = try number(v, path, allowed)
        guard x == x.rounded() else { throw fail(path, "expected an integer, got \(v.shortText); \(allowed)") }
        guard x >= Double(lo) && x <= Double(hi) else { throw fail(path, "\(v.shortText) is out of range; \(allowed)") }
        return Int(x)
    }

    func string(_ v: JSONValue, _ path: String, _ allowed: String) throws(SpaceError) -> String {
        guard case .string(let s) = v.kind else {
            throw fail(path, "expected a string, got \(v.typeName) \(v.shortText); \(allowed)")
        }
        return s
    }

    func bool(_ v: JSONValue, _ path: String, _ allowed: String) throws(SpaceError) -> Bool {
        guard case .bool(let b) = v.kind else {
            throw fail(path, "expected true or false, got \(v.typeName) \(v.shortText); \(allowed)")
        }
        return b
    }

    func array(_ v: JSONValue, _ path: String, _ allowed: String) throws(SpaceError) -> [JSONValue] {
        guard case .array(let items) = v.kind else {
            throw fail(path, "expected a list, got \(v.typeName) \(v.shortText); \(allowed)")
        }
        return items
    }

    func choice<T: RawRepresentable>(_ v: JSONValue, _ path: String, _ cases: [T], what: String) throws(SpaceError) -> T
    where T.RawValue == String {
        let names = cases.map(\.rawValue)
        let allowed = "\(what) must be one of " + names.map { "\"\($0)\"" }.joined(separator: ", ")
        let s = try string(v, path, allowed)
        guard let c = cases.first(where: { $0.rawValue == s }) else {
            let hint = closestKey(to: s, in: names).map { "did you mean \"\($0)\"? " } ?? ""
            throw fail(path, "unknown \(what) \"\(s)\"; \(hint)\(allowed)")
        }
        return c
    }

    /// A schedule parameter's value, checked against its range.
    func parameterValue(_ v: JSONValue, _ path: String, _ p: ScheduleParameter) throws(SpaceError) -> Double {
        let x = try number(v, path, p.allowed)
        guard p.isAllowed(x) else {
            if p.isInteger && x != x.rounded() { throw fail(path, "\(v.shortText) is not an integer; \(p.allowed)") }
            throw fail(path, "\(v.shortText) is out of range; \(p.allowed)")
        }
        return x
    }

    mutating func decode(_ root: JSONValue, source: String) throws(SpaceError) -> SearchSpace {
        let ms = try members(root, "", allowed: SearchSpace.topKeys, what: "a space file")
        var top: [String: JSONValue] = [:]
        for m in ms { top[m.key] = m.value }

        // name
        guard let nameValue = top["name"] else {
            throw fail("name", "missing; every space needs a \"name\" (letters, digits, '.', '_', '-'): its database is runs/<name>.sqlite")
        }
        let nameAllowed = "name must be 1 to 100 letters, digits, '.', '_' or '-', not starting with '.'"
        let name = try string(nameValue, "name", nameAllowed)
        let nameOK = !name.isEmpty && name.count <= 100 && !name.hasPrefix(".")
            && name.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0) || ".-_".unicodeScalars.contains($0) }
        guard nameOK else { throw fail("name", "\(nameValue.shortText) is not a valid name; \(nameAllowed)") }

        let strategy: SearchStrategy = try top["strategy"].map { v throws(SpaceError) in
            try choice(v, "strategy", SearchStrategy.allCases, what: "strategy")
        } ?? .grid

        var seed: UInt64 = 0
        if let v = top["seed"] {
            let allowed = "seed must be an integer in [0, 2^64 - 1] (above 2^53, written as plain digits)"
            guard case .number(let x, let text) = v.kind else {
                throw fail("seed", "expected an integer, got \(v.typeName) \(v.shortText); \(allowed)")
            }
            if let s = UInt64(text) {
                seed = s
            } else {
                // Another spelling of a whole number (1.0, 1e3), exact only up to 2^53.
                guard x.isFinite && x == x.rounded() else { throw fail("seed", "expected an integer, got \(text); \(allowed)") }
                guard x >= 0 && x <= 9_007_199_254_740_992 else { throw fail("seed", "\(text) is out of range; \(allowed)") }
                seed = UInt64(x)
            }
        }
        let repeats = try top["repeats"].map { v throws(SpaceError) in
            try integer(v, "repeats", min: 1, max: SearchSpace.maxRepeats, "repeats must be an integer in [1, \(SearchSpace.maxRepeats)]")
        } ?? 1
        let concurrency = try top["concurrency"].map { v throws(SpaceError) in
            try integer(v, "concurrency", min: 1, max: SearchSpace.maxConcurrency, "concurrency must be an integer in [1, \(SearchSpace.maxConcurrency)] (default: the number of cores)")
        }
        let objective = try top["objective"].map { v throws(SpaceError) in
            try choice(v, "objective", Objective.allCases, what: "objective")
        } ?? .bestValAcc

        // trials: random and sobol only, required there.
        var trials: Int?
        if let v = top["trials"] {
            guard strategy.takesTrials else {
                throw fail("trials", "only allowed with \"strategy\": \"random\", \"sobol\" or \"tpe\" (this space is \"\(strategy.rawValue)\"); remove it, or use a random, sobol or tpe search")
            }
            trials = try integer(v, "trials", min: 1, max: SearchSpace.maxTrials, "trials must be an integer in [1, \(SearchSpace.maxTrials)]")
        } else if strategy == .random {
            throw fail("trials", "missing; \"strategy\": \"random\" needs \"trials\", the number of configurations to draw (an integer >= 1)")
        } else if strategy == .sobol {
            throw fail("trials", "missing; \"strategy\": \"sobol\" needs \"trials\", the number of points to take (an integer >= 1; a power of 2 balances every axis)")
        } else if strategy == .tpe {
            throw fail("trials", "missing; \"strategy\": \"tpe\" needs \"trials\", the number of configurations to try, start-up ones included (an integer >= 1)")
        }

        // parameters / configurations
        var domains: [ParameterDomain] = []
        var configurations: [[(ScheduleParameter, Double)]] = []
        switch strategy {
        case .grid, .random, .sobol, .tpe:
            if top["configurations"] != nil {
                throw fail("configurations", "only allowed with \"strategy\": \"list\"; a \(strategy.rawValue) search takes \"parameters\"")
            }
            guard let pv = top["parameters"] else {
                throw fail("parameters", "missing; a \(strategy.rawValue) search needs at least one swept parameter (any of \(ScheduleParameter.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            domains = try decodeDomains(pv, strategy: strategy)
            if strategy == .sobol && domains.count > SobolSampler.maxDimensions {
                throw fail("parameters", "\(domains.count) swept parameters; the Sobol table has \(SobolSampler.maxDimensions) dimensions, so a sobol search sweeps at most \(SobolSampler.maxDimensions)")
            }
        case .list:
            if top["parameters"] != nil {
                throw fail("parameters", "not allowed with \"strategy\": \"list\"; give each configuration's values in \"configurations\"")
            }
            guard let cv = top["configurations"] else {
                throw fail("configurations", "missing; \"strategy\": \"list\" needs \"configurations\": [{\"t0\": 10, \"tmult\": 2, ...}, ...]")
            }
            configurations = try decodeConfigurations(cv)
        }

        // fixed
        var fixed: [ScheduleParameter: Double] = [:]
        var stepMilestones = [0.5, 0.75]
        var stepFactor = 0.1
        var plateau = PlateauSettings()
        let swept = Set(domains.map(\.parameter)).union(configurations.flatMap { $0.map(\.0) })
        if let fv = top["fixed"] {
            for m in try members(fv, "fixed", allowed: SearchSpace.fixedKeys, what: "fixed") {
                let path = "fixed." + m.key
                switch m.key {
                case "step_milestones":
                    let allowed = "step_milestones must be a list of increasing numbers in (0, 1)"
                    let items = try array(m.value, path, allowed)
                    stepMilestones = []
                    for (i, item) in items.enumerated() {
                        let x = try number(item, "\(path)[\(i)]", allowed)
                        guard x > 0 && x < 1 && (stepMilestones.last.map { x > $0 } ?? true) else {
                            throw fail("\(path)[\(i)]", "\(item.shortText) is out of range; \(allowed)")
                        }
                        stepMilestones.append(x)
                    }
                case "step_factor":
                    let allowed = "step_factor must be a number > 0"
                    let x = try number(m.value, path, allowed)
                    guard x > 0 else { throw fail(path, "\(m.value.shortText) is out of range; \(allowed)") }
                    stepFactor = x
                case PlateauSettings.factorRule.name, PlateauSettings.patienceRule.name, PlateauSettings.minDeltaRule.name:
                    let rule = SearchSpace.plateauRules.first { $0.name == m.key }!
                    let allowed = "\(rule.name) must be \(rule.allowed)"
                    let x = try number(m.value, path, allowed)
                    guard rule.isAllowed(x) else { throw fail(path, "\(m.value.shortText) is out of range; \(allowed)") }
                    switch m.key {
                    case PlateauSettings.factorRule.name: plateau.factor = x
                    case PlateauSettings.patienceRule.name: plateau.patience = Int(x)
                    default: plateau.minDelta = x
                    }
                default:
                    let p = ScheduleParameter(rawValue: m.key)!
                    if swept.contains(p) {
                        throw fail(path, "\(m.key) is also swept; give it either in \"fixed\" or in \(strategy == .list ? "\"configurations\"" : "\"parameters\""), not both")
                    }
                    fixed[p] = try parameterValue(m.value, path, p)
                }
            }
        }

        // baselines
        var baselines: [ScheduleKind] = []
        if let bv = top["baselines"] {
            let kinds: [ScheduleKind] = [.step, .cosine, .constant, .plateau]
            let allowed = "baselines is a list of distinct names among \"step\", \"cosine\", \"constant\", \"plateau\""
            for (i, item) in try array(bv, "baselines", allowed).enumerated() {
                let k = try choice(item, "baselines[\(i)]", kinds, what: "baseline")
                guard !baselines.contains(k) else { throw fail("baselines[\(i)]", "\"\(k.rawValue)\" is listed twice; \(allowed)") }
                baselines.append(k)
            }
        }

        // racing
        var racing: RacingOptions?
        if let rv = top["racing"] {
            var options = RacingOptions()
            for m in try members(rv, "racing", allowed: SearchSpace.racingKeys, what: "racing") {
                let path = "racing." + m.key
                switch m.key {
                case "first_round":
                    options.firstRound = try integer(m.value, path, min: 2, max: SearchSpace.maxRepeats,
                                                     "first_round must be an integer in [2, \(SearchSpace.maxRepeats)]")
                default:
                    let allowed = "confidence must be a number in (0.5, 1)"
                    let x = try number(m.value, path, allowed)
                    guard x > 0.5 && x < 1 else { throw fail(path, "\(m.value.shortText) is out of range; \(allowed)") }
                    options.confidence = x
                }
            }
            racing = options
        }

        // tpe: its settings, with "strategy": "tpe" only; not with racing.
        var tpe: TPEOptions?
        if strategy == .tpe {
            if top["racing"] != nil {
                throw fail("racing", "not allowed with \"strategy\": \"tpe\" (TPE proposes each configuration from finished ones, a race eliminates by rounds: the two are not combined); remove \"racing\", or use a grid, random or sobol search to race")
            }
            var options = TPEOptions()
            if let tv = top["tpe"] {
                for m in try members(tv, "tpe", allowed: SearchSpace.tpeKeys, what: "tpe") {
                    let path = "tpe." + m.key
                    switch m.key {
                    case "startup":
                        options.startup = try integer(m.value, path, min: 1, max: SearchSpace.maxTrials,
                                                      "startup must be an integer in [1, \(SearchSpace.maxTrials)] (the random configurations before the first proposal)")
                    case "candidates":
                        options.candidates = try integer(m.value, path, min: 1, max: TPEOptions.maxCandidates,
                                                         "candidates must be an integer in [1, \(TPEOptions.maxCandidates)]")
                    case "parallel":
                        options.parallel = try integer(m.value, path, min: 1, max: SearchSpace.maxConcurrency,
                                                       "parallel must be an integer in [1, \(SearchSpace.maxConcurrency)] (the configurations that may train at once)")
                    default:
                        let allowed = "gamma must be a number in (0, 1) (the share of finished configurations taken as good)"
                        let x = try number(m.value, path, allowed)
                        guard x > 0 && x < 1 else { throw fail(path, "\(m.value.shortText) is out of range; \(allowed)") }
                        options.gamma = x
                    }
                }
            }
            tpe = options
        } else if top["tpe"] != nil {
            throw fail("tpe", "only allowed with \"strategy\": \"tpe\" (this space is \"\(strategy.rawValue)\"); remove it, or use a tpe search")
        }

        // training, or the user's own trainer
        if top["training"] != nil && top["trainer"] != nil {
            throw fail("trainer", "a space has either \"training\" (the built-in model) or \"trainer\" (your own training script), not both")
        }
        let trainer = try top["trainer"].map { (tv: JSONValue) throws(SpaceError) in try decodeTrainer(tv) }
        var settings = try top["training"].map { (tv: JSONValue) throws(SpaceError) in try decodeTraining(tv) }
            ?? TrainingSettings(training: TrainingOptions(epochs: 10))
        if let trainer {
            settings.training.epochs = trainer.epochs
            settings.threads = trainer.threads
        }

        var space = SearchSpace(
            name: name, strategy: strategy, seed: seed, repeats: repeats, concurrency: concurrency,
            objective: objective, trials: trials, parameters: domains, configurations: configurations,
            fixed: fixed, stepMilestones: stepMilestones, stepFactor: stepFactor, plateau: plateau, baselines: baselines,
            racing: racing,
            data: settings.data, training: settings.training, trainingThreads: settings.threads, source: source,
            trainer: trainer)
        space.training.seed = 0
        space.tpe = tpe
        try checkRates(space)
        let count = space.sampler.count
        guard count <= SearchSpace.maxConfigurations else {
            let size = count == Int.max ? "more than \(Int.max)" : String(count)
            throw fail("parameters", "the grid has \(size) configurations; at most \(SearchSpace.maxConfigurations) are allowed")
        }
        // The cap on trials counts configurations x repeats, baselines included.
        let trialCount = (count + baselines.count) * repeats
        guard trialCount <= SearchSpace.maxTrials else {
            let key = top["repeats"] != nil ? "repeats" : strategy.takesTrials ? "trials" : "parameters"
            throw fail(key, "the sweep has \(count + baselines.count) configurations x \(repeats) repeat\(repeats == 1 ? "" : "s") = \(trialCount) trials; at most \(SearchSpace.maxTrials) trials are allowed (configurations x repeats, baselines included)")
        }
        return space
    }

    mutating func decodeDomains(_ v: JSONValue, strategy: SearchStrategy) throws(SpaceError) -> [ParameterDomain] {
        let names = ScheduleParameter.allCases.map(\.rawValue)
        let ms = try members(v, "parameters", allowed: names, what: "parameters")
        guard !ms.isEmpty else {
            throw fail("parameters", "is empty; a \(strategy.rawValue) search needs at least one swept parameter (any of \(names.joined(separator: ", ")))")
        }
        var out: [ParameterDomain] = []
        for m in ms {
            let p = ScheduleParameter(rawValue: m.key)!
            let path = "parameters." + m.key
            let fields = try members(m.value, path, allowed: SearchSpace.domainKeys,
                                     what: "a parameter: {\"values\": [...]} or, for random, sobol and tpe, {\"min\": a, \"max\": b}")
            var f: [String: JSONValue] = [:]
            for x in fields { f[x.key] = x.value }
            if let vv = f["values"] {
                for k in ["min", "max", "log", "int"] where f[k] != nil {
                    throw fail(path + "." + k, "not allowed beside \"values\"; give either {\"values\": [...]} or {\"min\": a, \"max\": b}")
                }
                let items = try array(vv, path + ".values", "values is a non-empty list of numbers; \(p.allowed)")
                guard !items.isEmpty else {
                    throw fail(path + ".values", "the list is empty; give at least one value (\(p.allowed))")
                }
                var values: [Double] = []
                values.reserveCapacity(items.count)
                var seen = Set<Double>(minimumCapacity: items.count)  // linear: a list may be long
                for (i, item) in items.enumerated() {
                    let x = try parameterValue(item, "\(path).values[\(i)]", p)
                    guard seen.insert(x).inserted else {
                        throw fail("\(path).values[\(i)]", "\(item.shortText) is listed twice; each value once")
                    }
                    values.append(x)
                }
                out.append(ParameterDomain(parameter: p, kind: .values(values)))
                continue
            }
            guard strategy.takesTrials else {
                let what = f["min"] != nil || f["max"] != nil ? "a range (min/max) is only allowed with \"strategy\": \"random\", \"sobol\" or \"tpe\"" : "missing \"values\""
                throw fail(path, "\(what); a grid takes {\"values\": [...]}")
            }
            guard let minV = f["min"], let maxV = f["max"] else {
                throw fail(path, "missing \"\(f["min"] == nil ? "min" : "max")\"; a parameter is {\"values\": [...]} or {\"min\": a, \"max\": b} with optional \"log\": true and \"int\": true")
            }
            let lo = try parameterValue(minV, path + ".min", p)
            let hi = try parameterValue(maxV, path + ".max", p)
            guard lo <= hi else {
                throw fail(path + ".min", "\(minV.shortText) is greater than max (\(maxV.shortText)); min must be <= max")
            }
            let log = try f["log"].map { x throws(SpaceError) in try bool(x, path + ".log", "log is true or false") } ?? false
            let int = try f["int"].map { x throws(SpaceError) in try bool(x, path + ".int", "int is true or false") } ?? false
            if log && lo <= 0 {
                throw fail(path + ".min", "\(minV.shortText) is out of range for a log scale; with \"log\": true, min must be > 0")
            }
            let integer = int || p.isInteger
            if integer && lo.rounded(.up) > hi.rounded(.down) {
                throw fail(path, "no whole number lies in [\(minV.shortText), \(maxV.shortText)]; an integer range needs one")
            }
            // Whole numbers are drawn as integers: past 2^53 a double has no neighbouring whole
            // numbers to draw from (and past Int's range none at all).
            if integer && max(abs(lo), abs(hi)) > SearchSpace.maxIntegerBound {
                let bad = abs(hi) > SearchSpace.maxIntegerBound ? (path + ".max", maxV.shortText) : (path + ".min", minV.shortText)
                throw fail(bad.0, "\(bad.1) is out of range for an integer range; with \"int\": true, min and max must lie in [-2^53, 2^53] (\(Int(SearchSpace.maxIntegerBound)))")
            }
            // Both ends are allowed, but a continuous range across (0, 1) would draw values that are not.
            if let gap = p.gap, !integer && lo < gap.high && hi > gap.low {
                throw fail(path, "the range [\(minV.shortText), \(maxV.shortText)] includes values in (0, 1); \(p.allowed)")
            }
            out.append(ParameterDomain(parameter: p, kind: .range(min: lo, max: hi, log: log, integer: integer)))
        }
        return out
    }

    func decodeConfigurations(_ v: JSONValue) throws(SpaceError) -> [[(ScheduleParameter, Double)]] {
        let names = ScheduleParameter.allCases.map(\.rawValue)
        let items = try array(v, "configurations", "configurations is a non-empty list of objects such as {\"t0\": 10, \"tmult\": 2}")
        guard !items.isEmpty else {
            throw fail("configurations", "the list is empty; give at least one configuration such as {\"t0\": 10, \"tmult\": 2}")
        }
        var out: [[(ScheduleParameter, Double)]] = []
        for (i, item) in items.enumerated() {
            let path = "configurations[\(i)]"
            let ms = try members(item, path, allowed: names, what: "a configuration")
            guard !ms.isEmpty else {
                throw fail(path, "is empty; a configuration sets at least one of \(names.joined(separator: ", "))")
            }
            var c: [(ScheduleParameter, Double)] = []
            for m in ms {
                let p = ScheduleParameter(rawValue: m.key)!
                c.append((p, try parameterValue(m.value, path + "." + m.key, p)))
            }
            out.append(c)
        }
        return out
    }

    static let trainerKeys = ["command", "epochs", "threads", "env", "working_dir", "timeout_s", "epoch_timeout_s"]

    /// The `trainer` object: the user's own training script (README, "Your own model").
    func decodeTrainer(_ v: JSONValue) throws(SpaceError) -> TrainerOptions {
        let ms = try members(v, "trainer", allowed: Self.trainerKeys, what: "trainer")
        var options = TrainerOptions(command: [], epochs: 10)
        var hasCommand = false
        for m in ms {
            let path = "trainer." + m.key
            switch m.key {
            case "command":
                let allowed = "command must be a non-empty list of strings: the program and its arguments, run without a shell, e.g. [\"python3\", \"train.py\"]"
                let items = try array(m.value, path, allowed)
                guard !items.isEmpty else { throw fail(path, "the list is empty; \(allowed)") }
                options.command = []
                for (i, item) in items.enumerated() {
                    let word = try string(item, "\(path)[\(i)]", allowed)
                    guard !word.contains("\u{0}") else { throw fail("\(path)[\(i)]", "contains a NUL character; \(allowed)") }
                    options.command.append(word)
                }
                guard !options.command[0].isEmpty else { throw fail("\(path)[0]", "the program is an empty string; \(allowed)") }
                hasCommand = true
            case "epochs":
                options.epochs = try integer(m.value, path, min: 1, max: TrainingOptions.maxEpochs,
                                             "epochs must be an integer in [1, \(TrainingOptions.maxEpochs)]")
            case "threads":
                options.threads = try integer(m.value, path, min: 1, max: TrainingOption.maxThreads,
                                              "threads (threads per trial, as OMP_NUM_THREADS) must be an integer in [1, \(TrainingOption.maxThreads)]")
            case "env":
                let allowed = "env must be an object of strings, e.g. {\"CUDA_VISIBLE_DEVICES\": \"\"}"
                guard case .object(let vars) = m.value.kind else {
                    throw fail(path, "expected an object, got \(m.value.typeName) \(m.value.shortText); \(allowed)")
                }
                var seen: Set<String> = []
                options.environment = []
                for e in vars {
                    let value = try string(e.value, path + "." + e.key, allowed)
                    guard !e.key.isEmpty, !e.key.contains("="), !e.key.contains("\u{0}"), !value.contains("\u{0}") else {
                        throw fail(path + "." + e.key, "not a variable name a process can have (empty, or with \"=\" or NUL); \(allowed)")
                    }
                    guard seen.insert(e.key).inserted else { throw fail(path + "." + e.key, "is given twice; \(allowed)") }
                    options.environment.append(.init(name: e.key, value: value))
                }
                options.environment.sort { $0.name < $1.name }
            case "working_dir":
                let allowed = "working_dir must be a non-empty string: the folder the script runs in (relative to where sgdr-search runs)"
                let dir = try string(m.value, path, allowed)
                guard !dir.isEmpty, !dir.contains("\u{0}") else { throw fail(path, "\(m.value.shortText) is not a folder; \(allowed)") }
                options.workingDirectory = dir
            default:  // timeout_s, epoch_timeout_s
                let what = m.key == "timeout_s" ? "timeout_s (seconds a whole trial may take)" : "epoch_timeout_s (seconds an epoch may take)"
                let allowed = "\(what) must be a number in (0, 1e7]"
                let x = try number(m.value, path, allowed)
                guard x > 0 && x <= 1e7 else { throw fail(path, "\(m.value.shortText) is out of range; \(allowed)") }
                if m.key == "timeout_s" { options.timeoutSeconds = x } else { options.epochTimeoutSeconds = x }
            }
        }
        guard hasCommand else {
            throw fail("trainer", "missing \"command\": the program and its arguments, e.g. \"command\": [\"python3\", \"train.py\"]")
        }
        return options
    }

    /// The `training` object, each key decoded by its row of `TrainingOption`'s table.
    func decodeTraining(_ v: JSONValue) throws(SpaceError) -> TrainingSettings {
        var settings = TrainingSettings(training: TrainingOptions(epochs: 10))
        var given: Set<TrainingOption> = []
        for m in try members(v, "training", allowed: SearchSpace.trainingKeys, what: "training") {
            guard let option = TrainingOption(rawValue: m.key) else { continue }  // members() allowed only these
            option.set(try optionValue(m.value, "training." + m.key, option), in: &settings)
            given.insert(option)
        }
        for option in given where !option.applies(to: settings) {
            throw fail("training." + option.name, option.notApplying(to: settings))
        }
        TrainingOption.applyDependentDefaults(to: &settings, given: given)
        // The engine's own checks (e.g. train_size + val_size within the 60,000-image training file).
        if let problem = settings.data.firstInvalid() {
            throw fail("training", problem.description)
        }
        if let problem = settings.training.firstInvalid() {
            throw fail("training", "\(problem)")
        }
        return settings
    }

    /// One training option's value, checked against its rule.
    func optionValue(_ v: JSONValue, _ path: String, _ option: TrainingOption) throws(SpaceError) -> OptionValue {
        let allowed = option.allowed
        switch option.rule {
        case .choice(let names):
            let s = try string(v, path, allowed)
            guard names.contains(s) else {
                let hint = closestKey(to: s, in: names).map { "did you mean \"\($0)\"? " } ?? ""
                throw fail(path, "unknown \(option.name) \"\(s)\"; \(hint)\(allowed)")
            }
            return .text(s)
        case .path:
            return .text(try string(v, path, allowed))
        case .integer(let range):
            return .integer(try integer(v, path, min: range.lowerBound, max: range.upperBound, allowed))
        case .number(let lo, let below):
            let x = try number(v, path, allowed)
            guard x >= lo && below.map({ x < $0 }) ?? true else {
                throw fail(path, "\(v.shortText) is out of range; \(allowed)")
            }
            return .number(x)
        case .flag:
            return .flag(try bool(v, path, allowed))
        case .widths(let count, let each):
            let items = try array(v, path, allowed)
            guard count.contains(items.count) else { throw fail(path, "has \(items.count) widths; \(allowed)") }
            var widths: [Int] = []
            for (i, item) in items.enumerated() {
                widths.append(try integer(item, "\(path)[\(i)]", min: each.lowerBound, max: each.upperBound, allowed))
            }
            return .widths(widths)
        }
    }

    /// `lr_min <= lr_max` in every configuration, and each configuration valid for the schedule.
    func checkRates(_ space: SearchSpace) throws(SpaceError) {
        func source(_ p: ScheduleParameter) -> String {
            if space.parameters.contains(where: { $0.parameter == p }) { return "parameters.\(p.rawValue)" }
            if space.fixed[p] != nil { return "fixed.\(p.rawValue)" }
            return "the default \(p.rawValue)"
        }
        switch space.strategy {
        case .grid, .random, .sobol, .tpe:
            guard space.fixed[.lrMin] != nil || space.parameters.contains(where: { $0.parameter == .lrMin }) else { return }
            let lrMin = space.parameters.first { $0.parameter == .lrMin }?.bounds.max ?? space.fixed[.lrMin]!
            let lrMax = space.parameters.first { $0.parameter == .lrMax }?.bounds.min ?? space.fixed[.lrMax] ?? SGDRParameters().lrMax
            if lrMin > lrMax {
                throw fail(source(.lrMin), "lr_min can be \(fmt(lrMin)), above lr_max \(fmt(lrMax)) (\(source(.lrMax))); lr_min must be <= lr_max in every configuration")
            }
        case .list:
            for (i, c) in space.configurations.enumerated() {
                let p = space.parameters(with: c)
                if p.lrMin > p.lrMax {
                    let key = c.contains { $0.0 == .lrMin } ? "configurations[\(i)].lr_min" : source(.lrMin)
                    throw fail(key, "lr_min \(fmt(p.lrMin)) is above lr_max \(fmt(p.lrMax)); lr_min must be <= lr_max in every configuration")
                }
            }
        }
        if space.baselines.isEmpty == false {
            let p = space.parameters(with: [])
            if p.lrMin > p.lrMax {
                throw fail(source(.lrMin), "the baselines' lr_min \(fmt(p.lrMin)) is above their lr_max \(fmt(p.lrMax)); lr_min must be <= lr_max")
            }
        }
    }
}
