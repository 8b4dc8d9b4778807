import Foundation
import Testing
import MuseManifest
import MuseScoring
@testable import MuseSnapshot

@Suite struct ManifestTests {
    /// A manifest in a temporary directory using a map file and a score
    /// file, with paths relative to the manifest and to the fixtures.
    func write(_ dir: TemporaryDirectory, extra: String = "", maps: String) throws -> String {
        let model = Repo.path("\(Repo.fixtures)/nan_missing.lgb.txt")
        let text = """
            generation = 7
            \(extra)
            [models.m]
            file = "\(model)"
            negative_sampling_rate = 0.5

            [predictors.p]
            models = ["m"]

            \(maps)

            [intents.login]
            id = 4
            features = ["f_num_0", "f_num_1", "f_num_2", "f_num_3", "f_num_4"]

            [[routes]]
            tenant = "t1"
            intent = "login"
            predictor = "p"

            [[routes]]
            tenant = "t2"
            intent = "login"
            predictor = "p"

            [canaries]
            per_route = 3
            """
        let path = dir.path("manifest.toml")
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test func mapsFromAScoreFile() throws {
        let dir = TemporaryDirectory()
        var samples = ""
        for i in 0..<300 { samples += "t1 \(Double(i) / 300)\n" }
        for i in 0..<10 { samples += "t2 \(Double(i) / 10)\n" }
        try samples.write(toFile: dir.path("samples.txt"), atomically: true, encoding: .utf8)
        let path = try write(dir, maps: """
            [[maps]]
            predictor = "p"
            scores = "samples.txt"
            knots = 11
            min_samples = 100
            """)
        let contents = try ManifestBuilder(path: path).build()
        #expect(contents.generationID == 7)
        #expect(contents.canaries.count == 6)
        #expect(contents.scoreMaps.entries.count == 3)  // pooled, t1 own, t2 fallback
        if case .fallback = contents.scoreMaps.entries[2].content {} else { Issue.record("t2 should fall back") }
        #expect(contents.models[0].correction == .negativeSamplingRate(0.5))
        let loaded = try SnapshotLoader(io: .plainRead).load(bytes: try SnapshotWriter.encode(contents))
        #expect(loaded.intent(id: 4)?.featureNames.count == 5)
    }

    @Test func mapsFromAMapFile() throws {
        let dir = TemporaryDirectory()
        try """
            muse-score-maps 1
            map
            predictor p
            tenant *
            reference uniform
            knots 2
            0.0 0.0
            1.0 1.0
            end

            """.write(toFile: dir.path("maps.txt"), atomically: true, encoding: .utf8)
        let path = try write(dir, maps: "[[maps]]\nfile = \"maps.txt\"")
        let contents = try ManifestBuilder(path: path).build()
        #expect(contents.scoreMaps.entries.count == 1)
        // With an identity map on [0, 1], the transformed score is the raw one.
        #expect(contents.canaries.allSatisfy { $0.expected[0].raw == $0.expected[0].score })
    }

    @Test func unknownKeysAndBadReferencesAreErrors() throws {
        let dir = TemporaryDirectory()
        let path = try write(dir, extra: "generatoin = 3", maps: "")
        do { _ = try ManifestBuilder(path: path).build(); Issue.record("accepted an unknown key") } catch {
            #expect("\(error)".contains("generatoin"))
        }
        let route = try write(dir, maps: "[[maps]]\nfile = \"missing.txt\"")
        do { _ = try ManifestBuilder(path: route).build(); Issue.record("accepted a missing map file") } catch {
            #expect("\(error)".contains("missing.txt"))
        }
    }

    @Test func theExampleManifestsDescribeTheDocumentedGeneration() throws {
        let g = Examples.generation1
        #expect(g.intents.map(\.name) == ["account-login", "card-not-present", "card-present"])
        #expect(g.intents.map(\.id) == [2, 1, 3])
        #expect(Set(g.routes.map(\.tenant)) == ["bank-a", "shop-b", "wallet-c"])
        #expect(Examples.generation2.intents == g.intents)
    }
}
