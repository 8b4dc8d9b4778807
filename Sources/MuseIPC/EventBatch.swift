/// One drain's events as the drain hands them to the scorer: every client
/// field already read once and checked, in submission order.
///
/// Event `k` is either checked (its intent exists and its feature count is
/// the intent's, by `IntentBounds`: one source, checked once) and then its
/// features are `row(k)`, the daemon's private copy; or refused by the drain
/// itself, its verdict already written. The scorer fills the verdicts of the
/// checked events (`score`), a run of one intent at a time (`run(from:)`),
/// and sees the batch again once its answers are published (`answered`).
///
/// A view over the worker's `DrainScratch`: valid for the one drain call
/// that made it, on the draining thread only.
public struct EventBatch {
    public let tenant: TenantIndex
    /// Events in the batch, refused ones included.
    public let count: Int
    let scratch: DrainScratch

    init(tenant: TenantIndex, count: Int, scratch: DrainScratch) {
        self.tenant = tenant
        self.count = count
        self.scratch = scratch
    }

    /// Each event's verdict, in submission order: the drain's refusals are
    /// written before `score`, the scorer writes the checked events'.
    @inline(__always)
    public var verdicts: UnsafeMutableBufferPointer<Verdict> {
        UnsafeMutableBufferPointer(start: scratch.verdicts, count: count)
    }

    /// The client's tag of event `k`, as read once from the ring.
    @inline(__always)
    public func tag(_ k: Int) -> UInt64 { scratch.tags[k] }

    /// The intent id event `k` named (checked or not).
    @inline(__always)
    public func intent(_ k: Int) -> IntentID { IntentID(scratch.intents[k]) }

    /// True if event `k` passed the drain's checks (its features are copied).
    @inline(__always)
    public func isChecked(_ k: Int) -> Bool { scratch.counts[k] >= 0 }

    /// Event `k`'s features; only for a checked event.
    @inline(__always)
    public func row(_ k: Int) -> UnsafeBufferPointer<Double> {
        UnsafeBufferPointer(start: scratch.features + Int(scratch.offsets[k]), count: Int(scratch.counts[k]))
    }

    /// The first maximal run at or after `start` of consecutive checked
    /// events that share an intent (their rows are packed back to back, so
    /// a model's batch kernel scores them in one call); nil when there is
    /// none. The next run starts at `run.end`.
    @inline(__always)
    public func run(from start: Int) -> EventRun? {
        var k = start
        while k < count && scratch.counts[k] < 0 { k &+= 1 }
        guard k < count else { return nil }
        let width = Int(scratch.counts[k])
        let intent = scratch.intents[k]
        var end = k &+ 1
        while end < count && scratch.counts[end] == Int32(width) && scratch.intents[end] == intent { end &+= 1 }
        let n = end &- k
        return EventRun(intent: IntentID(intent), start: k, count: n, width: width,
                        rows: UnsafeBufferPointer(start: scratch.features + Int(scratch.offsets[k]), count: n &* width),
                        verdicts: UnsafeMutableBufferPointer(start: scratch.verdicts + k, count: n),
                        work: UnsafeMutableBufferPointer(start: scratch.work, count: 3 &* n))
    }
}

/// Events of one (tenant, intent) that passed the drain's checks, next to
/// each other in a batch: `count` rows of `width` features, row after row,
/// and a verdict to fill for each.
public struct EventRun {
    public let intent: IntentID
    /// The run's first event's index in its batch; it ends at `end`.
    public let start: Int
    public let count: Int
    public let width: Int
    public let rows: UnsafeBufferPointer<Double>
    public let verdicts: UnsafeMutableBufferPointer<Verdict>
    /// `3 * count` doubles a scorer may write.
    public let work: UnsafeMutableBufferPointer<Double>

    init(intent: IntentID, start: Int, count: Int, width: Int, rows: UnsafeBufferPointer<Double>,
                verdicts: UnsafeMutableBufferPointer<Verdict>, work: UnsafeMutableBufferPointer<Double>) {
        self.intent = intent
        self.start = start
        self.count = count
        self.width = width
        self.rows = rows
        self.verdicts = verdicts
        self.work = work
    }

    /// Index in the batch just past the run's last event.
    @inline(__always)
    public var end: Int { start &+ count }

    /// Row `i`'s features.
    @inline(__always)
    public func row(_ i: Int) -> UnsafeBufferPointer<Double> { UnsafeBufferPointer(rebasing: rows[i * width..<(i + 1) * width]) }
}
