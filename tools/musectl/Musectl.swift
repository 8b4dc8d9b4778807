import ArgumentParser
import MuseCore
import MuseSnapshot

@main
struct Musectl: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "musectl",
        abstract: "Operate a Muse scorer: models, score maps, snapshots and the daemon.",
        version: MuseVersion.line(tool: "musectl", snapshotFormat: SnapshotFormat.version),
        subcommands: [PredictCommand.self, Transform.self, SnapshotCommand.self, StatusCommand.self, SwapCommand.self,
                      RollbackCommand.self, TenantsCommand.self, ReloadCommand.self, DrainCommand.self,
                      SwapIncomingCommand.self])
}
