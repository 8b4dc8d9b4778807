import MuseControl
import MuseCore
import MuseIPC
import MuseSnapshot
import Prometheus

/// Turns the workers' metrics cells into swift-prometheus metrics, once per
/// scrape, on the scraping thread (never a worker's).
///
/// The hot path never touches the registry: workers count into their own
/// cells (`WorkerMetrics`), and here the cells are summed over the workers
/// and the registry brought up to date. Counters get the delta since the
/// last scrape (`increment(by:)`: they stay monotone). swift-prometheus 2.x
/// has no way to add pre-aggregated buckets to a histogram, only `record` of
/// one value, so histograms are replayed: for each bucket, its new
/// observations are recorded at their mean (the cell keeps a sum per bucket,
/// so the mean lies in the bucket and `_sum` stays exact: whole units, split
/// into q and q + 1), at most
/// `replayLimit` records per bucket and scrape, the rest carried to the next
/// scrape. That costs the scraping thread ~30 ns per batch observed, not per
/// event. Gauges (ring occupancy, serving generation, drift) are set from the
/// current state.
final class MetricsExporter: Sendable {
    let registry: PrometheusCollectorRegistry
    let layout: MetricsLayout
    private let cells: [WorkerMetrics]
    /// The segments of the tenants held now, by `TenantIndex` (the daemon's
    /// slots, read at each scrape: a reload adds and removes tenants).
    private let segments: @Sendable () -> [(index: Int, segment: Segment)]
    /// The serving generation's id, read at each scrape.
    private let servingGeneration: @Sendable () -> UInt64?
    /// The shadow predictors' records (the promotion gate's figures), read at each scrape.
    private let shadows: @Sendable () -> [ShadowInfo]
    /// Each (tenant, predictor, threshold)'s alerts, summed over the workers, read at each scrape.
    private let alerts: @Sendable () -> [AlertTotal]
    /// Scrapes are serialised: what was exported so far lives here.
    private let state: Locked<ExportState>
    static let replayLimit: UInt64 = 20_000

    private let generationGauge: Gauge
    private let swapDurations: [String: ValueHistogram]
    private let process: ProcessSeries

    static var events: MetricNameDescriptor { MetricNameDescriptor(namespace: "muse", metricName: "events", unitName: "total",
        helpText: "Events answered, by tenant, intent and completion status.") }
    static var latency: MetricNameDescriptor { MetricNameDescriptor(namespace: "muse", metricName: "scoring_latency", unitName: "seconds",
        helpText: "Per-event scoring time, the mean over a batch (checked events handed to the scorer to answers published); one batch in 8 is timed.") }
    static var batchSize: MetricNameDescriptor { MetricNameDescriptor(namespace: "muse", metricName: "batch_size", unitName: "events",
        helpText: "Events per batch a worker drained from one channel.") }
    static var pending: MetricNameDescriptor { MetricNameDescriptor(namespace: "muse", metricName: "ring_submissions_pending", unitName: "events",
        helpText: "Events waiting in the tenant's submission rings.") }
    static var unread: MetricNameDescriptor { MetricNameDescriptor(namespace: "muse", metricName: "ring_completions_unread", unitName: "events",
        helpText: "Answers waiting in the tenant's completion rings for their client.") }
    static var reclaims: MetricNameDescriptor { MetricNameDescriptor(namespace: "muse", metricName: "channels_reclaimed", unitName: "total",
        helpText: "Channels freed after their client died or released them with events in flight.") }
    static var swaps: MetricNameDescriptor { MetricNameDescriptor(namespace: "muse", metricName: "swaps", unitName: "total",
        helpText: "Generation swaps and rollbacks, by kind and result.") }
    static var swapDuration: MetricNameDescriptor { MetricNameDescriptor(namespace: "muse", metricName: "swap_duration", unitName: "seconds",
        helpText: "Duration of a swap or rollback request: load, verification, gate and publication.") }
    static var generation: MetricNameDescriptor { MetricNameDescriptor(namespace: "muse", metricName: "serving_generation", unitName: "",
        helpText: "The id of the generation workers serve.") }
    static var drift: MetricNameDescriptor { MetricNameDescriptor(namespace: "muse", metricName: "score_drift", unitName: "psi",
        helpText: "PSI of the primary predictor's transformed scores against the reference deciles, per tenant, since the serving generation was published.") }
    static var shadowDrift: MetricNameDescriptor { MetricNameDescriptor(namespace: "muse", metricName: "shadow_drift", unitName: "psi",
        helpText: "PSI of a shadow predictor's transformed scores against the reference deciles, per tenant, since the serving generation was published: what swap --gate judges.") }
    static var shadowEvents: MetricNameDescriptor { MetricNameDescriptor(namespace: "muse", metricName: "shadow_events", unitName: "",
        helpText: "Events a shadow predictor scored for the tenant since the serving generation was published.") }
    static var buildInfo: MetricNameDescriptor { MetricNameDescriptor(namespace: "muse", metricName: "build", unitName: "info",
        helpText: "Always 1: the release of this mused, the muse.h ABI and the snapshot format it writes.") }
    static var alertsTotal: MetricNameDescriptor { MetricNameDescriptor(namespace: "muse", metricName: "alerts", unitName: "total",
        helpText: "Events whose level-2 score reached the tenant's alert threshold (alert_thresholds), per predictor, primaries and shadows; divide its rate by muse_events_total's for the alert rate.") }
    static var driftEvents: MetricNameDescriptor { MetricNameDescriptor(namespace: "muse", metricName: "score_drift_events", unitName: "",
        helpText: "Scores the drift PSI is computed from.") }

