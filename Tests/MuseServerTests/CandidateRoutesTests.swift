import MuseSnapshot
import MuseScoring
import Testing
@testable import MuseServer

/// Which routes a candidate model shadows, and why the others are left alone.
@Suite struct CandidateRoutesTests {
    static func contents() -> SnapshotContents {
        let six = (0..<6).map { "x\($0)" }, four = Array(six.prefix(4))
        return SnapshotContents(
            generationID: 1, createdAt: 0, models: [], scoreMaps: ScoreMapFile(entries: []), predictors: [],
            intents: [IntentSchema(name: "pay", id: 1, featureNames: six), IntentSchema(name: "login", id: 2, featureNames: four)],
            routes: [RouteSpec(tenant: "a", intent: "pay", predictor: "p"), RouteSpec(tenant: "a", intent: "login", predictor: "l"),
                     RouteSpec(tenant: "b", intent: "pay", predictor: "p")])
    }

    @Test func routesWhoseIntentSendsTheModelsFeaturesAreChosen() throws {
        let six = (0..<6).map { "x\($0)" }
        let all = try CandidateRoutes(contents: Self.contents(), modelFeatures: six, intent: nil, tenants: nil)
        #expect(all.shadowed == [RouteKey(tenant: "a", intent: "pay"), RouteKey(tenant: "b", intent: "pay")])
        #expect(all.leftAlone == ["a/login: the model needs x4, x5, which the intent does not send"])
        let narrowed = try CandidateRoutes(contents: Self.contents(), modelFeatures: six, intent: "pay", tenants: ["b"])
        #expect(narrowed.shadowed == [RouteKey(tenant: "b", intent: "pay")] && narrowed.leftAlone.isEmpty)
    }

    @Test func aModelNoRouteCanTakeIsRefusedNamingWhyPerIntent() {
        // The same features in another order: a predictor gets the intent's vector as is.
        let reordered = ["x1", "x0", "x2", "x3", "x4", "x5"]
        #expect(CandidateRoutes.mismatch(model: reordered, intent: (0..<6).map { "x\($0)" })?.contains("in another order") == true)
        #expect(CandidateRoutes.mismatch(model: ["x0"], intent: ["x0"]) == nil)
        do {
            _ = try CandidateRoutes(contents: Self.contents(), modelFeatures: ["x0", "x1", "x2"], intent: nil, tenants: nil)
            Issue.record("accepted a model no route can take")
        } catch {
            #expect(error.description == "no route can shadow the model: intent login: the model lacks x3, which the intent sends; "
                    + "intent pay: the model lacks x3, x4, x5, which the intent sends")
        }
    }
}
