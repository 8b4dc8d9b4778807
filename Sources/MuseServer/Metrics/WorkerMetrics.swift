import MuseIPC
import Synchronization

/// Monotone counters that one thread writes and any thread reads: `UInt64`
/// atomics in one allocation, indexed flat.
///
/// Memory orders. The single writer adds with a relaxed load and a relaxed
/// store: nobody else writes the counter, so no read-modify-write is needed
/// (on x86-64 and arm64 both are plain moves, no lock prefix, no fence).
/// Readers load relaxed. Every counter is independent and monotone and
/// nothing else is published through it, so no acquire/release pairing is
/// needed, and an aligned 64-bit atomic cannot tear. A reader may see one
/// counter of a batch updated and its neighbour not yet; the next scrape sees
/// both.
final class CounterArray: @unchecked Sendable {
    private let base: UnsafeMutablePointer<Atomic<UInt64>>
    let count: Int

    init(count: Int) {
        self.count = count
        base = .allocate(capacity: max(count, 1))
        for i in 0..<count { (base + i).initialize(to: Atomic(0)) }
    }

    deinit {
        base.deinitialize(count: count)
        base.deallocate()
    }

    /// Writer thread only.
    @inline(__always)
    func add(_ index: Int, _ amount: UInt64 = 1) {
        let counter = base + index
        counter.pointee.store(counter.pointee.load(ordering: .relaxed) &+ amount, ordering: .relaxed)
    }

    /// Writer thread only: a monotone value counted elsewhere.
    @inline(__always)
    func set(_ index: Int, _ value: UInt64) {
        (base + index).pointee.store(value, ordering: .relaxed)
    }

    /// Any thread.
    @inline(__always)
    func load(_ index: Int) -> UInt64 { (base + index).pointee.load(ordering: .relaxed) }
}

/// What the flat counter indices mean, daemon-wide: tenants by `TenantIndex`
/// (up to `capacity`: a reload adds tenants at new indices; those past it are
/// not counted), the statuses, and intent columns, which intent names are given
/// as generations bring them.
final class MetricsLayout: Sendable {
    /// Tenant indices the cells have room for (fixed: they are never resized).
    let capacity: Int
    /// Tenant names by index; written by the daemon when a reload adds one
    /// (under this lock), read by the exporter.
    private let tenantNames: Locked<[String?]>
    /// Column 0 counts events whose intent id the serving generation does not
    /// know (and, past `intentColumns`, intents no column was left for).
    static let intentColumns = 64
    static let unknownIntent = "unknown"
    /// Tenant indices kept free at start for tenants a reload adds.
    static let reloadHeadroom = 64
    /// `CompletionStatus` raw values 0..<statusColumns; others count as `internal`.
    static let statusColumns = 8
    /// Intent names by column; grows under the lock (cold: generation pick-up, scrapes).
    private let intentNames = Locked<[String]>([MetricsLayout.unknownIntent])

    init(tenants: [String], capacity: Int) {
        self.capacity = max(capacity, tenants.count)
        tenantNames = Locked(tenants.map { $0.isEmpty ? nil : $0 }
            + Array(repeating: nil, count: max(capacity, tenants.count) - tenants.count))
    }

    /// Names tenant `index` (a reload added it); ignored past `capacity`.
    func setTenant(_ index: Int, _ name: String) {
        tenantNames.withLock { if index < $0.count { $0[index] = name } }
    }

    /// Tenant names by index (nil: no tenant was ever there).
    var tenants: [String?] { tenantNames.withLock { $0 } }

    var eventCounterCount: Int { capacity * Self.intentColumns * Self.statusColumns }

    @inline(__always)
    static func eventIndex(tenant: Int, column: Int, status: Int) -> Int {
        (tenant &* intentColumns &+ column) &* statusColumns &+ status
    }

    /// The column of intent `name`, given one the first time (0 once all are taken).
    func column(forIntent name: String) -> Int {
        intentNames.withLock { names in
            if let column = names.firstIndex(of: name) { return column }
            guard names.count < Self.intentColumns else { return 0 }
            names.append(name)
            return names.count - 1
        }
    }

    /// Intent names by column, as far as columns are given.
    var intents: [String] { intentNames.withLock { $0 } }

