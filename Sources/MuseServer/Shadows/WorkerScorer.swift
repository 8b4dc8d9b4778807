import MuseIPC

/// What a worker hands its channels' drain: the published `Serving` plus the
/// worker's own shadow tally, so shadow scores are recorded without sharing,
/// and its metrics cell, if the daemon exports metrics.
struct WorkerScorer: EventScorer {
    let serving: Serving
    let tally: ShadowTally
    let metrics: MetricsRecorder?

    /// Cold (a generation pick-up): `metrics` gets its counts for `serving`.
    init(serving: Serving, tally: ShadowTally, metrics: WorkerMetrics? = nil) {
        self.serving = serving
        self.tally = tally
        self.metrics = metrics?.recorder(for: serving)
    }

    var generationID: GenerationID { serving.generationID }

    @inline(__always)
    func featureCount(tenant: TenantIndex, intent: IntentID) -> Int? {
        serving.featureCount(tenant: tenant, intent: intent)
    }

    @inline(__always)
    func score(tenant: TenantIndex, intent: IntentID, features: UnsafeBufferPointer<Double>) -> Verdict {
        serving.score(tenant: tenant, intent: intent, features: features)
    }

    @inline(__always)
    func score(tenant: TenantIndex, run: EventRun) {
        serving.score(tenant: tenant, run: run)
    }

    @inline(__always)
    func hasShadows(tenant: TenantIndex) -> Bool { serving.hasShadows(tenant: tenant) }

    func scoreShadows(tenant: TenantIndex, run: EventRun) {
        serving.scoreShadows(tenant: tenant, run: run, into: tally)
    }

    // MARK: Metrics (see `MetricsRecorder`; nothing without a metrics endpoint)

    /// Scoring latency is timed per batch, not per event, and only for one
    /// batch in `WorkerMetrics.latencySampling`: the clock is read here and in
    /// `batchEnded`, and the batch records its per-event mean. 0: not timed.
    @inline(__always)
    func batchBegins() -> UInt64 {
        guard let metrics, metrics.cell.timesNextBatch() else { return 0 }
        return ThreadSupport.monotonicNanoseconds()
    }

    @inline(__always)
    func answered(tenant: TenantIndex, intent: IntentID, verdict: borrowing Verdict) {
        metrics?.answered(tenant: tenant, intent: intent, verdict: verdict)
    }

    @inline(__always)
    func batchEnded(tenant: TenantIndex, count: Int, began: UInt64) {
        guard let metrics else { return }
        metrics.cell.recordBatch(tenant: tenant.rawValue, count: count,
                                 nanoseconds: began == 0 ? nil : ThreadSupport.monotonicNanoseconds() &- began)
    }
}
