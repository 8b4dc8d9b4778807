import Testing
@testable import MuseScoring

@Suite("Predictors and routing")
struct RoutingTableTests {
    let shared = WeightedLogistic(weights: [0.8, -0.4, 1.1], bias: -2)
    let other = WeightedLogistic(weights: [0.2, 0.9, -0.3], bias: -1)
    let correction = try! PosteriorCorrection(negativeSamplingRate: 0.2)

    func table() throws -> (RoutingTable, QuantileMap, QuantileMap) {
        var b = RoutingTableBuilder()
        try b.addModel("shared", shared, correction: correction)
        try b.addModel("other", other)
        try b.addPredictor("p-shared", members: [("shared", 1)])
        try b.addPredictor("p-blend", members: [("shared", 3), ("other", 1)])
        let fitter = try QuantileMapFitter(reference: .uniform, knots: 101)
        let acmeMap = try fitter.fit(QuantileMapTests.sample(2000, seed: 1))
        let pooled = try fitter.fit(QuantileMapTests.sample(2000, seed: 2))
        b.setMap(acmeMap, predictor: "p-shared", tenant: "acme")
        b.setMap(pooled, predictor: "p-shared")
        for tenant in ["acme", "bolt", "cargo"] {
            try b.route(tenant: tenant, intent: "card-not-present", to: "p-shared", shadows: tenant == "acme" ? ["p-blend"] : [])
        }
        try b.route(tenant: "bolt", intent: "transfer", to: "p-blend")
        return (try b.build(), acmeMap, pooled)
    }

    @Test func routesScoreWithBothLevels() throws {
        let (t, acmeMap, pooled) = try table()
        #expect(t.tenants == ["acme", "bolt", "cargo"] && t.intents == ["card-not-present", "transfer"])
        let features: [Double] = [0.5, -1, 2]
        let acme = try #require(t.tenantID("acme")), bolt = try #require(t.tenantID("bolt"))
        let cnp = try #require(t.intentID("card-not-present")), transfer = try #require(t.intentID("transfer"))
        let p = features.withUnsafeBufferPointer { shared.probability($0) }
        let q = features.withUnsafeBufferPointer { other.probability($0) }
        let result = features.withUnsafeBufferPointer { t.score(tenant: acme, intent: cnp, features: $0) }
        #expect(result == .scored(RoutedScore(score: acmeMap.apply(correction.apply(p)), raw: correction.apply(p), predictor: 0)))
        // bolt has no map of its own: the pooled one, and the build says so.
        let boltResult = features.withUnsafeBufferPointer { t.score(tenant: bolt, intent: cnp, features: $0) }
        #expect(boltResult == .scored(RoutedScore(score: pooled.apply(correction.apply(p)), raw: correction.apply(p), predictor: 0)))
        #expect(t.notes.contains { $0.contains("'bolt'") && $0.contains("pooled") })
        // A weighted average of corrected members, untransformed (no maps), noted.
        let blend = features.withUnsafeBufferPointer { t.score(tenant: bolt, intent: transfer, features: $0) }
        let expected = 0.75 * correction.apply(p) + 0.25 * q
        guard case .scored(let s) = blend else { Issue.record("no score: \(blend)"); return }
        #expect(abs(s.raw - expected) < 1e-15 && s.score == s.raw && s.predictor == 1)
        #expect(t.notes.contains { $0.contains("not transformed") })
        // The pooled map is stored once, however many tenants use it.
        #expect(t.maps.count == 2)
    }

    @Test func tenantsShareOneModelInstance() throws {
        let (t, _, _) = try table()
        #expect(t.modelNames == ["shared", "other"])
        #expect(t.model(0) as AnyObject === shared)
        #expect(t.predictors[0].members.map(\.model) == [0] && t.predictors[1].members.map(\.model) == [0, 1])
    }

    @Test func shadowsAreScoredNotAnswered() throws {
        let (t, _, _) = try table()
        let features: [Double] = [1, 2, 3]
        var shadowScores: [RoutedScore] = []
        let answered = features.withUnsafeBufferPointer { f in
            t.scoreShadows(tenant: 0, intent: 0, features: f) { shadowScores.append($0) }
            return t.score(tenant: 0, intent: 0, features: f)
        }
        #expect(shadowScores.count == 1 && shadowScores[0].predictor == 1)
        guard case .scored(let s) = answered else { Issue.record("no score"); return }
        #expect(s.predictor == 0 && s != shadowScores[0])
        #expect(t.shadowPredictors(tenant: 0, intent: 0) == [1] && t.shadowPredictors(tenant: 1, intent: 0) == [])
    }

