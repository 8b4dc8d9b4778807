import Foundation
import Testing
import MuseScoring
@testable import MuseSnapshot

/// `SnapshotContents.edited`: the next generation is the loaded one plus
/// the edits, and nothing else moves.
@Suite struct GenerationEditTests {
    /// Generation 1 as mused reads it back to edit it: from its file, with
    /// the model sources kept.
    static let serving: SnapshotContents = {
        let bytes = try! SnapshotWriter.encode(Examples.generation1)
        return try! SnapshotLoader(io: .plainRead, keepModelSources: true).load(bytes: bytes).contents
    }()

    /// A candidate: the forest fixture under a new name, with level 1.
    static func candidate(_ name: String = "cnp-next") throws -> ModelEntry {
        let bytes = try Array(Data(contentsOf: URL(fileURLWithPath: Repo.path("\(Repo.fixtures)/random_forest.lgb.txt"))))
        return ModelEntry(name: name, model: try SnapshotModel(try ModelImporter.load(bytes)),
                          correction: .negativeSamplingRate(0.5), source: ModelSource(format: .lightgbm, bytes: bytes))
    }

    static let shadowed = [RouteKey(tenant: "bank-a", intent: "card-not-present"),
                           RouteKey(tenant: "shop-b", intent: "card-not-present")]

    static func addCandidate() throws -> SnapshotContents {
        try serving.edited([.addModel(try candidate()), .addPredictor(PredictorSpec(name: "cnp-next", members: [.init(model: "cnp-next")]))]
                           + shadowed.map { .addShadow($0, predictor: "cnp-next") },
                           generationID: 7, createdAt: 1765000000)
    }

    static func sections(_ c: SnapshotContents) -> [SectionKind: [UInt8]] {
        Dictionary(uniqueKeysWithValues: c.encodedSections().map { ($0.0, $0.1) })
    }

    @Test func noEditsGiveTheSameContainerByteForByte() throws {
        let same = try Self.serving.edited([], generationID: 1, createdAt: 1764000000)
        #expect(SnapshotWriter.container(same) == SnapshotWriter.container(Examples.generation1))
    }

