#if canImport(Glibc)
import Glibc
#endif
import CMuse

/// The daemon's end of one channel: it consumes submissions and produces
/// completions.
///
/// Non-copyable: the private `head` must exist once per channel, so two
/// copies can never drain (or reclaim) the same rings.
///
/// `head` is the daemon's private count of events answered. The daemon keeps
/// sq_head == cq_tail == head in shared memory, so a restarted daemon resumes
/// from cq_tail without answering anything twice. Every index a client writes
/// is read once per batch and bounds-checked against the private layout.
public struct ChannelEndpoint: ~Copyable, @unchecked Sendable {
    public let segment: Segment
    public let channel: ChannelIndex
    public let tenant: TenantIndex
    let control: UnsafeMutablePointer<muse_channel_control>
    let submissions: UnsafeMutableRawPointer
    let completions: UnsafeMutablePointer<muse_completion>
    let depth: UInt64
    let mask: UInt64
    let slotSize: Int
    let maxFeatures: Int
    /// Events answered on this channel since it was created.
    public private(set) var head: UInt64
    /// The last inconsistency seen on this channel's indices, for diagnostics.
    public private(set) var fault: muse_status = MUSE_OK
    /// Times this channel was reclaimed (by a drain or housekeeping), for metrics.
    public private(set) var reclaims: UInt64 = 0
    /// Drains that found the channel RELEASED; paces the reclaim attempts.
    private var releasedDrains: UInt32 = 0
    /// While the channel is being drained (`beginDrain`): the submission
    /// index up to which events are answered; nothing after it is taken.
    public private(set) var drainTarget: UInt64?

    public init(segment: Segment, channel: ChannelIndex, tenant: TenantIndex) {
        precondition(channel.rawValue >= 0 && channel.rawValue < segment.layout.channelCount)
        self.segment = segment
        self.channel = channel
        self.tenant = tenant
        control = segment.control(channel.rawValue)
        let base = UnsafeMutableRawPointer(control)
        submissions = base + segment.layout.submissionRingOffset
        completions = (base + segment.layout.completionRingOffset).assumingMemoryBound(to: muse_completion.self)
        depth = UInt64(segment.layout.ringDepth)
        mask = depth - 1
        slotSize = segment.layout.submissionSlotSize
        maxFeatures = segment.layout.maxFeatures
        // Resume from what a previous daemon published. A crash between the
        // completion and sq_head stores is repaired here.
        head = muse__atomic_load_acquire_u64(&control.pointee.cq_tail)
        muse__atomic_store_release_u64(&control.pointee.sq_head, head)
    }

    /// True if a client holds the channel.
    public var isClaimed: Bool { muse__atomic_load_acquire_u32(&control.pointee.state) == UInt32(MUSE_CHANNEL_CLAIMED) }

    /// True if a claimed channel has submissions the daemon can answer now
    /// (its completion ring has room). Used before going to sleep.
    public func hasWork() -> Bool {
        guard isClaimed, drainTarget != head else { return false }
        let waiting = muse__atomic_load_acquire_u64(&control.pointee.sq_tail) &- head
        let unread = head &- muse__atomic_load_acquire_u64(&control.pointee.cq_head)
        return waiting > 0 && waiting <= depth && unread < depth
    }

    /// Answers up to `limit` submissions and wakes the client if it sleeps.
    /// Returns how many were answered. `scratch` must hold `limit` events.
    @inline(__always)
    public mutating func drain<Scorer: EventScorer>(
        limit: Int, scorer: borrowing Scorer, scratch: DrainScratch
    ) -> Int {
        drain(limit: limit, scorer: scorer, scratch: scratch, admit: { $0 })
    }

