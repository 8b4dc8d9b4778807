import MuseCore
import MuseScoring
import Synchronization

/// Where a worker's scores go for one generation: flat tables by (daemon
/// tenant index, routing predictor index) of the cell's counters (nil where
/// the tenant is not routed to the predictor) and of the tenant's alert
/// thresholds and their counters. Owned by one worker's scorer: only that
/// worker reads it, and moves it to the window's next slice (`use(slice:)`).
public final class SketchTable: @unchecked Sendable {
    struct Slot {
        let tenant: Int
        let predictor: Int
        let cell: SketchCell
        let alerts: [(threshold: Double, counter: AlertCounter)]
    }

    // Inlinable (with what it reads) so the benchmark outside the module
    // measures the code the drain inlines.
    @usableFromInline let tenantCount: Int
    @usableFromInline let predictorCount: Int
    @usableFromInline let bins: UnsafeMutablePointer<UnsafeMutablePointer<Atomic<UInt64>>?>
    /// Per slot: how many alert thresholds; then `maxAlerts` thresholds and counters per slot.
    @usableFromInline let alertCounts: UnsafeMutablePointer<Int>
    @usableFromInline let alertThresholds: UnsafeMutablePointer<Double>
    @usableFromInline let alertCounters: UnsafeMutablePointer<UnsafeMutablePointer<Atomic<UInt64>>?>
    /// Each slot that has a cell, with the cell's first counter (slice 0),
    /// to point `bins` at another slice when the window rotates.
    private let bases: [(slot: Int, counters: UnsafeMutablePointer<Atomic<UInt64>>)]
    /// `ConfigFile.maxAlertThresholds` (a literal, so it folds when inlined).
    @inlinable static var maxAlerts: Int { 4 }
    /// Keeps the cells and alert counters (and so the counters the tables point at) alive.
    private let owners: [AnyObject]

    init(tenantCount: Int, predictorCount: Int, slots: [Slot], slice: Int = 0) {
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
        var bases: [(slot: Int, counters: UnsafeMutablePointer<Atomic<UInt64>>)] = []
        for slot in slots {
            let i = slot.tenant * predictorCount + slot.predictor
            bins[i] = slot.cell.counters + slice * SketchCell.counterCount
            bases.append((i, slot.cell.counters))
            owners.append(slot.cell)
            let alerts = slot.alerts.prefix(Self.maxAlerts)
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
        for base in bases { bins[base.slot] = base.counters + slice * SketchCell.counterCount }
    }

    @inlinable @inline(__always)
    static func add(_ counter: UnsafeMutablePointer<Atomic<UInt64>>) {
        counter.pointee.store(counter.pointee.load(ordering: .relaxed) &+ 1, ordering: .relaxed)
    }

    /// Worker thread only: one event of `predictor` (routing index) for
    /// `tenant`: its level-1 score into the sketch, its level-2 `score`
    /// against the tenant's alert thresholds. A bin index and one relaxed
    /// add, plus a compare per threshold.
    @inlinable @inline(__always)
    public func record(tenant: Int, predictor: Int, raw: Double, score: Double) {
        guard tenant < tenantCount, UInt(bitPattern: predictor) < UInt(bitPattern: predictorCount) else { return }
        let slot = tenant &* predictorCount &+ predictor
        guard let counters = bins[slot] else { return }
        Self.add(counters + (raw.isFinite ? ScoreSketch.bin(raw) : ScoreSketch.binCount))
        let alerts = alertCounts[slot]
        var k = 0
        // Ascending thresholds: stop at the first the score is below.
        while k < alerts && score >= alertThresholds[slot &* Self.maxAlerts &+ k] {
            if let counter = alertCounters[slot &* Self.maxAlerts &+ k] { Self.add(counter) }
            k &+= 1
        }
    }

    /// Worker thread only: a run of a shadow predictor's level-1 and level-2 scores.
    func record(tenant: Int, predictor: Int, raw: UnsafeBufferPointer<Double>, scores: UnsafeBufferPointer<Double>) {
        for i in 0..<min(raw.count, scores.count) {
            record(tenant: tenant, predictor: predictor, raw: raw[i], score: scores[i])
        }
    }
}
