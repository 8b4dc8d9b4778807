/// Logs channel reclaims, at most one line per tenant per second: a client
/// scribbling over its own segment's channel states must not flood the journal.
struct ReclaimLog {
    private var lastLine: [String: UInt64] = [:]
    private var suppressed: [String: Int] = [:]

    mutating func record(tenant: String, channel: Int, now: UInt64) {
        if let last = lastLine[tenant], now &- last < 1_000_000_000 {
            suppressed[tenant, default: 0] += 1
            return
        }
        lastLine[tenant] = now
        let earlier = suppressed.removeValue(forKey: tenant) ?? 0
        if earlier > 0 {
            Log.info("channel-reclaimed", ["tenant": tenant, "channel": channel, "also_reclaimed_in_last_second": earlier])
        } else {
            Log.info("channel-reclaimed", ["tenant": tenant, "channel": channel])
        }
    }

    /// Reports what the last second held back once it is over.
    mutating func flush(now: UInt64) {
        for (tenant, count) in suppressed where now &- (lastLine[tenant] ?? 0) >= 1_000_000_000 {
            lastLine[tenant] = now
            suppressed[tenant] = nil
            Log.info("channel-reclaimed", ["tenant": tenant, "also_reclaimed_in_last_second": count])
        }
    }
}
