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
    public func table(for serving: Serving, now: UInt64 = WallClock.nanoseconds()) -> SketchTable {
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
        let kept = cells.withLock { cells in
            var next: [SketchKey: SketchCell] = [:]
            for w in wanted { next[w.key] = cells[w.key] ?? SketchCell(key: w.key, windowStart: now) }
            cells = next
            return next
        }
        return SketchTable(tenantCount: serving.tenants.count, predictorCount: routing.predictors.count,
                           cells: wanted.map { ($0.tenant, $0.predictor, kept[$0.key]!) })
    }

    /// Any thread: every cell, for a reader to read without the lock.
    var all: [SketchCell] { cells.withLock { Array($0.values) } }
}

/// Where a worker's scores go for one generation: a flat table of counter
/// pointers by (daemon tenant index, routing predictor index), nil where the
/// tenant is not routed to the predictor. Immutable after `init`; owned by
/// one worker's scorer.
public final class SketchTable: @unchecked Sendable {
    let tenantCount: Int
    let predictorCount: Int
    private let slots: UnsafeMutablePointer<UnsafeMutablePointer<Atomic<UInt64>>?>
    /// Keeps the cells (and so the counters `slots` points at) alive.
    private let cells: [SketchCell]

    init(tenantCount: Int, predictorCount: Int, cells: [(tenant: Int, predictor: Int, cell: SketchCell)]) {
        self.tenantCount = tenantCount
        self.predictorCount = predictorCount
        let n = max(tenantCount * predictorCount, 1)
        slots = .allocate(capacity: n)
        slots.initialize(repeating: nil, count: n)
        for c in cells { slots[c.tenant * predictorCount + c.predictor] = c.cell.counters }
        self.cells = cells.map(\.cell)
    }

    deinit { slots.deallocate() }

    /// Worker thread only: one level-1 score of `predictor` (routing index)
    /// for `tenant`. A bin index and one relaxed add.
    @inline(__always)
    public func record(tenant: Int, predictor: Int, score: Double) {
        guard tenant < tenantCount, UInt(bitPattern: predictor) < UInt(bitPattern: predictorCount),
              let counters = slots[tenant &* predictorCount &+ predictor] else { return }
        let counter = counters + (score.isFinite ? ScoreSketch.bin(score) : ScoreSketch.binCount)
        counter.pointee.store(counter.pointee.load(ordering: .relaxed) &+ 1, ordering: .relaxed)
    }

    /// Worker thread only: a run of a shadow predictor's level-1 scores.
    func record(tenant: Int, predictor: Int, scores: UnsafeBufferPointer<Double>) {
        for score in scores { record(tenant: tenant, predictor: predictor, score: score) }
    }
}
