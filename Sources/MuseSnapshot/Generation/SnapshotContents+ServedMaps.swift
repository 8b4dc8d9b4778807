import MuseScoring

/// The maps a generation serves, as a map file of their own: what
/// `musectl snapshot inspect --maps` prints, so a tenant's scores can be
/// mapped offline (`musectl transform apply`) exactly as mused maps them.
public struct ServedMaps: Sendable {
    /// A (tenant, predictor) pair some route serves.
    public struct Pair: Sendable, Equatable, Hashable, Codable {
        public let tenant: String
        public let predictor: String
        public init(tenant: String, predictor: String) { self.tenant = tenant; self.predictor = predictor }
    }

    /// Per predictor, its pooled map (when it has one), then one entry per
    /// tenant a route serves it to: the tenant's own map, or a fallback to
    /// the pooled one. Entries keep what the snapshot records (sample
    /// count, level 1), so the file parses as the snapshot's own section does.
    public let file: ScoreMapFile
    /// Pairs served with no map at all: their scores are the predictor's
    /// posteriors, untransformed.
    public let unmapped: [Pair]
}

extension SnapshotContents {
    /// The map each route applies, the way `RoutingTableBuilder` chooses it:
    /// the tenant's own map for the predictor, else the predictor's pooled
    /// map, else none. Primary and shadow predictors alike, in route order.
    public func servedMaps() -> ServedMaps {
        var pairs = [ServedMaps.Pair](), seen = Set<ServedMaps.Pair>()
        for r in routes {
            for p in [r.predictor] + r.shadows where seen.insert(.init(tenant: r.tenant, predictor: p)).inserted {
                pairs.append(.init(tenant: r.tenant, predictor: p))
            }
        }
        var pooled = [String: ScoreMapFile.Entry](), own = [ServedMaps.Pair: ScoreMapFile.Entry]()
        for e in scoreMaps.entries {
            if let t = e.tenant {
                own[.init(tenant: t, predictor: e.predictor)] = e
            } else if case .map = e.content {
                pooled[e.predictor] = e
            }
        }
        var order = [String](), byPredictor = [String: [ScoreMapFile.Entry]]()
        var unmapped = [ServedMaps.Pair]()
        for pair in pairs {
            let entry: ScoreMapFile.Entry
            if let mine = own[pair], case .map = mine.content {
                entry = mine
            } else if let pool = pooled[pair.predictor] {
                // A recorded fallback keeps its reason; a tenant with no entry
                // at all gets the pooled map too, as the routing table does.
                entry = own[pair] ?? ScoreMapFile.Entry(
                    predictor: pair.predictor, tenant: pair.tenant, reference: pool.reference, sampleCount: nil,
                    correction: pool.correction, memberCorrections: pool.memberCorrections,
                    content: .fallback(reason: "no map of its own in generation \(generationID)"))
            } else {
                unmapped.append(pair)
                continue
            }
            if byPredictor[pair.predictor] == nil {
                order.append(pair.predictor)
                byPredictor[pair.predictor] = pooled[pair.predictor].map { [$0] } ?? []
            }
            byPredictor[pair.predictor]!.append(entry)
        }
        return ServedMaps(file: ScoreMapFile(entries: order.flatMap { byPredictor[$0]! }), unmapped: unmapped)
    }
}
