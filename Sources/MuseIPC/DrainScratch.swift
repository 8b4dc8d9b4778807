/// A worker's private memory for one drain: the features of up to `events`
/// events (`stride` doubles each), copied out of the ring before scoring, and
/// their intents and feature counts, kept for the shadow predictors that
/// score them after the answers are published.
public struct DrainScratch: @unchecked Sendable {
    public let events: Int
    public let stride: Int
    let features: UnsafeMutablePointer<Double>
    let intents: UnsafeMutablePointer<UInt32>
    let counts: UnsafeMutablePointer<Int32>

    /// Allocates; the owner calls `deallocate` once.
    public init(events: Int, maxFeatures: Int) {
        self.events = max(events, 1)
        stride = max(maxFeatures, 1)
        features = .allocate(capacity: self.events * stride)
        intents = .allocate(capacity: self.events)
        counts = .allocate(capacity: self.events)
    }

    public func deallocate() {
        features.deallocate()
        intents.deallocate()
        counts.deallocate()
    }
}
