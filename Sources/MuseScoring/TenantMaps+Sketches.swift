extension TenantMaps {
    /// `fit(samples:)` from score sketches instead of samples: the pooled map
    /// from all the sketches merged (exactly: counts add), each tenant's own
    /// map when its sketch holds at least `minimumSamples` events, the pooled
    /// map below that.
    public static func fit(
        sketches: [(tenant: String, sketch: ScoreSketch)], fitter: QuantileMapFitter, minimumSamples: Int
    ) throws(ScoreMapError) -> TenantMaps {
        guard minimumSamples >= 2 else {
            throw .invalidParameter("the minimum sample size must be at least 2, got \(minimumSamples)")
        }
        var all = ScoreSketch()
        for s in sketches { all.merge(s.sketch) }
        let pooled = try fitter.fit(all)
        var entries = [Entry]()
        for (tenant, sketch) in sketches {
            let n = sketch.count
            if n < UInt64(minimumSamples) {
                entries.append(Entry(tenant: tenant, origin: .pooled(
                    reason: "\(n) scores, fewer than the minimum \(minimumSamples)"), map: pooled))
            } else {
                entries.append(Entry(tenant: tenant, origin: .ownSample(count: Int(clamping: n)), map: try fitter.fit(sketch)))
            }
        }
        return TenantMaps(pooled: pooled, pooledSampleCount: Int(clamping: all.count), entries: entries)
    }
}
