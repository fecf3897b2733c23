import Foundation
import Schedules
import Sweep

/// `SQLiteTrialStore.forEachTrialLine` in two stages: a helper thread steps the statement and
/// copies each row's columns into one of two blocks (a few thousand rows each), while the
/// calling thread consumes the other block. Blocks go back and forth through two semaphores
/// (`free`, `filled`), so at most two exist and neither thread touches a block the other holds.
/// The statement is used by the helper alone, and only while the caller waits inside the read:
/// `run` returns (or throws) only after the helper has stopped.
enum TrialLinePipe {
    /// Rows of one block, column by column (`sweptBytes`: the rows' swept texts end to end, row
    /// r's ending at `sweptEnd[r]`), and the consumer's swept reader (kept across blocks).
    final class Block: @unchecked Sendable {
        var count = 0
        var number: [Int] = [], configuration: [String] = [], repeatIndex: [Int] = [], kind: [ScheduleKind] = []
        var sweptEnd: [Int] = [], sweptBytes: [UInt8] = []
        var status: [TrialStatus] = [], attempts: [Int] = [], seconds: [Double?] = []
        var bestValAcc: [Double?] = [], bestEpoch: [Int?] = [], finalValAcc: [Double?] = []
        /// The statement's last block (or the one where it failed: `error`).
        var isLast = false
        var error: (any Error)?
        var reader = SweptReader()
        var general: SweptValues?

        func clear() {
            count = 0
            number.removeAll(keepingCapacity: true); configuration.removeAll(keepingCapacity: true)
            repeatIndex.removeAll(keepingCapacity: true); kind.removeAll(keepingCapacity: true)
            sweptEnd.removeAll(keepingCapacity: true); sweptBytes.removeAll(keepingCapacity: true)
            status.removeAll(keepingCapacity: true); attempts.removeAll(keepingCapacity: true)
            seconds.removeAll(keepingCapacity: true); bestValAcc.removeAll(keepingCapacity: true)
            bestEpoch.removeAll(keepingCapacity: true); finalValAcc.removeAll(keepingCapacity: true)
        }
    }

    /// What the helper thread is given: the statement's rows (used by it alone) and the blocks.
    private final class Shared: @unchecked Sendable {
        let rows: RawRows
        let path: String
        let rowsPerBlock: Int
        let blocks = [Block(), Block()]
        // All made at 0 (libdispatch traps when a semaphore is freed below its initial value,
        // which stopping early can leave `free` at); `init` gives `free` its two blocks.
        let free = DispatchSemaphore(value: 0), filled = DispatchSemaphore(value: 0), stopped = DispatchSemaphore(value: 0)
        private let lock = NSLock()
        private var _cancelled = false
        var cancelled: Bool {
            get { lock.withLock { _cancelled } }
            set { lock.withLock { _cancelled = newValue } }
        }
        init(rows: RawRows, path: String, rowsPerBlock: Int) {
            self.rows = rows
            self.path = path
            self.rowsPerBlock = max(1, rowsPerBlock)
            free.signal()
            free.signal()
        }
    }

    static let rowsPerBlock = 4096

    /// Runs the helper over `rows` (the SELECT of `forEachTrialLine`, its columns in that order)
    /// and hands each filled block to `consume`, in order, on the calling thread.
    static func run(rows: RawRows, path: String, rowsPerBlock: Int = rowsPerBlock, consume: (Block) throws -> Void) throws {
        let shared = Shared(rows: rows, path: path, rowsPerBlock: rowsPerBlock)
        DispatchQueue.global().async { produce(shared) }
        defer {
            // Stop the helper (it waits for a free block or finishes the one it fills), then wait.
            shared.cancelled = true
            shared.free.signal()
            shared.free.signal()
            shared.stopped.wait()
        }
        var i = 0
        while true {
            shared.filled.wait()
            let block = shared.blocks[i]
            try consume(block)
            if let error = block.error { throw error }
            let last = block.isLast
            shared.free.signal()
            if last { return }
            i ^= 1
        }
    }

    private static func produce(_ shared: Shared) {
        defer { shared.stopped.signal() }
        let rows = shared.rows
        var i = 0
        while true {
            shared.free.wait()
            if shared.cancelled { return }
            let block = shared.blocks[i]
            block.clear()
            do {
                while block.count < shared.rowsPerBlock {
                    guard try rows.next() else {
                        block.isLast = true
                        break
                    }
                    try copyRow(rows, into: block, path: shared.path)
                }
            } catch {
                block.error = error
                block.isLast = true
            }
            let last = block.isLast
            shared.filled.signal()
            if last { return }
            i ^= 1
        }
    }

    private static func copyRow(_ rows: RawRows, into b: Block, path: String) throws {
        let number = rows.int(0)
        let kindText = rows.text(3) ?? ""
        guard let kind = ScheduleKind(rawValue: kindText) else {
            throw SQLiteStoreError.database(path: path, message: "trial number \(number) has unknown schedule \(kindText)")
        }
        guard let status = rows.text(5).flatMap(TrialStatus.init(rawValue:)) else {
            throw SQLiteStoreError.database(path: path, message: "trial number \(number) has an unknown status")
        }
        let finished = status.isFinished
        b.number.append(number)
        b.configuration.append(rows.text(1) ?? "")
        b.repeatIndex.append(rows.int(2))
        b.kind.append(kind)
        b.sweptBytes.append(contentsOf: rows.bytes(4))
        b.sweptEnd.append(b.sweptBytes.count)
        b.status.append(status)
        b.attempts.append(rows.int(6))
        b.seconds.append(rows.real(7))
        b.bestValAcc.append(finished ? rows.real(8) : nil)
        b.bestEpoch.append(finished ? rows.optionalInt(9) : nil)
        b.finalValAcc.append(finished ? rows.real(10) : nil)
        b.count += 1
    }
}