    /// The Prometheus label of a status.
    static func statusLabel(_ raw: Int) -> String {
        switch CompletionStatus(rawValue: Int32(raw)) {
        case .ok: "ok"
        case .unknownIntent: "unknown_intent"
        case .featureCount: "feature_count"
        case .noRoute: "no_route"
        case .overloaded: "overloaded"
        case .notServing: "not_serving"
        case .internal, nil: "internal"
        case .badScore: "bad_score"
        }
    }
}

/// Fixed histogram buckets, shared by the cells and the exporter.
enum MetricBuckets {
    /// Per-event scoring latency (the mean over a batch), upper bounds in ns.
    static let latencyNanoseconds: [UInt64] = [100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000,
                                               100_000, 250_000, 1_000_000]
    /// Events per batch, upper bounds.
    static let batchSizes: [UInt64] = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024]

    /// The bucket `value` falls in (`value <= bounds[i]`); `bounds.count`: +Inf.
    @inline(__always)
    static func bucket(of value: UInt64, in bounds: UnsafeBufferPointer<UInt64>) -> Int {
        var i = 0
        while i < bounds.count && value > bounds[i] { i &+= 1 }
        return i
    }
}

/// One worker's counters for the generation it serves: the intent column of
/// each muse.h intent id, and the drift of the primary predictors' transformed
/// scores, counted per (tenant, predictor) into the reference distribution's
/// deciles (the same deciles and bins as the shadow tallies, `ShadowRecord`).
///
/// Made by the worker when it picks a generation up; the worker alone writes
/// `deciles`, the exporter reads them (see `CounterArray`). Everything else
/// is immutable after `init` and reaches the exporter through the cell's lock.
final class GenerationCounts: @unchecked Sendable {
    let generation: UInt64
    let tenantCount: Int
    let predictorCount: Int
    /// Routing predictor names, by index (labels; names, not the generation
    /// itself, so dropping this object never frees a model).
    let predictorNames: [String]
    /// muse.h intent id → intent column (dense; ids past the end: column 0).
    private let columns: UnsafeMutableBufferPointer<UInt8>
    /// [tenant][predictor][9] decile edges, padded with +∞.
    private let edges: UnsafeMutablePointer<Double>
    /// [tenant][predictor][10] events per reference decile.
    let deciles: CounterArray

    init(serving: Serving, layout: MetricsLayout) {
        let generation = serving.generation
        self.generation = generation.id.rawValue
        tenantCount = serving.tenants.count
        let predictors = generation.routing.predictors.map(\.name)
        predictorNames = predictors
        predictorCount = predictors.count
        let top = generation.intents.map { Int($0.id) }.max() ?? 0
        columns = .allocate(capacity: top + 1)
        columns.initialize(repeating: 0)
        for intent in generation.intents {
            columns[Int(intent.id)] = UInt8(layout.column(forIntent: intent.name))
        }
        let pairs = tenantCount * predictorCount
        edges = .allocate(capacity: max(pairs * 9, 1))
        edges.initialize(repeating: .infinity, count: max(pairs * 9, 1))
        for (t, tenant) in serving.tenants.enumerated() {
            for p in 0..<predictorCount {
                for (i, edge) in generation.decileEdges(tenant: tenant, predictor: PredictorIndex(p)).prefix(9).enumerated() {
                    edges[(t * predictorCount + p) * 9 + i] = edge
                }
            }
        }
        deciles = CounterArray(count: pairs * 10)
    }

    deinit {
        columns.deallocate()
        edges.deallocate()
    }

    @inline(__always)
    func column(of intent: IntentID) -> Int {
        let id = Int(intent.rawValue)
        return id < columns.count ? Int(columns[id]) : 0
    }

    /// Worker thread only: one primary score of `predictor` (routing index).
    @inline(__always)
    func addDrift(tenant: Int, predictor: PredictorIndex, score: Double) {
        let predictor = predictor.rawValue
        guard predictor >= 0 && predictor < predictorCount && tenant < tenantCount else { return }
        let pair = tenant &* predictorCount &+ predictor
        let bin = ShadowRecord.decile(of: score, edges: UnsafeBufferPointer(start: edges + pair &* 9, count: 9))
        deciles.add(pair &* 10 &+ bin)
    }