    /// Like `drain(limit:scorer:scratch:)`, with admission control: once the
    /// batch's size `n` is known (and before anything is answered), `admit(n)`
    /// says how many of its first events may be scored. The rest of the batch
    /// is answered at once, in order, with `.overloaded` and NaN scores: a
    /// tenant over its rate limit hears so immediately, never silence, and
    /// each event is still answered exactly once. `admit` is called at most
    /// once per call, so a rate limiter behind it costs one step per batch.
    @inline(__always)
    public mutating func drain<Scorer: EventScorer>(
        limit: Int, scorer: borrowing Scorer, scratch: DrainScratch, admit: (Int) -> Int
    ) -> Int {
        let state = muse__atomic_load_acquire_u32(&control.pointee.state)
        guard state == UInt32(MUSE_CHANNEL_CLAIMED) else {
            // A client released the channel with events in flight (with none,
            // it frees the channel itself: muse.h, muse__give_back). Free it
            // now rather than at the next housekeeping, so it can be claimed
            // again at once. The client rings the doorbell after dropping its
            // lock, so the first try normally succeeds; a client that keeps
            // the state RELEASED while holding the lock costs one fcntl every
            // 16 drains, not one per drain.
            if state == UInt32(MUSE_CHANNEL_RELEASED) {
                if releasedDrains & 15 == 0 { _ = reclaimIfAbandoned() }
                releasedDrains &+= 1
            }
            return 0
        }
        let tail = muse__atomic_load_acquire_u64(&control.pointee.sq_tail)
        let waiting = tail &- head
        if waiting == 0 { return 0 }
        guard waiting <= depth else { return record(MUSE_E_CORRUPT) }
        let consumed = muse__atomic_load_acquire_u64(&control.pointee.cq_head)
        let unread = head &- consumed
        guard unread <= depth else { return record(MUSE_E_CORRUPT) }
        // Take only what the completion ring has room for: a client that does
        // not read its completions fills its own submission ring and gets
        // MUSE_E_AGAIN; nothing is overwritten.
        var count = Int(min(waiting, depth - unread, UInt64(limit), UInt64(scratch.events)))
        if let drainTarget { count = min(count, Int(drainTarget &- head)) }
        if count == 0 { return 0 }
        let admitted = min(max(admit(count), 0), count)
        // Read once per batch: the one source of feature counts.
        let intents = scorer.intents
        let generation = scorer.generationID
        // 1. Each client field read once and checked; the features of the
        //    events that pass copied out, packed, before anything is scored.
        var packed = 0
        for k in 0..<count {
            let slot = submissions + Int((head &+ UInt64(k)) & mask) * slotSize
            let event = slot.assumingMemoryBound(to: muse_event_header.self)
            // Through atomic loads the compiler may not repeat after the checks.
            let intent = IntentID(muse__atomic_load_relaxed_u32(&event.pointee.intent_id))
            let featureCount = Int(muse__atomic_load_relaxed_u32(&event.pointee.feature_count))
            scratch.tags[k] = muse__atomic_load_relaxed_u64(&event.pointee.tag)
            scratch.counts[k] = -1
            scratch.intents[k] = intent.rawValue
            if k >= admitted {
                scratch.verdicts[k] = .refused(.overloaded, generation: generation)
            } else if let expected = intents.featureCount(of: intent) {
                if featureCount == expected && featureCount <= maxFeatures && featureCount <= scratch.stride {
                    UnsafeMutableRawPointer(scratch.features + packed).copyMemory(
                        from: slot + MemoryLayout<muse_event_header>.size, byteCount: featureCount &* 8)
                    scratch.offsets[k] = Int32(packed)
                    scratch.counts[k] = Int32(featureCount)
                    packed &+= featureCount
                } else {
                    scratch.verdicts[k] = .refused(.featureCount, generation: generation)
                }
            } else {
                scratch.verdicts[k] = .refused(.unknownIntent, generation: generation)
            }
        }
        // 2. The checked events scored, a run of one intent at a time.
        let batch = EventBatch(tenant: tenant, count: count, scratch: scratch)
        scorer.score(batch)
        // 3. The answers, in order.
        for k in 0..<count {
            let index = head &+ UInt64(k)
            var verdict = scratch.verdicts[k]
            // An OK answer carries a finite score: a client comparing
            // `score >= threshold` would let a NaN through. NaN features
            // (missing values) are the models' business; a non-finite result
            // is an error status, and the scorer's `answered` sees it so.
            if verdict.status == .ok && !(verdict.score.isFinite && verdict.rawScore.isFinite) {
                verdict = Verdict(status: .badScore, score: .nan, rawScore: .nan,
                                  predictor: verdict.predictor, generation: verdict.generation)
                scratch.verdicts[k] = verdict
            }
            let completion = completions + Int(index & mask)
            completion.pointee = muse_completion(
                tag: scratch.tags[k], status: verdict.status.rawValue, predictor_id: verdict.predictor.rawValue,
                score: verdict.score, raw_score: verdict.rawScore, generation_id: verdict.generation.rawValue,
                reserved: (0, 0, 0))
        }
        head &+= UInt64(count)
        muse__atomic_store_release_u64(&control.pointee.cq_tail, head)
        muse__atomic_store_release_u64(&control.pointee.sq_head, head)
        wakeClient()
        // 4. What no client waits on, after the answers are out, from the
        //    daemon's private copies.
        scorer.answered(batch)
        return count
    }

