/// A worker's private memory for one drain: the features of up to `events`
/// events copied out of the ring before scoring, packed event after event
/// (so a run of events of one intent is a block of rows a model scores in
/// one call), each event's tag, offset, intent and feature count, and its
/// verdict (what `EventBatch` shows the scorer). The features are kept for the shadow predictors that score them
/// after the answers are published.
public struct DrainScratch: @unchecked Sendable {
    public let events: Int
    /// The most features of one event; `events * stride` doubles are held.
    public let stride: Int
    let features: UnsafeMutablePointer<Double>
    /// Where each event's features start in `features`.
    let offsets: UnsafeMutablePointer<Int32>
    let intents: UnsafeMutablePointer<UInt32>
    /// Each event's tag, read from the ring with its intent and feature count.
    let tags: UnsafeMutablePointer<UInt64>
    /// Each event's feature count; −1 for an event the drain refused itself.
    let counts: UnsafeMutablePointer<Int32>
    let verdicts: UnsafeMutablePointer<Verdict>
    /// Work space a scorer may use for a run: three doubles per event.
    public let work: UnsafeMutablePointer<Double>

    /// Allocates; the owner calls `deallocate` once.
    public init(events: Int, maxFeatures: Int) {
        self.events = max(events, 1)
        stride = max(maxFeatures, 1)
        features = .allocate(capacity: self.events * stride)
        offsets = .allocate(capacity: self.events)
        intents = .allocate(capacity: self.events)
        tags = .allocate(capacity: self.events)
        counts = .allocate(capacity: self.events)
        verdicts = .allocate(capacity: self.events)
        work = .allocate(capacity: 3 * self.events)
    }

    public func deallocate() {
        features.deallocate()
        offsets.deallocate()
        intents.deallocate()
        tags.deallocate()
        counts.deallocate()
        verdicts.deallocate()
        work.deallocate()
    }
}
