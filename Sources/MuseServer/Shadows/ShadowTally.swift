import Foundation
import MuseCore
import Synchronization

/// What one shadow predictor's transformed scores looked like for one tenant:
/// how many, and how they fell into the reference distribution's deciles.
/// Transformed scores follow the reference when the candidate is healthy, so
/// each decile should hold a tenth of them (MUSE's own health signal).
public struct ShadowRecord: Sendable, Equatable {
    public var count: UInt64 = 0
    public var sum: Double = 0
    public var deciles = [UInt64](repeating: 0, count: 10)

    public var mean: Double { count == 0 ? .nan : sum / Double(count) }

    /// Population stability index of the decile shares against a tenth each;
    /// half an event is added to every bin so an empty decile stays finite.
    public var psi: Double {
        guard count > 0 else { return .nan }
        let total = Double(count) + 5
        return deciles.reduce(0.0) { psi, n in
            let actual = (Double(n) + 0.5) / total
            return psi + (actual - 0.1) * log(actual / 0.1)
        }
    }

    mutating func add(_ score: Double, edges: [Double]) {
        guard score.isFinite else { return }
        count += 1
        sum += score
        deciles[edges.withUnsafeBufferPointer { Self.decile(of: score, edges: $0) }] += 1
    }

    /// The reference decile (0...9) `score` falls in, given the nine edges
    /// between them; shared by the shadow tallies and the serving drift
    /// metrics (`DriftCounts`).
    @inline(__always)
    static func decile(of score: Double, edges: UnsafeBufferPointer<Double>) -> Int {
        var bin = 0
        while bin < edges.count && bin < 9 && score >= edges[bin] { bin += 1 }
        return bin
    }

    mutating func merge(_ other: ShadowRecord) {
        count += other.count
        sum += other.sum
        for i in deciles.indices { deciles[i] += other.deciles[i] }
    }
}

/// (daemon tenant index, routing predictor index)
struct ShadowKey: Hashable, Sendable {
    let tenant: Int
    let predictor: PredictorIndex
}

/// One worker's shadow records for the generation it serves, as counters
/// only that worker writes: per (tenant, predictor) the sum of the
/// transformed scores (its bits) and the events per reference decile. No
/// lock on the worker's side; the control thread sums the workers' tallies.
///
/// Memory orders, as `CounterArray`: the worker adds with a relaxed load and
/// a relaxed store; readers load relaxed. A reader may see a run's deciles
/// partly added and the sum a few events behind them; the count it reports is
/// the deciles' total, so the PSI and the count always agree.
final class ShadowTally: @unchecked Sendable {
    /// The counters of one generation; its shape is fixed at `reset`.
    private final class Counts: @unchecked Sendable {
        let generation: UInt64
        let tenants: Int
        let predictors: Int
        /// [tenant][predictor][sum bits, 10 deciles]
        let counters: UnsafeMutablePointer<Atomic<UInt64>>
        static let stride = 11

        init(generation: UInt64, tenants: Int, predictors: Int) {
            self.generation = generation
            self.tenants = tenants
            self.predictors = predictors
            let n = max(tenants * predictors * Self.stride, 1)
            counters = .allocate(capacity: n)
            for i in 0..<n { (counters + i).initialize(to: Atomic(0)) }
        }

        deinit {
            counters.deinitialize(count: max(tenants * predictors * Self.stride, 1))
            counters.deallocate()
        }
    }

    /// What readers see: set by the worker at `reset`, under the lock (cold).
    private let published = Locked<Counts>(Counts(generation: 0, tenants: 0, predictors: 0))
    /// The worker's own reference to the counts it writes; only the worker
    /// reads or sets it (set in `reset`, beside `published`).
    private var current = Counts(generation: 0, tenants: 0, predictors: 0)

    /// Worker thread: a run's transformed scores.
    func record(tenant: Int, predictor: PredictorIndex, scores: UnsafeBufferPointer<Double>, edges: [Double]) {
        let predictor = predictor.rawValue
        let counts = current
        guard tenant >= 0, tenant < counts.tenants, predictor >= 0, predictor < counts.predictors else { return }
        let base = counts.counters + (tenant * counts.predictors + predictor) * Counts.stride
        var sum = Double(bitPattern: base.pointee.load(ordering: .relaxed))
        edges.withUnsafeBufferPointer { edges in
            for score in scores where score.isFinite {
                sum += score
                let decile = base + 1 + ShadowRecord.decile(of: score, edges: edges)
                decile.pointee.store(decile.pointee.load(ordering: .relaxed) &+ 1, ordering: .relaxed)
            }
        }
        base.pointee.store(sum.bitPattern, ordering: .relaxed)
    }

    /// Worker thread: one transformed score.
    func record(tenant: Int, predictor: PredictorIndex, score: Double, edges: [Double]) {
        withUnsafePointer(to: score) { record(tenant: tenant, predictor: predictor, scores: UnsafeBufferPointer(start: $0, count: 1), edges: edges) }
    }

    /// Worker thread: starts over for a new generation (its shadows are
    /// other predictors), with room for `tenants` × `predictors` records
    /// (none when it routes no shadow).
    func reset(generation: UInt64, tenants: Int = 0, predictors: Int = 0) {
        let counts = Counts(generation: generation, tenants: tenants, predictors: predictors)
        current = counts
        published.withLock { $0 = counts }
    }

    /// Any thread: the records with events, as of now.
    func snapshot() -> (generation: UInt64, records: [ShadowKey: ShadowRecord]) {
        let counts = published.withLock { $0 }
        var records: [ShadowKey: ShadowRecord] = [:]
        for t in 0..<counts.tenants {
            for p in 0..<counts.predictors {
                let base = counts.counters + (t * counts.predictors + p) * Counts.stride
                var record = ShadowRecord()
                for d in 0..<10 { record.deciles[d] = (base + 1 + d).pointee.load(ordering: .relaxed) }
                record.count = record.deciles.reduce(0, +)
                guard record.count > 0 else { continue }
                record.sum = Double(bitPattern: base.pointee.load(ordering: .relaxed))
                records[ShadowKey(tenant: t, predictor: PredictorIndex(p))] = record
            }
        }
        return (counts.generation, records)
    }
}
