import MuseIPC
import MuseScoring

/// The typed serving object: one generation bound to this daemon's tenants.
/// Workers score every event of a batch with the one `Serving` they loaded
/// before the batch, through their `WorkerScorer`; a new one is published
/// whole (see `ServingCell`).
///
/// The daemon's `TenantIndex` (its segment order) is mapped to the routing
/// table's tenant id once, here, so the per-event path is two array loads.
public final class Serving: Sendable {
    public let generation: Generation
    /// Tenant names by `TenantIndex`.
    public let tenants: [String]
    /// `TenantIndex` → the routing table's tenant id; `.unrouted`: the
    /// generation does not route this tenant (its events get `noRoute`).
    private let routingTenants: [RoutedTenant]
    /// By `TenantIndex`: whether any of the tenant's routes has shadows.
    private let shadowed: [Bool]
    /// By `TenantIndex`, then routing predictor: the reference deciles a
    /// shadow's transformed scores are tallied against (looked up by name
    /// once here, not per event).
    private let shadowEdges: [[[Double]]]
    /// The generation's per-event state, held here so the hot path reads this
    /// object's own fields: reaching the table through `generation.routing`
    /// copied the struct (a retain and release per array) on every event,
    /// 110 ns per event against 38 (muse-bench-serving).
    private let routing: RoutingTable
    private let id: GenerationID
    /// The generation's intents' feature counts: what the drain checks each
    /// event against, and nothing else does.
    public let intents: IntentBounds

    public init(generation: Generation, tenants: [String]) {
        self.generation = generation
        self.tenants = tenants
        routing = generation.routing
        id = generation.id
        intents = generation.bounds
        let routingTenants = tenants.map { generation.routing.tenantID($0) ?? .unrouted }
        self.routingTenants = routingTenants
        let shadowed = routingTenants.map { t in
            t != .unrouted && generation.routing.intentIDs.contains {
                !generation.routing.shadowPredictors(tenant: t, intent: $0).isEmpty
            }
        }
        self.shadowed = shadowed
        shadowEdges = tenants.indices.map { t in
            guard shadowed[t] else { return [] }
            return generation.routing.predictorIndices.map { generation.decileEdges(tenant: tenants[t], predictor: $0) }
        }
    }

    /// Tenants the generation has no route for, to log when it is published.
    public var unroutedTenants: [String] {
        zip(tenants, routingTenants).filter { $0.1 == .unrouted }.map(\.0)
    }

    // MARK: Scoring

    public var generationID: GenerationID { id }

    @inline(__always)
    public func score(tenant: TenantIndex, intent: IntentID, features: UnsafeBufferPointer<Double>) -> Verdict {
        let t = tenant.rawValue < routingTenants.count ? routingTenants[tenant.rawValue] : .unrouted
        switch routing.score(tenant: t, intent: generation.routingIntent(intent), features: features) {
        case .scored(let s):
            // A non-finite score becomes MUSE_E_BAD_SCORE in the drain, for any scorer.
            return Verdict(status: .ok, score: s.score, rawScore: s.raw,
                           predictor: PredictorID(index: s.predictor), generation: id)
        case .noRoute:
            return .refused(.noRoute, generation: id)
        case .featureCountMismatch:
            return .refused(.featureCount, generation: id)
        }
    }

    /// A run of one intent's events, scored by the models' batch kernels.
    @inline(__always)
    public func score(tenant: TenantIndex, run: EventRun) {
        let t = tenant.rawValue < routingTenants.count ? routingTenants[tenant.rawValue] : .unrouted
        let n = run.count
        let raw = UnsafeMutableBufferPointer(rebasing: run.work[0..<n])
        let scores = UnsafeMutableBufferPointer(rebasing: run.work[n..<2 * n])
        let work = UnsafeMutableBufferPointer(rebasing: run.work[2 * n..<3 * n])
        switch routing.score(tenant: t, intent: generation.routingIntent(run.intent), rows: run.rows, count: n,
                             raw: raw, scores: scores, work: work) {
        case .scored(let predictor):
            let id = PredictorID(index: predictor)
            for i in 0..<n {
                run.verdicts[i] = Verdict(status: .ok, score: scores[i], rawScore: raw[i], predictor: id, generation: self.id)
            }
        case .noRoute:
            for i in 0..<n { run.verdicts[i] = .refused(.noRoute, generation: id) }
        case .featureCountMismatch:
            for i in 0..<n { run.verdicts[i] = .refused(.featureCount, generation: id) }
        }
    }

    @inline(__always)
    public func hasShadows(tenant: TenantIndex) -> Bool {
        tenant.rawValue < shadowed.count && shadowed[tenant.rawValue]
    }

    /// Scores a run with the shadow predictors of (tenant, intent) into
    /// `tally`: each shadow scores the rows in one call; its transformed
    /// scores go to the worker's tally and its level-1 scores to the worker's
    /// sketches, a run at a time, into counters only that worker writes (no
    /// lock, no name: the reference edges are looked up by index, built at
    /// `init`).
    func scoreShadows(tenant: TenantIndex, run: EventRun, into tally: ShadowTally, sketches: SketchTable? = nil) {
        guard hasShadows(tenant: tenant) else { return }
        let t = routingTenants[tenant.rawValue]
        let n = run.count
        let edges = shadowEdges[tenant.rawValue]
        routing.scoreShadows(tenant: t, intent: generation.routingIntent(run.intent), rows: run.rows, count: n,
                             raw: UnsafeMutableBufferPointer(rebasing: run.work[0..<n]),
                             scores: UnsafeMutableBufferPointer(rebasing: run.work[n..<2 * n]),
                             work: UnsafeMutableBufferPointer(rebasing: run.work[2 * n..<3 * n])) { predictor, raw, scores in
            tally.record(tenant: tenant.rawValue, predictor: predictor, scores: scores, edges: edges[predictor.rawValue])
            sketches?.record(tenant: tenant.rawValue, predictor: predictor, raw: raw, scores: scores)
        }
    }
}
