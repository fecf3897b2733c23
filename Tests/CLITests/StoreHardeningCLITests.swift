import Foundation
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// Through the built binary: spaces too large for the machine or for the caps are refused with
/// one line before anything is created; a finished sweep is one file; the reading commands work
/// on a sweep whose folder they cannot write.
final class StoreHardeningCLITests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("store-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        if let dir {
            chmod(dir.path, 0o755)
            try? FileManager.default.removeItem(at: dir)
        }
    }

    func file(_ name: String, _ text: String) throws -> String {
        let url = dir.appendingPathComponent(name)
        try Data(text.utf8).write(to: url)
        return url.path
    }

    func listing(_ folder: URL? = nil) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: (folder ?? dir).path).sorted()
    }

    let tiny = """
        { "name": "tiny", "strategy": "grid", "seed": 3, "concurrency": 2,
          "parameters": { "t0": {"values": [1, 2]}, "tmult": {"values": [1, 2]} },
          "baselines": ["cosine"],
          "training": { "dataset": "synthetic", "train_size": 300, "val_size": 100, "epochs": 2, "batch_size": 50, "hidden": [16] } }
        """

    func testAnOversizedSpaceIsOneLineAndCreatesNothing() throws {
        // 8 layers of 65536: hundreds of GB of weights, on any machine.
        let huge = try file("huge.json", """
            { "name": "huge", "parameters": {"t0": {"values": [1, 2]}},
              "training": {"dataset": "synthetic", "hidden": [65536, 65536, 65536, 65536, 65536, 65536, 65536, 65536]} }
            """)
        let database = dir.appendingPathComponent("huge.sqlite").path
        let r = try BinaryRunner.run([huge, "--db", database])
        XCTAssertEqual(r.status, 1, r.stderr)
        XCTAssertEqual(r.stderrLines.count, 1, r.stderr)
        XCTAssertTrue(r.stderr.hasPrefix("Error: \(huge): the sweep would need about "), r.stderr)
        XCTAssertTrue(r.stderr.contains("more than the limit of "), r.stderr)
        XCTAssertTrue(r.stderr.contains("% of this machine's "), r.stderr)
        XCTAssertEqual(r.stdout, "")
        XCTAssertEqual(try listing(), ["huge.json"])

        // repeats x a big grid past the trial cap.
        let values = (1...2000).map(String.init).joined(separator: ", ")
        let many = try file("many.json", "{\"name\": \"many\", \"repeats\": 1000, \"parameters\": {\"t0\": {\"values\": [\(values)]}}}")
        let capped = try BinaryRunner.run([many, "--db", database])
        XCTAssertEqual(capped.status, 64)
        XCTAssertEqual(capped.stderrLines, ["Error: \(many): repeats: the sweep has 2000 configurations x 1000 repeats = 2000000 trials; at most 1000000 trials are allowed (configurations x repeats, baselines included)"])
        XCTAssertEqual(try listing(), ["huge.json", "many.json"])

        // A database in a folder that does not exist.
        let space = try file("tiny.json", tiny)
        let nowhere = dir.appendingPathComponent("no/such/x.sqlite").path
        let missing = try BinaryRunner.run([space, "--db", nowhere])
        XCTAssertEqual(missing.status, 1)
        XCTAssertEqual(missing.stderrLines, ["Error: sweep database \(nowhere): cannot create it: the folder \(dir.path)/no/such does not exist"])
        XCTAssertEqual(try listing(), ["huge.json", "many.json", "tiny.json"])
    }

    func testTrainRefusesAModelTooLargeAndSizesBuffersByTheTrainingSet() throws {
        let huge = try BinaryRunner.run(["train", "--dataset", "synthetic", "--train-size", "100", "--val-size", "10", "--epochs", "1",
                                         "--hidden", "65536,65536,65536,65536,65536,65536,65536,65536"])
        XCTAssertEqual(huge.status, 1, huge.stderr)
        XCTAssertEqual(huge.stderrLines.count, 1, huge.stderr)
        XCTAssertTrue(huge.stderr.hasPrefix("Error: the run would need about "), huge.stderr)
        XCTAssertTrue(huge.stderr.contains("lower --hidden or --batch-size"), huge.stderr)
        XCTAssertEqual(huge.stdout, "")
        // A batch far larger than the training set: one batch per epoch, buffers of the set's size.
        let big = try BinaryRunner.run(["train", "--dataset", "synthetic", "--train-size", "200", "--val-size", "50", "--epochs", "2",
                                        "--hidden", "16", "--batch-size", "1000000"])
        XCTAssertEqual(big.status, 0, big.stderr)
        XCTAssertEqual(big.stdout.split(separator: "\n").count, 3, big.stdout)
    }

    func testAFinishedSweepIsOneFileAndReadableFromAFolderWeCannotWrite() throws {
        let space = try file("tiny.json", tiny)
        let runs = dir.appendingPathComponent("runs")
        try FileManager.default.createDirectory(at: runs, withIntermediateDirectories: true)
        let database = runs.appendingPathComponent("tiny.sqlite").path
        let r = try BinaryRunner.run([space, "--db", database])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(try listing(runs), ["tiny.sqlite"], "no -wal or -shm left")
        for command in [["status", database], ["leaderboard", database], ["best", database]] {
            XCTAssertEqual(try BinaryRunner.run(command).status, 0)
        }
        XCTAssertEqual(try listing(runs), ["tiny.sqlite"], "the reading commands create nothing")
        let expected = try BinaryRunner.run(["leaderboard", database, "--csv", "-"]).stdout

        // A user who may read the folder but not write it.
        XCTAssertEqual(chmod(runs.path, 0o555), 0)
        XCTAssertEqual(chmod(database, 0o444), 0)
        let asReader: [String] = geteuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv")
            ? ["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] : []
        let binary = try BinaryRunner.binaryURL().path
        func read(_ arguments: [String]) throws -> CommandResult {
            guard let runner = asReader.first else { return try BinaryRunner.run(arguments) }
            return try BinaryRunner.runExecutable(URL(fileURLWithPath: runner), asReader.dropFirst() + [binary] + arguments)
        }
        chmod(dir.path, 0o755)
        let status = try read(["status", database])
        XCTAssertEqual(status.status, 0, status.stderr)
        XCTAssertTrue(status.stdout.contains("done 5"), status.stdout)
        XCTAssertEqual(try read(["leaderboard", database, "--csv", "-"]).stdout, expected)
        let best = try read(["best", database, "--json"])
        XCTAssertEqual(best.status, 0, best.stderr)
        let report = try read(["report", database, "--out", "-"])
        XCTAssertEqual(report.status, 0, report.stderr)
        XCTAssertTrue(report.stdout.contains("<title>sgdr-search report: tiny</title>"))
        XCTAssertEqual(try listing(runs), ["tiny.sqlite"])
        // Writing is refused in one line.
        let resume = try read(["resume", database])
        XCTAssertNotEqual(resume.status, 0)
        XCTAssertEqual(resume.stderrLines.count, 1, resume.stderr)
        XCTAssertTrue(resume.stderr.hasPrefix("Error: sweep database \(database): "), resume.stderr)
        XCTAssertEqual(try listing(runs), ["tiny.sqlite"])
    }
}

