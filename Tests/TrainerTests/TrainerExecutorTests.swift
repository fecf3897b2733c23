import Foundation
import ProcessTestSupport
import Schedules
import Sweep
import TrainingTypes
import XCTest
@testable import TrainerProcess

/// The trainer executor against real child processes (python3 scripts in Tests/Fixtures/trainers):
/// the protocol's happy path, and every fault of issue 18's list as a failed trial with its
/// one-line reason.
final class TrainerExecutorTests: XCTestCase {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fixtures/trainers")

    func spec(epochs: Int = 4, kind: ScheduleKind = .sgdr, seed: UInt64 = 7) -> TrialSpec {
        let p = SGDRParameters(lrMax: 0.1, lrMin: 0.001, t0: 2, tmult: 1, lrMaxCompression: 1, triggerValAcc: 0)
        return TrialSpec(id: "sgdr-0000.r0", number: 0, configuration: "sgdr-0000", repeatIndex: 0, seed: seed,
                         schedule: ScheduleConfig(kind: kind, parameters: p, epochs: epochs), swept: ["t0": 2])
    }

    func executor(_ command: [String], epochTimeout: Double = 60, timeout: Double? = nil,
                  env: [TrainerOptions.EnvironmentVariable] = [], threads: Int = 1, workingDir: String? = nil) -> TrainerExecutor {
        var e = TrainerExecutor(trainer: TrainerOptions(command: command, epochs: 4, threads: threads, environment: env,
                                                        workingDirectory: workingDir, timeoutSeconds: timeout,
                                                        epochTimeoutSeconds: epochTimeout),
                                sweepName: "test-sweep")
        e.exitGraceSeconds = 5
        return e
    }

    func faulty(_ mode: String, _ arg: String? = nil) -> [String] {
        ["python3", Self.fixtures.appendingPathComponent("faulty_trainer.py").path, mode] + (arg.map { [$0] } ?? [])
    }

    /// Runs `spec` and returns the outcome or the fault's text, and the epochs reported.
    func run(_ e: TrainerExecutor, _ s: TrialSpec? = nil, cancelAfter: Int? = nil) -> (Result<ExecutionOutcome, TrainerFault>, [EpochMetrics]) {
        var epochs: [EpochMetrics] = []
        do {
            let outcome = try e.execute(s ?? spec(), onEpoch: { epochs.append($0) },
                                        isCancelled: { cancelAfter.map { epochs.count >= $0 } ?? false })
            return (.success(outcome), epochs)
        } catch let fault as TrainerFault {
            return (.failure(fault), epochs)
        } catch {
            XCTFail("not a TrainerFault: \(error)")
            return (.failure(TrainerFault("\(error)")), epochs)
        }
    }

    func assertFault(_ e: TrainerExecutor, contains parts: [String], epochs expected: Int?,
                     file: StaticString = #filePath, line: UInt = #line) {
        let (result, epochs) = run(e)
        guard case .failure(let fault) = result else {
            return XCTFail("expected a fault, got \(result)", file: file, line: line)
        }
        for part in parts {
            XCTAssertTrue(fault.description.contains(part), "\(fault.description) lacks \(part)", file: file, line: line)
        }
        XCTAssertFalse(fault.description.contains("\n"), "one line: \(fault.description)", file: file, line: line)
        if let expected { XCTAssertEqual(epochs.count, expected, "epochs reported before the fault", file: file, line: line) }
    }

    // MARK: the protocol

    func testTheToyTrainerGetsTheSchedulesRatesAndReportsEveryEpoch() throws {
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("toy-\(UUID().uuidString).jsonl")
        defer { try? FileManager.default.removeItem(at: log) }
        let e = executor(["python3", Self.fixtures.appendingPathComponent("toy_trainer.py").path],
                         env: [.init(name: "TOY_LOG", value: log.path)])
        let (result, epochs) = run(e)
        XCTAssertEqual(try result.get(), .completed)
        // t0 = 2, tmult = 1, c = 1 (plain SGDR), lr_max 0.1, lr_min 0.001, trigger 0: by
        // docs/SCHEDULE.md, lr = lr_min + (lr_max - lr_min) (1 + cos(pi T_cur / 2)) / 2 with
        // T_cur = 1, 2, 1, 2 (the first scheduled epoch has T_cur = 1; a cycle ends at lr_min).
        let half = 0.001 + (0.1 - 0.001) * (1 + cos(Double.pi / 2)) / 2
        XCTAssertEqual(epochs.map(\.lr), [half, 0.001, half, 0.001])
        XCTAssertEqual(epochs.map(\.epoch), [1, 2, 3, 4])
        // What the script received is what the executor recorded, bit for bit.
        let lines = try String(contentsOf: log, encoding: .utf8).split(separator: "\n")
        let received = try lines.map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
        XCTAssertEqual(received.map { $0["lr"] as! Double }, epochs.map(\.lr))
        XCTAssertEqual(received.map { $0["val_acc"] as! Double }, epochs.map(\.valAcc))
        for m in epochs {
            XCTAssertTrue((0...1).contains(m.valAcc))
            XCTAssertTrue(m.trainLoss.isFinite && m.valLoss.isFinite && m.trainAcc.isFinite)
            XCTAssertTrue(m.trainSeconds >= 0)
        }
    }

