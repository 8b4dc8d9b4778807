import Foundation
import MuseIPC
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
    let predictor: Int
}

/// One worker's shadow records for the generation it serves. The worker adds
/// under an uncontended lock; the control thread sums the workers' tallies.
final class ShadowTally: Sendable {
    private let state = Locked<(generation: UInt64, records: [ShadowKey: ShadowRecord])>((0, [:]))

    /// A run's transformed scores, under one take of the lock.
    func record(tenant: Int, predictor: Int, scores: UnsafeBufferPointer<Double>, edges: [Double]) {
        state.withLock { state in
            let key = ShadowKey(tenant: tenant, predictor: predictor)
            var record = state.records[key] ?? ShadowRecord()
            for score in scores { record.add(score, edges: edges) }
            state.records[key] = record
        }
    }

    func record(tenant: Int, predictor: Int, score: Double, edges: [Double]) {
        state.withLock { $0.records[ShadowKey(tenant: tenant, predictor: predictor), default: ShadowRecord()].add(score, edges: edges) }
    }

    /// Starts over for a new generation: its shadows are other predictors.
    func reset(generation: UInt64) {
        state.withLock { $0 = (generation, [:]) }
    }

    func snapshot() -> (generation: UInt64, records: [ShadowKey: ShadowRecord]) { state.withLock { $0 } }
}
