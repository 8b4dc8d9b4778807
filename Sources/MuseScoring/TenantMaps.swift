/// The level-2 maps of one predictor: one per tenant, fitted on that tenant's
/// scores, and a pooled map fitted on all of them, which a tenant with too few
/// (or degenerate) scores falls back to. Each entry says which it got and why.
public struct TenantMaps: Sendable {
    public enum Origin: Sendable, Equatable, CustomStringConvertible {
        /// Fitted on the tenant's own sample of this many scores.
        case ownSample(count: Int)
        /// Uses the predictor's pooled map, for this reason.
        case pooled(reason: String)

        public var description: String {
            switch self {
            case .ownSample(let n): return "fitted on its own \(n) scores"
            case .pooled(let why): return "uses the pooled map: \(why)"
            }
        }
    }

    public struct Entry: Sendable {
        public let tenant: String
        public let origin: Origin
        /// The map to apply for this tenant (the pooled one on fallback).
        public let map: QuantileMap
    }

    public let pooled: QuantileMap
    public let pooledSampleCount: Int
    /// In the order the samples were given.
    public let entries: [Entry]

    /// Fits the pooled map on the union of the samples, then each tenant's
    /// own map when it has at least `minimumSamples` scores.
    public static func fit(
        samples: [(tenant: String, scores: [Double])], fitter: QuantileMapFitter, minimumSamples: Int
    ) throws(ScoreMapError) -> TenantMaps {
        guard minimumSamples >= 2 else {
            throw .invalidParameter("the minimum sample size must be at least 2, got \(minimumSamples)")
        }
        let all = samples.flatMap(\.scores)
        let pooled = try fitter.fit(all)
        var entries = [Entry]()
        for (tenant, scores) in samples {
            if scores.count < minimumSamples {
                entries.append(Entry(tenant: tenant, origin: .pooled(
                    reason: "\(scores.count) scores, fewer than the minimum \(minimumSamples)"), map: pooled))
                continue
            }
            do {
                entries.append(Entry(tenant: tenant, origin: .ownSample(count: scores.count), map: try fitter.fit(scores)))
            } catch .degenerateSample(let v, let n) {
                entries.append(Entry(tenant: tenant, origin: .pooled(
                    reason: "all \(n) scores equal \(v)"), map: pooled))
            }
        }
        return TenantMaps(pooled: pooled, pooledSampleCount: all.count, entries: entries)
    }
}
