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
            // as summary rows (no record held: a million rows in a few seconds).
            let computed: [UInt8], count: Int
            // The rows' configurations, in rank order, for a tpe sweep's proposed_by column.
            let configurations: () -> [String]
            if let top {
                let rows = try space.ranking.ranked(store, top: top).top
                guard csv != nil else {
                    try console.out(LeaderboardFormat.table(rows, swept: space.sweptNames))
                    return 0
                }
                (computed, count) = (Array(LeaderboardFormat.csv(rows, swept: space.sweptNames).utf8), rows.count)
                configurations = { rows.map(\.configuration) }
            } else {
                let table = try space.ranking.leaderboardTable(store)
                guard csv != nil else {
                    let rows = (0..<table.count).map(table.summaryRow(at:))
                    try console.out(LeaderboardFormat.table(rows, swept: space.sweptNames))
                    return 0
                }
                (computed, count) = (LeaderboardFormat.csvBytes(table), table.count)
                configurations = { (0..<table.count).map { table.summaryRow(at: $0).configuration } }
            }
            guard let csv else { return 0 }
            // A tpe sweep's CSV names who proposed each configuration (its last column).
            var bytes = computed
            if space.strategy == .tpe {
                bytes = Array(LeaderboardFormat.withProposers(String(decoding: bytes, as: UTF8.self), configurations(), space: space).utf8)
            }
            if csv == "-" {
                try console.data(String(decoding: bytes, as: UTF8.self))
            } else {
                try writeOutput(bytes, to: csv, option: "--csv", database: db)
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
    /// A tpe search's CSV with a last column `proposed_by`: "baseline", "startup" (a random
    /// start-up configuration) or "tpe" (a proposal; sgdr-NNNN is proposal NNNN, in that order).
    static func withProposers(_ csv: String, _ configurations: [String], space: SearchSpace) -> String {
        var lines = csv.components(separatedBy: "\r\n")
        guard lines.count >= configurations.count + 1 else { return csv }
        lines[0] += ",proposed_by"
        for (i, configuration) in configurations.enumerated() {
            let proposer: String
            if configuration.hasPrefix("sgdr-"), let n = Int(configuration.dropFirst(5)) {
                proposer = space.proposer(ofConfiguration: n)
            } else {
                proposer = "baseline"
            }
            lines[i + 1] += "," + proposer
        }
        return lines.joined(separator: "\r\n")
    }
}