    init(layout: MetricsLayout, cells: [WorkerMetrics],
         segments: @escaping @Sendable () -> [(index: Int, segment: Segment)],
         shadows: @escaping @Sendable () -> [ShadowInfo] = { [] },
         alerts: @escaping @Sendable () -> [AlertTotal] = { [] },
         servingGeneration: @escaping @Sendable () -> UInt64?) {
        self.shadows = shadows
        self.alerts = alerts
        self.layout = layout
        self.cells = cells
        self.segments = segments
        self.servingGeneration = servingGeneration
        let registry = PrometheusCollectorRegistry()
        self.registry = registry
        state = Locked(ExportState(layout: layout))
        generationGauge = registry.makeGauge(descriptor: Self.generation)
        let swapBuckets = [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]
        var durations: [String: ValueHistogram] = [:]
        for kind in ["swap", "rollback", "candidate", "promote"] {
            durations[kind] = registry.makeValueHistogram(descriptor: Self.swapDuration, labels: [("kind", kind)],
                                                          buckets: swapBuckets)
            for result in ["published", "refused"] {
                _ = registry.makeCounter(descriptor: Self.swaps, labels: [("kind", kind), ("result", result)])
            }
        }
        swapDurations = durations
        registry.makeGauge(descriptor: Self.buildInfo, labels: [
            ("version", MuseVersion.release), ("abi", MuseVersion.abi), ("snapshot_format", "\(SnapshotFormat.version)")])
            .set(1.0)
        process = ProcessSeries(registry: registry)
    }

    /// Control thread (cold): one swap or rollback request and how it ended.
    func recordSwap(kind: String, published: Bool, seconds: Double) {
        registry.makeCounter(descriptor: Self.swaps, labels: [("kind", kind), ("result", published ? "published" : "refused")])
            .increment()
        swapDurations[kind]?.record(seconds)
    }

    /// The exposition text, after bringing every metric up to date.
    func render() -> [UInt8] {
        state.withLock { state in
            collect(into: &state)
            return registry.emitToBuffer()
        }
    }

