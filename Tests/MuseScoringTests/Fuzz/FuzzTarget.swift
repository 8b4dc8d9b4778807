import Foundation
@testable import MuseScoring

/// One parser under fuzzing: what to call on an input, and what "handled
/// well" means for it. Every entry point throws a typed error, so "no crash"
/// plus "a message that says something" is what is left to check; a model
/// that loads must also score without trapping, and give a probability in
/// [0, 1] or NaN.
enum FuzzTarget: String, CaseIterable, Sendable {
    case lightgbm, xgboost, logistic, scoreMaps = "score-maps"

    enum Outcome: Equatable {
        case accepted
        case rejected(String)
    }

    /// A problem with how an input was handled (a crash needs no report: it
    /// ends the process, and the input is in `FuzzLoop.lastInputPath`).
    struct Finding: Error, CustomStringConvertible {
        let description: String
    }

    func run(_ bytes: [UInt8]) throws(Finding) -> Outcome {
        switch self {
        case .lightgbm: return try Self.model { () throws(ModelImportError) in try LightGBMImporter.load(bytes) }
        case .xgboost: return try Self.model { () throws(ModelImportError) in try XGBoostImporter.load(bytes) }
        case .logistic: return try Self.model { () throws(ModelImportError) in try LogisticModel.load(bytes) }
        case .scoreMaps: return try Self.scoreMaps(bytes)
        }
    }

    static func model(_ load: () throws(ModelImportError) -> any ScoringModel) throws(Finding) -> Outcome {
        let model: any ScoringModel
        do { model = try load() } catch {
            guard !error.message.isEmpty, !error.format.isEmpty else { throw Finding(description: "an error without a message: \(error)") }
            return .rejected(error.description)
        }
        try score(model)
        return .accepted
    }

    /// Rows that reach every kind of branch: zeros, NaN (missing), the
    /// LightGBM zero band, category-like integers, huge and negative values.
    static let rows: [Double] = [0, .nan, 1e-36, -1e-36, 1, 3, 31, 32, 1e9, -1, 2147483648, 16777216, 1e308, -1e308, .infinity, -.infinity]

    static func score(_ model: any ScoringModel) throws(Finding) {
        let width = model.featureNames.count
        guard width <= 4096 else { return }  // loaded fine; too wide to score every row cheaply
        for v in rows {
            let row = [Double](repeating: v, count: width)
            let p = row.withUnsafeBufferPointer { model.probability($0) }
            guard p.isNaN || (p >= 0 && p <= 1) else { throw Finding(description: "probability \(p) for a row of \(v)") }
        }
        if let trees = model as? TreeEnsemble {
            // The batch path must agree with the single-row path, bit for bit.
            var batch: [Double] = []
            for v in rows { batch += [Double](repeating: v, count: width) }
            var out = [Double](repeating: 0, count: rows.count)
            do {
                try batch.withUnsafeBufferPointer { r throws(FeatureCountError) in
                    try out.withUnsafeMutableBufferPointer { o throws(FeatureCountError) in try trees.margins(rows: r, into: o) }
                }
            } catch { throw Finding(description: "batch of the right shape refused: \(error)") }
            for (i, v) in rows.enumerated() {
                let one = [Double](repeating: v, count: width).withUnsafeBufferPointer { trees.margin($0) }
                guard one.bitPattern == out[i].bitPattern else {
                    throw Finding(description: "batch margin \(out[i]) but single-row margin \(one) for a row of \(v)")
                }
            }
        }
    }

    static func scoreMaps(_ bytes: [UInt8]) throws(Finding) -> Outcome {
        let text = String(decoding: bytes, as: UTF8.self)
        let file: ScoreMapFile
        do { file = try ScoreMapFile.parse(text, file: "fuzz.txt") } catch {
            let lines = text.split(separator: "\n", omittingEmptySubsequences: false).count
            guard error.file == "fuzz.txt", error.line >= 1, error.line <= lines, !error.message.isEmpty else {
                throw Finding(description: "an error without a place or message: \(error) (the text has \(lines) lines)")
            }
            return .rejected(error.description)
        }
        // What parses must encode back to the same file, and apply monotonically.
        let again: ScoreMapFile
        do { again = try ScoreMapFile.parse(file.encoded(), file: "again.txt") } catch {
            throw Finding(description: "the encoding of a parsed file does not parse: \(error)")
        }
        guard again == file else { throw Finding(description: "the encoding of a parsed file reads back differently") }
        for e in file.entries {
            guard case .map(let m) = e.content else { continue }
            var previous = -Double.infinity
            for s in [-1e308, m.scores[0], m.scores[0].nextUp, 0, 0.5, m.scores[m.knotCount - 1], 1e308].sorted() {
                let y = m.apply(s)
                guard y >= previous else { throw Finding(description: "map of \(e.predictor)/\(e.tenant ?? "*") decreases at \(s)") }
                previous = y
            }
            guard m.apply(.nan).isNaN else { throw Finding(description: "NaN does not map to NaN") }
            _ = try? file.resolve(predictor: e.predictor, tenant: e.tenant, allowPooled: true, correction: e.correction ?? .identity)
        }
        return .accepted
    }
}
