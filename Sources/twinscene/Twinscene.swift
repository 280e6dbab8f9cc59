import ArgumentParser

@main
struct Twinscene: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "twinscene",
        abstract: "A digital-twin scene server: city tiles in, simulated crowds out, streamed compactly over TCP.",
        subcommands: [Serve.self, Gateway.self, Watch.self, Load.self, Tiles.self, Scenes.self, Bench.self])
}
