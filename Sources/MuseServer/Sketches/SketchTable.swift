import MuseCore
import MuseScoring
import Synchronization

/// Where a worker's scores go for one generation: flat tables by (daemon
/// tenant index, routing predictor index) of the cell's counters (nil where
/// the tenant is not routed to the predictor) and of the tenant's alert
/// thresholds and their counters. Owned by one worker's scorer: only that
/// worker reads it, and moves it to the window's next slice (`use(slice:)`).
public final class SketchTable: @unchecked Sendable {
    struct Entry {
        let tenant: Int
        let predictor: PredictorIndex
        let cell: SketchCell
        let alerts: [(threshold: Double, counter: AlertCounter)]
    }

    // Inlinable (with what it reads) so the benchmark outside the module
    // measures the code the drain inlines.
    @usableFromInline let tenantCount: Int
    @usableFromInline let predictorCount: Int
    @usableFromInline let bins: UnsafeMutablePointer<UnsafeMutablePointer<Atomic<UInt64>>?>
    /// Per position: how many alert thresholds; then `maxAlerts` thresholds and counters per position.
    @usableFromInline let alertCounts: UnsafeMutablePointer<Int>
    @usableFromInline let alertThresholds: UnsafeMutablePointer<Double>
    @usableFromInline let alertCounters: UnsafeMutablePointer<UnsafeMutablePointer<Atomic<UInt64>>?>
    /// Each position that has a cell, with the cell's first counter (slice 0),
    /// to point `bins` at another slice when the window rotates.
    private let bases: [(position: Int, counters: UnsafeMutablePointer<Atomic<UInt64>>)]
    /// `ConfigFile.maxAlertThresholds` (a literal, so it folds when inlined).
    @inlinable static var maxAlerts: Int { 4 }
    /// Keeps the cells and alert counters (and so the counters the tables point at) alive.
    private let owners: [AnyObject]

    init(tenantCount: Int, predictorCount: Int, entries: [Entry], slice: Int = 0) {
        self.tenantCount = tenantCount
        self.predictorCount = predictorCount
        let n = max(tenantCount * predictorCount, 1)
        bins = .allocate(capacity: n)
        bins.initialize(repeating: nil, count: n)
        alertCounts = .allocate(capacity: n)
        alertCounts.initialize(repeating: 0, count: n)
        alertThresholds = .allocate(capacity: n * Self.maxAlerts)
        alertThresholds.initialize(repeating: .infinity, count: n * Self.maxAlerts)
        alertCounters = .allocate(capacity: n * Self.maxAlerts)
        alertCounters.initialize(repeating: nil, count: n * Self.maxAlerts)
        var owners: [AnyObject] = []
        var bases: [(position: Int, counters: UnsafeMutablePointer<Atomic<UInt64>>)] = []
        for entry in entries {
            let i = entry.tenant * predictorCount + entry.predictor.rawValue
            bins[i] = entry.cell.counters + slice * SketchCell.counterCount
            bases.append((i, entry.cell.counters))
            owners.append(entry.cell)
            let alerts = entry.alerts.prefix(Self.maxAlerts)
            alertCounts[i] = alerts.count
            for (k, alert) in alerts.enumerated() {
                alertThresholds[i * Self.maxAlerts + k] = alert.threshold
                alertCounters[i * Self.maxAlerts + k] = alert.counter.pointer
                owners.append(alert.counter)
            }
        }
        self.owners = owners
        self.bases = bases
    }

    deinit {
        bins.deallocate()
        alertCounts.deallocate()
        alertThresholds.deallocate()
        alertCounters.deallocate()
    }

    /// Worker thread only: counts go to `slice` from now on.
    /// `bins` then points at the slice's counters, so recording reads no
    /// slice index.
    func use(slice: Int) {
        for base in bases { bins[base.position] = base.counters + slice * SketchCell.counterCount }
    }

    @inlinable @inline(__always)
    static func add(_ counter: UnsafeMutablePointer<Atomic<UInt64>>) {
        counter.pointee.store(counter.pointee.load(ordering: .relaxed) &+ 1, ordering: .relaxed)
    }

