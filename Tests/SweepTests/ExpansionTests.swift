import Engine
import TrainingTypes
import Foundation
import Schedules
@testable import Sweep
import XCTest

final class ExpansionTests: XCTestCase {
    func testGridIsTheCartesianProductLastParameterFastest() throws {
        let s = try space(gridJSON)
        let configs = s.expandConfigurations()
        XCTAssertEqual(configs.map(\.id), ["step", "cosine"] + (0..<8).map { String(format: "sgdr-%04d", $0) })
        let sgdr = configs.filter { $0.schedule.kind == .sgdr }
        let triples = sgdr.map { [$0.swept["t0"]!, $0.swept["tmult"]!, $0.swept["lr_max_compression"]!] }
        XCTAssertEqual(triples, [[2, 1, 1], [2, 1, 5], [2, 2, 1], [2, 2, 5], [5, 1, 1], [5, 1, 5], [5, 2, 1], [5, 2, 5]])
        XCTAssertEqual(sgdr[5].schedule.parameters, SGDRParameters(lrMax: 0.1, t0: 5, tmult: 1, lrMaxCompression: 5))
        XCTAssertEqual(Set(configs.map(\.schedule.epochs)), [6])
        XCTAssertEqual(configs[0].schedule.kind, .step)
        XCTAssertEqual(configs[0].swept, [:])
    }

    func testTrialSpecsNumbersIdsAndSeeds() throws {
        var json = gridJSON.replacingOccurrences(of: "\"seed\": 7", with: "\"seed\": 7, \"repeats\": 3")
        let s = try space(json)
        let specs = s.trialSpecs()
        XCTAssertEqual(specs.count, 10 * 3)
        XCTAssertEqual(specs.map(\.number), Array(0..<30))
        XCTAssertEqual(specs[0].id, "step.r0")
        XCTAssertEqual(specs[2].id, "step.r2")
        XCTAssertEqual(specs[6].id, "sgdr-0000.r0")
        XCTAssertEqual(specs[16].id, "sgdr-0003.r1")
        XCTAssertEqual(Set(specs.map(\.id)).count, specs.count)
        // Common random numbers: the seed depends on the repeat only.
        for spec in specs { XCTAssertEqual(spec.seed, specs[spec.repeatIndex].seed) }
        XCTAssertEqual(Set(specs.prefix(3).map(\.seed)).count, 3)
        XCTAssertEqual(specs[0].seed, Seeds.training(sweepSeed: 7, repeatIndex: 0))
        // Another sweep seed changes every training seed.
        json = json.replacingOccurrences(of: "\"seed\": 7", with: "\"seed\": 8")
        let other = try space(json).trialSpecs()
        for r in 0..<3 { XCTAssertNotEqual(other[r].seed, specs[r].seed) }
    }

    func randomJSON(trials: Int, seed: Int = 3) -> String {
        """
        { "name": "r", "strategy": "random", "trials": \(trials), "seed": \(seed),
          "parameters": { "t0": {"min": 2, "max": 20, "log": true}, "tmult": {"values": [1, 1.5, 2]},
                          "lr_max": {"min": 0.01, "max": 0.5, "log": true}, "trigger_val_acc": {"min": 0, "max": 0.9},
                          "lr_max_compression": {"min": 1, "max": 10, "int": true} },
          "baselines": ["cosine"], "training": {"epochs": 4} }
        """
    }

    func testRandomIsDeterministicInRangeAndExtendsWhenTrialsGrow() throws {
        let a = try space(randomJSON(trials: 50)).trialSpecs()
        let b = try space(randomJSON(trials: 50)).trialSpecs()
        XCTAssertEqual(a, b)
        let longer = try space(randomJSON(trials: 80)).trialSpecs()
        XCTAssertEqual(Array(longer.prefix(a.count)), a, "raising trials extends the same sequence, numbers unchanged")
        XCTAssertEqual(longer.count, 81)
        let sgdr = a.filter { $0.schedule.kind == .sgdr }
        for spec in sgdr {
            let p = spec.schedule.parameters
            XCTAssertTrue((2...20).contains(p.t0))
            XCTAssertTrue([1, 1.5, 2].contains(p.tmult))
            XCTAssertTrue(p.lrMax >= 0.01 && p.lrMax <= 0.5)
            XCTAssertEqual(p.lrMin, p.lrMax / 100, accuracy: 1e-15)
            XCTAssertTrue(p.triggerValAcc >= 0 && p.triggerValAcc <= 0.9)
            XCTAssertEqual(p.lrMaxCompression, p.lrMaxCompression.rounded())
            XCTAssertNil(p.firstInvalid())
            XCTAssertEqual(spec.swept["t0"], Double(p.t0))
        }
        // Draws spread over the range: log-uniform lr_max has about half its draws below the geometric mean.
        let below = sgdr.filter { $0.schedule.parameters.lrMax < (0.01 * 0.5).squareRoot() }.count
        XCTAssertTrue((10...40).contains(below), "\(below)")
        XCTAssertEqual(Set(sgdr.map(\.schedule.parameters.tmult)), [1, 1.5, 2])
        XCTAssertGreaterThan(Set(sgdr.map(\.schedule.parameters.t0)).count, 8)
        // Another seed, other configurations.
        let c = try space(randomJSON(trials: 50, seed: 4)).trialSpecs()
        XCTAssertNotEqual(c.map(\.schedule), a.map(\.schedule))
    }

