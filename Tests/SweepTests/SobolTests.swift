@testable import App
import Foundation
import Schedules
@testable import Sweep
import XCTest

/// `"strategy": "sobol"`: the points against SciPy, the balance of the scrambled design, seeds,
/// growth, the space file's rules, and where the strategy shows.
final class SobolTests: XCTestCase {
    // MARK: Reference values (Tests/Fixtures/sobol_reference.py, SciPy 1.17.1)

    // scipy 1.17.1: qmc.Sobol(6, scramble=False).random(16) * 16
    static let scipyFirst16x16: [[Int]] = [
        [0, 0, 0, 0, 0, 0],
        [8, 8, 8, 8, 8, 8],
        [12, 4, 4, 4, 12, 12],
        [4, 12, 12, 12, 4, 4],
        [6, 6, 10, 14, 6, 2],
        [14, 14, 2, 6, 14, 10],
        [10, 2, 14, 10, 10, 14],
        [2, 10, 6, 2, 2, 6],
        [3, 5, 15, 7, 9, 5],
        [11, 13, 7, 15, 1, 13],
        [15, 1, 11, 3, 5, 9],
        [7, 9, 3, 11, 13, 1],
        [5, 3, 5, 9, 15, 7],
        [13, 11, 13, 1, 7, 15],
        [9, 7, 1, 13, 3, 11],
        [1, 15, 9, 5, 11, 3],
    ]

    // scipy 1.17.1: point n of qmc.Sobol(6, scramble=False) (fast_forward(n)) * 2^30
    static let scipyDeep: [(index: Int, x: [Int])] = [
        (100, [444596224, 276824064, 830472192, 780140544, 947912704, 796917760]),
        (255, [4194304, 1069547520, 826277888, 616562688, 658505728, 1052770304]),
        (256, [6291456, 534773760, 727711744, 316669952, 836763648, 115343360]),
        (1000, [235929600, 103809024, 556793856, 726663168, 300941312, 974127104]),
        (4095, [262144, 1010565120, 358875136, 968097792, 1009516544, 84672512]),
        (65535, [16384, 1073725440, 605372416, 817971200, 271499264, 586072064]),
        (100000, [65576960, 115515392, 1013161984, 666591232, 650207232, 1036886016]),
        (999999, [20038656, 964066304, 394126336, 38046720, 918287360, 660753408]),
    ]

    /// `d` parameters over [0, 1], so that a configuration's values are the unit point itself.
    static func unitDomains(_ d: Int) -> [ParameterDomain] {
        ScheduleParameter.allCases.prefix(d).map { ParameterDomain(parameter: $0, kind: .range(min: 0, max: 1, log: false, integer: false)) }
    }

    // MARK: (1) The unscrambled points are SciPy's (Joe & Kuo's table)

    func testUnscrambledFirstPointsMatchSciPy() {
        for d in [2, 3, 4, 6] {
            let s = SobolSampler(parameters: Self.unitDomains(d), seed: 12345, count: 16, scrambled: false)
            for (i, expected) in Self.scipyFirst16x16.enumerated() {
                XCTAssertEqual(s.point(at: i).map { $0 * 16 }, expected.prefix(d).map(Double.init), "d = \(d), point \(i)")
                // And through the sampler's mapping onto [0, 1] ranges.
                XCTAssertEqual(s.configuration(at: i).map(\.1), expected.prefix(d).map { Double($0) / 16 }, "d = \(d), point \(i)")
            }
        }
    }

    func testUnscrambledDeepPointsMatchSciPy() {
        // Past the initial m_1 ... m_s of every dimension: the recurrence, to 20 index bits.
        let s = SobolSampler(parameters: Self.unitDomains(6), seed: 0, count: 1_000_000, scrambled: false)
        for (index, x) in Self.scipyDeep {
            XCTAssertEqual(s.bitsOfPoint(at: index), x.map { UInt64($0) << 34 }, "point \(index)")
        }
    }

    // MARK: (2) Balance: what the scrambled design has and random draws lack

