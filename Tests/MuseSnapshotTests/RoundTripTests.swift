import Foundation
import MuseTestSupport
import Testing
import MuseScoring
@testable import MuseSnapshot

@Suite struct RoundTripTests {
    @Test func aLoadedGenerationServesWhatWasBuilt() throws {
        let built = Examples.generation1
        let loaded = try SnapshotLoader(io: .plainRead, keepModelSources: true).load(bytes: try SnapshotWriter.encode(built))
        #expect(loaded.generationID == 1)
        #expect(loaded.createdAt == 1764000000)
        #expect(loaded.formatVersion == SnapshotFormat.version)
        #expect(loaded.intents == built.intents)
        #expect(loaded.routes == built.routes)
        #expect(loaded.contents.predictors == built.predictors)
        #expect(loaded.contents.scoreMaps == built.scoreMaps)
        #expect(loaded.metadata == built.metadata)
        #expect(loaded.canaries.count == built.canaries.count && loaded.canaries.count == 24)
        for (a, b) in zip(loaded.canaries, built.canaries) {
            #expect(a.features.map(\.bitPattern) == b.features.map(\.bitPattern))
            #expect(zip(a.expected, b.expected).allSatisfy { $0.sameBits($1) })
        }
        // Models: the same flat arrays, level 1 and source text.
        #expect(loaded.contents.models.map(\.name) == built.models.map(\.name))
        for (a, b) in zip(loaded.contents.models, built.models) {
            #expect(a.correction == b.correction)
            #expect(a.source == b.source)
            switch (a.model, b.model) {
            case (.trees(let x), .trees(let y)):
                #expect(x.flatArrays.nodes.map(\.value.bitPattern) == y.flatArrays.nodes.map(\.value.bitPattern))
                #expect(x.nodes.map(\.slot) == y.nodes.map(\.slot) && x.nodes.map(\.skip) == y.nodes.map(\.skip))
                #expect(x.roots == y.roots && x.laneStarts == y.laneStarts && x.categoryWords == y.categoryWords)
                #expect(x.hasSlowSplits == y.hasSlowSplits && x.link == y.link && x.accumulation == y.accumulation)
            case (.logistic(let x), .logistic(let y)):
                #expect(x.coefficients == y.coefficients && x.intercept == y.intercept)
            default:
                Issue.record("model \(a.name) changed kind")
            }
        }
        // And every route scores events to the same bits as the built table.
        #expect(scoreBits(loaded.routingTable, built) == scoreBits(try built.routingTable(), built))
        #expect(loaded.routingIntent(forID: 1) == loaded.routingTable.intentID("card-not-present"))
        #expect(loaded.routingIntent(forID: 99) == nil)
    }

    @Test func servingLoadsSkipTheModelText() throws {
        let loaded = try SnapshotLoader(io: .plainRead).load(bytes: try SnapshotWriter.encode(Examples.generation1))
        #expect(loaded.contents.models.allSatisfy { $0.source.bytes.isEmpty && $0.source.byteCount > 0 })
    }

    @Test func theFileIsAnLZ4FrameThatTheToolOpens() throws {
        let dir = TemporaryDirectory()
        let file = dir.path("gen1.muse")
        try SnapshotWriter.write(Examples.generation1, to: file)
        let lz4 = try Subprocess("/usr/bin/env", ["lz4", "-d", "-c", file], separateErrors: true)
        #expect(lz4.waitForExit() == .exited(0), "\(lz4.errors)")
        let decoded = lz4.outputBytes
        #expect(Array(decoded.prefix(8)) == Array("MUSESNAP".utf8))
        #expect(decoded == SnapshotWriter.container(Examples.generation1))
    }

    @Test func writingIsDeterministic() throws {
        #expect(try SnapshotWriter.encode(Examples.generation1) == SnapshotWriter.encode(Examples.generation1))
    }

    @Test func theRetrainedGenerationKeepsTheSchemas() throws {
        let g1 = try SnapshotLoader(io: .plainRead).load(bytes: try SnapshotWriter.encode(Examples.generation1))
        let g2 = try SnapshotLoader(io: .plainRead).load(bytes: try SnapshotWriter.encode(Examples.generation2))
        try g2.verify(against: g1.intents, allowSchemaChange: false)
        #expect(g2.generationID == 2)
        #expect(g2.routingTable.tenants == ["bank-a", "shop-b", "wallet-c"])
    }
}

@Suite struct ReferenceDecileTests {
    @Test func decilesFollowEachRoutesReference() throws {
        let g = try SnapshotLoader(io: .plainRead).load(bytes: try SnapshotWriter.encode(Examples.generation1))
        let deciles = g.referenceDeciles()
        let table = g.routingTable
        let cnp = try #require(table.predictors.firstIndex { $0.name == "cnp-v1" })
        let login = try #require(table.predictors.firstIndex { $0.name == "login-v1" })
        let beta = try ReferenceDistribution.beta(2, 5)
        #expect(deciles[cnp]?["bank-a"] == (1...9).map { beta.quantile(Double($0) / 10) })
        #expect(deciles[cnp]?["wallet-c"] != nil)  // a shadow there
        #expect(deciles[login]?["wallet-c"] == (1...9).map { Double($0) / 10 })
        // card-present for shop-b has a map; nothing routes login-v1 for shop-b.
        #expect(deciles[login]?["shop-b"] == nil)
    }
}