    /// Any thread: the drift record of (tenant, predictor) so far, for its PSI.
    func record(tenant: Int, predictor: PredictorIndex) -> ShadowRecord {
        var record = ShadowRecord()
        let base = (tenant * predictorCount + predictor.rawValue) * 10
        for bin in 0..<10 { record.deciles[bin] = deciles.load(base + bin) }
        record.count = record.deciles.reduce(0, +)
        return record
    }
}

/// A worker's metrics cell: counters only that worker writes (`CounterArray`),
/// summed over the workers by the exporter. Exists only when the daemon has a
/// metrics endpoint; without one the drain's hooks cost nothing.
final class WorkerMetrics: @unchecked Sendable {
    let layout: MetricsLayout
    /// [tenant][intent column][status] answered events.
    let events: CounterArray
    /// [tenant] channels reclaimed from dead or departed clients (set, not
    /// added: the endpoints count, the worker publishes their sums).
    let reclaims: CounterArray
    /// [tenant][bucket] batches by per-event scoring latency, and the sum of
    /// those latencies (ns) per bucket, so the exporter can replay exact sums.
    let latencyCounts: CounterArray
    let latencySums: CounterArray
    /// [tenant][bucket] batches by size, and the events per bucket.
    let batchCounts: CounterArray
    let batchSums: CounterArray
    /// A sequence lock over the four histogram arrays, so the exporter reads
    /// each bucket's count and sum from the same set of batches (else a scrape
    /// between the two adds would pair a count with a stale sum). Written by
    /// the worker only: odd (relaxed) then a release fence before a batch's
    /// adds, even (release) after them. Read by the exporter: acquire, the
    /// counters (relaxed), an acquire fence, relaxed again; equal and even:
    /// a consistent read (`histograms(tenant:)`).
    private let histogramSequence = Atomic<UInt64>(0)
    let latencyBounds: [UInt64] = MetricBuckets.latencyNanoseconds
    let batchBounds: [UInt64] = MetricBuckets.batchSizes
    /// The counts of the generation the worker serves. Written by the worker
    /// when it picks a generation up, read by the exporter, both under the
    /// lock (cold on both sides); the exporter then reads the counters.
    private let generationCounts = Locked<GenerationCounts?>(nil)
    /// Batches begun; the worker's alone (plain, never read elsewhere).
    private var batchTick: UInt32 = 0
    /// When the batch being answered began (monotonic ns), 0 if it is not
    /// timed; the worker's alone, like `batchTick`.
    private var batchBegan: UInt64 = 0
    /// One batch in `latencySampling` is timed: two clock reads (~24 ns each
    /// here) per batch would be a sixth of a one-event round trip.
    static let latencySampling: UInt32 = 8

    init(layout: MetricsLayout) {
        self.layout = layout
        let tenants = layout.capacity
        events = CounterArray(count: layout.eventCounterCount)
        reclaims = CounterArray(count: tenants)
        latencyCounts = CounterArray(count: tenants * (MetricBuckets.latencyNanoseconds.count + 1))
        latencySums = CounterArray(count: tenants * (MetricBuckets.latencyNanoseconds.count + 1))
        batchCounts = CounterArray(count: tenants * (MetricBuckets.batchSizes.count + 1))
        batchSums = CounterArray(count: tenants * (MetricBuckets.batchSizes.count + 1))
    }

    /// Worker thread, cold: the recorder for `serving`'s batches; replaces
    /// the generation counts if the generation changed.
    func recorder(for serving: Serving) -> MetricsRecorder {
        let counts = generationCounts.withLock { current in
            if let current, current.generation == serving.generationID.rawValue { return current }
            let fresh = GenerationCounts(serving: serving, layout: layout)
            current = fresh
            return fresh
        }
        return MetricsRecorder(cell: self, generation: counts)
    }

    /// Any thread: the generation counts the worker writes now.
    var currentGeneration: GenerationCounts? { generationCounts.withLock { $0 } }

    /// Worker thread (housekeeping): the reclaim counts of this worker's
    /// channels, which the exporter sums by tenant. A tenant whose segment
    /// was dropped goes back to 0; the exporter only ever adds increases.
    func publishReclaims(_ channels: [(TenantIndex, UInt64)]) {
        var totals = [UInt64](repeating: 0, count: layout.capacity)
        for (tenant, count) in channels where tenant.rawValue < totals.count { totals[tenant.rawValue] &+= count }
        for (t, total) in totals.enumerated() { reclaims.set(t, total) }
    }