    /// Whether every interval [j/n, (j+1)/n) of every axis holds exactly one of the n points.
    static func everyAxisBalanced(_ points: [[Double]]) -> Bool {
        let n = points.count
        for axis in points[0].indices {
            var counts = [Int](repeating: 0, count: n)
            for p in points {
                let j = Int((p[axis] * Double(n)).rounded(.down))
                guard (0..<n).contains(j) else { return false }
                counts[j] += 1
            }
            if counts.contains(where: { $0 != 1 }) { return false }
        }
        return true
    }

    /// Whether each elementary interval [j/2^a, (j+1)/2^a) x [l/2^b, (l+1)/2^b), a + b = k, of axes
    /// 0 and 1 holds exactly one of the 2^k points (a (0, k, 2)-net).
    static func elementaryIntervalsBalanced(_ points: [[Double]], k: Int) -> Bool {
        precondition(points.count == 1 << k)
        for a in 0...k {
            let b = k - a
            var counts = [Int: Int]()
            for p in points {
                let x = Int((p[0] * Double(1 << a)).rounded(.down)), y = Int((p[1] * Double(1 << b)).rounded(.down))
                counts[x << 32 | y, default: 0] += 1
            }
            if counts.count != points.count || counts.values.contains(where: { $0 != 1 }) { return false }
        }
        return true
    }

    func testScrambledPowerOfTwoPrefixesAreBalancedAndRandomIsNot() {
        for seed: UInt64 in [0, 1, 7, 123_456_789] {
            let s = SobolSampler(parameters: Self.unitDomains(6), seed: seed, count: 256)
            for k in 1...8 {
                let points = (0..<(1 << k)).map { s.configuration(at: $0).map(\.1) }
                XCTAssertTrue(Self.everyAxisBalanced(points), "seed \(seed), n = \(1 << k)")
                XCTAssertTrue(Self.elementaryIntervalsBalanced(points, k: k), "seed \(seed), n = \(1 << k)")
            }
            // Any block of 2^k consecutive points starting at a multiple of 2^k too.
            let block = (64..<128).map { s.configuration(at: $0).map(\.1) }
            XCTAssertTrue(Self.everyAxisBalanced(block), "seed \(seed), points 64..<128")
        }
        // Plain random search over the same ranges, the same count and seed: holes and clumps.
        for k in [4, 5, 8] {
            let r = RandomSampler(parameters: Self.unitDomains(6), seed: 1, count: 1 << k)
            let points = (0..<(1 << k)).map { r.configuration(at: $0).map(\.1) }
            XCTAssertFalse(Self.everyAxisBalanced(points), "random, n = \(1 << k)")
            XCTAssertFalse(Self.elementaryIntervalsBalanced(points, k: k), "random, n = \(1 << k)")
        }
    }

    static let mixedSpace = """
        {"name": "s", "strategy": "STRATEGY", "trials": 16, "seed": 3,
         "parameters": {"t0": {"min": 1, "max": 8}, "tmult": {"values": [1, 2, 3, 4]},
                        "lr_max_compression": {"min": 1, "max": 16, "log": true},
                        "trigger_val_acc": {"min": 0, "max": 0.8}},
         "training": {"dataset": "synthetic", "epochs": 3}}
        """

    /// The balance through the space file's mapping: an integer range, a `values` list, a log range
    /// and a plain range, each of its 16 configurations counted per value or per 1/16 of the scale.
    func testMappingKeepsTheBalanceOnIntegersListsAndLogRanges() throws {
        func balanced(_ strategy: String) throws -> [String: Bool] {
            let s = try space(Self.mixedSpace.replacingOccurrences(of: "STRATEGY", with: strategy))
            let configurations = s.expandConfigurations()
            XCTAssertEqual(configurations.count, 16)
            func counts(_ f: (Configuration) -> Int) -> [Int: Int] {
                configurations.reduce(into: [:]) { $0[f($1), default: 0] += 1 }
            }
            let t0 = counts { Int($0.swept["t0"]!) }
            let tmult = counts { Int($0.swept["tmult"]!) }
            let c = counts { Int((Foundation.log($0.swept["lr_max_compression"]!) / Foundation.log(16.0) * 16).rounded(.down)) }
            let trigger = counts { Int(($0.swept["trigger_val_acc"]! / 0.8 * 16).rounded(.down)) }
            return [
                "t0": t0 == Dictionary(uniqueKeysWithValues: (1...8).map { ($0, 2) }),
                "tmult": tmult == [1: 4, 2: 4, 3: 4, 4: 4],
                "lr_max_compression": c == Dictionary(uniqueKeysWithValues: (0..<16).map { ($0, 1) }),
                "trigger_val_acc": trigger == Dictionary(uniqueKeysWithValues: (0..<16).map { ($0, 1) }),
            ]
        }
        XCTAssertEqual(try balanced("sobol"), ["t0": true, "tmult": true, "lr_max_compression": true, "trigger_val_acc": true])
        XCTAssertTrue(try balanced("random").values.contains(false), "random draws are not balanced (seed 3)")
        // Every value is inside its range, integers whole.
        for c in try space(Self.mixedSpace.replacingOccurrences(of: "STRATEGY", with: "sobol")).expandConfigurations() {
            XCTAssertTrue((1...8).contains(c.schedule.parameters.t0))
            XCTAssertTrue((1.0...16).contains(c.swept["lr_max_compression"]!))
            XCTAssertTrue((0.0...0.8).contains(c.swept["trigger_val_acc"]!))
        }
    }

