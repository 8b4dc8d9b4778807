import CMuse

/// The daemon's answer to one event, before it is written to the completion ring.
public struct Verdict: Sendable {
    public var status: Int32
    public var score: Double
    public var rawScore: Double
    public var predictorID: UInt32
    public var generationID: UInt64

    @inlinable
    public init(status: Int32, score: Double, rawScore: Double, predictorID: UInt32, generationID: UInt64) {
        self.status = status
        self.score = score
        self.rawScore = rawScore
        self.predictorID = predictorID
        self.generationID = generationID
    }

    /// A refusal: scores are NaN so that a client ignoring `status` cannot
    /// mistake it for a low-risk score.
    @inlinable
    public static func refused(_ status: muse_status, generationID: UInt64 = 0) -> Verdict {
        Verdict(status: Int32(status.rawValue), score: .nan, rawScore: .nan, predictorID: 0, generationID: generationID)
    }
}

/// Scores events that passed the ABI checks: the intent is known and the
/// feature count is the intent's. `features` is the daemon's private copy.
public protocol EventScorer: Sendable {
    mutating func score(tenant: Int, intentID: UInt32, features: UnsafeBufferPointer<Double>) -> Verdict
}

/// Feature counts by intent id, the only facts the drain needs to refuse a
/// malformed event before any scorer sees it. Ids are small and dense.
public struct IntentBounds: Sendable {
    public static let maxIntentID = 4095
    private var featureCounts: [Int32]

    public init(_ intents: [IntentDescriptor]) {
        let top = intents.map { Int($0.id) }.filter { $0 <= Self.maxIntentID }.max() ?? 0
        featureCounts = Array(repeating: -1, count: top + 1)
        for intent in intents where Int(intent.id) <= Self.maxIntentID {
            featureCounts[Int(intent.id)] = Int32(intent.featureCount)
        }
    }

    /// The feature count of `intentID`, or nil if no such intent exists.
    public func featureCount(of intentID: UInt32) -> Int? {
        guard Int(intentID) < featureCounts.count else { return nil }
        let count = featureCounts[Int(intentID)]
        return count < 0 ? nil : Int(count)
    }
}
