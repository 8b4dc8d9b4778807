/// (tenant, intent) → predictor, with each tenant's level-2 map and shadow
/// predictors: everything the per-event path needs, resolved once at build.
///
/// Tenants and intents get dense ids (`RoutedTenant`, `RoutedIntent`: their
/// index in the sorted name lists), predictors a `PredictorIndex`, and routes
/// sit in one flat array indexed by `tenant * intents.count + intent`, so a
/// lookup is a bounds check and a load: no strings, no hashing. Models are stored once and shared by every
/// predictor that names them; a pooled map is stored once and shared by every
/// tenant that falls back to it.
public struct RoutingTable: Sendable {
    /// Tenant names; a tenant's id (`RoutedTenant`) is its index here.
    public let tenants: [String]
    /// Intent names; an intent's id (`RoutedIntent`) is its index here.
    public let intents: [String]
    public let modelNames: [String]
    let models: [any ScoringModel]
    let corrections: [PosteriorCorrection]
    public let predictors: [Predictor]
    public let maps: [QuantileMap]
    let routes: [Route]
    let shadowSlots: [Slot]
    /// Decisions the build made on the operator's behalf (fallback maps), to log.
    public let notes: [String]

    struct Slot: Sendable {
        var predictor: Int32
        /// Index into `maps`; −1 means no level-2 map (identity).
        var map: Int32
    }

    struct Route: Sendable {
        /// −1 means no route.
        var primary: Slot
        var shadowStart: Int32
        var shadowCount: Int32
    }

    /// Cold-path name resolution, e.g. once when a tenant's segment is adopted.
    public func tenantID(_ name: String) -> RoutedTenant? {
        tenants.firstIndex(of: name).map { RoutedTenant(Int32(truncatingIfNeeded: $0)) }
    }
    public func intentID(_ name: String) -> RoutedIntent? {
        intents.firstIndex(of: name).map { RoutedIntent(Int32(truncatingIfNeeded: $0)) }
    }

    /// Every tenant's id, in the order of `tenants`.
    public var tenantIDs: [RoutedTenant] { tenants.indices.map { RoutedTenant(Int32(truncatingIfNeeded: $0)) } }

    /// Every intent's id, in the order of `intents`.
    public var intentIDs: [RoutedIntent] { intents.indices.map { RoutedIntent(Int32(truncatingIfNeeded: $0)) } }

    /// The number of features the predictor routed for (tenant, intent) takes.
    public func featureCount(tenant: RoutedTenant, intent: RoutedIntent) -> Int? {
        guard let r = route(tenant, intent) else { return nil }
        return predictors[Int(r.primary.predictor)].featureNames.count
    }

    @inline(__always)
    func route(_ tenant: RoutedTenant, _ intent: RoutedIntent) -> Route? {
        let tenant = Int(tenant.rawValue), intent = Int(intent.rawValue)
        // Ids come from untrusted clients: check both before indexing.
        guard tenant >= 0, tenant < tenants.count, intent >= 0, intent < intents.count else { return nil }
        let r = routes[tenant &* intents.count &+ intent]
        return r.primary.predictor < 0 ? nil : r
    }

    @inline(__always)
    func evaluate(_ slot: Slot, _ features: UnsafeBufferPointer<Double>) -> RoutedScore {
        let p = Int(slot.predictor)
        let raw = predictors[p].posterior(features, models: models, corrections: corrections)
        let score = slot.map < 0 ? raw : maps[Int(slot.map)].apply(raw)
        return RoutedScore(score: score, raw: raw, predictor: PredictorIndex(p))
    }

    /// Scores one event with the predictor routed for (tenant, intent).
    public func score(tenant: RoutedTenant, intent: RoutedIntent, features: UnsafeBufferPointer<Double>) -> RoutingOutcome {
        guard let r = route(tenant, intent) else { return .noRoute }
        let expected = predictors[Int(r.primary.predictor)].featureNames.count
        guard features.count == expected else { return .featureCountMismatch(expected: expected) }
        return .scored(evaluate(r.primary, features))
    }

    /// Scores the event with each shadow predictor of (tenant, intent), for
    /// comparison only: these scores are never answered to the client.
    public func scoreShadows(
        tenant: RoutedTenant, intent: RoutedIntent, features: UnsafeBufferPointer<Double>, _ body: (RoutedScore) -> Void
    ) {
        guard let r = route(tenant, intent), r.shadowCount > 0 else { return }
        let expected = predictors[Int(r.primary.predictor)].featureNames.count
        guard features.count == expected else { return }
        for i in Int(r.shadowStart)..<Int(r.shadowStart + r.shadowCount) {
            body(evaluate(shadowSlots[i], features))
        }
    }