    // MARK: (3) Seeds and growth

    func testDeterministicPerSeedAndGrowsWithTheSamePrefix() throws {
        let json = Self.mixedSpace.replacingOccurrences(of: "STRATEGY", with: "sobol")
        let a = try space(json).trialSpecs(), b = try space(json).trialSpecs()
        XCTAssertEqual(a, b, "the same space gives the same trials")
        let other = try space(json.replacingOccurrences(of: "\"seed\": 3", with: "\"seed\": 4")).trialSpecs()
        XCTAssertEqual(other.count, a.count)
        for (x, y) in zip(a, other) { XCTAssertNotEqual(x.swept["trigger_val_acc"], y.swept["trigger_val_acc"], x.id) }
        // Raising trials appends; the first 16 are unchanged (numbers, ids, values, seeds).
        let longer = try space(json.replacingOccurrences(of: "\"trials\": 16", with: "\"trials\": 40")).trialSpecs()
        XCTAssertEqual(longer.count, 40)
        XCTAssertEqual(Array(longer.prefix(16)), a)
        // A configuration is computed alone, the same as in the full expansion.
        let s = try space(json.replacingOccurrences(of: "\"trials\": 16", with: "\"trials\": 40"))
        XCTAssertEqual(s.configuration(at: 37), s.expandConfigurations()[37])
        // Scrambled: not the plain sequence, whose first point is the origin.
        let plain = SobolSampler(parameters: Self.unitDomains(2), seed: 3, count: 4, scrambled: false)
        let scrambled = SobolSampler(parameters: Self.unitDomains(2), seed: 3, count: 4)
        XCTAssertEqual(plain.point(at: 0), [0, 0])
        XCTAssertNotEqual(scrambled.point(at: 0), [0, 0])
        // Dimension d's scramble depends on the seed and d only: fewer parameters, the same axes.
        let six = SobolSampler(parameters: Self.unitDomains(6), seed: 3, count: 4)
        XCTAssertEqual(scrambled.point(at: 3), Array(six.point(at: 3).prefix(2)))
        // Different sweep seeds, different scrambles on every axis.
        let otherSeed = SobolSampler(parameters: Self.unitDomains(6), seed: 4, count: 4)
        for axis in 0..<6 { XCTAssertNotEqual(six.point(at: 1)[axis], otherSeed.point(at: 1)[axis], "axis \(axis)") }
    }

    // MARK: (4) The space file's rules

