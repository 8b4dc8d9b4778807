import MuseControl
import MuseScoring
import MuseSnapshot

/// What promoting the shadow predictor NAME changes in a generation: every
/// route NAME shadows gets NAME as its answering predictor and keeps its old
/// primary as a shadow (so a rollback, or promoting it back, needs no new
/// data). NAME's maps go onto the reference scale the routes' old maps use,
/// so each tenant's thresholds keep their meaning.
struct PromotionRoutes {
    struct Route {
        var key: RouteKey
        /// The predictor that answered the route, a shadow from now on.
        var demoted: String
    }
    var routes: [Route]
    /// The tenants of those routes, in route order, each once: NAME's maps are per tenant.
    var tenants: [String]
    /// The reference the old primaries' maps map onto, for NAME's maps.
    var reference: ReferenceDistribution
    /// NAME's level 1 (its members' corrections, in member order), recorded on every map fitted for it.
    var levelOne: [PosteriorCorrection]

    init(contents: SnapshotContents, name: String) throws(PromotionError) {
        let routes = contents.routes.filter { $0.shadows.contains(name) }
        guard !routes.isEmpty else {
            let shadows = Set(contents.routes.flatMap(\.shadows)).sorted()
            let answering = contents.routes.contains { $0.predictor == name }
            throw PromotionError("'\(name)' is not a shadow of any route of the serving generation"
                + (answering ? " (it already answers " + contents.routes.filter { $0.predictor == name }
                    .map { "\($0.tenant)/\($0.intent)" }.joined(separator: ", ") + ")" : "")
                + (shadows.isEmpty ? "; it has no shadows (add one with 'musectl candidate add')"
                   : "; its shadows are " + shadows.joined(separator: ", ")))
        }
        let corrections: [String: [(model: String, correction: PosteriorCorrection)]]
        do { corrections = try contents.predictorCorrections() } catch { throw PromotionError("\(error)") }
        guard let members = corrections[name] else { throw PromotionError("predictor '\(name)' has no model to score with") }
        var references: [String: (ReferenceDescriptor, [String])] = [:]
        for r in routes {
            guard let entry = Self.servedMap(contents.scoreMaps, predictor: r.predictor, tenant: r.tenant) else {
                throw PromotionError("route \(r.tenant)/\(r.intent) is answered by '\(r.predictor)' with no level-2 map, "
                    + "so its scores have no reference scale for '\(name)''s maps to keep; give it a map first (snapshot build, swap)")
            }
            references[entry.reference.description, default: (entry.reference, [])].1.append("\(r.tenant)/\(r.intent)")
        }
        guard references.count == 1, let (descriptor, _) = references.values.first else {
            let list = references.keys.sorted().map { "\($0) (\(references[$0]!.1.joined(separator: ", ")))" }
            throw PromotionError("the routes '\(name)' shadows map onto different references: \(list.joined(separator: "; ")); "
                                 + "one fitted map per tenant needs one reference")
        }
        switch descriptor {
        case .uniform: reference = .uniform
        case .beta(let a, let b):
            do { reference = try .beta(a, b) } catch { throw PromotionError("reference \(descriptor): \(error)") }
        case .empirical:
            throw PromotionError("the routes' maps use an empirical reference, which a generation records by its size only: "
                                 + "fit '\(name)''s maps with 'musectl transform fit --sketches' and the reference sample, then swap")
        }
        self.routes = routes.map { Route(key: RouteKey(tenant: $0.tenant, intent: $0.intent), demoted: $0.predictor) }
        var seen = Set<String>()
        tenants = routes.map(\.tenant).filter { seen.insert($0).inserted }
        levelOne = members.map(\.correction)
    }

    /// The map a route applies, as the routing table resolves it: the
    /// tenant's own, else (no entry, or a fallback) the predictor's pooled map.
    static func servedMap(_ maps: ScoreMapFile, predictor: String, tenant: String) -> ScoreMapFile.Entry? {
        if let own = maps.entries.first(where: { $0.predictor == predictor && $0.tenant == tenant }), case .map = own.content {
            return own
        }
        return maps.entries.first { e in
            guard e.predictor == predictor, e.tenant == nil, case .map = e.content else { return false }
            return true
        }
    }

    /// The edits: NAME's maps (pooled, then each tenant's own or its
    /// fallback, all recording NAME's level 1), then each route answered by
    /// NAME with its old primary as its last shadow.
    func edits(name: String, maps: TenantMaps) -> [GenerationEdit] {
        let file = ScoreMapFile(predictor: name, reference: reference, maps: maps)
        var edits = [GenerationEdit]()
        for var entry in file.entries {
            entry.record(levelOne: levelOne)
            edits.append(.setMap(predictor: name, tenant: entry.tenant, entry: entry))
        }
        for r in routes {
            edits.append(.setPrimary(r.key, predictor: name))
            edits.append(.addShadow(r.key, predictor: r.demoted))
        }
        return edits
    }
}

/// Why a promotion is refused, in words an operator can act on; a refusal
/// by the gate carries the figures it judged.
public struct PromotionError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public let report: PromoteReport?
    init(_ description: String, report: PromoteReport? = nil) {
        self.description = description
        self.report = report
    }
}