    /// Scores `count` events of (tenant, intent) in one pass: rows of the
    /// predictor's width, row after row in `rows`; `raw[i]` and `scores[i]`
    /// are what `score` gives for row `i`, bit for bit, while each model
    /// scores all the rows in one call. `work` holds `count` doubles.
    public func score(tenant: RoutedTenant, intent: RoutedIntent, rows: UnsafeBufferPointer<Double>, count: Int,
                      raw: UnsafeMutableBufferPointer<Double>, scores: UnsafeMutableBufferPointer<Double>,
                      work: UnsafeMutableBufferPointer<Double>) -> BatchOutcome {
        guard let r = route(tenant, intent) else { return .noRoute }
        let expected = predictors[Int(r.primary.predictor)].featureNames.count
        guard rows.count == expected * count else { return .featureCountMismatch(expected: expected) }
        evaluate(r.primary, rows: rows, count: count, raw: raw, scores: scores, work: work)
        return .scored(predictor: PredictorIndex(Int(r.primary.predictor)))
    }

    /// `scoreShadows` of `count` rows at once: `body` gets each shadow
    /// predictor with the rows' raw and transformed scores.
    public func scoreShadows(
        tenant: RoutedTenant, intent: RoutedIntent, rows: UnsafeBufferPointer<Double>, count: Int,
        raw: UnsafeMutableBufferPointer<Double>, scores: UnsafeMutableBufferPointer<Double>,
        work: UnsafeMutableBufferPointer<Double>, _ body: (_ predictor: PredictorIndex, _ raw: UnsafeBufferPointer<Double>,
                                                            _ scores: UnsafeBufferPointer<Double>) -> Void
    ) {
        guard let r = route(tenant, intent), r.shadowCount > 0 else { return }
        let expected = predictors[Int(r.primary.predictor)].featureNames.count
        guard rows.count == expected * count else { return }
        for i in Int(r.shadowStart)..<Int(r.shadowStart + r.shadowCount) {
            let slot = shadowSlots[i]
            evaluate(slot, rows: rows, count: count, raw: raw, scores: scores, work: work)
            body(PredictorIndex(Int(slot.predictor)), UnsafeBufferPointer(rebasing: raw[0..<count]), UnsafeBufferPointer(rebasing: scores[0..<count]))
        }
    }

    private func evaluate(_ slot: Slot, rows: UnsafeBufferPointer<Double>, count: Int,
                          raw: UnsafeMutableBufferPointer<Double>, scores: UnsafeMutableBufferPointer<Double>,
                          work: UnsafeMutableBufferPointer<Double>) {
        let out = UnsafeMutableBufferPointer(rebasing: raw[0..<count])
        predictors[Int(slot.predictor)].posteriors(rows: rows, models: models, corrections: corrections, into: out, work: work)
        if slot.map < 0 {
            for i in 0..<count { scores[i] = out[i] }
        } else {
            let map = maps[Int(slot.map)]
            for i in 0..<count { scores[i] = map.apply(out[i]) }
        }
    }

    /// The predictor routed for (tenant, intent), if any.
    public func primaryPredictor(tenant: RoutedTenant, intent: RoutedIntent) -> PredictorIndex? {
        route(tenant, intent).map { PredictorIndex(Int($0.primary.predictor)) }
    }

    /// The level-2 map the primary of (tenant, intent) applies; nil with no
    /// route or no map (its scores are its level 1).
    public func primaryMap(tenant: RoutedTenant, intent: RoutedIntent) -> QuantileMap? {
        guard let r = route(tenant, intent), r.primary.map >= 0 else { return nil }
        return maps[Int(r.primary.map)]
    }

    /// The shadow predictors' ids for (tenant, intent).
    public func shadowPredictors(tenant: RoutedTenant, intent: RoutedIntent) -> [PredictorIndex] {
        guard let r = route(tenant, intent) else { return [] }
        return shadowSlots[Int(r.shadowStart)..<Int(r.shadowStart + r.shadowCount)].map { PredictorIndex(Int($0.predictor)) }
    }

    /// Every predictor's index, in table order.
    public var predictorIndices: [PredictorIndex] { predictors.indices.map { PredictorIndex($0) } }

    /// The predictor at `index` (a valid index of this table).
    public func predictor(_ index: PredictorIndex) -> Predictor { predictors[index.rawValue] }

    /// Cold-path lookup of a predictor by name.
    public func predictorIndex(named name: String) -> PredictorIndex? {
        predictors.firstIndex { $0.name == name }.map { PredictorIndex($0) }
    }

    /// The model instances (shared, not copied) of a predictor, e.g. to check sharing.
    public func model(_ index: Int) -> any ScoringModel { models[index] }
}

/// What `score(tenant:intent:rows:...)` did with a batch.
public enum BatchOutcome: Sendable, Equatable {
    case scored(predictor: PredictorIndex)
    case noRoute
    case featureCountMismatch(expected: Int)
}

/// One scored event.
public struct RoutedScore: Sendable, Equatable {
    /// On the reference scale: what tenants' thresholds apply to.
    public let score: Double
    /// The predictor's posterior-corrected probability, before level 2.
    public let raw: Double
    /// The routing table's predictor that scored it.
    public let predictor: PredictorIndex
}

public enum RoutingOutcome: Sendable, Equatable {
    case scored(RoutedScore)
    /// Unknown tenant or intent id, or no predictor routed for the pair.
    case noRoute
    /// The event's feature count differs from the routed predictor's.
    case featureCountMismatch(expected: Int)
}