    @Test func aShadowAddsToTheSectionsAndKeepsTheRestByteForByte() throws {
        let next = try Self.addCandidate()
        #expect(next.generationID == 7 && next.createdAt == 1765000000)
        let old = Self.sections(Self.serving), new = Self.sections(next)
        for kind in [SectionKind.metadata, .intents, .scoreMaps] {
            #expect(old[kind] == new[kind], "section \(kind.name) changed")
        }
        // Lists that gained one entry: the count, then the old entries' bytes
        // unchanged, then the new one.
        for kind in [SectionKind.models, .modelSources, .corrections, .predictors] {
            let o = try #require(old[kind]), n = try #require(new[kind])
            #expect(n.count > o.count, "section \(kind.name) did not grow")
            #expect(Array(n[4..<o.count]) == Array(o[4...]), "section \(kind.name): the old entries moved")
            #expect(n[0..<4].withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) }
                    == o[0..<4].withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) } + 1)
        }
        // Routes: the two chosen gained the shadow, after the ones they had.
        #expect(next.routes.count == Self.serving.routes.count)
        for (a, b) in zip(Self.serving.routes, next.routes) {
            let touched = Self.shadowed.contains(RouteKey(tenant: a.tenant, intent: a.intent))
            #expect(b.tenant == a.tenant && b.intent == a.intent && b.predictor == a.predictor)
            #expect(b.shadows == (touched ? a.shadows + ["cnp-next"] : a.shadows))
        }
        // Canaries: untouched routes' as they were; touched routes' keep their
        // events and recorded scores and gain the shadow's.
        #expect(next.canaries.count == Self.serving.canaries.count)
        var rescored = 0
        for (a, b) in zip(Self.serving.canaries, next.canaries) {
            #expect(a.features.map(\.bitPattern) == b.features.map(\.bitPattern))
            if Self.shadowed.contains(RouteKey(tenant: a.tenant, intent: a.intent)) {
                rescored += 1
                #expect(b.expected.count == a.expected.count + 1)
                #expect(zip(a.expected, b.expected).allSatisfy { $0.sameBits($1) })
                #expect(b.expected.last?.predictor == "cnp-next")
            } else {
                #expect(a.expected.count == b.expected.count && zip(a.expected, b.expected).allSatisfy { $0.sameBits($1) })
            }
        }
        #expect(rescored == 8)
    }

    @Test func theEditedGenerationLoadsAndAnswersAsBefore() throws {
        let next = try Self.addCandidate()
        let loaded = try SnapshotLoader(io: .plainRead).load(bytes: try SnapshotWriter.encode(next))
        #expect(loaded.generationID == 7)
        // Every route's primary answers the same bits; the shadow scores too.
        let before = try Self.serving.routingTable(), after = loaded.routingTable
        for route in Self.serving.routes {
            let intent = try #require(Self.serving.intents.first { $0.name == route.intent })
            let tb = try #require(before.tenantID(route.tenant)), ib = try #require(before.intentID(route.intent))
            let ta = try #require(after.tenantID(route.tenant)), ia = try #require(after.intentID(route.intent))
            for x in Canaries.generatedFeatures(for: intent, count: 50, seed: 3) {
                x.withUnsafeBufferPointer { f in
                    guard case .scored(let b) = before.score(tenant: tb, intent: ib, features: f),
                          case .scored(let a) = after.score(tenant: ta, intent: ia, features: f) else {
                        Issue.record("\(route.tenant)/\(route.intent) did not score"); return
                    }
                    #expect(a.raw.bitPattern == b.raw.bitPattern && a.score.bitPattern == b.score.bitPattern)
                    var shadows: [String] = []
                    after.scoreShadows(tenant: ta, intent: ia, features: f) { shadows.append(after.predictor($0.predictor).name) }
                    #expect(shadows == loaded.routes.first { $0.tenant == route.tenant && $0.intent == route.intent }!.shadows)
                }
            }
        }
    }

    @Test func promotionEditsSwapThePrimaryAndKeepTheOldOneAsAShadow() throws {
        let next = try Self.addCandidate()
        let route = Self.shadowed[0]
        let promoted = try next.edited([.setPrimary(route, predictor: "cnp-next"), .addShadow(route, predictor: "cnp-v1")],
                                       generationID: 8, createdAt: 1765000100)
        let r = try #require(promoted.routes.first { $0.tenant == route.tenant && $0.intent == route.intent })
        #expect(r.predictor == "cnp-next" && r.shadows == ["cnp-blend", "cnp-v1"])
        let loaded = try SnapshotLoader(io: .plainRead).load(bytes: try SnapshotWriter.encode(promoted))
        for c in loaded.canaries where c.tenant == route.tenant && c.intent == route.intent {
            #expect(c.expected.map(\.predictor) == ["cnp-next", "cnp-blend", "cnp-v1"])
        }
        // A map set for the new primary is applied and its canaries rescored.
        // (cnp-v1's knots, recorded as fitted on cnp-next's level 1, as a
        // promotion's map fitted on the candidate's own scores is.)
        var map = try #require(Self.serving.scoreMaps.entries.first { $0.predictor == "cnp-v1" && $0.tenant == route.tenant })
        map.record(levelOne: [try PosteriorCorrection(negativeSamplingRate: 0.5)])
        let mapped = try promoted.edited([.setMap(predictor: "cnp-next", tenant: route.tenant, entry: map)],
                                         generationID: 9, createdAt: 1765000200)
        #expect(mapped.scoreMaps.entries.contains { $0.predictor == "cnp-next" && $0.tenant == route.tenant })
        _ = try SnapshotLoader(io: .plainRead).load(bytes: try SnapshotWriter.encode(mapped))
    }

    @Test func refusalsNameWhatIsWrong() throws {
        let candidate = try Self.candidate()
        let route = Self.shadowed[0]
        let cases: [([GenerationEdit], String)] = [
            ([.addModel(try Self.candidate("cnp-deep"))], "a model named 'cnp-deep' already exists"),
            ([.addModel(try Self.candidate("two words"))], "must not contain spaces"),
            ([.addPredictor(PredictorSpec(name: "cnp-v1", members: [.init(model: "cnp-deep")]))], "a predictor named 'cnp-v1' already exists"),
            ([.addPredictor(PredictorSpec(name: "p", members: [.init(model: "nowhere")]))], "names model 'nowhere', which is not defined"),
            ([.addShadow(route, predictor: "nowhere")], "predictor 'nowhere' is not defined"),
            ([.addShadow(route, predictor: "cnp-blend")], "already scores predictor 'cnp-blend'"),
            ([.addShadow(RouteKey(tenant: "nobody", intent: "card-not-present"), predictor: "cnp-v1")], "there is no route nobody/card-not-present"),
            // A predictor whose model takes other features than the route's intent.
            ([.addModel(candidate), .addPredictor(PredictorSpec(name: "cnp-next", members: [.init(model: "cnp-next")])),
              .addShadow(RouteKey(tenant: "bank-a", intent: "account-login"), predictor: "cnp-next")], "does not hold together"),
        ]
        for (edits, message) in cases {
            #expect(throws: GenerationEditError.self, "\(message)") {
                do { _ = try Self.serving.edited(edits, generationID: 2, createdAt: 0) } catch {
                    #expect("\(error)".contains(message), "\(error)")
                    throw error
                }
            }
        }
        // Contents loaded for serving (no model text) cannot be written back whole.
        let served = try SnapshotLoader(io: .plainRead).load(bytes: try SnapshotWriter.encode(Examples.generation1)).contents
        #expect(throws: GenerationEditError.self) { _ = try served.edited([], generationID: 2, createdAt: 0) }
    }
}
