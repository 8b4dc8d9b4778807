import Foundation
import TOMLKit

/// The TOML manifest `musectl snapshot build` reads: which model files,
/// level-1 settings, score maps, predictors, intents and routes make a
/// generation (docs/snapshot-format.md has an annotated example). Paths are
/// relative to the manifest's own directory. Unknown keys are errors, so a
/// misspelt setting is not silently ignored.
public struct GenerationManifest: Decodable, Sendable {
    public var generation: UInt64
    public var description: String?
    /// Unix seconds; default: the time of the build. Fix it for reproducible files.
    public var createdAt: UInt64?
    public var models: [String: Model]
    public var predictors: [String: Predictor]
    public var maps: [Map]?
    public var intents: [String: Intent]
    public var routes: [Route]
    public var canaries: Canaries?

    public struct Model: Decodable, Sendable {
        /// LightGBM text, XGBoost JSON or Muse logistic JSON (detected).
        public var file: String
        public var negativeSamplingRate: Double?
        public var trainingPrior: Double?
        public var servingPrior: Double?
    }

    public struct Predictor: Decodable, Sendable {
        public var models: [String]
        /// One per model; default equal weights.
        public var weights: [Double]?
    }

    /// Either `file` (an existing muse-score-maps file), or `predictor` with
    /// `scores` (a score file) or `rows` (tenant → CSV of events the
    /// predictor scores) to fit that predictor's maps from.
    public struct Map: Decodable, Sendable {
        public var file: String?
        public var predictor: String?
        /// "TENANT SCORE" lines on the predictor's posterior scale (after level 1).
        public var scores: String?
        /// Tenant name → CSV file of events (header of feature names).
        public var rows: [String: String]?
        /// uniform (default) or beta:A,B.
        public var reference: String?
        public var knots: Int?
        public var minSamples: Int?
    }

    public struct Intent: Decodable, Sendable {
        /// muse.h `intent_id`.
        public var id: UInt32
        public var features: [String]
        /// CSV of events to use as canaries (else generated from the features).
        public var canaryRows: String?
    }

    public struct Route: Decodable, Sendable {
        public var tenant: String
        public var intent: String
        public var predictor: String
        public var shadows: [String]?
    }

    public struct Canaries: Decodable, Sendable {
        /// Canary events per route (default 4).
        public var perRoute: Int?
        public var seed: UInt64?
    }

    enum CodingKeys: String, CodingKey {
        case generation, description, models, predictors, maps, intents, routes, canaries
        case createdAt = "created_at"
    }

    /// Parses manifest text; `file` names it in errors.
    public static func parse(_ text: String, file: String) throws(ManifestError) -> GenerationManifest {
        do {
            let decoder = TOMLDecoder(strictDecoding: true)
            return try decoder.decode(GenerationManifest.self, from: text)
        } catch let e as TOMLParseError {
            throw ManifestError("\(file):\(e.source.begin.line):\(e.source.begin.column): \(e.description)")
        } catch let e as UnexpectedKeysError {
            throw ManifestError("\(file): unknown keys: \(e.keys.map { key, path in (path.map(\.stringValue).filter { $0 != key } + [key]).joined(separator: ".") }.sorted().joined(separator: ", "))")
        } catch let e as DecodingError {
            throw ManifestError("\(file): \(describe(e))")
        } catch {
            throw ManifestError("\(file): \(error)")
        }
    }

    static func describe(_ e: DecodingError) -> String {
        func path(_ c: [CodingKey]) -> String { c.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".") }
        switch e {
        case .keyNotFound(let key, let ctx): return "missing key '\(path(ctx.codingPath + [key]))'"
        case .typeMismatch(_, let ctx), .valueNotFound(_, let ctx), .dataCorrupted(let ctx):
            return "'\(path(ctx.codingPath))': \(ctx.debugDescription)"
        @unknown default: return "\(e)"
        }
    }
}

extension GenerationManifest.Model {
    enum CodingKeys: String, CodingKey {
        case file
        case negativeSamplingRate = "negative_sampling_rate"
        case trainingPrior = "training_prior"
        case servingPrior = "serving_prior"
    }
}

extension GenerationManifest.Map {
    enum CodingKeys: String, CodingKey {
        case file, predictor, scores, rows, reference, knots
        case minSamples = "min_samples"
    }
}

extension GenerationManifest.Intent {
    enum CodingKeys: String, CodingKey {
        case id, features
        case canaryRows = "canary_rows"
    }
}

extension GenerationManifest.Canaries {
    enum CodingKeys: String, CodingKey {
        case perRoute = "per_route"
        case seed
    }
}

public struct ManifestError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