    /// The typed ids are the integers they wrap, laid out alike (the
    /// per-tenant and per-intent maps stay four bytes an entry), and each
    /// names the same thing by index as by name.
    @Test func typedIdsNameTheirEntriesAndCostNoSpace() throws {
        let (t, _, _) = try table()
        #expect(MemoryLayout<RoutedTenant>.stride == 4 && MemoryLayout<RoutedIntent>.stride == 4)
        #expect(MemoryLayout<PredictorIndex>.stride == MemoryLayout<Int>.stride)
        #expect(t.tenantIDs == [0, 1, 2] && t.tenants.map { t.tenantID($0) } == t.tenantIDs)
        #expect(t.intentIDs == [0, 1] && t.intents.map { t.intentID($0) } == t.intentIDs)
        #expect(t.predictorIndices == [0, 1])
        for p in t.predictorIndices {
            #expect(t.predictorIndex(named: t.predictor(p).name) == p)
            #expect(PredictorID(index: p).index == p && PredictorID(index: p) != .none)
        }
        #expect(t.predictorIndex(named: "ghost") == nil && t.tenantID("ghost") == nil && t.intentID("ghost") == nil)
        let bolt = try #require(t.tenantID("bolt")), transfer = try #require(t.intentID("transfer"))
        #expect(t.primaryPredictor(tenant: bolt, intent: transfer).map { t.predictor($0).name } == "p-blend")
        #expect(t.primaryPredictor(tenant: .unrouted, intent: transfer) == nil)
        #expect(t.primaryPredictor(tenant: bolt, intent: .unrouted) == nil)
    }

    @Test func untrustedIdsAndFeatureCounts() throws {
        let (t, _, _) = try table()
        let three: [Double] = [1, 2, 3], two: [Double] = [1, 2]
        for (tenant, intent) in [(-1, 0), (3, 0), (0, 2), (0, -1), (RoutedTenant(.max), RoutedIntent(.max)), (0, 1)] as [(RoutedTenant, RoutedIntent)] {  // (acme, transfer) unrouted
            #expect(three.withUnsafeBufferPointer { t.score(tenant: tenant, intent: intent, features: $0) } == .noRoute)
        }
        #expect(two.withUnsafeBufferPointer { t.score(tenant: 0, intent: 0, features: $0) } == .featureCountMismatch(expected: 3))
        #expect(t.featureCount(tenant: 0, intent: 0) == 3 && t.featureCount(tenant: 0, intent: 1) == nil)
    }

    @Test func badTablesAreRejected() throws {
        func builder() throws -> RoutingTableBuilder {
            var b = RoutingTableBuilder()
            try b.addModel("m", shared)
            try b.addModel("wide", WeightedLogistic(weights: [1, 2, 3, 4]))
            try b.addPredictor("p", members: [("m", 1)])
            try b.addPredictor("w", members: [("wide", 1)])
            return b
        }
        var b = try builder()
        #expect(throws: RoutingError.duplicate(kind: "model", name: "m")) { try b.addModel("m", other) }
        try b.route(tenant: "t", intent: "i", to: "p")
        #expect(throws: RoutingError.duplicate(kind: "route", name: "t/i")) { try b.route(tenant: "t", intent: "i", to: "p") }

        b = try builder()
        try b.route(tenant: "t", intent: "i", to: "nope")
        #expect(throws: RoutingError.unknown(kind: "predictor", name: "nope", referencedBy: "route t/i")) { try b.build() }

        b = try builder()
        try b.addPredictor("bad", members: [("ghost", 1)])
        #expect(throws: RoutingError.unknown(kind: "model", name: "ghost", referencedBy: "predictor 'bad'")) { try b.build() }

        b = try builder()
        try b.addPredictor("zero", members: [("m", 0)])
        #expect(throws: RoutingError.self) { try b.build() }

        b = try builder()
        try b.addPredictor("mixed", members: [("m", 1), ("wide", 1)])
        #expect(throws: RoutingError.self) { try b.build() }

        b = try builder()
        try b.route(tenant: "t", intent: "i", to: "p", shadows: ["w"])  // one intent, two schemas
        #expect { try b.build() } throws: { "\($0)".contains("intent 'i'") }
    }
}
