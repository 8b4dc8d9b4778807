extension ScoreMapFile {
    /// The map `resolve` chose, and the entry saying why.
    public struct Resolution: Sendable, Equatable {
        public let map: QuantileMap
        /// The tenant's own entry (a map or a fallback), or the pooled one.
        public let entry: Entry
        /// Whether `map` is the predictor's pooled map.
        public let isPooled: Bool
        /// Whether the file records the level 1 the map was fitted with (a
        /// file written before `correction` existed does not, and then the
        /// caller's level 1 could not be checked).
        public var correctionChecked: Bool { entry.recordsCorrection }
    }

    /// The map for (predictor, tenant), strictly: a tenant named but absent
    /// from the file is an error, not the pooled map, because a misspelt
    /// tenant would otherwise get other alert semantics without a word.
    ///
    /// - `tenant` nil means no tenant was named: the pooled map, if
    ///   `allowPooled` or if the predictor has no per-tenant entries at all
    ///   (then nothing else could be meant).
    /// - `allowPooled`: the caller asked for the pooled map for tenants the
    ///   file does not know.
    /// - `correction`: the level 1 the caller applies before the map; it
    ///   must be the one the map was fitted with, where the file records it.
    ///   A blend's map (one ratio per member) takes the blend's posteriors,
    ///   already corrected: then `correction` must be the identity.
    public func resolve(predictor: String, tenant: String?, allowPooled: Bool,
                        correction: PosteriorCorrection) throws(ScoreMapResolveError) -> Resolution {
        let mine = entries.filter { $0.predictor == predictor }
        guard !mine.isEmpty else {
            var names: [String] = []
            for e in entries where !names.contains(e.predictor) { names.append(e.predictor) }
            throw .unknownPredictor(predictor, known: names)
        }
        let tenants = mine.compactMap(\.tenant)
        func pooled() throws(ScoreMapResolveError) -> (QuantileMap, Entry) {
            for e in mine where e.tenant == nil {
                if case .map(let m) = e.content { return (m, e) }
            }
            throw .noPooledMap(predictor: predictor)
        }
        let resolution: Resolution
        if let tenant, let own = mine.first(where: { $0.tenant == tenant }) {
            switch own.content {
            case .map(let m): resolution = Resolution(map: m, entry: own, isPooled: false)
            case .fallback: resolution = Resolution(map: try pooled().0, entry: own, isPooled: true)
            }
        } else if let tenant {
            guard allowPooled else { throw .unknownTenant(tenant, predictor: predictor, known: tenants) }
            let (m, e) = try pooled()
            resolution = Resolution(map: m, entry: e, isPooled: true)
        } else {
            guard allowPooled || tenants.isEmpty else { throw .noTenant(predictor: predictor, known: tenants) }
            let (m, e) = try pooled()
            resolution = Resolution(map: m, entry: e, isPooled: true)
        }
        if let members = resolution.entry.memberCorrections, !correction.isIdentity {
            throw .blendPosteriorExpected(predictor: predictor, tenant: resolution.entry.tenant,
                                          members: members.map(\.oddsRatio), given: correction.oddsRatio)
        }
        if let fitted = resolution.entry.correction, fitted.oddsRatio != correction.oddsRatio {
            throw .correctionMismatch(predictor: predictor, tenant: resolution.entry.tenant,
                                      fitted: fitted.oddsRatio, given: correction.oddsRatio)
        }
        return resolution
    }
}