    func testSpaceRules() throws {
        let base = #""name": "x", "strategy": "sobol""#
        assertError("{\(base), \"parameters\": {\"t0\": {\"min\": 1, \"max\": 5}}}",
                      path: "trials", contains: ["missing", "\"sobol\" needs \"trials\"", "power of 2"])
        assertError("{\(base), \"trials\": 0, \"parameters\": {\"t0\": {\"min\": 1, \"max\": 5}}}",
                      path: "trials", contains: ["0 is out of range", "[1, 1000000]"])
        assertError("{\(base), \"trials\": 4, \"configurations\": [{\"t0\": 1}], \"parameters\": {\"t0\": {\"values\": [1]}}}",
                      path: "configurations", contains: ["only allowed with \"strategy\": \"list\"", "a sobol search takes \"parameters\""])
        assertError("{\(base), \"trials\": 4}", path: "parameters", contains: ["missing", "a sobol search needs at least one"])
        assertError("{\(base), \"trials\": 4, \"parameters\": {\"t0\": {\"values\": [1], \"min\": 1}}}",
                      path: "parameters.t0.min", contains: ["not allowed beside \"values\""])
        assertError("{\(base), \"trials\": 4, \"parameters\": {\"lr_max_compression\": {\"min\": 0, \"max\": 5, \"log\": true}}}",
                      path: "parameters.lr_max_compression.min", contains: ["log scale"])
        // The grid's rules name sobol where it applies.
        assertError(#"{"name": "x", "trials": 3, "parameters": {"t0": {"values": [1]}}}"#,
                      path: "trials", contains: ["only allowed with \"strategy\": \"random\", \"sobol\" or \"tpe\"", "this space is \"grid\""])
        assertError(#"{"name": "x", "parameters": {"t0": {"min": 1, "max": 5}}}"#,
                      path: "parameters.t0", contains: ["only allowed with \"strategy\": \"random\", \"sobol\" or \"tpe\""])
        assertError(#"{"name": "x", "strategy": "sobel", "parameters": {"t0": {"values": [1]}}}"#,
                      path: "strategy", contains: ["did you mean \"sobol\"?", "\"sobol\""])
        // A values list (and all six parameters, the most there are) works.
        let s = try space("""
            {\(base), "trials": 8, "seed": 2, "baselines": ["cosine"],
             "parameters": {"tmult": {"values": [1, 2]}, "t0": {"min": 1, "max": 30, "log": true},
                            "lr_max": {"min": 0.01, "max": 0.5, "log": true}, "lr_min": {"values": [0.0001, 0.001]},
                            "lr_max_compression": {"min": 1, "max": 10}, "trigger_val_acc": {"values": [0.0, 0.8]}}}
            """)
        XCTAssertEqual(s.strategy, .sobol)
        XCTAssertEqual(s.sweptNames, ["tmult", "t0", "lr_max", "lr_min", "lr_max_compression", "trigger_val_acc"])
        XCTAssertEqual(s.configurationCount, 9)
        XCTAssertEqual(s.trialCount, 9)
        XCTAssertEqual(Set(s.expandConfigurations().dropFirst().map { $0.swept["tmult"]! }), [1, 2])
        XCTAssertEqual(s.expandConfigurations().dropFirst().filter { $0.swept["lr_min"]! == 0.001 }.count, 4)
        // lr_min <= lr_max is checked over the ranges, as for random.
        assertError("{\(base), \"trials\": 4, \"parameters\": {\"lr_max\": {\"min\": 0.01, \"max\": 0.5}, \"lr_min\": {\"values\": [0.02]}}}",
                      path: "parameters.lr_min", contains: ["lr_min must be <= lr_max"])
    }

    // MARK: Where the strategy shows

    func testCanonicalFormAndSettingsNameSobol() throws {
        let sobol = try space(Self.mixedSpace.replacingOccurrences(of: "STRATEGY", with: "sobol"))
        let random = try space(Self.mixedSpace.replacingOccurrences(of: "STRATEGY", with: "random"))
        XCTAssertEqual(sobol.canonicalEntries().first { $0.path == "strategy" }?.value, "sobol")
        XCTAssertFalse(sobol.canonicalEntries().contains { $0.path == "trials" }, "trials may grow: not in the hash")
        XCTAssertTrue(sobol.canonicalEntries(includingMutable: true).contains(CanonicalEntry(path: "trials", value: "16")))
        XCTAssertNotEqual(sobol.canonicalHash, random.canonicalHash)
        XCTAssertEqual(sobol.changes(from: random), ["strategy: random -> sobol"])
        XCTAssertEqual(sobol.canonicalHash,
                       try space(Self.mixedSpace.replacingOccurrences(of: "STRATEGY", with: "sobol")
                                  .replacingOccurrences(of: "\"trials\": 16", with: "\"trials\": 64")).canonicalHash)
        XCTAssertTrue(sobol.settingsSummary.contains { $0.key == "strategy" && $0.value == "sobol" })
        XCTAssertTrue(sobol.reportSettings.contains { $0.key == "strategy" && $0.value == "sobol" })
    }

