import MuseIPC

/// What a worker does every housekeeping interval, awake or woken for it:
/// heartbeats, dead clients' channels, damaged segments, and the log lines
/// it throttles.
extension Worker {
    func housekeep(now: UInt64) {
        heartbeat.beat(worker: index)
        if segments.contains(where: \.isDamaged) { dropDamagedSegments() }
        for segment in segments { segment.beat(now: now) }
        for i in 0..<endpoints.count where endpoints[i].reclaimIfAbandoned() {
            reclaims.record(tenant: endpoints[i].segment.tenant, channel: endpoints[i].channel.rawValue, now: now)
        }
        metrics?.publishReclaims((0..<endpoints.count).map { (endpoints[$0].tenant, endpoints[$0].reclaims) })
        reclaims.flush(now: now)
        reportRateLimits(now: now)
    }

    /// One line a second per tenant whose events went over its rate limit
    /// (answered `.overloaded`): the operator sees it without metrics.
    func reportRateLimits(now: UInt64) {
        for (tenant, limiter) in scheduler.limiters {
            guard let refused = limiter.refusalsToReport(now: now),
                  let i = (0..<endpoints.count).first(where: { endpoints[$0].tenant == tenant }) else { continue }
            Log.warning("tenant-over-rate-limit", ["tenant": endpoints[i].segment.tenant, "refused_since_last_line": refused,
                                                   "events_per_second": limiter.limit.eventsPerSecond,
                                                   "burst": limiter.limit.burst])
        }
    }


    /// Stops serving tenants whose segment file a client truncated; the other
    /// tenants on this worker carry on.
    func dropDamagedSegments() {
        for segment in segments where segment.isDamaged {
            Log.error("segment-truncated", ["tenant": segment.tenant, "path": segment.path, "reason":
                "a client shrank the segment file; this tenant is no longer served until its file is removed and mused restarted"])
        }
        endpoints.removeAll { $0.segment.isDamaged }
        rebuildScheduler()
        segments.removeAll(where: \.isDamaged)
        replaceDoorbell()
    }
}
