import ArgumentParser
import Foundation
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
                      SwapIncomingCommand.self, CandidateCommand.self, PromoteCommand.self, SketchCommand.self])

    /// ArgumentParser's main, except that under `--json` a failure is
    /// reported as JSON on standard output. Help and `--version` are text
    /// whatever the flags, and a refusal mused answered was printed already.
    static func main() {
        let arguments = Array(CommandLine.arguments.dropFirst())
        do {
            var command = try parseAsRoot(arguments)
            try command.run()
        } catch {
            let code = exitCode(for: error)
            if code != .success, !(error is ExitCode), JSONOutput.requested(arguments) {
                JSONOutput.printError(message(for: error))
                Foundation.exit(code.rawValue)
            }
            exit(withError: error)
        }
    }
}