    private func collect(into state: inout ExportState) {
        let tenants = layout.tenants
        // Events by (tenant, intent, status): deltas since the last scrape.
        let intents = layout.intents
        for index in 0..<layout.eventCounterCount {
            let total = cells.reduce(UInt64(0)) { $0 &+ $1.events.load(index) }
            let delta = total &- state.events[index]
            guard delta > 0, delta < UInt64(Int64.max) else { continue }
            let tenant = index / (MetricsLayout.statusColumns * MetricsLayout.intentColumns)
            guard let name = tenants[tenant] else { continue }
            state.events[index] = total
            let counter = state.eventCounters[index] ?? {
                let status = index % MetricsLayout.statusColumns
                let column = (index / MetricsLayout.statusColumns) % MetricsLayout.intentColumns
                let made = registry.makeCounter(descriptor: Self.events, labels: [
                    ("tenant", name),
                    ("intent", column < intents.count ? intents[column] : MetricsLayout.unknownIntent),
                    ("status", MetricsLayout.statusLabel(status))])
                state.eventCounters[index] = made
                return made
            }()
            counter.increment(by: Int64(delta))
        }
        // Per tenant: made on first sight of its name, kept after it is
        // removed (counters stay monotone; a tenant added back continues).
        for (t, name) in tenants.enumerated() {
            guard let name else { continue }
            let series = state.tenantSeries[t] ?? {
                let labels = [("tenant", name)]
                let made = TenantSeries(
                    reclaims: registry.makeCounter(descriptor: Self.reclaims, labels: labels),
                    latency: registry.makeValueHistogram(descriptor: Self.latency, labels: labels,
                        buckets: MetricBuckets.latencyNanoseconds.map { Double($0) / 1e9 }),
                    batches: registry.makeValueHistogram(descriptor: Self.batchSize, labels: labels,
                        buckets: MetricBuckets.batchSizes.map { Double($0) }))
                state.tenantSeries[t] = made
                return made
            }()
            let total = cells.reduce(UInt64(0)) { $0 &+ $1.reclaims.load(t) }
            if total > state.reclaims[t] {
                series.reclaims.increment(by: Int64(total - state.reclaims[t]))
                state.reclaims[t] = total
            }
            let l = MetricBuckets.latencyNanoseconds.count + 1, b = MetricBuckets.batchSizes.count + 1
            var totals = ([UInt64](repeating: 0, count: l), [UInt64](repeating: 0, count: l),
                          [UInt64](repeating: 0, count: b), [UInt64](repeating: 0, count: b))
            for cell in cells {
                let h = cell.histograms(tenant: t)
                for i in 0..<l { totals.0[i] &+= h.latencyCounts[i]; totals.1[i] &+= h.latencySums[i] }
                for i in 0..<b { totals.2[i] &+= h.batchCounts[i]; totals.3[i] &+= h.batchSums[i] }
            }
            replay(tenant: t, bounds: MetricBuckets.latencyNanoseconds, scale: 1e-9, into: series.latency,
                   counts: totals.0, sums: totals.1, exported: &state.latency)
            replay(tenant: t, bounds: MetricBuckets.batchSizes, scale: 1, into: series.batches,
                   counts: totals.2, sums: totals.3, exported: &state.batches)
        }
        // Ring occupancy of the tenants held now; a removed tenant's gauges go.
        var occupancy: [String: (pending: Gauge, unread: Gauge)] = [:]
    var alerts: [AlertSeries: UInt64] = [:]
    var alertCounters: [AlertSeries: Counter] = [:]
        for (t, segment) in segments() where t < tenants.count && !segment.isDamaged {
            guard let name = tenants[t] else { continue }
            let labels = [("tenant", name)]
            let gauges = state.occupancy[name] ?? (registry.makeGauge(descriptor: Self.pending, labels: labels),
                                                   registry.makeGauge(descriptor: Self.unread, labels: labels))
            let (submissions, completions) = segment.ringOccupancy()
            gauges.pending.set(Double(submissions))
            gauges.unread.set(Double(completions))
            occupancy[name] = gauges
        }
        for (name, gauges) in state.occupancy where occupancy[name] == nil {
            registry.unregisterGauge(gauges.pending)
            registry.unregisterGauge(gauges.unread)
        }
        state.occupancy = occupancy
        let serving = servingGeneration()
        generationGauge.set(Double(serving ?? 0))
        exportDrift(serving: serving, into: &state)
        let shadowFigures = shadows().filter { $0.events > 0 }.map {
            (DriftSeries(tenant: $0.tenant, predictor: $0.predictor), $0.psi ?? .nan, $0.events)
        }
        expose(shadowFigures, as: (Self.shadowDrift, Self.shadowEvents), in: &state.shadows)
        exportAlerts(into: &state)
        if let figures = ProcessMetrics.current() { process.set(figures) }
    }

