import Foundation
import Testing
import MuseManifest
import MuseScoring
@testable import MuseSnapshot

/// A map is right only for scores corrected (level 1) as its fitting sample
/// was: every map records its level 1, and build, load (so verify and a
/// swap) refuse one that is not its predictor's.
@Suite struct MapLevelOneTests {
    /// A manifest with `m` (negatives kept at 0.5) behind `p`, and a blend
    /// `b` of `m` and the identity-corrected `x`; `maps` chooses the maps.
    func write(_ dir: TemporaryDirectory, maps: String) throws -> String {
        let text = """
            generation = 11
            created_at = 1764000000

            [models.m]
            file = "\(Repo.path("\(Repo.fixtures)/nan_missing.lgb.txt"))"
            negative_sampling_rate = 0.5

            [models.x]
            file = "\(Repo.path("\(Repo.fixtures)/nan_missing_v2.xgb.json"))"

            [predictors.p]
            models = ["m"]

            [predictors.b]
            models = ["m", "x"]
            weights = [0.7, 0.3]

            \(maps)

            [intents.login]
            id = 4
            features = ["f_num_0", "f_num_1", "f_num_2", "f_num_3", "f_num_4"]

            [[routes]]
            tenant = "t1"
            intent = "login"
            predictor = "p"
            shadows = ["b"]

            [[routes]]
            tenant = "t2"
            intent = "login"
            predictor = "b"

            [[routes]]
            tenant = "t3"
            intent = "login"
            predictor = "p"
            """
        let path = dir.path("manifest.toml")
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// Maps fitted from rows and from a score file, for `p` and `b`.
    func fittedManifest(_ dir: TemporaryDirectory) throws -> String {
        var samples = ""
        for i in 0..<200 { samples += "t1 \(Double(i) / 200)\n" }
        for i in 0..<5 { samples += "t3 \(Double(i) / 5)\n" }
        try samples.write(toFile: dir.path("samples.txt"), atomically: true, encoding: .utf8)
        let rows = Repo.path("\(Repo.fixtures)/nan_missing.xgb.rows.csv")
        return try write(dir, maps: """
            [[maps]]
            predictor = "p"
            scores = "samples.txt"
            knots = 21
            min_samples = 100

            [[maps]]
            predictor = "b"
            rows = { t1 = "\(rows)", t2 = "\(rows)" }
            knots = 21
            min_samples = 100
            """)
    }

    @Test func mapsFittedInAManifestRecordTheirPredictorsLevelOneInTheSnapshot() throws {
        let dir = TemporaryDirectory()
        let built = try ManifestBuilder(path: try fittedManifest(dir)).build()
        let loaded = try SnapshotLoader(io: .plainRead).load(bytes: try SnapshotWriter.encode(built))
        let entries = loaded.contents.scoreMaps.entries
        // p: pooled, t1's own, t3's fallback; b: pooled, t1's, t2's.
        #expect(entries.filter { $0.predictor == "p" }.count == 3)
        #expect(entries.filter { $0.predictor == "b" }.count == 3)
        for e in entries where e.predictor == "p" {
            #expect(e.correction?.oddsRatio == 0.5, "p/\(e.tenant ?? "*")")
            #expect(e.memberCorrections == nil)
        }
        // A blend corrects each member before averaging: each one's ratio.
        for e in entries where e.predictor == "b" {
            #expect(e.correction == nil)
            #expect(e.memberCorrections?.map(\.oddsRatio) == [0.5, 1.0], "b/\(e.tenant ?? "*")")
        }
        #expect(loaded.contents.mapsWithoutCorrection.isEmpty)
    }

    @Test func buildRefusesAMapFileFittedAfterAnotherLevelOneNamingBoth() throws {
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
            map
            predictor p
            tenant t1
            reference uniform
            correction 0.1
            knots 2
            0.0 0.0
            1.0 1.0
            end

            """.write(toFile: dir.path("maps.txt"), atomically: true, encoding: .utf8)
        let path = try write(dir, maps: "[[maps]]\nfile = \"maps.txt\"")
        #expect {
            try ManifestBuilder(path: path).build()
        } throws: { error in
            let text = "\(error)"
            return text.contains("key 'maps[0].file'") && text.contains("predictor 'p'") && text.contains("tenant 't1'")
                && text.contains("correction 0.1") && text.contains("corrects with 0.5 (model 'm')")
        }

        // A blend's map must name each member's ratio, in member order.
        try """
            muse-score-maps 1
            map
            predictor b
            tenant *
            reference uniform
            correction 1.0 0.5
            knots 2
            0.0 0.0
            1.0 1.0
            end

            """.write(toFile: dir.path("maps.txt"), atomically: true, encoding: .utf8)
        #expect {
            try ManifestBuilder(path: path).build()
        } throws: { error in
            "\(error)".contains("predictor 'b' for tenant '*' was fitted after level-1 correction 1.0 0.5")
                && "\(error)".contains("0.5 (model 'm'), 1.0 (model 'x')")
        }
    }

    @Test func loadRefusesAMapWhoseLevelOneIsNotItsPredictors() throws {
        let dir = TemporaryDirectory()
        var contents = try ManifestBuilder(path: try fittedManifest(dir)).build()
        // The model's level 1 changed after its maps were fitted.
        contents.models[0].correction = .identity
        let expected = SnapshotError.mapCorrectionMismatch(predictor: "p", tenant: nil, recorded: "0.5", serving: "1.0 (model 'm')")
        #expect(refusal(try SnapshotWriter.encode(contents)) == expected)
        #expect("\(expected)".contains("the map of predictor 'p' for tenant '*' was fitted after level-1 correction 0.5"))

        // A blend member's: the blend's maps are refused.
        contents = try ManifestBuilder(path: try fittedManifest(dir)).build()
        let x = contents.models.firstIndex { $0.name == "x" }!
        contents.models[x].correction = .negativeSamplingRate(0.25)
        let blend = refusal(try SnapshotWriter.encode(contents))
        #expect(blend == .mapCorrectionMismatch(predictor: "b", tenant: nil, recorded: "0.5 1.0",
                                                 serving: "0.5 (model 'm'), 0.25 (model 'x')"))
    }

    /// Snapshots whose maps record no level 1 (made before `correction`)
    /// keep loading: within a major release mused reads every older
    /// snapshot. They are listed as unchecked.
    @Test func mapsRecordingNoLevelOneStillLoadAndAreListed() throws {
        let dir = TemporaryDirectory()
        var contents = try ManifestBuilder(path: try fittedManifest(dir)).build()
        for i in contents.scoreMaps.entries.indices {
            contents.scoreMaps.entries[i].correction = nil
            contents.scoreMaps.entries[i].memberCorrections = nil
        }
        contents.models[0].correction = .identity
        contents.canaries = try Canaries.record(contents.canaries, table: try contents.routingTable())
        let loaded = try SnapshotLoader(io: .plainRead).load(bytes: try SnapshotWriter.encode(contents))
        #expect(loaded.contents.mapsWithoutCorrection.count == 6)
        let corpus = try SnapshotLoader(io: .plainRead).load(Repo.path("Tests/MuseSnapshotTests/Fixtures/snapshot-corpus/demo.muse"))
        #expect(!corpus.contents.mapsWithoutCorrection.isEmpty)
    }

    /// `inspect --maps`: the served maps as a map file parse back and map
    /// every route's posterior exactly as the routing table does.
    @Test func servedMapsParseBackAndMapBitIdentically() throws {
        let dir = TemporaryDirectory()
        for contents in [Examples.generation1, try ManifestBuilder(path: try fittedManifest(dir)).build()] {
            let served = contents.servedMaps()
            let parsed = try ScoreMapFile.parse(served.file.encoded(), file: "served")
            #expect(parsed == served.file)
            let table = try contents.routingTable()
            let levels = try contents.predictorCorrections()
            var checked = 0
            for r in contents.routes {
                let intent = contents.intents.first { $0.name == r.intent }!
                let t = table.tenantID(r.tenant)!, i = table.intentID(r.intent)!
                for x in Canaries.generatedFeatures(for: intent, count: 30, seed: 7) {
                    var scores = [RoutedScore]()
                    x.withUnsafeBufferPointer { f in
                        if case .scored(let s) = table.score(tenant: t, intent: i, features: f) { scores.append(s) }
                        table.scoreShadows(tenant: t, intent: i, features: f) { scores.append($0) }
                    }
                    for s in scores {
                        let predictor = table.predictor(s.predictor).name
                        let members = levels[predictor]!.map(\.correction)
                        // What `transform apply` would be given: one model's
                        // level 1, or for a blend its posterior as it is.
                        let given = members.count == 1 ? members[0] : .identity
                        guard let resolved = try? parsed.resolve(predictor: predictor, tenant: r.tenant, allowPooled: false,
                                                                 correction: given) else {
                            #expect(s.raw.bitPattern == s.score.bitPattern, "\(r.tenant)/\(predictor) has no map but was mapped")
                            #expect(served.unmapped.contains(.init(tenant: r.tenant, predictor: predictor)))
                            continue
                        }
                        #expect(resolved.correctionChecked)
                        #expect(resolved.map.apply(s.raw).bitPattern == s.score.bitPattern, "\(r.tenant)/\(predictor)")
                        checked += 1
                    }
                }
            }
            #expect(checked > 100)
        }
    }
}

/// `Fixtures/level1-mismatch.muse`: what the end-to-end tests hand the real
/// `musectl snapshot verify` and `musectl swap`, which link no snapshot code
/// to make one. Generation 21: tenant bank-a's login map was fitted after
/// level-1 correction 0.1, but its model is served uncorrected; everything
/// else (canaries included) is consistent, so the map is the one reason to
/// refuse it. `MUSE_WRITE_FIXTURES=1 swift test --filter MapLevelOneFixtureTests`
/// rewrites it.
@Suite struct MapLevelOneFixtureTests {
    static let path = Repo.path("Tests/MuseSnapshotTests/Fixtures/level1-mismatch.muse")

    static func mismatchedGeneration() throws -> SnapshotContents {
        let dir = TemporaryDirectory()
        var samples = ""
        for i in 0..<200 { samples += "bank-a \(Double(i * 37 % 200) / 200)\n" }
        try samples.write(toFile: dir.path("samples.txt"), atomically: true, encoding: .utf8)
        let manifest = dir.path("manifest.toml")
        try """
            generation = 21
            created_at = 1764000000
            [models.login-lr]
            file = "\(Repo.path("examples/generation/models/login-logistic.json"))"
            negative_sampling_rate = 0.1
            [predictors.login-v1]
            models = ["login-lr"]
            [[maps]]
            predictor = "login-v1"
            scores = "samples.txt"
            knots = 11
            min_samples = 100
            [intents.account-login]
            id = 2
            features = ["f_num_0", "f_num_1", "f_num_2", "f_num_3", "f_num_4"]
            [[routes]]
            tenant = "bank-a"
            intent = "account-login"
            predictor = "login-v1"
            """.write(toFile: manifest, atomically: true, encoding: .utf8)
        var contents = try ManifestBuilder(path: manifest).build()
        contents.metadata = [MetadataEntry("description", "a map fitted after correction 0.1 on an uncorrected model")]
        contents.models[0].correction = .identity
        // The canaries as the uncorrected model scores them: only the map is wrong.
        var unchecked = contents
        for i in unchecked.scoreMaps.entries.indices { unchecked.scoreMaps.entries[i].correction = nil }
        contents.canaries = try Canaries.record(contents.canaries, table: try unchecked.routingTable())
        return contents
    }

    @Test func theCommittedFixtureIsThisGenerationAndIsRefusedForItsMapAlone() throws {
        let contents = try Self.mismatchedGeneration()
        if ProcessInfo.processInfo.environment["MUSE_WRITE_FIXTURES"] == "1" {
            try SnapshotWriter.write(contents, to: Self.path)
        }
        let committed = try [UInt8](Data(contentsOf: URL(fileURLWithPath: Self.path)))
        #expect(try LZ4Frame.decompress(committed) == SnapshotWriter.container(contents))
        #expect(refusal(committed) == .mapCorrectionMismatch(predictor: "login-v1", tenant: nil, recorded: "0.1",
                                                             serving: "1.0 (model 'login-lr')"))
        // With the map's level 1 unrecorded (an old snapshot) it would load.
        var old = contents
        for i in old.scoreMaps.entries.indices { old.scoreMaps.entries[i].correction = nil }
        #expect(refusal(try SnapshotWriter.encode(old)) == nil)
    }
}
