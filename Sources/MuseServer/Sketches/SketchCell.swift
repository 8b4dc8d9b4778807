#if canImport(Glibc)
import Glibc
#endif
import MuseIPC
import MuseScoring
import Synchronization

/// Unix time in nanoseconds: sketch windows are compared across hosts.
enum WallClock {
    static func nanoseconds() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return UInt64(now.tv_sec) &* 1_000_000_000 &+ UInt64(now.tv_nsec)
    }
}

/// What a live score sketch is of: a tenant, a predictor, and the
/// predictor's level 1 (`RoutingTable.levelOneFingerprint`). A generation that
/// serves the same predictor again finds its sketch by this key, so adding a
/// shadow or promoting one does not start the others' sketches over.
struct SketchKey: Hashable, Sendable {
    let tenant: String
    let predictor: String
    let fingerprint: UInt64
}

/// One worker's level-1 score counts for one `SketchKey`: `ScoreSketch`'s
/// bins, then one counter of non-finite scores, as `UInt64` atomics.
///
/// Memory orders, as `CounterArray`: the worker is the only writer and adds
/// with a relaxed load and a relaxed store (no read-modify-write, no fence);
/// readers (the control thread's `sketches`, an in-process `promote`) load
/// relaxed. Each counter is monotone and publishes nothing else, and an
/// aligned 64-bit atomic cannot tear, so a read taken while the worker adds
/// sees each bin as of some moment of the last few events: a sketch off by
/// at most the events of the batch being answered, never a torn count.
final class SketchCell: @unchecked Sendable {
    let key: SketchKey
    /// When this process began counting for the key (Unix ns): the window's start.
    let windowStart: UInt64
    /// `ScoreSketch.binCount` bins, then the non-finite count.
    let counters: UnsafeMutablePointer<Atomic<UInt64>>
    static let counterCount = ScoreSketch.binCount + 1
    /// Level-2 scores at or above each of the tenant's alert thresholds, by
    /// threshold, ascending. Changed and read only under the owning
    /// `WorkerSketches`' lock; the counters themselves as the bins.
    var alerts: [(threshold: Double, counter: AlertCounter)] = []

    init(key: SketchKey, windowStart: UInt64) {
        self.key = key
        self.windowStart = windowStart
        counters = .allocate(capacity: Self.counterCount)
        for i in 0..<Self.counterCount { (counters + i).initialize(to: Atomic(0)) }
    }

    deinit {
        counters.deinitialize(count: Self.counterCount)
        counters.deallocate()
    }

    /// Any thread: the counts so far.
    func read() -> ScoreSketch {
        var sketch = ScoreSketch()
        for bin in 0..<ScoreSketch.binCount {
            let n = (counters + bin).pointee.load(ordering: .relaxed)
            if n > 0 { sketch.add(bin: bin, n) }
        }
        sketch.nonFinite = (counters + ScoreSketch.binCount).pointee.load(ordering: .relaxed)
        return sketch
    }
}

/// One monotone counter: a worker adds (relaxed load, relaxed store), any
/// thread loads relaxed, as the sketch's bins.
final class AlertCounter: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<Atomic<UInt64>>
    init() {
        pointer = .allocate(capacity: 1)
        pointer.initialize(to: Atomic(0))
    }
    deinit {
        pointer.deinitialize(count: 1)
        pointer.deallocate()
    }
    var value: UInt64 { pointer.pointee.load(ordering: .relaxed) }
}

/// One alert series: a tenant's predictor at one threshold, summed over the workers.
public struct AlertTotal: Sendable, Equatable {
    public var tenant: String
    public var predictor: String
    public var threshold: Double
    public var count: UInt64
}

/// A worker's sketch cells, by key. The worker alone adds and drops cells,
/// under the lock, when it picks a generation up (cold); readers take the
/// lock only to list the cells, then read their counters without it.
public final class WorkerSketches: Sendable {
    private let cells = Locked<[SketchKey: SketchCell]>([:])

    public init() {}

