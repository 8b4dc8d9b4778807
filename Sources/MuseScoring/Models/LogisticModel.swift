import Foundation

/// Logistic regression: `margin = intercept + Σ coefficients[i] * x[i]`,
/// probability `1 / (1 + exp(-margin))`, in double, features in order.
/// A missing feature (NaN) contributes nothing, i.e. it is imputed at 0;
/// train with centred features (or impute upstream) if that is not what you want.
///
/// File format (JSON, UTF-8):
///
///     {
///       "muse_model": "logistic_regression",
///       "feature_names": ["amount", "hour"],
///       "coefficients": [0.0123, -0.4],
///       "intercept": -3.2
///     }
public struct LogisticModel: ScoringModel {
    public internal(set) var featureNames: [String]
    public let coefficients: [Double]
    public let intercept: Double

    public init(featureNames: [String], coefficients: [Double], intercept: Double) throws(ModelImportError) {
        guard featureNames.count == coefficients.count else {
            throw ModelImportError(format: "Logistic", location: "coefficients",
                                   message: "has \(coefficients.count) values but feature_names has \(featureNames.count)")
        }
        self.featureNames = featureNames
        self.coefficients = coefficients
        self.intercept = intercept
    }

    public func margin(_ features: UnsafeBufferPointer<Double>) -> Double {
        guard features.count == coefficients.count else { return .nan }
        var m = intercept
        coefficients.withUnsafeBufferPointer { c in
            for i in 0..<c.count where !features[i].isNaN { m += c[i] * features[i] }
        }
        return m
    }

    public func probability(_ features: UnsafeBufferPointer<Double>) -> Double {
        1.0 / (1.0 + exp(-margin(features)))
    }

    public static func load(_ bytes: [UInt8]) throws(ModelImportError) -> LogisticModel {
        let doc: JSONValue
        do { doc = try JSONParser.parse(bytes) } catch {
            throw ModelImportError(format: "Logistic", location: "line \(error.line), column \(error.column)", message: error.message)
        }
        return try load(doc)
    }

    public static func load(_ doc: JSONValue) throws(ModelImportError) -> LogisticModel {
        func fail(_ path: String, _ message: String) -> ModelImportError {
            ModelImportError(format: "Logistic", location: path, message: message)
        }
        guard case .string(let kind)? = doc["muse_model"], kind == "logistic_regression" else {
            throw fail("muse_model", "expected \"logistic_regression\"")
        }
        guard case .array(let names)? = doc["feature_names"] else { throw fail("feature_names", "missing or not an array") }
        guard case .array(let coefs)? = doc["coefficients"] else { throw fail("coefficients", "missing or not an array") }
        guard case .number(let b)? = doc["intercept"], let intercept = Double(b), intercept.isFinite else {
            throw fail("intercept", "missing or not a finite number")
        }
        guard names.count <= ModelLimits.maxFeatures else {
            throw fail("feature_names", "lists \(names.count) features, more than the limit of \(ModelLimits.maxFeatures)")
        }
        var featureNames: [String] = []
        for (i, n) in names.enumerated() {
            guard case .string(let s) = n else { throw fail("feature_names[\(i)]", "expected a string") }
            featureNames.append(s)
        }
        var coefficients: [Double] = []
        for (i, c) in coefs.enumerated() {
            guard case .number(let s) = c, let v = Double(s), v.isFinite else { throw fail("coefficients[\(i)]", "expected a finite number") }
            coefficients.append(v)
        }
        return try LogisticModel(featureNames: featureNames, coefficients: coefficients, intercept: intercept)
    }
}
