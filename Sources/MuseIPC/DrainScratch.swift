/// A worker's private memory for one drain: the features of up to `events`
/// events copied out of the ring before scoring, packed event after event
/// (so a run of events of one intent is a block of rows a model scores in
/// one call), each event's offset, intent and feature count, and its
/// verdict. The features are kept for the shadow predictors that score them
/// after the answers are published.
public struct DrainScratch: @unchecked Sendable {
    public let events: Int
    /// The most features of one event; `events * stride` doubles are held.
    public let stride: Int
    let features: UnsafeMutablePointer<Double>
    /// Where each event's features start in `features`.
    let offsets: UnsafeMutablePointer<Int32>
    let intents: UnsafeMutablePointer<UInt32>
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
        counts = .allocate(capacity: self.events)
        verdicts = .allocate(capacity: self.events)
        work = .allocate(capacity: 3 * self.events)
    }

    public func deallocate() {
        features.deallocate()
        offsets.deallocate()
        intents.deallocate()
        counts.deallocate()
        verdicts.deallocate()
        work.deallocate()
    }
}

/// Events of one (tenant, intent) that passed the drain's checks, next to
/// each other in a batch: `count` rows of `width` features, row after row,
/// and a verdict to fill for each.
public struct EventRun {
    public let intent: IntentID
    public let count: Int
    public let width: Int
    public let rows: UnsafeBufferPointer<Double>
    public let verdicts: UnsafeMutableBufferPointer<Verdict>
    /// `3 * count` doubles a scorer may write.
    public let work: UnsafeMutableBufferPointer<Double>

    /// Row `i`'s features.
    @inline(__always)
    public func row(_ i: Int) -> UnsafeBufferPointer<Double> { UnsafeBufferPointer(rebasing: rows[i * width..<(i + 1) * width]) }
}
