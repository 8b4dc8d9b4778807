import MuseCore

/// The daemon's answer to one event, before it is written to the completion ring.
public struct Verdict: Sendable {
    public var status: CompletionStatus
    public var score: Double
    public var rawScore: Double
    public var predictor: PredictorID
    public var generation: GenerationID

    @inlinable
    public init(status: CompletionStatus, score: Double, rawScore: Double, predictor: PredictorID,
                generation: GenerationID) {
        self.status = status
        self.score = score
        self.rawScore = rawScore
        self.predictor = predictor
        self.generation = generation
    }

    /// A refusal: scores are NaN so that a client ignoring `status` cannot
    /// mistake it for a low-risk score.
    @inlinable
    public static func refused(_ status: CompletionStatus, generation: GenerationID = .none) -> Verdict {
        Verdict(status: status, score: .nan, rawScore: .nan, predictor: .none, generation: generation)
    }
}

/// What a channel's drain asks of whatever serves the events: which intents
/// exist and how many features each takes, a verdict for every checked event
/// of a batch, and a look at the batch once its answers are out.
///
/// The drain does the ABI's checks itself, against `intents` (read once per
/// batch), and calls the scorer twice per batch, never per event: routing,
/// shadows, sketches and metrics are the scorer's business. The daemon
/// implements it with its serving generation (`WorkerScorer`); the drain is
/// generic over it so the calls are specialised, not dynamic.
public protocol EventScorer {
    /// The generation refusals are attributed to.
    var generationID: GenerationID { get }

    /// The feature count of every intent a client may submit: the one source
    /// the drain checks each event's count against before `score`.
    var intents: IntentBounds { get }

    /// Fills the verdict of every checked event of `batch` (the drain wrote
    /// the others'); a run of one intent at a time (`EventBatch.run(from:)`)
    /// lets a model's batch kernel score several rows in one call. A
    /// non-finite score in an OK verdict becomes `.badScore` in the drain.
    func score(_ batch: EventBatch)

    /// Called once the batch's completions are published and the client
    /// woken, with the verdicts as answered (`.badScore` ones included): for
    /// what no client waits on (shadow predictors, sketches, metrics). The
    /// verdicts are not to be changed. The default does nothing.
    func answered(_ batch: EventBatch)
}

extension EventScorer {
    @inline(__always) public func answered(_ batch: EventBatch) {}
}

/// Feature counts by intent id, dense, for a bounds check and a load per
/// event. Ids are small: muse.h intent ids above `maxIntentID` are refused.
public struct IntentBounds: Sendable {
    public static let maxIntentID = Int(IntentName.maxID)
    private var featureCounts: [Int32]

    public init(_ intents: [IntentSchema]) {
        let top = intents.map { Int($0.id) }.filter { $0 <= Self.maxIntentID }.max() ?? 0
        featureCounts = Array(repeating: -1, count: top + 1)
        for intent in intents where Int(intent.id) <= Self.maxIntentID {
            featureCounts[Int(intent.id)] = Int32(intent.featureCount)
        }
    }

    /// The feature count of `intent`, or nil if no such intent exists.
    @inline(__always)
    public func featureCount(of intent: IntentID) -> Int? {
        guard Int(intent.rawValue) < featureCounts.count else { return nil }
        let count = featureCounts[Int(intent.rawValue)]
        return count < 0 ? nil : Int(count)
    }
}
