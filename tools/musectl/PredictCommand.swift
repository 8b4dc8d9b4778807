import ArgumentParser
import Foundation
import MuseCore
import MuseScoring

/// `musectl predict`: score a CSV of events with a model file, the way the
/// daemon would, to check a model against the scores its trainer validated.
struct PredictCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "predict",
        abstract: "Score the rows of a CSV file with a LightGBM, XGBoost or logistic model.",
        discussion: """
            ROWS.csv has a header of feature names; columns are matched to the model's \
            features by name. An empty field, nan or NaN is a missing value. Prints one \
            score per row (%.17g), in row order: the probability, or with --raw the margin.
            """)

    @Option(name: .long, help: "Model file: LightGBM text, XGBoost JSON or UBJSON, or Muse logistic JSON (detected).")
    var model: String

    @Option(name: .long, help: "CSV file of rows to score.")
    var input: String

    @Flag(name: .long, help: "Print the margin (log-odds) instead of the probability.")
    var raw = false

    @OptionGroup var format: JSONOption

    /// What `--json` prints.
    struct Result: Encodable {
        let ok = true
        let model: String
        let input: String
        /// "probability" or "margin".
        let kind: String
        let scores: [Double]
    }

    func run() throws {
        let modelBytes = try RegularFile.read(model)
        let loaded: any ScoringModel
        do { loaded = try ModelImporter.load(modelBytes) } catch {
            throw PredictError(message: "\(model): \(error.description)")
        }
        let rows: FeatureCSV
        do { rows = try FeatureCSV(try RegularFile.read(input), featureNames: loaded.featureNames) } catch let error as FeatureCSV.ParseError {
            throw PredictError(message: "\(input): \(error.description)")
        }
        var scores = [Double](repeating: 0, count: rows.rowCount)
        try rows.values.withUnsafeBufferPointer { r in
            try scores.withUnsafeMutableBufferPointer { out in
                if let trees = loaded as? TreeEnsemble {
                    try raw ? trees.margins(rows: r, into: out) : trees.probabilities(rows: r, into: out)
                    return
                }
                let width = loaded.featureNames.count
                for i in out.indices {
                    let row = UnsafeBufferPointer(rebasing: r[i * width..<(i + 1) * width])
                    out[i] = raw ? loaded.margin(row) : loaded.probability(row)
                }
            }
        }
        if format.json {
            try JSONOutput.print(Result(model: model, input: input, kind: raw ? "margin" : "probability", scores: scores))
            return
        }
        var text = ""
        text.reserveCapacity(scores.count * 24)
        for s in scores { text += String(format: "%.17g\n", s) }
        FileHandle.standardOutput.write(Data(text.utf8))
    }
}

/// A failure to print without the usage text (the arguments were fine).
struct PredictError: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}