    /// The position of (tenant, predictor routing index) if it has a cell, else
    /// nil (an unrouted pair, or a refusal's predictor −1).
    @inlinable @inline(__always)
    func position(tenant: Int, predictor: PredictorIndex) -> Int? {
        guard UInt(bitPattern: tenant) < UInt(bitPattern: tenantCount),
              UInt(bitPattern: predictor.rawValue) < UInt(bitPattern: predictorCount) else { return nil }
        let position = tenant &* predictorCount &+ predictor.rawValue
        return bins[position] == nil ? nil : position
    }

    /// One event into a cell: a bin index and one relaxed add, plus a
    /// compare per alert threshold (`alerts` of them, ascending, at
    /// `thresholds`, counted by `alertCounters`).
    @inlinable @inline(__always)
    static func add(_ counters: UnsafeMutablePointer<Atomic<UInt64>>, alerts: Int, thresholds: UnsafeMutablePointer<Double>,
                    alertCounters: UnsafeMutablePointer<UnsafeMutablePointer<Atomic<UInt64>>?>, raw: Double, score: Double) {
        add(counters + (raw.isFinite ? ScoreSketch.bin(raw) : ScoreSketch.binCount))
        var k = 0
        // Ascending thresholds: stop at the first the score is below.
        while k < alerts && score >= thresholds[k] {
            if let counter = alertCounters[k] { add(counter) }
            k &+= 1
        }
    }

    /// One event into `position`'s cell.
    @inlinable @inline(__always)
    func add(position: Int, counters: UnsafeMutablePointer<Atomic<UInt64>>, raw: Double, score: Double) {
        Self.add(counters, alerts: alertCounts[position], thresholds: alertThresholds + position &* Self.maxAlerts,
                 alertCounters: alertCounters + position &* Self.maxAlerts, raw: raw, score: score)
    }

    /// Worker thread only: one event of `predictor` (routing index) for
    /// `tenant`: its level-1 score into the sketch, its level-2 `score`
    /// against the tenant's alert thresholds.
    @inlinable @inline(__always)
    public func record(tenant: Int, predictor: PredictorIndex, raw: Double, score: Double) {
        guard let position = position(tenant: tenant, predictor: predictor), let counters = bins[position] else { return }
        add(position: position, counters: counters, raw: raw, score: score)
    }

    /// One (tenant, predictor)'s cell and alert thresholds, looked up once
    /// for a run of its scores. Worker thread only, made for one run: it
    /// points into the table as it is (`use(slice:)` moves the table on).
    struct RunRecorder {
        let counters: UnsafeMutablePointer<Atomic<UInt64>>
        let alerts: Int
        let thresholds: UnsafeMutablePointer<Double>
        let alertCounters: UnsafeMutablePointer<UnsafeMutablePointer<Atomic<UInt64>>?>

        /// One event, as `SketchTable.record` counts it.
        @inline(__always)
        func record(raw: Double, score: Double) {
            SketchTable.add(counters, alerts: alerts, thresholds: thresholds, alertCounters: alertCounters,
                            raw: raw, score: score)
        }
    }

    /// Worker thread only: the recorder of (tenant, predictor routing
    /// index) for a run, nil if no cell counts the pair (an unrouted pair,
    /// or a refusal's predictor −1). The position's alert thresholds are read
    /// once here, not per event: the counters' stores could alias them as
    /// far as the compiler knows.
    @inline(__always)
    func recorder(tenant: Int, predictor: PredictorIndex) -> RunRecorder? {
        guard let position = position(tenant: tenant, predictor: predictor), let counters = bins[position] else { return nil }
        return RunRecorder(counters: counters, alerts: alertCounts[position], thresholds: alertThresholds + position &* Self.maxAlerts,
                           alertCounters: alertCounters + position &* Self.maxAlerts)
    }

    /// Worker thread only: a run of a shadow predictor's level-1 and level-2
    /// scores (non-finite level-1 scores go to the cell's non-finite count).
    func record(tenant: Int, predictor: PredictorIndex, raw: UnsafeBufferPointer<Double>, scores: UnsafeBufferPointer<Double>) {
        guard let recorder = recorder(tenant: tenant, predictor: predictor) else { return }
        for i in 0..<min(raw.count, scores.count) { recorder.record(raw: raw[i], score: scores[i]) }
    }
}
