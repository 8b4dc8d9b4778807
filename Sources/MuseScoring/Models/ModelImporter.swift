/// Loads a model file of any supported format, detected from its content:
/// a JSON object with `"learner"` is XGBoost, one with `"muse_model"` is
/// Muse's logistic regression, text starting with `tree` is LightGBM, and
/// an object in UBJSON (`{` then a length marker) is XGBoost's binary model.
/// CatBoost JSON and ONNX are recognised only to say what to export instead.
public enum ModelImporter {
    public enum Format: String, Sendable {
        case lightgbm, xgboost, logistic
    }

    public static func detectFormat(_ bytes: [UInt8]) throws(ModelImportError) -> Format {
        if UBJSONParser.looksLikeUBJSON(bytes) { return .xgboost }
        if looksLikeONNX(bytes) {
            throw unsupported("an ONNX model", instead: "save the booster it was converted from")
        }
        guard let first = bytes.first(where: { $0 != 32 && $0 != 9 && $0 != 10 && $0 != 13 }) else {
            throw ModelImportError(format: "unknown", location: "", message: "the file is empty")
        }
        if first == UInt8(ascii: "{") {
            // Peek at the first kilobytes rather than parse twice.
            let head = String(decoding: bytes.prefix(4096), as: UTF8.self)
            if head.contains("\"muse_model\"") { return .logistic }
            if head.contains("\"oblivious_trees\"") || head.contains("\"features_info\"")
                || (head.contains("\"model_info\"") && !head.contains("\"learner\"")) {
                throw unsupported("a CatBoost model", instead: "train the model with LightGBM or XGBoost instead (CatBoost cannot export to their formats) and save that")
            }
            return .xgboost
        }
        if bytes.starts(with: Array("tree".utf8)) { return .lightgbm }
        throw ModelImportError(format: "unknown", location: "", message: "unrecognised format: expected a LightGBM text model (starts with 'tree'), an XGBoost JSON or UBJSON model, or a muse_model JSON")
    }

    static let readable = "Muse reads LightGBM text, XGBoost JSON/UBJSON and its own logistic JSON"
    static let exports = "LightGBM `booster.save_model('model.txt')` or XGBoost `save_model('model.json')` / `save_model('model.ubj')`"

    static func unsupported(_ what: String, instead: String) -> ModelImportError {
        ModelImportError(format: "unknown", location: "",
                         message: "unsupported format: this is \(what); \(instead): \(exports) (\(readable))")
    }

    /// ONNX is a protobuf `ModelProto`: field 1 (`ir_version`, varint) comes
    /// first, tag byte 0x08, and the producer and opset domains name ONNX
    /// or the converter within the first bytes.
    static func looksLikeONNX(_ bytes: [UInt8]) -> Bool {
        guard bytes.first == 0x08 else { return false }
        let head = String(decoding: bytes.prefix(4096), as: UTF8.self).lowercased()
        return ["onnx", "skl2onnx", "onnxmltools", "pytorch", "tf2onnx", "ai.onnx"].contains { head.contains($0) }
    }

    public static func load(_ bytes: [UInt8]) throws(ModelImportError) -> any ScoringModel {
        switch try detectFormat(bytes) {
        case .lightgbm: return try LightGBMImporter.load(bytes)
        case .xgboost: return try XGBoostImporter.load(bytes)
        case .logistic: return try LogisticModel.load(bytes)
        }
    }
}