    /// Worker thread, cold: the table the worker records `serving`'s scores
    /// through. Cells of keys `serving` still scores are kept (their counts
    /// go on); cells of keys it no longer scores are dropped, so memory
    /// follows what is served.
    /// `thresholds` are the alert thresholds by daemon tenant index (the
    /// tenant policies); a cell keeps the counters of thresholds still set.
    public func table(for serving: Serving, thresholds: [[Double]] = [],
                      now: UInt64? = nil) -> SketchTable {
        let now = now ?? WallClock.nanoseconds()
        let routing = serving.generation.routing
        let fingerprints = routing.predictors.indices.map { routing.levelOneFingerprint(predictor: $0) }
        var wanted: [(tenant: Int, predictor: Int, key: SketchKey)] = []
        for (t, name) in serving.tenants.enumerated() where !name.isEmpty {
            guard let routed = routing.tenantID(name) else { continue }
            var predictors = Set<Int>()
            for intent in routing.intents.indices {
                if let p = routing.primaryPredictor(tenant: routed, intent: intent) { predictors.insert(p) }
                predictors.formUnion(routing.shadowPredictors(tenant: routed, intent: intent))
            }
            for p in predictors.sorted() {
                wanted.append((t, p, SketchKey(tenant: name, predictor: routing.predictors[p].name,
                                               fingerprint: fingerprints[p])))
            }
        }
        let slots = cells.withLock { cells in
            var next: [SketchKey: SketchCell] = [:]
            var slots: [SketchTable.Slot] = []
            for w in wanted {
                let cell = cells[w.key] ?? SketchCell(key: w.key, windowStart: now)
                let levels = w.tenant < thresholds.count ? thresholds[w.tenant] : []
                cell.alerts = levels.map { t in (t, cell.alerts.first { $0.threshold == t }?.counter ?? AlertCounter()) }
                next[w.key] = cell
                slots.append(SketchTable.Slot(tenant: w.tenant, predictor: w.predictor, cell: cell, alerts: cell.alerts))
            }
            cells = next
            return slots
        }
        return SketchTable(tenantCount: serving.tenants.count, predictorCount: routing.predictors.count, slots: slots)
    }

    /// Any thread: every cell, for a reader to read without the lock.
    var all: [SketchCell] { cells.withLock { Array($0.values) } }

    /// Any thread: every alert counter's value now.
    func alertTotals() -> [AlertTotal] {
        cells.withLock { cells in
            cells.values.flatMap { cell in
                cell.alerts.map {
                    AlertTotal(tenant: cell.key.tenant, predictor: cell.key.predictor, threshold: $0.threshold,
                               count: $0.counter.value)
                }
            }
        }
    }
}

/// Where a worker's scores go for one generation: flat tables by (daemon
/// tenant index, routing predictor index) of the cell's counters (nil where
/// the tenant is not routed to the predictor) and of the tenant's alert
/// thresholds and their counters. Immutable after `init`; owned by one
/// worker's scorer.
public final class SketchTable: @unchecked Sendable {
    struct Slot {
        let tenant: Int
        let predictor: Int
        let cell: SketchCell
        let alerts: [(threshold: Double, counter: AlertCounter)]
    }

    let tenantCount: Int
    let predictorCount: Int
    private let bins: UnsafeMutablePointer<UnsafeMutablePointer<Atomic<UInt64>>?>
    /// Per slot: how many alert thresholds; then `maxAlerts` thresholds and counters per slot.
    private let alertCounts: UnsafeMutablePointer<Int>
    private let alertThresholds: UnsafeMutablePointer<Double>
    private let alertCounters: UnsafeMutablePointer<UnsafeMutablePointer<Atomic<UInt64>>?>
    static let maxAlerts = ConfigFile.maxAlertThresholds
    /// Keeps the cells and alert counters (and so the counters the tables point at) alive.
    private let owners: [AnyObject]

    init(tenantCount: Int, predictorCount: Int, slots: [Slot]) {
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
        for slot in slots {
            let i = slot.tenant * predictorCount + slot.predictor
            bins[i] = slot.cell.counters
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
    }

    deinit {
        bins.deallocate()
        alertCounts.deallocate()
        alertThresholds.deallocate()
        alertCounters.deallocate()
    }

    @inline(__always)
    private static func add(_ counter: UnsafeMutablePointer<Atomic<UInt64>>) {
        counter.pointee.store(counter.pointee.load(ordering: .relaxed) &+ 1, ordering: .relaxed)
    }

    /// Worker thread only: one event of `predictor` (routing index) for
    /// `tenant`: its level-1 score into the sketch, its level-2 `score`
    /// against the tenant's alert thresholds. A bin index and one relaxed
    /// add, plus a compare per threshold.
    @inline(__always)
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
