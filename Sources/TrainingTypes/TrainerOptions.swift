/// A user's own training script (the space's `trainer`), driven epoch by epoch over the line
/// protocol of `docs/TRAINER-PROTOCOL.md`. The schedule stays the tool's: the script applies the
/// rate it is told and answers each epoch with its metrics.
public struct TrainerOptions: Hashable, Sendable {
    /// The program and its arguments, run without a shell (`command[0]` is looked up on `PATH`
    /// unless it contains a `/`).
    public var command: [String]
    /// Epochs per trial.
    public var epochs: Int
    /// Threads per trial: sent in the start message and set as `OMP_NUM_THREADS`,
    /// `MKL_NUM_THREADS` and `OPENBLAS_NUM_THREADS` (unless `environment` sets them).
    public var threads: Int
    /// Added to (or replacing) the tool's own environment, sorted by name.
    public var environment: [EnvironmentVariable]
    /// Where the script runs; nil: the directory `sgdr-search` runs in. A relative path is
    /// relative to that directory.
    public var workingDirectory: String?
    /// Seconds a whole trial may take (from the start of the script), nil: no limit.
    public var timeoutSeconds: Double?
    /// Seconds from an epoch's message to its answer (the first epoch's includes the script's
    /// start-up).
    public var epochTimeoutSeconds: Double

    public struct EnvironmentVariable: Hashable, Sendable {
        public var name: String
        public var value: String
        public init(name: String, value: String) {
            self.name = name
            self.value = value
        }
    }

    public static let defaultEpochTimeoutSeconds: Double = 1800
    public static let defaultThreads = 1

    public init(command: [String], epochs: Int, threads: Int = defaultThreads,
                environment: [EnvironmentVariable] = [], workingDirectory: String? = nil,
                timeoutSeconds: Double? = nil, epochTimeoutSeconds: Double = defaultEpochTimeoutSeconds) {
        self.command = command
        self.epochs = epochs
        self.threads = threads
        self.environment = environment
        self.workingDirectory = workingDirectory
        self.timeoutSeconds = timeoutSeconds
        self.epochTimeoutSeconds = epochTimeoutSeconds
    }
}