    /// Alerts: the delta of each series' total since the last scrape. A
    /// series' total falls only when its predictor stopped being served (its
    /// cells went); the counter then waits until the total passes what was
    /// exported, so it never goes back.
    private func exportAlerts(into state: inout ExportState) {
        var totals: [AlertSeries: UInt64] = [:]
        for a in alerts() {
            totals[AlertSeries(tenant: a.tenant, predictor: a.predictor, threshold: a.threshold), default: 0] &+= a.count
        }
        for (series, total) in totals {
            let counter = state.alertCounters[series] ?? {
                let made = registry.makeCounter(descriptor: Self.alertsTotal, labels: [
                    ("tenant", series.tenant), ("predictor", series.predictor), ("threshold", "\(series.threshold)")])
                state.alertCounters[series] = made
                return made
            }()
            let exported = state.alerts[series] ?? 0
            if total > exported {
                counter.increment(by: Int64(clamping: total - exported))
                state.alerts[series] = total
            }
        }
    }

    /// Sets a (PSI, events) gauge pair per series, making the pairs of new
    /// series and removing those of series no longer given.
    private func expose(_ figures: [(series: DriftSeries, psi: Double, events: UInt64)],
                        as descriptors: (psi: MetricNameDescriptor, events: MetricNameDescriptor),
                        in gauges: inout [DriftSeries: (psi: Gauge, events: Gauge)]) {
        var exposed: [DriftSeries: (psi: Gauge, events: Gauge)] = [:]
        for (series, psi, events) in figures {
            let labels = [("tenant", series.tenant), ("predictor", series.predictor)]
            let pair = gauges[series] ?? (registry.makeGauge(descriptor: descriptors.psi, labels: labels),
                                          registry.makeGauge(descriptor: descriptors.events, labels: labels))
            pair.psi.set(psi)
            pair.events.set(Double(events))
            exposed[series] = pair
        }
        for (series, pair) in gauges where exposed[series] == nil {
            registry.unregisterGauge(pair.psi)
            registry.unregisterGauge(pair.events)
        }
        gauges = exposed
    }

    /// Brings one tenant's histogram up to date from the cells' buckets.
    private func replay(tenant: Int, bounds: [UInt64], scale: Double, into histogram: ValueHistogram,
                        counts: [UInt64], sums: [UInt64], exported: inout [(count: UInt64, sum: UInt64)]) {
        for bucket in 0...bounds.count {
            let index = tenant * (bounds.count + 1) + bucket
            let count = counts[bucket], sum = sums[bucket]
            let delta = count &- exported[index].count
            guard delta > 0, delta <= count else { continue }
            let replayed = min(delta, Self.replayLimit)
            let deltaSum = sum &- exported[index].sum
            let replayedSum = replayed == delta ? deltaSum
                : UInt64(Double(deltaSum) * Double(replayed) / Double(delta))
            // Integer observations (ns, events) replayed as integers: `r` of
            // them at q + 1 and the rest at q (q = sum / count) give the exact
            // sum, and both lie within the bucket (counts and sums come from
            // one consistent read per worker, `WorkerMetrics.histograms`; the
            // clamp only guards a read that gave up retrying).
            let q = replayedSum / replayed, r = replayedSum % replayed
            func clamped(_ units: UInt64) -> Double {
                var units = units
                if bucket < bounds.count { units = min(units, bounds[bucket]) }
                if bucket > 0 { units = max(units, bounds[bucket - 1] + 1) }
                return Double(units) * scale
            }
            let high = clamped(q + 1), low = clamped(q)
            for _ in 0..<r { histogram.record(high) }
            for _ in r..<replayed { histogram.record(low) }
            exported[index].count &+= replayed
            exported[index].sum &+= replayedSum
        }
    }