    /// Makes the next drain that finds the channel RELEASED try to free it at
    /// once. Called after the worker slept: the ring that woke it may be the
    /// releasing client's, which dropped its lock just before, and the next
    /// drain may be the only one before the worker sleeps again.
    public mutating func resetReclaimPacing() { releasedDrains = 0 }

    /// Answers only what is submitted now: later submissions stay in the ring,
    /// as they do while no daemon runs, for whoever serves the channel next.
    /// Used before a tenant is removed and when mused stops.
    public mutating func beginDrain() {
        let tail = muse__atomic_load_acquire_u64(&control.pointee.sq_tail)
        // A client-written index beyond the ring is not trusted: nothing to drain.
        drainTarget = tail &- head <= depth ? tail : head
    }

    /// True once a drain has answered everything up to its target, or when
    /// the channel is no longer claimed (what is left is the reclaim's). A
    /// client that stops reading completions keeps it false: the caller's
    /// deadline bounds that.
    public var isDrained: Bool {
        guard let drainTarget else { return false }
        return head == drainTarget || !isClaimed
    }

    /// Events a drain has yet to answer (0 when not draining).
    public var undrained: UInt64 { drainTarget.map { $0 &- head } ?? 0 }

    /// Wakes the client if it said it may sleep: muse.h's muse__wake, whose
    /// fence pairs with the client's fence between setting client_sleeping
    /// and re-reading cq_tail.
    @inline(__always)
    func wakeClient() {
        muse__wake(&control.pointee.client_doorbell, &control.pointee.client_sleeping, nil)
    }

    private mutating func record(_ status: muse_status) -> Int {
        if fault != status {
            fault = status
            muse__atomic_store_relaxed_u32(&control.pointee.fault, status.rawValue)
        }
        return 0
    }

    /// Frees the channel if its client is gone: released, or dead (its OFD lock
    /// is free although the state says claimed). Unanswered events are dropped,
    /// all four indices are reset to `head`, and the state becomes FREE.
    /// Returns true if the channel was reclaimed.
    public mutating func reclaimIfAbandoned() -> Bool {
        let state = muse__atomic_load_acquire_u32(&control.pointee.state)
        if state == UInt32(MUSE_CHANNEL_FREE) && isQuiescent { return false }
        let offset = segment.lockOffset(channel.rawValue)
        // A live owner holds the lock; failing to take it means "in use".
        guard muse__ofd_lock_byte(segment.descriptor, offset, Int16(F_WRLCK)) == 0 else { return false }
        defer { muse__ofd_lock_byte(segment.descriptor, offset, Int16(F_UNLCK)) }
        // With the lock held no client can be claiming; re-read the state.
        let current = muse__atomic_load_acquire_u32(&control.pointee.state)
        if current == UInt32(MUSE_CHANNEL_FREE) && isQuiescent { return false }
        muse__atomic_store_release_u64(&control.pointee.sq_tail, head)
        muse__atomic_store_release_u64(&control.pointee.sq_head, head)
        muse__atomic_store_release_u64(&control.pointee.cq_tail, head)
        muse__atomic_store_release_u64(&control.pointee.cq_head, head)
        muse__atomic_store_relaxed_u32(&control.pointee.client_sleeping, 0)
        muse__atomic_store_relaxed_u32(&control.pointee.fault, 0)
        fault = MUSE_OK
        muse__atomic_store_release_u32(&control.pointee.state, UInt32(MUSE_CHANNEL_FREE))
        releasedDrains = 0
        reclaims &+= 1
        return true
    }

    /// All four indices equal the daemon's head: nothing in flight.
    private var isQuiescent: Bool {
        muse__atomic_load_acquire_u64(&control.pointee.sq_tail) == head
            && muse__atomic_load_acquire_u64(&control.pointee.cq_head) == head
            && muse__atomic_load_acquire_u64(&control.pointee.sq_head) == head
            && muse__atomic_load_acquire_u64(&control.pointee.cq_tail) == head
    }
}
