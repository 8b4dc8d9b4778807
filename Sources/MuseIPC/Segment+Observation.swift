import CMuse

extension Segment {
    /// A read-only look at one channel for status and metrics, never the hot
    /// path. The client writes sq_tail, cq_head and the state; the daemon
    /// sq_head and cq_tail. Each is read with an acquire load, a moment
    /// apart, so the figures are estimates; a difference a client scribbled
    /// past the ring is clamped to its depth.
    public struct ChannelObservation: Sendable {
        public let isClaimed: Bool
        /// Events submitted and not yet taken by the daemon.
        public let pendingSubmissions: UInt64
        /// Answers the client has not read yet.
        public let unreadCompletions: UInt64
        /// Events submitted and not yet answered.
        public let inFlight: UInt64
    }

    public func observe(channel: Int) -> ChannelObservation {
        let control = self.control(channel)
        let depth = UInt64(layout.ringDepth)
        let state = muse__atomic_load_acquire_u32(&control.pointee.state)
        let sqHead = muse__atomic_load_acquire_u64(&control.pointee.sq_head)
        let sqTail = muse__atomic_load_acquire_u64(&control.pointee.sq_tail)
        let cqHead = muse__atomic_load_acquire_u64(&control.pointee.cq_head)
        let cqTail = muse__atomic_load_acquire_u64(&control.pointee.cq_tail)
        return ChannelObservation(isClaimed: state == UInt32(MUSE_CHANNEL_CLAIMED),
                                  pendingSubmissions: min(sqTail &- sqHead, depth),
                                  unreadCompletions: min(cqTail &- cqHead, depth),
                                  inFlight: min(sqTail &- cqTail, depth))
    }

    /// Submissions waiting and completions unread, summed over the channels
    /// (the ring-occupancy gauges).
    public func ringOccupancy() -> (submissions: UInt64, completions: UInt64) {
        var submissions: UInt64 = 0, completions: UInt64 = 0
        for channel in 0..<layout.channelCount {
            let observed = observe(channel: channel)
            submissions += observed.pendingSubmissions
            completions += observed.unreadCompletions
        }
        return (submissions, completions)
    }
}
