import MuseScoring

/// Everything a generation holds, typed: what `SnapshotWriter` writes and
/// what `SnapshotLoader` reads back. Names tie the parts together (a
/// predictor names models, a route names a predictor); `routingTable()`
/// resolves them all once.
public struct SnapshotContents: Sendable {
    public var generationID: UInt64
    /// Unix time in seconds.
    public var createdAt: UInt64
    /// Free-form key/value pairs for people: who built it, from what.
    public var metadata: [MetadataEntry]
    public var models: [ModelEntry]
    /// Level-2 maps in the `muse-score-maps` format; each entry's predictor
    /// is a predictor's name.
    public var scoreMaps: ScoreMapFile
    public var predictors: [PredictorSpec]
    public var intents: [IntentSchema]
    public var routes: [RouteSpec]
    public var canaries: [CanaryEvent]

    public init(generationID: UInt64, createdAt: UInt64, metadata: [MetadataEntry] = [], models: [ModelEntry],
                scoreMaps: ScoreMapFile, predictors: [PredictorSpec], intents: [IntentSchema], routes: [RouteSpec],
                canaries: [CanaryEvent] = []) {
        self.generationID = generationID
        self.createdAt = createdAt
        self.metadata = metadata
        self.models = models
        self.scoreMaps = scoreMaps
        self.predictors = predictors
        self.intents = intents
        self.routes = routes
        self.canaries = canaries
    }
}

public struct MetadataEntry: Sendable, Equatable, Codable {
    public var key: String
    public var value: String
    public init(_ key: String, _ value: String) { self.key = key; self.value = value }
}

/// A model as served, its level-1 setting, and the text it was imported from.
public struct ModelEntry: Sendable {
    public var name: String
    public var model: SnapshotModel
    public var correction: CorrectionSetting
    public var source: ModelSource

    public init(name: String, model: SnapshotModel, correction: CorrectionSetting = .identity, source: ModelSource) {
        self.name = name
        self.model = model
        self.correction = correction
        self.source = source
    }
}

/// The model kinds a snapshot stores in flat form.
public enum SnapshotModel: Sendable {
    case trees(TreeEnsemble)
    case logistic(LogisticModel)

    /// From what `ModelImporter` returns.
    public init(_ model: any ScoringModel) throws(SnapshotError) {
        if let t = model as? TreeEnsemble { self = .trees(t); return }
        if let l = model as? LogisticModel { self = .logistic(l); return }
        throw .invalidModel("\(type(of: model))", "this model kind cannot be stored in a snapshot")
    }

    public var scoringModel: any ScoringModel {
        switch self {
        case .trees(let t): return t
        case .logistic(let l): return l
        }
    }

    public var featureNames: [String] { scoringModel.featureNames }

    /// The same model under `names`, which must be as many as its features.
    public func renamingFeatures(_ names: [String]) throws(FeatureCountError) -> SnapshotModel {
        switch self {
        case .trees(let t): return .trees(try t.renamingFeatures(names))
        case .logistic(let l): return .logistic(try l.renamingFeatures(names))
        }
    }

    public var kindName: String {
        switch self {
        case .trees: return "tree-ensemble"
        case .logistic: return "logistic"
        }
    }
}

/// The original model file, kept for audit and re-import; never parsed on
/// load, and only copied out of the file when the loader is asked to
/// (`SnapshotLoader.keepModelSources`): it is most of a snapshot's bytes.
public struct ModelSource: Sendable, Equatable {
    public var format: ModelImporter.Format
    /// Empty when the loader did not keep the text.
    public var bytes: [UInt8]
    /// The text's length in the file, kept or not.
    public var byteCount: Int

    public init(format: ModelImporter.Format, bytes: [UInt8]) {
        self.format = format
        self.bytes = bytes
        self.byteCount = bytes.count
    }

    init(format: ModelImporter.Format, byteCount: Int) {
        self.format = format
        self.bytes = []
        self.byteCount = byteCount
    }
}

/// Level 1 as configured: the snapshot records the setting (for people)
/// and the resulting odds factor's exact bits (what serving applies).
public enum CorrectionSetting: Sendable, Equatable {
    case identity
    case negativeSamplingRate(Double)
    case priors(training: Double, serving: Double)

    public func correction() throws(ScoreMapError) -> PosteriorCorrection {
        switch self {
        case .identity: return .identity
        case .negativeSamplingRate(let beta): return try PosteriorCorrection(negativeSamplingRate: beta)
        case .priors(let t, let s): return try PosteriorCorrection(trainingPrior: t, servingPrior: s)
        }
    }

    public var description: String {
        switch self {
        case .identity: return "identity"
        case .negativeSamplingRate(let b): return "negative sampling rate \(b)"
        case .priors(let t, let s): return "training prior \(t), serving prior \(s)"
        }
    }
}

/// A model or a weighted average of models, by name.
public struct PredictorSpec: Sendable, Equatable {
    public struct Member: Sendable, Equatable {
        public var model: String
        public var weight: Double
        public init(model: String, weight: Double = 1) { self.model = model; self.weight = weight }
    }
    public var name: String
    public var members: [Member]
    public init(name: String, members: [Member]) { self.name = name; self.members = members }
}

/// (tenant, intent) → predictor, with shadow predictors scored beside it.
/// The map applied is the tenant's own map for the predictor in the score
/// maps, else the predictor's pooled map, else none (`RoutingTableBuilder`).
public struct RouteSpec: Sendable, Equatable, Codable {
    public var tenant: String
    public var intent: String
    public var predictor: String
    public var shadows: [String]
    public init(tenant: String, intent: String, predictor: String, shadows: [String] = []) {
        self.tenant = tenant
        self.intent = intent
        self.predictor = predictor
        self.shadows = shadows
    }
}

/// An event scored when the snapshot was built, with the scores it got: a
/// load scores it again and must get the same bits, which checks the whole
/// path (flat model, level 1, map, routing) end to end.
public struct CanaryEvent: Sendable, Equatable {
    public var tenant: String
    public var intent: String
    public var features: [Double]
    /// The route's primary predictor first, then its shadows, in order.
    public var expected: [CanaryScore]

    public init(tenant: String, intent: String, features: [Double], expected: [CanaryScore] = []) {
        self.tenant = tenant
        self.intent = intent
        self.features = features
        self.expected = expected
    }
}

public struct CanaryScore: Sendable, Equatable {
    public var predictor: String
    /// Posterior-corrected probability, before level 2.
    public var raw: Double
    /// On the reference scale.
    public var score: Double
    public init(predictor: String, raw: Double, score: Double) {
        self.predictor = predictor
        self.raw = raw
        self.score = score
    }

    /// Bit-for-bit, so NaN equals NaN and 0 differs from -0.
    public func sameBits(_ other: CanaryScore) -> Bool {
        predictor == other.predictor && raw.bitPattern == other.raw.bitPattern && score.bitPattern == other.score.bitPattern
    }
}
