// swift-tools-version:6.1
import Foundation
import PackageDescription

/// The CPU the Engine's Swift code is compiled for. By default, when the machine that builds has
/// AVX2 (as every machine this project runs on: AVX2 or AVX-512), `haswell`: its SIMD loops
/// (Winograd's transforms, pooling, ReLU) then work on 8 floats per instruction instead of 4, and
/// the CNN's epoch takes ~6% less time. The numbers stay bit-identical (Swift does not fuse
/// multiply-adds), but the binary then needs such a CPU, like a `-march=native` build. Otherwise,
/// or with `SGDR_ENGINE_CPU=baseline`, baseline x86-64 (runs anywhere); `SGDR_ENGINE_CPU=NAME`
/// names any CPU LLVM knows.
func engineCPU() -> String? {
    let chosen = ProcessInfo.processInfo.environment["SGDR_ENGINE_CPU"] ?? ""
    if chosen == "baseline" { return nil }
    if !chosen.isEmpty { return chosen }
    #if arch(x86_64) && os(Linux)
    guard let info = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
          let flags = info.split(separator: "\n").first(where: { $0.hasPrefix("flags") }) else { return nil }
    let have = Set(flags.split(separator: " ").map(String.init))
    return ["avx2", "fma", "bmi1", "bmi2", "movbe", "f16c"].allSatisfy(have.contains) ? "haswell" : nil
    #else
    return nil
    #endif
}
let engineSettings: [SwiftSetting] = engineCPU().map { [.unsafeFlags(["-target-cpu", $0])] } ?? []

let package = Package(
    name: "sgdr-search",
    products: [
        .executable(name: "sgdr-search", targets: ["sgdr-search"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        // The HTTP server of `serve` (the Dashboard target only).
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
    ],
    targets: [
        // C libraries: one system-library target each, called from one Swift file each.
        .systemLibrary(name: "COpenBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CZlib", providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CLibPQ", pkgConfig: "libpq", providers: [.apt(["libpq-dev"])]),
        // posix_spawn, pipes, poll, signals: the C process API with the GNU extensions it needs.
        .systemLibrary(name: "CProcess"),

        // Pure learning-rate schedules: no I/O, no knowledge of training.
        .target(name: "Schedules"),
        // What a training run is told and what it reports (options and their table, epoch
        // metrics, the seeded generators): value types shared by the engine, the sweep and the
        // stores (numbers spelled as Schedules spells them).
        .target(name: "TrainingTypes", dependencies: ["Schedules"]),
        // Data, layers, optimizers, training loop on OpenBLAS.
        .target(name: "Engine", dependencies: ["COpenBLAS", "CZlib", "TrainingTypes"], swiftSettings: engineSettings),
        // Search spaces, samplers, the trial-store protocol, the runner, ranking and statistics.
        // Knows no engine: trials run through a `TrialExecutor`.
        .target(name: "Sweep", dependencies: ["TrainingTypes", "Schedules"]),
        // The one place where the sweep meets the engine: `EngineExecutor` (worker sessions, the
        // trajectory cache) and the memory check of a sweep on the engine.
        .target(name: "EngineAdapter", dependencies: ["Sweep", "Engine", "TrainingTypes", "Schedules"]),
        // The other place where trials run: `TrainerExecutor` drives the user's own training
        // script over the line protocol of docs/TRAINER-PROTOCOL.md (ChildProcess.swift calls C).
        .target(name: "TrainerProcess", dependencies: ["Sweep", "TrainingTypes", "Schedules", "CProcess"]),
        // The SQL that both stores spell alike (statuses as literals).
        .target(name: "StoreSQL", dependencies: ["Sweep"]),
        // The SQLite implementation of Sweep's TrialStore (the only place that knows SQL).
        .target(name: "SQLiteStore", dependencies: ["Sweep", "StoreSQL", "TrainingTypes", "Schedules", .product(name: "GRDB", package: "GRDB.swift")]),
        // The PostgreSQL implementation of TrialStore (libpq, called from PostgresClient.swift only).
        .target(name: "PostgresStore", dependencies: ["Sweep", "StoreSQL", "TrainingTypes", "CLibPQ"]),
        // The application layer: one function per command, progress, signals, exit codes, file
        // output and the text/JSON/CSV formatting of results.
        .target(name: "App", dependencies: ["Sweep", "EngineAdapter", "TrainerProcess", "Engine", "TrainingTypes", "Schedules", "Report"]),
        // Self-contained HTML + SVG reports.
        .target(name: "Report", dependencies: ["Sweep", "TrainingTypes", "Schedules"]),
        // `serve`: the live dashboard, a read-only HTTP server (Hummingbird) over the report's
        // renderers and a small JSON API. The only target that knows Hummingbird.
        .target(name: "Dashboard", dependencies: [
            "App", "Sweep", "Report", "TrainingTypes", "Schedules",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        // The thin command-line shell.
        .executableTarget(
            name: "sgdr-search",
            dependencies: [
                "App", "Schedules", "Engine", "EngineAdapter", "TrainingTypes", "Sweep", "SQLiteStore", "PostgresStore", "Report", "Dashboard",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),

        // Test support: docs/SCHEDULE.md's rules computed for a whole run (not a state machine).
        .target(name: "SpecReference", path: "Tests/SpecReference"),
        // Test support: a private PostgreSQL server (initdb + pg_ctl in a temporary folder).
        .target(name: "PostgresTestSupport", path: "Tests/PostgresTestSupport"),
        // Test support: whether a process is gone (no trainer may outlive its trial or the tool).
        .target(name: "ProcessTestSupport", path: "Tests/ProcessTestSupport"),
        .testTarget(name: "SchedulesTests", dependencies: ["Schedules", "SpecReference"]),
        .testTarget(name: "TrainingTypesTests", dependencies: ["TrainingTypes"]),
        .testTarget(name: "EngineTests", dependencies: ["Engine", "TrainingTypes"]),
        // The application layer alone: the live line, the report's default paths and settings.
        .testTarget(name: "AppTests", dependencies: ["App", "Sweep", "TrainingTypes", "Engine"]),
        .testTarget(name: "SweepTests", dependencies: ["App", "Sweep", "EngineAdapter", "TrainingTypes", "Schedules", "Engine", "SpecReference"]),
        // The store contract, run by every store (memory, SQLite, PostgreSQL), and each store's own tests.
        .testTarget(
            name: "StoreTests",
            dependencies: ["SQLiteStore", "PostgresStore", "PostgresTestSupport", "Sweep", "TrainingTypes", "Schedules", .product(name: "GRDB", package: "GRDB.swift")]),
        .testTarget(name: "TrainerTests", dependencies: ["TrainerProcess", "Sweep", "TrainingTypes", "Schedules", "ProcessTestSupport"]),
        .testTarget(name: "ReportTests", dependencies: ["Report", "Sweep", "TrainingTypes", "Schedules"]),
        .testTarget(name: "CLITests", dependencies: ["sgdr-search", "SQLiteStore", "Sweep", "SpecReference", "PostgresTestSupport", "ProcessTestSupport"]),
    ]
)
