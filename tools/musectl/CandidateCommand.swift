import ArgumentParser
import Foundation
import MuseControl

/// `musectl candidate`: new models into the serving generation, by mused.
struct CandidateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "candidate",
        abstract: "Add a model to the serving generation as a shadow predictor, built and published by mused.",
        subcommands: [Add.self])

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "add",
            abstract: "Publish the serving generation plus MODEL_FILE as the shadow predictor NAME.",
            discussion: "mused reads the model file (LightGBM text, XGBoost JSON or UBJSON, or Muse logistic JSON), "
                + "adds it as model and predictor NAME, shadowing every route whose intent sends exactly the model's "
                + "features (by name, in the model's order), and publishes the result as a new generation through the "
                + "same checks as a swap. Shadows are scored but never answer: completions do not change. The new "
                + "generation is kept in the state directory like any swapped one, so a restart serves it and a "
                + "rollback returns to the one before. A refusal changes nothing.")
        @OptionGroup var options: DaemonOptions
        @Argument(help: "The model file (read by mused).") var modelFile: String
        @Option(help: "The name of the new model and shadow predictor (one word, not used by the serving generation).")
        var name: String
        @Option(help: "Only routes of this intent.") var intent: String?
        @Option(help: "Only routes of these tenants (comma-separated).") var tenants: String?
        @Option(help: "The model's features renamed, in its own order (comma-separated), as a manifest's 'features'.")
        var features: String?
        @OptionGroup var correction: CorrectionOptions

        func run() throws {
            func list(_ s: String?) -> [String]? {
                s.map { $0.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) } }
            }
            let spec = CandidateSpec(
                modelFile: URL(filePath: modelFile).standardizedFileURL.path, name: name, intent: intent,
                tenants: list(tenants), features: list(features),
                negativeSamplingRate: correction.negativeSamplingRate, trainingPrior: correction.trainingPrior,
                servingPrior: correction.servingPrior)
            try options.send(ControlRequest(command: .candidate, candidate: spec)) { response in
                guard response.ok, let c = response.candidate else { return "" }
                var text = "published generation \(c.generation): \(c.name) shadows \(c.shadowed.joined(separator: ", "))\n"
                for route in c.leftAlone { text += "left alone: \(route)\n" }
                if let snapshot = c.snapshot { text += "kept as \(snapshot)\n" }
                return text + describeSteps(response)
            }
        }
    }
}
