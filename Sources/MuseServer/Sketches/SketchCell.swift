#if canImport(Glibc)
import Glibc
#endif
import MuseCore
import MuseScoring
import Synchronization

/// What a live score sketch is of: a tenant, a predictor, and the
/// predictor's level 1 (`RoutingTable.levelOneFingerprint`). A generation that
/// serves the same predictor again finds its sketch by this key, so adding a
/// shadow or promoting one does not start the others' sketches over.
struct SketchKey: Hashable, Sendable {
    let tenant: String
    let predictor: String
    let fingerprint: UInt64
    /// The level 1's odds ratio if one model (it is in the fingerprint too).
    let oddsRatio: Double?
}

/// One worker's level-1 score counts for one `SketchKey`: `ScoreSketch`'s
/// bins, then one counter of non-finite scores, as `UInt64` atomics; once per
/// time slice of the sketch window (one slice: since publication).
///
/// Memory orders, as `CounterArray`: the worker is the only writer and adds
/// with a relaxed load and a relaxed store (no read-modify-write, no fence);
/// readers (the control thread's `sketches`, an in-process `promote`) load
/// relaxed. Each counter is monotone and publishes nothing else, and an
/// aligned 64-bit atomic cannot tear, so a read taken while the worker adds
/// sees each bin as of some moment of the last few events: a sketch off by
/// at most the events of the batch being answered, never a torn count. When
/// the worker rotates the window it stores zeros into the slice it reuses: a
/// reader meanwhile sees that slice partly cleared, a window between
/// `(slices − 1)/slices` of its length and all of it, never a torn count.
final class SketchCell: @unchecked Sendable {
    let key: SketchKey
    /// When this process began counting for the key (Unix ns): the window's start.
    let windowStart: UInt64
    /// Per slice: `ScoreSketch.binCount` bins, then the non-finite count.
    let counters: UnsafeMutablePointer<Atomic<UInt64>>
    static let counterCount = ScoreSketch.binCount + 1
    let slices: Int
    /// Level-2 scores at or above each of the tenant's alert thresholds, by
    /// threshold, ascending. Changed and read only under the owning
    /// `WorkerSketches`' lock; the counters themselves as the bins.
    var alerts: [(threshold: Double, counter: AlertCounter)] = []

    /// Whether `counters` is a private anonymous mapping (else the heap).
    private let mapped: Bool

    /// The counters live in their own anonymous mapping, whose pages the
    /// kernel provides zeroed on first write: a tenant's scores touch a few
    /// of a sketch's ten pages, and an idle tenant's sketch costs no memory
    /// (a thousand tenants with two predictors each: 80 MB of counters
    /// mostly never resident). Falls back to the heap if the mapping fails.
    init(key: SketchKey, windowStart: UInt64, slices: Int = 1) {
        self.key = key
        self.windowStart = windowStart
        self.slices = max(slices, 1)
        let n = self.slices * Self.counterCount
        let raw = mmap(nil, n * MemoryLayout<Atomic<UInt64>>.stride, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0)
        if let raw, raw != MAP_FAILED {
            // Zeroed pages are zero counters: a plain 64-bit integer's representation.
            counters = raw.bindMemory(to: Atomic<UInt64>.self, capacity: n)
            mapped = true
        } else {
            counters = .allocate(capacity: n)
            for i in 0..<n { (counters + i).initialize(to: Atomic(0)) }
            mapped = false
        }
    }

    deinit {
        let n = slices * Self.counterCount
        if mapped {
            munmap(UnsafeMutableRawPointer(counters), n * MemoryLayout<Atomic<UInt64>>.stride)
        } else {
            counters.deinitialize(count: n)
            counters.deallocate()
        }
    }

    /// Any thread: the counts in the window, all slices summed.
    func read() -> ScoreSketch {
        var sketch = ScoreSketch()
        for slice in 0..<slices {
            let base = counters + slice * Self.counterCount
            for bin in 0..<ScoreSketch.binCount {
                let n = (base + bin).pointee.load(ordering: .relaxed)
                if n > 0 { sketch.add(bin: bin, n) }
            }
            sketch.nonFinite &+= (base + ScoreSketch.binCount).pointee.load(ordering: .relaxed)
        }
        return sketch
    }

    /// Worker thread only: empties `slice` for reuse (relaxed stores of 0,
    /// only where a count is, so pages never written stay unbacked).
    func clear(slice: Int) {
        let base = counters + slice * Self.counterCount
        for i in 0..<Self.counterCount where (base + i).pointee.load(ordering: .relaxed) != 0 {
            (base + i).pointee.store(0, ordering: .relaxed)
        }
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
