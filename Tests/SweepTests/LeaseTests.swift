import Engine
import TrainingTypes
import Foundation
@testable import Sweep
import XCTest

/// The runner under a lease: heartbeats, a lost lease, trials of a silent host taken over.
final class LeaseTests: XCTestCase {
    final class Events: @unchecked Sendable {
        let lock = NSLock()
        var list: [String] = []
        var stolen = false
        func add(_ e: String) { lock.withLock { list.append(e) } }
    }

    func testALostLeaseStopsTheTrialWithoutWritingAndASilentHostsTrialIsTakenOver() throws {
        let s = try space(gridJSON)
        let store = MemoryTrialStore(lease: 0.4)
        _ = try store.create(SweepInfo(name: s.name, spaceJSON: s.source, spaceHash: s.canonicalHash, createdAt: 0))
        try store.addTrials(s.trialSpecs())
        var settings = SweepRunner.Settings()
        settings.isAbandoned = { _ in false }
        settings.lease = 0.4
        let events = Events()
        settings.onEvent = { event in
            switch event {
            case .started(let spec):
                events.add("started \(spec.id)")
                // The first trial is taken over by a worker on another host as soon as it starts
                // (as if A had been silent for a lease); that worker then goes silent itself.
                let steal = events.lock.withLock { () -> Bool in
                    defer { events.stolen = true }
                    return !events.stolen
                }
                if steal {
                    let taken = try? store.claim(owner: "hostB:2:2", isAbandoned: { $0 == "hostA:1:1" })
                    events.add("hostB took \(taken?.id ?? "nothing")")
                }
            case .interrupted(let spec): events.add("dropped \(spec.id)")
            case .finished(let r): events.add("finished \(r.spec.id)")
            case .epoch: break
            }
        }
        let runner = SweepRunner(store: store, executor: FakeExecutor(epochDelay: 0.03), concurrency: 1, owner: "hostA:1:1", settings: settings)
        XCTAssertEqual(try runner.run(), .exhausted)

        let first = s.trialSpecs()[0].id
        let list = events.lock.withLock { events.list }
        XCTAssertEqual(Array(list.prefix(3)), ["started \(first)", "hostB took \(first)", "dropped \(first)"])
        XCTAssertEqual(list.filter { $0 == "finished \(first)" }.count, 1, "\(list)")
        let records = try store.trials()
        XCTAssertTrue(records.allSatisfy { $0.status == .done }, "\(records.map(\.status))")
        let r = try XCTUnwrap(records.first { $0.spec.id == first })
        XCTAssertEqual(r.attempts, 3, "A, B (silent, its lease expired), A again")
        XCTAssertEqual(r.owner, "hostA:1:1")
        XCTAssertEqual(r.epochs.map(\.epoch), Array(1...r.spec.schedule.epochs))
        XCTAssertEqual(records.filter { $0.spec.id != first }.map(\.attempts), Array(repeating: 1, count: records.count - 1))
    }

    func testHeartbeatsKeepALongTrialOwned() throws {
        // Trials of about 0.3 s under a lease of 0.2 s: without heartbeats a second worker
        // (another host) would take them over; with them, each runs once.
        let s = try space(gridJSON)
        let store = MemoryTrialStore(lease: 0.2)
        _ = try store.create(SweepInfo(name: s.name, spaceJSON: s.source, spaceHash: s.canonicalHash, createdAt: 0))
        try store.addTrials(s.trialSpecs())
        let runners = ["hostA:1:1", "hostB:2:2"].map { owner -> SweepRunner in
            var settings = SweepRunner.Settings()
            settings.isAbandoned = { _ in false }
            settings.lease = 0.2
            let r = SweepRunner(store: store, executor: FakeExecutor(epochDelay: 0.05), concurrency: 2, owner: owner, settings: settings)
            return r
        }
        let errors = Events()
        DispatchQueue.concurrentPerform(iterations: 2) { i in
            do { _ = try runners[i].run() } catch { errors.add("\(error)") }
        }
        XCTAssertEqual(errors.list, [])
        let records = try store.trials()
        XCTAssertTrue(records.allSatisfy { $0.status == .done })
        XCTAssertEqual(records.map(\.attempts), Array(repeating: 1, count: records.count))
    }

    func testOwnerHostPart() {
        XCTAssertEqual(Owner.host(of: "node-7:123:456"), "node-7")
        XCTAssertEqual(Owner.host(of: "fe80::1:123:456"), "fe80::1")
        XCTAssertEqual(Owner.current(host: "h1").split(separator: ":").first, "h1")
        XCTAssertFalse(Owner.isAbandoned("h1:\(getpid()):0", host: "h2"), "another host's owner is never abandoned")
        XCTAssertTrue(Owner.isAbandoned("h1:\(Int32.max - 1):0", host: "h1"), "a pid that does not exist on this host")
    }
}
