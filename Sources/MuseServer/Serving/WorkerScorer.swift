import MuseIPC

/// The worker's side of the drain: what it hands `ChannelEndpoint.drain`.
/// The published `Serving` routes and scores each checked batch, a run of one
/// intent at a time; once the answers are out, the worker's own shadow tally,
/// score sketches and metrics cell take the batch, so nothing is shared and
/// nothing is locked. The drain calls it twice per batch, never per event.
public struct WorkerScorer: EventScorer {
    let serving: Serving
    let tally: ShadowTally
    let sketches: SketchTable?
    let sampling: ShadowSampling
    let metrics: MetricsRecorder?

    /// Cold (a generation pick-up): `metrics` gets its counts for `serving`,
    /// `sketches` the table of its (tenant, predictor) cells.
    init(serving: Serving, tally: ShadowTally, sketches: WorkerSketches? = nil, alertThresholds: [[Double]] = [],
         shadowSample: [Int] = [], metrics: WorkerMetrics? = nil) {
        self.serving = serving
        self.tally = tally
        sampling = ShadowSampling(every: shadowSample)
        self.sketches = sketches?.table(for: serving, thresholds: alertThresholds)
        self.metrics = metrics?.recorder(for: serving)
    }

    public var generationID: GenerationID { serving.generationID }

    public var intents: IntentBounds { serving.intents }

    /// Each run by the models' batch path. Scoring latency is timed per
    /// batch, not per event, and only for one batch in
    /// `WorkerMetrics.latencySampling`: from here to the answers' publication
    /// (`answered`).
    @inline(__always)
    public func score(_ batch: EventBatch) {
        metrics?.cell.batchBegins()
        var k = 0
        while let run = batch.run(from: k) {
            serving.score(tenant: batch.tenant, run: run)
            k = run.end
        }
    }

    /// After the answers are out: every answer into the metrics; each run's
    /// OK answers into its predictor's sketch (level-1 `rawScore`, finite:
    /// the drain made any other `.badScore`) and the tenant's alert counts,
    /// the cell looked up once per run; then 1 in `shadow_sample` runs
    /// (`ShadowSampling`) by the shadow predictors.
    @inline(__always)
    public func answered(_ batch: EventBatch) {
        let tenant = batch.tenant
        if let metrics {
            metrics.cell.batchEnded(tenant: tenant.rawValue, count: batch.count)
            let verdicts = batch.verdicts
            for k in 0..<batch.count { metrics.answered(tenant: tenant, intent: batch.intent(k), verdict: verdicts[k]) }
        }
        let shadowed = serving.hasShadows(tenant: tenant)
        guard sketches != nil || shadowed else { return }
        var k = 0
        while let run = batch.run(from: k) {
            // A run is one route: its OK answers share one predictor (a
            // refusal's is none, which no cell has). Their scores are finite:
            // the drain made any other `.badScore`.
            if let recorder = sketches?.recorder(tenant: tenant.rawValue, predictor: run.verdicts[0].predictor.index) {
                for verdict in run.verdicts where verdict.status == .ok {
                    recorder.record(raw: verdict.rawScore, score: verdict.score)
                }
            }
            if shadowed && sampling.takes(tenant: tenant.rawValue) {
                serving.scoreShadows(tenant: tenant, run: run, into: tally, sketches: sketches)
            }
            k = run.end
        }
    }
}

extension WorkerScorer {
    /// A scorer outside any worker (benchmarks): a shadow tally of its own,
    /// sized for `serving`, the given sketches, no metrics.
    public init(serving: Serving, sketches: WorkerSketches?) {
        let tally = ShadowTally()
        let shadowed = serving.tenants.indices.contains { serving.hasShadows(tenant: TenantIndex($0)) }
        tally.reset(generation: serving.generationID.rawValue, tenants: shadowed ? serving.tenants.count : 0,
                    predictors: shadowed ? serving.generation.routing.predictors.count : 0)
        self.init(serving: serving, tally: tally, sketches: sketches)
    }
}
