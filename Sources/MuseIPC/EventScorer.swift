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

/// What a channel's drain asks of whatever serves the events: which intents a
/// tenant may submit, and a score for each event that passed the ABI checks.
///
/// The daemon implements it with its serving generation; the drain is generic
/// over it so the per-event calls are specialised, not dynamic.
public protocol EventScorer {
    /// The generation refusals are attributed to.
    var generationID: GenerationID { get }

    /// The feature count of `intent` for `tenant`, or nil if the tenant may not
    /// submit it. Checked before `score` is called.
    func featureCount(tenant: TenantIndex, intent: IntentID) -> Int?

    /// Scores one event; `features.count` is `featureCount(tenant:intent:)`
    /// and the buffer is the daemon's private copy.
    func score(tenant: TenantIndex, intent: IntentID, features: UnsafeBufferPointer<Double>) -> Verdict

    /// Scores a run of events of one intent, filling `run.verdicts`: what
    /// `score` would give for each row, in one call, so a model's batch
    /// kernel can score several rows at once. The default calls `score`.
    func score(tenant: TenantIndex, run: EventRun)

    /// True if `tenant`'s events are also scored by shadow predictors.
    func hasShadows(tenant: TenantIndex) -> Bool

    /// Scores already answered events with the shadow predictors of
    /// (tenant, run.intent), for the record only: nothing reaches the client
    /// (`run.verdicts` holds the answers and is not to be changed).
    func scoreShadows(tenant: TenantIndex, run: EventRun)

    // Metrics hooks: the daemon's scorer counts and times with them; the
    // defaults do nothing. They run on the draining thread, so they must cost
    // a few nanoseconds and never block.

    /// Called once per batch of at least one event, before its first event;
    /// the result is handed to `batchEnded` (the daemon's scorer reads the clock).
    func batchBegins() -> UInt64

    /// Called for every answered event with the verdict written to the
    /// completion ring (refusals of the drain's own checks included).
    func answered(tenant: TenantIndex, intent: IntentID, verdict: borrowing Verdict)

    /// Called once the batch's completions are published and the client woken,
    /// before any shadow scoring.
    func batchEnded(tenant: TenantIndex, count: Int, began: UInt64)
}

extension EventScorer {
    @inline(__always)
    public func score(tenant: TenantIndex, run: EventRun) {
        for i in 0..<run.count { run.verdicts[i] = score(tenant: tenant, intent: run.intent, features: run.row(i)) }
    }

    public func hasShadows(tenant: TenantIndex) -> Bool { false }
    public func scoreShadows(tenant: TenantIndex, run: EventRun) {}
    @inline(__always) public func batchBegins() -> UInt64 { 0 }
    @inline(__always) public func answered(tenant: TenantIndex, intent: IntentID, verdict: borrowing Verdict) {}
    @inline(__always) public func batchEnded(tenant: TenantIndex, count: Int, began: UInt64) {}
}

/// Feature counts by intent id, dense, for a bounds check and a load per
/// event. Ids are small: muse.h intent ids above `maxIntentID` are refused.
public struct IntentBounds: Sendable {
    public static let maxIntentID = Int(IntentName.maxID)
    private var featureCounts: [Int32]

    public init(_ intents: [IntentDescriptor]) {
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
