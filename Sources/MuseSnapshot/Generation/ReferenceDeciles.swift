import MuseScoring

extension LoadedSnapshot {
    /// Where the reference distribution's deciles (10%…90%) lie for each map
    /// the routes use, keyed by the routing table's predictor index, then
    /// tenant name: what a tenant's transformed scores should follow, so the
    /// daemon can measure drift (and a promotion gate can judge a shadow).
    ///
    /// Uniform and beta references give exact quantiles. A map records an
    /// empirical reference by its size only, so for one the deciles are read
    /// off the map's own reference values at evenly spaced knots, which is
    /// exact when the map was fitted with more distinct scores than knots.
    /// Routes without a map are left out.
    public func referenceDeciles() -> [Int: [String: [Double]]] {
        let table = routingTable
        // By name, first entry wins: searching the lists per route would be
        // quadratic in what a snapshot holds.
        struct Key: Hashable { let predictor: String, tenant: String? }
        var entries = [Key: ScoreMapFile.Entry]()
        for e in contents.scoreMaps.entries where entries[Key(predictor: e.predictor, tenant: e.tenant)] == nil {
            entries[Key(predictor: e.predictor, tenant: e.tenant)] = e
        }
        let predictorIndex = Dictionary(table.predictors.enumerated().map { ($1.name, $0) }, uniquingKeysWith: { a, _ in a })
        var out = [Int: [String: [Double]]]()
        for route in routes {
            for name in [route.predictor] + route.shadows {
                guard let p = predictorIndex[name] else { continue }
                let own = entries[Key(predictor: name, tenant: route.tenant)]
                let pooled = entries[Key(predictor: name, tenant: nil)]
                let entry: ScoreMapFile.Entry?
                if let own, case .map = own.content { entry = own } else { entry = pooled }
                guard let entry, case .map(let map) = entry.content else { continue }
                out[p, default: [:]][route.tenant] = Self.deciles(entry.reference, map)
            }
        }
        return out
    }

    static func deciles(_ reference: ReferenceDescriptor, _ map: QuantileMap) -> [Double] {
        let qs = (1...9).map { Double($0) / 10 }
        switch reference {
        case .uniform:
            return qs
        case .beta(let a, let b):
            if let r = try? ReferenceDistribution.beta(a, b) { return qs.map { r.quantile($0) } }
            return qs
        case .empirical:
            let y = map.references
            return qs.map { q in
                let x = q * Double(y.count - 1)
                let i = min(Int(x), y.count - 2)
                return y[i] + (y[i + 1] - y[i]) * (x - Double(i))
            }
        }
    }
}