    /// Any thread: `tenant`'s histogram buckets (latency counts and sums,
    /// batch-size counts and sums) as of one moment between two batches.
    /// Retries while the worker writes; after many tries (a worker writing
    /// without pause) takes the last read, off by at most a batch.
    func histograms(tenant: Int) -> (latencyCounts: [UInt64], latencySums: [UInt64],
                                     batchCounts: [UInt64], batchSums: [UInt64]) {
        let l = latencyBounds.count + 1, b = batchBounds.count + 1
        var result = ([UInt64](repeating: 0, count: l), [UInt64](repeating: 0, count: l),
                      [UInt64](repeating: 0, count: b), [UInt64](repeating: 0, count: b))
        for _ in 0..<1000 {
            let before = histogramSequence.load(ordering: .acquiring)
            if before & 1 == 1 { ThreadSupport.relax(); continue }
            for i in 0..<l {
                result.0[i] = latencyCounts.load(tenant * l + i)
                result.1[i] = latencySums.load(tenant * l + i)
            }
            for i in 0..<b {
                result.2[i] = batchCounts.load(tenant * b + i)
                result.3[i] = batchSums.load(tenant * b + i)
            }
            atomicMemoryFence(ordering: .acquiring)
            if histogramSequence.load(ordering: .relaxed) == before { break }
        }
        return result
    }

    /// Worker thread: true if the batch beginning now is to be timed.
    @inline(__always)
    func timesNextBatch() -> Bool {
        batchTick &+= 1
        return batchTick % Self.latencySampling == 0
    }

    /// Worker thread: a batch is about to be scored; the clock is read for
    /// one batch in `latencySampling`.
    @inline(__always)
    func batchBegins() {
        batchBegan = timesNextBatch() ? ThreadSupport.monotonicNanoseconds() : 0
    }

    /// Worker thread: the batch that `batchBegins` began, of `count` events,
    /// has its answers published.
    @inline(__always)
    func batchEnded(tenant: Int, count: Int) {
        let began = batchBegan
        recordBatch(tenant: tenant, count: count,
                    nanoseconds: began == 0 ? nil : ThreadSupport.monotonicNanoseconds() &- began)
    }

    /// Worker thread: one batch of `count` events, and what it took if it was timed.
    @inline(__always)
    func recordBatch(tenant: Int, count: Int, nanoseconds: UInt64?) {
        guard count > 0 && tenant < layout.capacity else { return }
        let sequence = histogramSequence.load(ordering: .relaxed)
        histogramSequence.store(sequence &+ 1, ordering: .relaxed)
        atomicMemoryFence(ordering: .releasing)
        defer { histogramSequence.store(sequence &+ 2, ordering: .releasing) }
        if let nanoseconds {
            let perEvent = nanoseconds / UInt64(count)
            let l = latencyBounds.withUnsafeBufferPointer { MetricBuckets.bucket(of: perEvent, in: $0) }
            let li = tenant &* (latencyBounds.count &+ 1) &+ l
            latencyCounts.add(li)
            latencySums.add(li, perEvent)
        }
        let size = UInt64(count)
        let b = batchBounds.withUnsafeBufferPointer { MetricBuckets.bucket(of: size, in: $0) }
        let bi = tenant &* (batchBounds.count &+ 1) &+ b
        batchCounts.add(bi)
        batchSums.add(bi, size)
    }
}

/// What a worker's scorer carries into the drain: its cell and the counts of
/// the generation it scores with. Per event: one column load and a counter
/// add, plus a decile search (≤ 9 compares) and a counter add for an OK
/// answer; per batch: two counter adds, and for one batch in eight two clock
/// reads and two more.
struct MetricsRecorder {
    let cell: WorkerMetrics
    let generation: GenerationCounts

    @inline(__always)
    func answered(tenant: TenantIndex, intent: IntentID, verdict: borrowing Verdict) {
        let t = tenant.rawValue
        guard t < cell.layout.capacity else { return }
        let raw = Int(verdict.status.rawValue)
        let status = raw >= 0 && raw < MetricsLayout.statusColumns ? raw : Int(CompletionStatus.internal.rawValue)
        cell.events.add(MetricsLayout.eventIndex(tenant: t, column: generation.column(of: intent), status: status))
        if verdict.status == .ok {
            generation.addDrift(tenant: t, predictor: verdict.predictor.index, score: verdict.score)
        }
    }
}
