/// Loads a model file of any supported format, detected from its content:
/// a JSON object with `"learner"` is XGBoost, one with `"muse_model"` is
/// Muse's logistic regression, text starting with `tree` is LightGBM.
public enum ModelImporter {
    public enum Format: String, Sendable {
        case lightgbm, xgboost, logistic
    }

    public static func detectFormat(_ bytes: [UInt8]) throws(ModelImportError) -> Format {
        guard let first = bytes.first(where: { $0 != 32 && $0 != 9 && $0 != 10 && $0 != 13 }) else {
            throw ModelImportError(format: "unknown", location: "", message: "the file is empty")
        }
        if first == UInt8(ascii: "{") {
            // Peek at the first kilobytes rather than parse twice.
            let head = String(decoding: bytes.prefix(4096), as: UTF8.self)
            if head.contains("\"muse_model\"") { return .logistic }
            return .xgboost
        }
        if bytes.starts(with: Array("tree".utf8)) { return .lightgbm }
        throw ModelImportError(format: "unknown", location: "", message: "unrecognised format: expected a LightGBM text model (starts with 'tree') or a JSON model (XGBoost or muse_model)")
    }

    public static func load(_ bytes: [UInt8]) throws(ModelImportError) -> any ScoringModel {
        switch try detectFormat(bytes) {
        case .lightgbm: return try LightGBMImporter.load(bytes)
        case .xgboost: return try XGBoostImporter.load(bytes)
        case .logistic: return try LogisticModel.load(bytes)
        }
    }
}