    func testRandomSamplerConfigurationsAreIndependentOfEachOther() throws {
        let s = try space(randomJSON(trials: 10))
        let sampler = s.sampler
        let forward = (0..<10).map { sampler.configuration(at: $0).map(\.1) }
        let backward = (0..<10).reversed().map { sampler.configuration(at: $0).map(\.1) }.reversed()
        XCTAssertEqual(forward, Array(backward))
    }

    func testListKeepsConfigurationsAsGiven() throws {
        let s = try space("""
            { "name": "l", "strategy": "list", "repeats": 2,
              "configurations": [ {"t0": 10, "tmult": 2, "lr_max_compression": 5}, {"t0": 24, "tmult": 1, "lr_max_compression": 100, "lr_max": 0.05} ],
              "fixed": {"trigger_val_acc": 0.85}, "baselines": ["step"], "training": {"epochs": 30} }
            """)
        XCTAssertEqual(s.sweptNames, ["t0", "tmult", "lr_max_compression", "lr_max"])
        let configs = s.expandConfigurations()
        XCTAssertEqual(configs.map(\.id), ["step", "sgdr-0000", "sgdr-0001"])
        XCTAssertEqual(configs[1].schedule.parameters, SGDRParameters(t0: 10, tmult: 2, lrMaxCompression: 5, triggerValAcc: 0.85))
        XCTAssertEqual(configs[2].schedule.parameters, SGDRParameters(lrMax: 0.05, t0: 24, tmult: 1, lrMaxCompression: 100, triggerValAcc: 0.85))
        XCTAssertEqual(s.trialSpecs().count, 6)
    }

    func testSeedsAndRNG() {
        var a = Xoshiro256(seed: 1), b = Xoshiro256(seed: 1), c = Xoshiro256(seed: 2)
        let xs = (0..<100).map { _ in a.next() }
        XCTAssertEqual(xs, (0..<100).map { _ in b.next() })
        XCTAssertNotEqual(xs, (0..<100).map { _ in c.next() })
        var r = Xoshiro256(seed: 9)
        var counts = [0, 0, 0]
        for _ in 0..<3000 { counts[r.nextInt(in: 0...2)] += 1 }
        for n in counts { XCTAssertTrue((850...1150).contains(n), "\(counts)") }
        XCTAssertNotEqual(Seeds.training(sweepSeed: 0, repeatIndex: 0), Seeds.configuration(sweepSeed: 0, index: 0))
        XCTAssertNotEqual(Seeds.training(sweepSeed: 0, repeatIndex: 1), Seeds.training(sweepSeed: 1, repeatIndex: 0))
    }
}

final class HashTests: XCTestCase {
    func testSHA256KnownAnswers() {
        XCTAssertEqual(SHA256.hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        XCTAssertEqual(SHA256.hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        XCTAssertEqual(SHA256.hex(String(repeating: "a", count: 1000)),
                       "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3")
    }

    func testHashIgnoresLayoutTrialsAndConcurrency() throws {
        let a = try space(#"{"name": "x", "strategy": "random", "trials": 5, "parameters": {"t0": {"min": 1, "max": 9}}}"#)
        let b = try space("""
            {
              "parameters": {"t0": {"max": 9.0, "min": 1}},
              "concurrency": 1, "seed": 0, "trials": 50,
              "strategy": "random", "name": "x", "repeats": 1, "training": {"epochs": 10}
            }
            """)
        XCTAssertEqual(a.canonicalHash, b.canonicalHash)
        XCTAssertEqual(a.canonicalHash.count, 64)
        XCTAssertEqual(b.changes(from: a), [])
    }

    func testHashChangesAndChangesAreListed() throws {
        let a = try space(gridJSON)
        let b = try space(gridJSON.replacingOccurrences(of: "\"epochs\": 6", with: "\"epochs\": 7")
            .replacingOccurrences(of: "[2, 5]", with: "[2, 6]"))
        XCTAssertNotEqual(a.canonicalHash, b.canonicalHash)
        XCTAssertEqual(b.changes(from: a), ["parameters.t0.values: [2, 5] -> [2, 6]", "training.epochs: 6 -> 7"])
        let reordered = try space(gridJSON.replacingOccurrences(
            of: #""t0": {"values": [2, 5]}, "tmult": {"values": [1, 2]}"#, with: #""tmult": {"values": [1, 2]}, "t0": {"values": [2, 5]}"#))
        XCTAssertNotEqual(a.canonicalHash, reordered.canonicalHash, "parameter order is the grid's order")
        let seeded = try space(gridJSON.replacingOccurrences(of: "\"seed\": 7", with: "\"seed\": 8"))
        XCTAssertEqual(seeded.changes(from: a), ["seed: 7 -> 8"])
    }
}
