import ArgumentParser

@main
struct SGDRSearch: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sgdr-search",
        abstract: "Find good SGDR learning-rate schedules by running many short, real training runs.",
        subcommands: [Run.self, Resume.self, LeaderboardCommand.self, Best.self, Status.self, ReportCommand.self,
                      Schedule.self, Train.self, Bench.self],
        defaultSubcommand: Run.self)
}
