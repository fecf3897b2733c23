import ArgumentParser

@main
struct SGDRSearch: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sgdr-search",
        abstract: "Find good SGDR learning-rate schedules by running many short, real training runs.",
        subcommands: [Schedule.self, Train.self, Bench.self])
}
