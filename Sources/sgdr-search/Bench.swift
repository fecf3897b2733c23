import ArgumentParser
import Engine

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Measure the engine on this machine.")
    func run() throws {}
}
