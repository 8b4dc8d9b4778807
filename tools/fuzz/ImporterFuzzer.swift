// libFuzzer entry point over the model importers and the score-map parser,
// built by tools/fuzz/run.sh together with Sources/MuseScoring (one module,
// coverage-instrumented, with AddressSanitizer). Complements the in-suite
// loop (Tests/MuseScoringTests/Fuzz), which needs no special build but is
// blind to coverage. MUSE_FUZZ_TARGET picks the parser: lightgbm, xgboost,
// logistic or score-maps.
import Foundation

enum Target: String {
    case lightgbm, xgboost, logistic, scoreMaps = "score-maps"
}

let target: Target = {
    let name = ProcessInfo.processInfo.environment["MUSE_FUZZ_TARGET"] ?? ""
    guard let t = Target(rawValue: name) else {
        FileHandle.standardError.write(Data("set MUSE_FUZZ_TARGET to lightgbm, xgboost, logistic or score-maps\n".utf8))
        exit(2)
    }
    return t
}()

/// Loads the input; a model that loads is also scored on a few rows, so the
/// tree walk runs over whatever the importer accepted.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = size == 0 ? [] : Array(UnsafeBufferPointer(start: data, count: size))
    let model: (any ScoringModel)?
    switch target {
    case .lightgbm: model = try? LightGBMImporter.load(bytes)
    case .xgboost: model = try? XGBoostImporter.load(bytes)
    case .logistic: model = try? LogisticModel.load(bytes)
    case .scoreMaps:
        if let file = try? ScoreMapFile.parse(String(decoding: bytes, as: UTF8.self), file: "fuzz") {
            for e in file.entries {
                if case .map(let m) = e.content { _ = m.apply(0.5); _ = m.apply(.nan) }
            }
            _ = try? ScoreMapFile.parse(file.encoded(), file: "again")
        }
        model = nil
    }
    if let model, model.featureNames.count <= 4096 {
        for v in [0, .nan, 1, -1, 3, 1e308, 16777216] as [Double] {
            let row = [Double](repeating: v, count: model.featureNames.count)
            let p = row.withUnsafeBufferPointer { model.probability($0) }
            precondition(p.isNaN || (p >= 0 && p <= 1), "probability \(p)")
        }
    }
    return 0
}
