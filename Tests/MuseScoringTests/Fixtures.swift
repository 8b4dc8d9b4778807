import Foundation
@testable import MuseScoring

/// Model fixtures made by the real libraries (tools/fixtures/make_model_fixtures.py).
enum Fixtures {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures/models")

    static func bytes(_ name: String) throws -> [UInt8] {
        Array(try Data(contentsOf: directory.appendingPathComponent(name)))
    }

    struct Case {
        let model: any ScoringModel
        let rows: FeatureCSV
        let probabilities: [Double]
        var margins: [Double]
    }

    /// `stem` like "nan_missing.lgb" with files stem.txt|json, stem.rows.csv, stem.expected.csv.
    /// With `layout`, a tree ensemble is scored by that layout whatever the
    /// selection rule picks.
    static func load(_ stem: String, modelFile: String, layout: TreeEnsemble.Layout? = nil) throws -> Case {
        var model = try ModelImporter.load(try bytes(modelFile))
        if let layout, let trees = model as? TreeEnsemble { model = trees.with(layout: layout) }
        let rows = try FeatureCSV(try bytes("\(stem).rows.csv"), featureNames: model.featureNames)
        var probabilities: [Double] = [], margins: [Double] = []
        let text = String(decoding: try bytes("\(stem).expected.csv"), as: UTF8.self)
        for line in text.split(separator: "\n").dropFirst() {
            let parts = line.split(separator: ",")
            probabilities.append(Double(parts[0])!)
            margins.append(Double(parts[1])!)
        }
        return Case(model: model, rows: rows, probabilities: probabilities, margins: margins)
    }

    static let lightgbm = ["nan_missing", "zero_as_missing", "categorical", "many_shallow", "deep", "random_forest"]
    static let xgboost = ["nan_missing", "nan_missing_v2", "many_shallow", "deep_logitraw", "categorical", "numpy_ubj"]
}

extension FeatureCSV {
    func row(_ i: Int, width: Int) -> [Double] { Array(values[i * width..<(i + 1) * width]) }
}
