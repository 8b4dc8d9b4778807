import Synchronization

/// One tenant's rate limit (`rate_limit = { events_per_second, burst }`),
/// shared by every worker that holds one of the tenant's channels.
///
/// Why one shared bucket rather than the rate split among workers by channel
/// share: `Daemon.start` deals a tenant's channels over all workers, and a
/// client uses whichever channels it claimed. A split would hold a tenant that
/// happens to use one channel to `rate / workers`; the shared bucket enforces
/// exactly the configured rate however the traffic lands. Its cost is one
/// compare-and-exchange per batch (not per event) on a line that only the
/// workers serving this tenant touch, and only for tenants that have a limit.
///
/// The bucket is kept as a GCRA ("virtual scheduling"): a single word, the
/// theoretical arrival time `tat` of the next event. Admitting `k` events
/// moves it `k * interval` past `max(tat, now)`; events are admitted while
/// `tat` stays within `burst * interval` of `now`. That is a token bucket of
/// `burst` tokens refilled at `eventsPerSecond`, in one atomic word and with
/// no refill step. Time is in ticks of 1/16 ns so that intervals of fast
/// rates keep their precision (1e9/s is 16 ticks per event); 2^64 ticks of
/// monotonic clock is 36 years of uptime.
final class TenantRateLimiter: Sendable {
    static let ticksPerNanosecond: UInt64 = 16
    /// Ticks per event.
    let interval: UInt64
    /// How far `tat` may run ahead of now: `burst` events' worth.
    let tolerance: UInt64
    /// Theoretical arrival time, in ticks. Written by every worker serving the
    /// tenant, with a compare-and-exchange: acquiring-and-releasing on success
    /// so successive admissions are ordered, relaxed loads otherwise (a stale
    /// value only makes the exchange fail and retry).
    private let tat = Atomic<UInt64>(0)
    /// Events refused so far: relaxed adds by the refusing workers, on the
    /// refusing path only; read for the log line.
    private let refused = Atomic<UInt64>(0)
    /// When the last `tenant-over-rate-limit` line went out, and the refusals
    /// it had counted. Any worker's housekeeping may report; the one whose
    /// compare-and-exchange moves `reportedAt` writes the line (at most one a
    /// second per tenant, however many workers serve it).
    private let reportedAt = Atomic<UInt64>(0)
    private let reported = Atomic<UInt64>(0)
    let limit: RateLimit

    init(_ limit: RateLimit) {
        precondition(limit.eventsPerSecond > 0 && limit.burst > 0)
        self.limit = limit
        interval = max(1, 1_000_000_000 * Self.ticksPerNanosecond / UInt64(limit.eventsPerSecond))
        tolerance = interval * UInt64(limit.burst)
    }

    /// Admits up to `wanted` events at monotonic time `nanoseconds` and returns
    /// how many: the rest are over the limit. Takes the tokens it returns.
    func admit(_ wanted: Int, now nanoseconds: UInt64) -> Int {
        guard wanted > 0 else { return 0 }
        let admitted = take(wanted, now: nanoseconds)
        if admitted < wanted { refused.add(UInt64(wanted - admitted), ordering: .relaxed) }
        return admitted
    }

    private func take(_ wanted: Int, now nanoseconds: UInt64) -> Int {
        let now = nanoseconds &* Self.ticksPerNanosecond
        var current = tat.load(ordering: .relaxed)
        while true {
            let start = max(current, now)
            // Another worker's later clock may have pushed tat past ours.
            let horizon = now &+ tolerance
            guard start < horizon else { return 0 }
            let room = horizon - start
            let admitted = Int(min(UInt64(wanted), room / interval))
            if admitted == 0 { return 0 }
            let next = start &+ UInt64(admitted) &* interval
            let (exchanged, original) = tat.compareExchange(
                expected: current, desired: next, successOrdering: .acquiringAndReleasing, failureOrdering: .relaxed)
            if exchanged { return admitted }
            current = original
        }
    }

    /// The events refused since the last report, once a second at most across
    /// all workers; nil when there is nothing to say or another worker says it.
    func refusalsToReport(now: UInt64) -> UInt64? {
        let last = reportedAt.load(ordering: .relaxed)
        guard last == 0 || now &- last >= 1_000_000_000, refused.load(ordering: .relaxed) > reported.load(ordering: .relaxed)
        else { return nil }
        guard reportedAt.compareExchange(expected: last, desired: max(now, 1), ordering: .relaxed).exchanged else { return nil }
        // Only this second's winner writes `reported`; an exchange (one total
        // order per atomic) hands it the previous winner's count.
        let total = refused.load(ordering: .relaxed)
        let before = reported.exchange(total, ordering: .relaxed)
        return total > before ? total - before : nil
    }
}
