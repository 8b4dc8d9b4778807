import MuseIPC
import MuseScoring

/// The typed serving object: one generation bound to this daemon's tenants.
/// Workers score every event of a batch with the one `Serving` they loaded
/// before the batch; a new one is published whole (see `ServingCell`).
///
/// The daemon's `TenantIndex` (its segment order) is mapped to the routing
/// table's tenant id once, here, so the per-event path is two array loads.
public final class Serving: EventScorer, Sendable {
    public let generation: Generation
    /// Tenant names by `TenantIndex`.
    public let tenants: [String]
    /// `TenantIndex` → the routing table's tenant id; −1: the generation does
    /// not route this tenant (its events get `noRoute`).
    private let routingTenants: [Int32]
    /// By `TenantIndex`: whether any of the tenant's routes has shadows.
    private let shadowed: [Bool]
    /// The generation's per-event state, held here so the hot path reads this
    /// object's own fields: reaching the table through `generation.routing`
    /// copied the struct (a retain and release per array) on every event,
    /// 110 ns per event against 38 (muse-bench-serving).
    private let routing: RoutingTable
    private let id: GenerationID

    public init(generation: Generation, tenants: [String]) {
        self.generation = generation
        self.tenants = tenants
        routing = generation.routing
        id = generation.id
        let routingTenants = tenants.map { generation.routing.tenantID($0).map(Int32.init) ?? -1 }
        self.routingTenants = routingTenants
        shadowed = routingTenants.map { t in
            t >= 0 && generation.routing.intents.indices.contains {
                !generation.routing.shadowPredictors(tenant: Int(t), intent: $0).isEmpty
            }
        }
    }

    /// Tenants the generation has no route for, to log when it is published.
    public var unroutedTenants: [String] {
        zip(tenants, routingTenants).filter { $0.1 < 0 }.map(\.0)
    }

    // MARK: EventScorer

    public var generationID: GenerationID { id }

    @inline(__always)
    public func featureCount(tenant: TenantIndex, intent: IntentID) -> Int? {
        generation.bounds.featureCount(of: intent)
    }

    @inline(__always)
    public func score(tenant: TenantIndex, intent: IntentID, features: UnsafeBufferPointer<Double>) -> Verdict {
        let t = tenant.rawValue < routingTenants.count ? Int(routingTenants[tenant.rawValue]) : -1
        switch routing.score(tenant: t, intent: generation.routingIntent(intent), features: features) {
        case .scored(let s):
            // A non-finite score becomes MUSE_E_BAD_SCORE in the drain, for any scorer.
            return Verdict(status: .ok, score: s.score, rawScore: s.raw,
                           predictor: PredictorID(UInt32(truncatingIfNeeded: s.predictor + 1)), generation: id)
        case .noRoute:
            return .refused(.noRoute, generation: id)
        case .featureCountMismatch:
            return .refused(.featureCount, generation: id)
        }
    }

    @inline(__always)
    public func hasShadows(tenant: TenantIndex) -> Bool {
        tenant.rawValue < shadowed.count && shadowed[tenant.rawValue]
    }

    /// Scores with the shadow predictors of (tenant, intent) into `tally`.
    func scoreShadows(tenant: TenantIndex, intent: IntentID, features: UnsafeBufferPointer<Double>,
                      into tally: ShadowTally) {
        guard tenant.rawValue < routingTenants.count else { return }
        let t = Int(routingTenants[tenant.rawValue])
        generation.routing.scoreShadows(tenant: t, intent: generation.routingIntent(intent), features: features) { s in
            tally.record(tenant: tenant.rawValue, predictor: s.predictor, score: s.score,
                         edges: generation.decileEdges(tenant: tenants[tenant.rawValue], predictor: s.predictor))
        }
    }
}
