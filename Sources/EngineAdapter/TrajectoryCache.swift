import Sweep
import Engine
import Foundation
import TrainingTypes

/// Training states shared between the trials of one sweep (memoization of training prefixes).
///
/// Trials use common random numbers: every configuration's repeat has the same training seed,
/// hence the same initial weights and batch orders, so the state after epoch `e` is a function of
/// the seed and the learning rates of epochs 1...e alone (the executor's data and training
/// options being fixed). Configurations whose schedules agree on their first rates (all of them
/// before the trigger fires, cycles that have not restarted yet, baselines at `lr_max`) share
/// those epochs: the first trial computes them, the others reuse the metrics and continue from
/// the saved state. Results never depend on the cache: an evicted state is recomputed, bit for bit.
///
/// Thread-safe; least recently used entries are evicted past `budgetBytes` (0: cache nothing).
// @unchecked: every mutable property is read and written only under `lock` (an NSCondition, since
// workers wait on it for an epoch another worker is training, which Mutex cannot do).
public final class TrajectoryCache: @unchecked Sendable {
    /// A training seed and the exact bit patterns of the rates of epochs 1...n.
    public struct Key: Hashable, Sendable {
        public var seed: UInt64
        public var rates: [UInt64]

        public init(seed: UInt64, rates: [UInt64]) {
            self.seed = seed
            self.rates = rates
        }

        /// The key of the state after `count` epochs of the same trajectory.
        public func prefix(_ count: Int) -> Key { Key(seed: seed, rates: Array(rates.prefix(count))) }
    }

    /// What training the epoch that ends a key gave.
    public enum Entry: Sendable {
        /// The epoch's metrics and, unless not kept (a run's last epoch), the state after it.
        case trained(EpochMetrics, TrainingCheckpoint?)
        /// The epoch diverged.
        case diverged

        var byteCount: Int {
            switch self {
            case let .trained(_, checkpoint): 128 + (checkpoint?.byteCount ?? 0)
            case .diverged: 64
            }
        }
    }

    public struct Statistics: Hashable, Sendable {
        /// Epochs answered from the cache.
        public var hits = 0
        /// Epochs looked up and not found (then trained).
        public var misses = 0
        /// Epochs trained again to rebuild an evicted state.
        public var replays = 0
        public var evictions = 0
        public var bytes = 0
        public var entries = 0

        /// Epochs trained (first time or replayed).
        public var computed: Int { misses + replays }

        /// "Epochs computed: X of Y (Z reused[, R replayed after eviction])".
        public var summary: String {
            "Epochs computed: \(computed) of \(hits + misses) (\(hits) reused"
                + (replays > 0 ? ", \(replays) replayed after eviction" : "") + ")"
        }
    }

    private struct Slot {
        var entry: Entry
        var bytes: Int
        var lastUse: UInt64
    }

    public let budgetBytes: Int
    private let lock = NSCondition()
    /// Keys a worker is training now: another worker that needs one waits for it instead of
    /// training the same epoch at the same time (it would finish no sooner, and slow both).
    private var inFlight: Set<Key> = []
    private var slots: [Key: Slot] = [:]
    private var clock: UInt64 = 0
    private var stats = Statistics()

    public static let defaultBudgetBytes = 256 << 20

    public init(budgetBytes: Int = TrajectoryCache.defaultBudgetBytes) {
        self.budgetBytes = max(0, budgetBytes)
    }

    public var statistics: Statistics { lock.withLock { stats } }

    /// The entry of `key` (counted as a hit or a miss), marked as recently used.
    public func lookup(_ key: Key) -> Entry? {
        lock.withLock {
            guard var slot = slots[key] else { stats.misses += 1; return nil }
            stats.hits += 1
            clock += 1
            slot.lastUse = clock
            slots[key] = slot
            return slot.entry
        }
    }

    /// What `claim` answers.
    public enum Claim: Sendable {
        /// The entry was cached (or another worker just trained it).
        case hit(Entry)
        /// The caller must train the epoch, then `store` its entry or, if it was cancelled,
        /// `release` the key.
        case claimed
        /// `isCancelled` answered true while waiting for another worker's epoch.
        case cancelled
    }

    /// Looks `key` up like `lookup`; on a miss, if another worker is training that very epoch,
    /// waits for it (polling `isCancelled`), else claims it for the caller. Without a budget
    /// nothing is shared, so nothing is waited for.
    public func claim(_ key: Key, isCancelled: () -> Bool) -> Claim {
        lock.lock()
        defer { lock.unlock() }
        while true {
            if var slot = slots[key] {
                stats.hits += 1
                clock += 1
                slot.lastUse = clock
                slots[key] = slot
                return .hit(slot.entry)
            }
            if budgetBytes == 0 || !inFlight.contains(key) {
                if budgetBytes > 0 { inFlight.insert(key) }
                stats.misses += 1
                return .claimed
            }
            if isCancelled() { return .cancelled }
            _ = lock.wait(until: Date(timeIntervalSinceNow: 0.05))
        }
    }

    /// Gives up a claimed key without an entry (its epoch was cancelled).
    public func release(_ key: Key) {
        lock.withLock {
            if inFlight.remove(key) != nil { lock.broadcast() }
        }
    }

    /// The saved state of the longest prefix of `key` (`key` itself included) that has one, with
    /// its length; not counted as a lookup.
    public func deepestState(_ key: Key) -> (length: Int, checkpoint: TrainingCheckpoint)? {
        lock.withLock {
            var n = key.rates.count
            while n > 0 {
                if var slot = slots[key.prefix(n)], case let .trained(_, checkpoint?) = slot.entry {
                    clock += 1
                    slot.lastUse = clock
                    slots[key.prefix(n)] = slot
                    return (n, checkpoint)
                }
                n -= 1
            }
            return nil
        }
    }

    /// Stores (or replaces) `key`'s entry, then evicts the least recently used entries while
    /// over budget. An entry larger than the whole budget is not stored.
    public func store(_ key: Key, _ entry: Entry) {
        let bytes = entry.byteCount + 16 + 8 * key.rates.count
        lock.withLock {
            if inFlight.remove(key) != nil { lock.broadcast() }
            guard bytes <= budgetBytes else { return }
            clock += 1
            if let old = slots.updateValue(Slot(entry: entry, bytes: bytes, lastUse: clock), forKey: key) {
                stats.bytes -= old.bytes
            } else {
                stats.entries += 1
            }
            stats.bytes += bytes
            while stats.bytes > budgetBytes, let victim = slots.min(by: { $0.value.lastUse < $1.value.lastUse }) {
                slots.removeValue(forKey: victim.key)
                stats.bytes -= victim.value.bytes
                stats.entries -= 1
                stats.evictions += 1
            }
        }
    }

    /// Counts an epoch trained again to rebuild an evicted state.
    func countReplay() { lock.withLock { stats.replays += 1 } }
}
