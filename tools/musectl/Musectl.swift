import ArgumentParser

@main
struct Musectl: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "musectl",
        abstract: "Operate a Muse scorer: models, score maps, snapshots and the daemon.",
        subcommands: [PredictCommand.self, Transform.self, SnapshotCommand.self, StatusCommand.self, SwapCommand.self,
                      RollbackCommand.self, TenantsCommand.self, ReloadCommand.self, DrainCommand.self,
                      SwapIncomingCommand.self])
}