    func testTheSameSeedGivesTheSameEpochsAndAnotherSeedOthers() throws {
        let e = executor(["python3", Self.fixtures.appendingPathComponent("toy_trainer.py").path])
        let (_, a) = run(e, spec(seed: 11))
        let (_, b) = run(e, spec(seed: 11))
        let (_, c) = run(e, spec(seed: 12))
        XCTAssertEqual(a.map(\.valLoss), b.map(\.valLoss))
        XCTAssertNotEqual(a.map(\.valLoss), c.map(\.valLoss))
    }

    func testTheStartMessageCarriesTheTrialAndTheSchedule() {
        let text = TrainerMessage.start(spec(), sweep: "s", epochs: 4, threads: 2)
        XCTAssertEqual(text, """
            {"type":"start","protocol":1,"sweep":"s","trial":"sgdr-0000.r0","number":0,"configuration":"sgdr-0000","repeat":0,"seed":7,"epochs":4,"threads":2,"schedule":{"kind":"sgdr","lr_max":0.1,"lr_min":0.001,"t0":2,"tmult":1,"lr_max_compression":1,"trigger_val_acc":0},"swept":{"t0":2}}

            """)
        XCTAssertEqual(TrainerMessage.epoch(3, lr: 0.1 + 0.2), "{\"type\":\"epoch\",\"epoch\":3,\"lr\":0.30000000000000004}\n")
    }

    func testThreadsEnvironmentAndWorkingDirectoryReachTheTrainer() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("wd-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let real = dir.resolvingSymlinksInPath().path
        let e = executor(faulty("env", real), env: [.init(name: "FAULTY_EXTRA", value: "42")], threads: 3, workingDir: dir.path)
        let (result, epochs) = run(e)
        XCTAssertEqual(try result.get(), .completed)
        XCTAssertEqual(epochs.first?.trainLoss, 3, "OMP_NUM_THREADS = threads")
        XCTAssertEqual(epochs.first?.valLoss, 42, "trainer.env")
        XCTAssertEqual(epochs.first?.trainAcc, 1, "runs in working_dir")
    }

    func testMissingMetricsAreNaNAndTheTrainTimeIsMeasured() throws {
        let (result, epochs) = run(executor(faulty("good")))
        XCTAssertEqual(try result.get(), .completed)
        XCTAssertEqual(epochs.map(\.valAcc), [0.51, 0.52, 0.53, 0.54])
        XCTAssertTrue(epochs.allSatisfy { $0.trainLoss.isNaN && $0.valLoss.isNaN && $0.trainAcc.isNaN })
        XCTAssertTrue(epochs.allSatisfy { $0.trainSeconds >= 0 && $0.trainSeconds.isFinite })
    }

    func testOtherNumbersAreKeptAsExtraMetrics() throws {
        let (result, epochs) = run(executor(faulty("extra")))
        XCTAssertEqual(try result.get(), .completed)
        XCTAssertEqual(epochs.map { $0.extra["top5_acc"] }, [0.901, 0.902, 0.903, 0.904])
        XCTAssertEqual(epochs.map { $0.extra["lr_seen"] }, epochs.map(\.lr), "the trainer saw the rate the tool recorded")
        XCTAssertEqual(Set(epochs.flatMap(\.extra.keys)), ["top5_acc", "lr_seen"], "a string is not a metric")
    }

    func testADivergedAnswerEndsTheTrialAsDiverged() throws {
        let (result, epochs) = run(executor(faulty("diverge")))
        XCTAssertEqual(try result.get(), .diverged)
        XCTAssertEqual(epochs.count, 1)
    }

    func testCancellingStopsTheTrainer() throws {
        let (result, epochs) = run(executor(faulty("good")), cancelAfter: 2)
        XCTAssertEqual(try result.get(), .cancelled)
        XCTAssertEqual(epochs.count, 2)
    }

    // MARK: faults

    func testAProgramThatIsNotThereIsAFailedTrial() {
        assertFault(executor(["no-such-trainer-program-x"]), contains: ["cannot start the trainer", "no-such-trainer-program-x was not found on PATH"], epochs: 0)
        let e = executor(["no-such-trainer-program-x"])
        XCTAssertEqual(e.startProblem(), "trainer.command[0]: no-such-trainer-program-x was not found on PATH")
    }

