import Foundation
import Synchronization

/// Where the stores and the runner read "now" (seconds since 1970): heartbeats, lease expiry,
/// a trial's start and finish times, the runner's heartbeat and wait schedule. `.system` (the
/// default everywhere) is the real time; tests pass a `ManualClock`'s so that leases expire
/// when the test says, not when the machine gets round to it.
public struct SweepClock: Sendable {
    public let now: @Sendable () -> Double

    public init(now: @escaping @Sendable () -> Double) {
        self.now = now
    }

    /// The real time.
    public static let system = SweepClock { Date().timeIntervalSince1970 }
}

/// A clock that moves only when told (for tests): `advance(by:)`.
public final class ManualClock: Sendable {
    private let time: Mutex<Double>

    public init(_ start: Double = 1_764_115_200) {
        time = Mutex(start)
    }

    public var now: Double { time.withLock { $0 } }

    public func advance(by seconds: Double) {
        time.withLock { $0 += seconds }
    }

    /// This clock as the stores and the runner take it.
    public var clock: SweepClock { SweepClock { [self] in now } }

    /// This clock, moved `step` seconds forward at every reading: time passes as the code reads
    /// it (for code that waits for time to pass).
    public func stepping(by step: Double) -> SweepClock {
        SweepClock { [self] in time.withLock { $0 += step; return $0 } }
    }
}