extension StoreHardeningCLITests {
    /// A sweep without hidden layers: `best --json`'s `train_args` rerun it through `train`
    /// (`--hidden none`, since an empty argument would not survive `$(jq -r '.train_args[]')`).
    func testNoHiddenLayerRerunsFromBest() throws {
        let space = try file("flat.json", tiny.replacingOccurrences(of: "\"hidden\": [16]", with: "\"hidden\": []"))
        let database = dir.appendingPathComponent("flat.sqlite").path
        let r = try BinaryRunner.run([space, "--db", database])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("--hidden none"), r.stdout)
        let best = try BinaryRunner.run(["best", database, "--json"])
        XCTAssertEqual(best.status, 0, best.stderr)
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(best.stdout.utf8)) as? [String: Any])
        let args = try XCTUnwrap(object["train_args"] as? [String])
        XCTAssertFalse(args.contains(""))
        let rerun = try BinaryRunner.run(["train"] + args)
        XCTAssertEqual(rerun.status, 0, rerun.stderr)
        XCTAssertEqual(rerun.stdout.split(separator: "\n").count, 3, rerun.stdout)
    }

    /// Ctrl-C closes the database too: the interrupted sweep is one file.
    func testCtrlCLeavesOneFile() throws {
        let space = try file("slow.json", tiny.replacingOccurrences(of: "\"train_size\": 300", with: "\"train_size\": 4000")
                                            .replacingOccurrences(of: "\"epochs\": 2", with: "\"epochs\": 8"))
        let runs = dir.appendingPathComponent("runs")
        try FileManager.default.createDirectory(at: runs, withIntermediateDirectories: true)
        let database = runs.appendingPathComponent("slow.sqlite").path
        let errURL = dir.appendingPathComponent("stderr.txt")
        FileManager.default.createFile(atPath: errURL.path, contents: nil)
        let process = Process()
        process.executableURL = try BinaryRunner.binaryURL()
        process.arguments = [space, "--db", database]
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        process.standardError = try FileHandle(forWritingTo: errURL)
        try process.run()
        // Wait until a trial has started (its epochs are being trained), then interrupt.
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline && process.isRunning,
              !((try? String(contentsOf: errURL, encoding: .utf8)) ?? "").contains("[1/5]") {
            Thread.sleep(forTimeInterval: 0.02)
        }
        kill(process.processIdentifier, SIGINT)
        process.waitUntilExit()
        let stderr = (try? String(contentsOf: errURL, encoding: .utf8)) ?? ""
        XCTAssertEqual(process.terminationStatus, 130, stderr)
        XCTAssertEqual(try listing(runs), ["slow.sqlite"], stderr)
        let status = try BinaryRunner.run(["status", database])
        XCTAssertTrue(status.stdout.contains("resume with: sgdr-search resume"), status.stdout)
    }
}
