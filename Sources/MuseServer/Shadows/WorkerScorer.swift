import MuseIPC

/// What a worker hands its channels' drain: the published `Serving` plus the
/// worker's own shadow tally and score sketches, so shadow scores and level-1
/// scores are recorded without sharing, and its metrics cell, if the daemon
/// exports metrics.
struct WorkerScorer: EventScorer {
    let serving: Serving
    let tally: ShadowTally
    let sketches: SketchTable?
    let metrics: MetricsRecorder?

    /// Cold (a generation pick-up): `metrics` gets its counts for `serving`,
    /// `sketches` the table of its (tenant, predictor) cells.
    init(serving: Serving, tally: ShadowTally, sketches: WorkerSketches? = nil, alertThresholds: [[Double]] = [],
         metrics: WorkerMetrics? = nil) {
        self.serving = serving
        self.tally = tally
        self.sketches = sketches?.table(for: serving, thresholds: alertThresholds)
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
        serving.scoreShadows(tenant: tenant, run: run, into: tally, sketches: sketches)
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

    /// Every answered event; an OK one's level-1 score (`rawScore`, finite:
    /// the drain made any other `.badScore`) goes to its predictor's sketch,
    /// its level-2 score to the tenant's alert counts.
    @inline(__always)
    func answered(tenant: TenantIndex, intent: IntentID, verdict: borrowing Verdict) {
        if let sketches, verdict.status == .ok {
            sketches.record(tenant: tenant.rawValue, predictor: Int(verdict.predictor.rawValue) &- 1,
                            raw: verdict.rawScore, score: verdict.score)
        }
        metrics?.answered(tenant: tenant, intent: intent, verdict: verdict)
    }

    @inline(__always)
    func batchEnded(tenant: TenantIndex, count: Int, began: UInt64) {
        guard let metrics else { return }
        metrics.cell.recordBatch(tenant: tenant.rawValue, count: count,
                                 nanoseconds: began == 0 ? nil : ThreadSupport.monotonicNanoseconds() &- began)
    }
}