    /// Drift PSI per (tenant, predictor) of the serving generation, summed
    /// over the workers that already serve it; series of predictors no longer
    /// serving are removed.
    private func exportDrift(serving: UInt64?, into state: inout ExportState) {
        var records: [ShadowKey: ShadowRecord] = [:]
        var names: [String] = []
        if let serving {
            for cell in cells {
                guard let counts = cell.currentGeneration, counts.generation == serving else { continue }
                names = counts.predictorNames
                for t in 0..<counts.tenantCount {
                    for p in (0..<counts.predictorCount).map({ PredictorIndex($0) }) {
                        let record = counts.record(tenant: t, predictor: p)
                        if record.count > 0 { records[ShadowKey(tenant: t, predictor: p), default: ShadowRecord()].merge(record) }
                    }
                }
            }
        }
        let tenants = layout.tenants
        var figures: [(series: DriftSeries, psi: Double, events: UInt64)] = []
        for (key, record) in records where key.tenant < tenants.count && key.predictor.rawValue < names.count {
            guard let tenant = tenants[key.tenant] else { continue }
            figures.append((DriftSeries(tenant: tenant, predictor: names[key.predictor.rawValue]), record.psi, record.count))
        }
        expose(figures, as: (Self.drift, Self.driftEvents), in: &state.drift)
    }
}

/// The standard process metrics, under the names every Prometheus client
/// library uses (no namespace), so existing dashboards and alerts apply.
struct ProcessSeries {
    let cpu: Counter
    let resident: Gauge
    let virtual: Gauge
    let start: Gauge
    let openFileDescriptors: Gauge
    let maxFileDescriptors: Gauge

    init(registry: PrometheusCollectorRegistry) {
        func name(_ metric: String, _ unit: String, _ help: String) -> MetricNameDescriptor {
            MetricNameDescriptor(namespace: "process", metricName: metric, unitName: unit, helpText: help)
        }
        cpu = registry.makeCounter(descriptor: name("cpu_seconds", "total", "Total user and system CPU time spent in seconds."))
        resident = registry.makeGauge(descriptor: name("resident_memory", "bytes", "Resident memory size in bytes."))
        virtual = registry.makeGauge(descriptor: name("virtual_memory", "bytes", "Virtual memory size in bytes."))
        start = registry.makeGauge(descriptor: name("start_time", "seconds", "Start time of the process since unix epoch in seconds."))
        openFileDescriptors = registry.makeGauge(descriptor: name("open", "fds", "Number of open file descriptors."))
        maxFileDescriptors = registry.makeGauge(descriptor: name("max", "fds", "Maximum number of open file descriptors."))
    }

    /// Under the exporter's lock: the counter is set to the kernel's total,
    /// itself monotone, and no scrape renders between the two calls.
    func set(_ figures: ProcessMetrics) {
        cpu.reset()
        cpu.increment(by: figures.cpuSeconds)
        resident.set(figures.residentBytes)
        virtual.set(figures.virtualBytes)
        start.set(figures.startTimeSeconds)
        if let open = figures.openFileDescriptors { openFileDescriptors.set(open) }
        if let max = figures.maxFileDescriptors { maxFileDescriptors.set(max) }
    }
}

struct TenantSeries {
    let reclaims: Counter
    let latency: ValueHistogram
    let batches: ValueHistogram
}

struct AlertSeries: Hashable {
    let tenant: String
    let predictor: String
    let threshold: Double
}

struct DriftSeries: Hashable {
    let tenant: String
    let predictor: String
}

/// What the exporter has handed the registry so far (sums over the workers).
struct ExportState {
    var events: [UInt64]
    var eventCounters: [Int: Counter] = [:]
    var reclaims: [UInt64]
    var latency: [(count: UInt64, sum: UInt64)]
    var batches: [(count: UInt64, sum: UInt64)]
    var drift: [DriftSeries: (psi: Gauge, events: Gauge)] = [:]
    var tenantSeries: [Int: TenantSeries] = [:]
    var shadows: [DriftSeries: (psi: Gauge, events: Gauge)] = [:]
    var occupancy: [String: (pending: Gauge, unread: Gauge)] = [:]
    var alerts: [AlertSeries: UInt64] = [:]
    var alertCounters: [AlertSeries: Counter] = [:]

    init(layout: MetricsLayout) {
        let tenants = layout.capacity
        events = Array(repeating: 0, count: layout.eventCounterCount)
        reclaims = Array(repeating: 0, count: tenants)
        latency = Array(repeating: (0, 0), count: tenants * (MetricBuckets.latencyNanoseconds.count + 1))
        batches = Array(repeating: (0, 0), count: tenants * (MetricBuckets.batchSizes.count + 1))
    }
}