    /// A sobol sweep run (with the fake trainer), grown, refused to shrink; the leaderboard,
    /// `best --json` and `status` show its configurations and strategy.
    func testSweepRunsGrowsAndShows() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sobol-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        func write(_ trials: Int) throws -> String {
            let url = dir.appendingPathComponent("space-\(trials).json")
            let json = """
                {"name": "sob", "strategy": "sobol", "trials": \(trials), "seed": 5, "baselines": ["constant"],
                 "parameters": {"t0": {"min": 1, "max": 6}, "lr_max_compression": {"min": 1, "max": 10, "log": true}},
                 "fixed": {"lr_max": 0.05}, "training": {"epochs": 4}}
                """
            try Data(json.utf8).write(to: url)
            return url.path
        }
        let stores = Stores()
        let db = dir.appendingPathComponent("sob.sqlite").path
        let (console, _) = Console.capturing()
        XCTAssertEqual(SweepCommands.run(spaceFile: try write(4), db: db, options: options(), openStore: stores.open, console: console), 0)
        let first = try stores.stores[db]!.trials()
        XCTAssertEqual(first.count, 5)
        let counter = FakeExecutor.Counter()
        XCTAssertEqual(SweepCommands.run(spaceFile: try write(8), db: db, options: options(FakeExecutor(calls: counter)), openStore: stores.open, console: console), 0)
        XCTAssertEqual(Set(counter.ids), Set((4..<8).map { "sgdr-000\($0).r0" }), "only the new points run")
        let grown = try stores.stores[db]!.trials()
        XCTAssertEqual(Array(grown.prefix(5)), first, "existing trials untouched")
        // The stored configurations are the sampler's points.
        let s = try SearchSpace.load(path: try write(8))
        for t in grown where t.spec.configuration.hasPrefix("sgdr-") {
            let i = Int(t.spec.configuration.dropFirst(5))!
            let expected = s.sampler.configuration(at: i)
            XCTAssertEqual(t.spec.swept["t0"], expected[0].1)
            XCTAssertEqual(t.spec.swept["lr_max_compression"], expected[1].1)
        }
        // Shrinking is refused, naming the strategy.
        let (c2, o2) = Console.capturing()
        XCTAssertEqual(SweepCommands.run(spaceFile: try write(3), db: db, options: options(), openStore: stores.open, console: c2), 1)
        XCTAssertTrue(o2().err.contains("trials: 8 -> 3: a sobol search can only grow"), o2().err)
        // Leaderboard: the swept columns, every configuration.
        let (c3, o3) = Console.capturing()
        XCTAssertEqual(SweepCommands.leaderboard(db: db, csv: "-", top: nil, openStore: stores.open, console: c3), 0)
        let lines = o3().out.components(separatedBy: "\r\n").filter { !$0.isEmpty }
        XCTAssertTrue(lines[0].hasPrefix("rank,configuration,schedule,t0,lr_max_compression,"), lines[0])
        XCTAssertEqual(Set(lines.dropFirst().map { $0.components(separatedBy: ",")[1] }),
                       Set(["constant"] + (0..<8).map { "sgdr-000\($0)" }))
        // best --json: the best configuration's values are its point's.
        let (c4, o4) = Console.capturing()
        XCTAssertEqual(SweepCommands.best(db: db, json: true, openStore: stores.open, console: c4), 0)
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(o4().out.utf8)) as? [String: Any])
        let best = try XCTUnwrap(object["best"] as? [String: Any])
        let id = try XCTUnwrap(best["configuration"] as? String)
        let point = s.sampler.configuration(at: try XCTUnwrap(Int(id.dropFirst(5))))
        XCTAssertEqual(best["t0"] as? Double, point[0].1)
        // (Foundation's JSON parser may miss the last digit of the shortest form best writes.)
        XCTAssertEqual(try XCTUnwrap(best["lr_max_compression"] as? Double), point[1].1, accuracy: 1e-13)
        // status names the strategy.
        let (c5, o5) = Console.capturing()
        XCTAssertEqual(SweepCommands.status(db: db, openStore: stores.open, console: c5, isAbandoned: { _ in false }), 0)
        XCTAssertTrue(o5().out.contains("sobol, 9 configurations x 1 repeat = 9 trials"), o5().out)
    }
}
