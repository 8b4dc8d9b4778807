import Foundation
import MuseControl
import MuseScoring
import MuseSnapshot
import Testing
@testable import MuseServer

/// What promoting a shadow changes in a generation, and the gate's figures.
@Suite struct PromotionRoutesTests {
    static func model(_ name: String, _ correction: CorrectionSetting) throws -> ModelEntry {
        let bytes = Array(#"{"muse_model": "logistic_regression", "feature_names": ["x0"], "coefficients": [1], "intercept": 0}"#.utf8)
        return ModelEntry(name: name, model: try SnapshotModel(try ModelImporter.load(bytes)), correction: correction,
                          source: ModelSource(format: .logistic, bytes: bytes))
    }

    static let map = try! QuantileMapFitter(reference: .uniform, knots: 11).fit((0..<100).map { Double($0) / 100 })

    /// Tenants a and b route 'pay' to p, shadowed by n; p's maps as given.
    static func contents(maps: [ScoreMapFile.Entry]) throws -> SnapshotContents {
        SnapshotContents(
            generationID: 1, createdAt: 0, models: [try model("old", .identity), try model("new", .negativeSamplingRate(0.5))],
            scoreMaps: ScoreMapFile(entries: maps),
            predictors: [PredictorSpec(name: "p", members: [.init(model: "old")]), PredictorSpec(name: "n", members: [.init(model: "new")])],
            intents: [IntentSchema(name: "pay", id: 1, featureNames: ["x0"])],
            routes: [RouteSpec(tenant: "a", intent: "pay", predictor: "p", shadows: ["n"]),
                     RouteSpec(tenant: "b", intent: "pay", predictor: "p", shadows: ["n"])])
    }

    /// Maps fitted on evenly spread scores, this many per tenant (in name order), at least 1000 for an own map.
    static func fit(_ counts: [String: Int]) throws -> TenantMaps {
        try TenantMaps.fit(samples: counts.keys.sorted().map { t in (t, (0..<counts[t]!).map { Double($0 + 1) / Double(counts[t]! + 2) }) },
                           fitter: QuantileMapFitter(reference: .uniform, knots: 11), minimumSamples: 1000)
    }

    static func entry(_ tenant: String?, _ reference: ReferenceDescriptor) -> ScoreMapFile.Entry {
        ScoreMapFile.Entry(predictor: "p", tenant: tenant, reference: reference, sampleCount: 100, content: .map(map))
    }

    static func refusal(_ maps: [ScoreMapFile.Entry], name: String = "n") throws -> String {
        do {
            _ = try PromotionRoutes(contents: try contents(maps: maps), name: name)
            return "accepted"
        } catch { return "\(error)" }
    }

    @Test func theShadowTakesEachRouteOnTheOldMapsReference() throws {
        let plan = try PromotionRoutes(contents: Self.contents(maps: [Self.entry(nil, .beta(a: 2, b: 5))]), name: "n")
        #expect(plan.routes.map(\.key.description) == ["a/pay", "b/pay"] && plan.routes.allSatisfy { $0.demoted == "p" })
        let beta = try ReferenceDistribution.beta(2, 5)
        #expect(plan.tenants == ["a", "b"] && plan.reference == beta)
        let half = try PosteriorCorrection(negativeSamplingRate: 0.5)
        #expect(plan.levelOne.map(\.oddsRatio) == [half.oddsRatio])
        let maps = try Self.fit(["a": 1000, "b": 3])
        let next = try Self.contents(maps: [Self.entry(nil, .beta(a: 2, b: 5))])
            .edited(plan.edits(name: "n", maps: maps), generationID: 2, createdAt: 1)
        #expect(next.routes.allSatisfy { $0.predictor == "n" && $0.shadows == ["p"] })
        let fitted = next.scoreMaps.entries.filter { $0.predictor == "n" }
        #expect(fitted.map { $0.tenant ?? "*" } == ["*", "a", "b"])
        #expect(fitted.allSatisfy { $0.correction?.oddsRatio == half.oddsRatio && $0.reference == .beta(a: 2, b: 5) })
        #expect(next.scoreMaps.entries.filter { $0.predictor == "p" } == [Self.entry(nil, .beta(a: 2, b: 5))])
    }

    @Test func whatCannotBePromotedIsRefusedNamingWhy() throws {
        #expect(try Self.refusal([Self.entry(nil, .uniform)], name: "q")
                == "'q' is not a shadow of any route of the serving generation; its shadows are n")
        #expect(try Self.refusal([Self.entry(nil, .uniform)], name: "p").contains("(it already answers a/pay, b/pay)"))
        #expect(try Self.refusal([Self.entry("a", .uniform)]).hasPrefix("route b/pay is answered by 'p' with no level-2 map"))
        let mixed = try Self.refusal([Self.entry("a", .beta(a: 2, b: 5)), Self.entry(nil, .uniform)])
        #expect(mixed.contains("different references: beta 2.0 5.0 (a/pay); uniform (b/pay)"), "\(mixed)")
        #expect(try Self.refusal([Self.entry(nil, .empirical(count: 10))]).contains("empirical reference"))
    }

    @Test func theGateRefusesThinTenantsUnlessAllowed() throws {
        let maps = try Self.fit(["a": 2000, "b": 100, "c": 0])
        let thresholds = ["a": [0.95, 0.99], "b": [0.9], "c": [0.5]]
        let events: [String: UInt64] = ["a": 2000, "b": 100]
        let (tenants, failures) = PromotionFigures.judge(maps: maps, events: events, thresholds: thresholds, reference: .uniform,
                                                         maximumRelativeError: 0.1, allowThin: ["b"])
        #expect(tenants.map(\.map) == ["own map", "pooled map (100 scores, fewer than the minimum 1000)",
                                       "pooled map (0 scores, fewer than the minimum 1000)"])
        // a at 5%: 2000 events give 9.7%, within; at 1%: 22.2%, not.
        #expect(tenants[0].thresholds.first?.verdict == "pass")
        #expect(failures.count == 2, "\(failures)")
        #expect(failures[0] == "tenant a, threshold 0.99: 2000 events estimate the alert rate 1% within 22.2%, more than the allowed 10% (that needs 9900 events)")
        #expect(tenants[1].thresholds[0].verdict.hasPrefix("allowed thin: 100 events"))
        // No events: an infinite error, carried as nil (JSON has no infinity).
        #expect(tenants[2].thresholds[0].relativeError == nil && failures[1].hasPrefix("tenant c, threshold 0.5: 0 events"))
    }
}