    func testAFileThatIsNotExecutableIsAFailedTrial() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("plain-\(UUID().uuidString).py")
        try "print(1)\n".write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        assertFault(executor([file.path]), contains: ["is not an executable file"], epochs: 0)
    }

    func testAMissingWorkingDirectoryIsNamed() {
        let e = executor(faulty("good"), workingDir: "/no/such/folder/here")
        XCTAssertEqual(e.startProblem(), "trainer.working_dir: /no/such/folder/here is not a folder that exists")
    }

    func testANonZeroExitIsAFailedTrialWithTheStderrTail() {
        assertFault(executor(faulty("exit1")),
                    contains: ["the trainer exited before answering epoch 1 of 4", "(exit status 1)",
                               "its stderr ended with: ZeroDivisionError: division by zero"], epochs: 0)
    }

    func testExitingBeforeTheLastEpochIsAFailedTrial() {
        assertFault(executor(faulty("exit_at", "3")), contains: ["exited before answering epoch 3 of 4", "(exit status 0)"], epochs: 2)
    }

    func testACrashBySignalIsAFailedTrial() {
        assertFault(executor(faulty("signal")), contains: ["epoch 2", "killed by signal 11 (SIGSEGV)"], epochs: 1)
    }

    func testAHangIsStoppedByTheEpochTimeout() {
        assertFault(executor(faulty("hang"), epochTimeout: 1), contains: ["epoch 2 took more than epoch_timeout_s = 1 s"], epochs: 1)
    }

    func testASlowTrialIsStoppedByTheTrialTimeout() {
        assertFault(executor(faulty("slow", "0.4"), epochTimeout: 60, timeout: 1),
                    contains: ["the trial took more than timeout_s = 1 s"], epochs: nil)
    }

    func testALineThatIsNotJSONIsAFailedTrial() {
        assertFault(executor(faulty("notjson")), contains: ["the answer to epoch 1 is not JSON", "epoch 1 done", "print logs to stderr"], epochs: 0)
    }

    func testAnAnswerThatIsNotAnObjectIsAFailedTrial() {
        assertFault(executor(faulty("notobject")), contains: ["the answer to epoch 1 is not a JSON object: [1, 2]"], epochs: 0)
    }

    func testAnAnswerWithoutValAccIsAFailedTrial() {
        assertFault(executor(faulty("noacc")), contains: ["has no \"val_acc\""], epochs: 0)
    }

    func testAValAccOutsideZeroOneIsAFailedTrial() {
        assertFault(executor(faulty("percent")), contains: ["\"val_acc\" is 85.0; it must be a number in [0, 1]"], epochs: 0)
        assertFault(executor(faulty("stringacc")), contains: ["\"val_acc\" is \"0.85\""], epochs: 0)
    }

    func testAWrongEpochNumberIsAFailedTrial() {
        assertFault(executor(faulty("badepoch")), contains: ["the answer to epoch 1 is for epoch 2"], epochs: 0)
    }

    func testARepeatedEpochIsAFailedTrial() {
        assertFault(executor(faulty("repeat")), contains: ["the answer to epoch 2 repeats epoch 1"], epochs: 1)
    }

    func testAFloodOnStdoutIsAFailedTrialWithBoundedMemory() {
        assertFault(executor(faulty("flood")), contains: ["a line of more than 1 MiB"], epochs: 0)
    }

    func testAFloodOnStderrIsKeptAsABoundedTail() throws {
        let (result, epochs) = run(executor(faulty("stderrflood")))
        XCTAssertEqual(try result.get(), .completed)
        XCTAssertEqual(epochs.count, 4)
    }

    func testANonZeroExitAfterTheLastEpochIsAFailedTrial() {
        assertFault(executor(faulty("badexit")), contains: ["ended with exit status 2 after its last epoch", "failing at the end on purpose"], epochs: 4)
    }

    func testATrainerThatDoesNotExitIsStopped() {
        var e = executor(faulty("noexit"))
        e.exitGraceSeconds = 0.5
        assertFault(e, contains: ["did not exit within 0.5 s after its last epoch"], epochs: 4)
    }

    func testTheTrainersChildrenDoNotOutliveTheTrial() throws {
        let pidFile = FileManager.default.temporaryDirectory.appendingPathComponent("grandchild-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: pidFile) }
        let (result, _) = run(executor(faulty("grandchild", pidFile.path)))
        XCTAssertEqual(try result.get(), .completed)
        let pid = try XCTUnwrap(Int32(try String(contentsOf: pidFile, encoding: .utf8)))
        XCTAssertTrue(processIsGone(pid), "the trainer's child \(pid) still runs")
    }
}
