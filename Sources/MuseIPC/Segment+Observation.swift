import CMuse

extension Segment {
    /// A read-only look at one channel for status and metrics, never the hot
    /// path. The client writes sq_tail and the state, the daemon cq_tail;
    /// both are read with acquire loads, a moment apart, so the figure is an
    /// estimate; an index a client scribbled past the ring counts as 0.
    public struct ChannelObservation: Sendable {
        public let isClaimed: Bool
        /// Events submitted and not yet answered.
        public let inFlight: UInt64
    }

    public func observe(channel: Int) -> ChannelObservation {
        let control = self.control(channel)
        let state = muse_atomic_load_acquire_u32(&control.pointee.state)
        let answered = muse_atomic_load_acquire_u64(&control.pointee.cq_tail)
        let submitted = muse_atomic_load_acquire_u64(&control.pointee.sq_tail)
        let inFlight = submitted &- answered
        return ChannelObservation(isClaimed: state == UInt32(MUSE_CHANNEL_CLAIMED),
                                  inFlight: inFlight <= UInt64(layout.ringDepth) ? inFlight : 0)
    }
}
