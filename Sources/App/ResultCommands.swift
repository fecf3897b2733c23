import Foundation
import Sweep

extension SweepCommands {
    // MARK: results

    /// `sgdr-search leaderboard DB [--csv FILE] [--top N]` (`top` 0: the header alone).
    public static func leaderboard(db: String, csv: String?, top: Int?, openStore: StoreOpener, console: Console) -> Int32 {
        report(console) {
            if let csv, csv != "-" { try checkOutput(csv, option: "--csv", database: db) }
            let (store, info, space) = try openExisting(db, openStore)
            defer { try? store.close() }
            if let note = info.earlierRulesNote(path: db) { try console.err(note + "\n") }
            // --top N: ranked from briefs, N rows read in full; every row: from the compact table,
            // as summary rows (no record held), the CSV written a megabyte at a time (a million
            // rows in a few seconds). A tpe sweep's CSV names who proposed each configuration.
            let proposer = space.strategy == .tpe ? LeaderboardFormat.proposers(space) : nil
            let count: Int
            let produce: ((UnsafeRawBufferPointer) -> Void) -> Void
            if let top {
                let rows = try space.ranking.ranked(store, top: top).top
                guard csv != nil else {
                    try console.out(LeaderboardFormat.table(rows, swept: space.sweptNames, proposer: proposer))
                    return 0
                }
                var text = LeaderboardFormat.csv(rows, swept: space.sweptNames)
                if let proposer { text = LeaderboardFormat.withProposers(text, rows.map { proposer($0.configuration) }) }
                count = rows.count
                let bytes = Array(text.utf8)
                produce = { emit in bytes.withUnsafeBytes(emit) }
            } else {
                let table = try space.ranking.leaderboardTable(store)
                guard csv != nil else {
                    let rows = (0..<table.count).map(table.summaryRow(at:))
                    try console.out(LeaderboardFormat.table(rows, swept: space.sweptNames, proposer: proposer))
                    return 0
                }
                count = table.count
                produce = { emit in LeaderboardFormat.csvChunks(table, proposer: proposer, emit: emit) }
            }
            guard let csv else { return 0 }
            if csv == "-" {
                var failure: OutputError?
                produce { chunk in
                    guard failure == nil else { return }
                    do throws(OutputError) { try console.data(String(decoding: chunk, as: UTF8.self)) } catch { failure = error }
                }
                if let failure { throw failure }
            } else {
                try writeOutput(to: csv, option: "--csv", database: db, produce)
                try console.err("Wrote \(csv) (\(count) configuration\(count == 1 ? "" : "s"))\n")
            }
            return 0
        }
    }

    /// `sgdr-search best DB [--json]`.
    public static func best(db: String, json: Bool, openStore: StoreOpener, console: Console) -> Int32 {
        report(console) {
            let (store, info, space) = try openExisting(db, openStore)
            defer { try? store.close() }
            if let note = info.earlierRulesNote(path: db) { try console.err(note + "\n") }
            let ranked = try space.ranking.ranked(store, top: 0)
            let summary = BestSummary(rows: ranked.best, space: space, database: db)
            guard summary.best != nil else {
                throw SweepError("\(db): no SGDR configuration has finished yet (\(ranked.done) of \(ranked.trials) trials done); "
                                 + "run or resume the sweep: sgdr-search resume \(db)")
            }
            if json { try console.data(summary.json()) } else { try console.out(summary.text()) }
            return 0
        }
    }

    /// `sgdr-search status DB`.
    public static func status(db: String, openStore: StoreOpener, console: Console,
                              isAbandoned: (String) -> Bool = Owner.isAbandoned) -> Int32 {
        report(console) {
            let (store, info, space) = try openExisting(db, openStore)
            defer { try? store.close() }
            if let note = info.earlierRulesNote(path: db) { try console.err(note + "\n") }
            let now = Date().timeIntervalSince1970
            try console.out(try statusText(space: space, info: info, input: space.ranking.statusInput(store), path: db,
                                           now: now, isAbandoned: isAbandoned))
            return 0
        }
    }
}

extension LeaderboardFormat {
    /// Who proposed a configuration of a tpe sweep, a tpe CSV's `proposed_by`: "baseline",
    /// "startup" (a random start-up configuration) or "tpe" (a proposal; sgdr-NNNN is proposal
    /// NNNN, in that order).
    static func proposers(_ space: SearchSpace) -> @Sendable (String) -> String {
        { proposedBy($0, space: space) }
    }

    static func proposedBy(_ configuration: String, space: SearchSpace) -> String {
        if configuration.hasPrefix("sgdr-"), let n = Int(configuration.dropFirst(5)) {
            return space.proposer(ofConfiguration: n)
        }
        return "baseline"
    }

    /// `csv` (a header and a line a row, CRLF) with a last column, `proposed_by`: `proposers[i]` on row i.
    static func withProposers(_ csv: String, _ proposers: [String]) -> String {
        var lines = csv.components(separatedBy: "\r\n")
        guard lines.count >= proposers.count + 1 else { return csv }
        lines[0] += ",proposed_by"
        for (i, proposer) in proposers.enumerated() { lines[i + 1] += "," + LeaderboardFormat.csvField(proposer) }
        return lines.joined(separator: "\r\n")
    }
}
