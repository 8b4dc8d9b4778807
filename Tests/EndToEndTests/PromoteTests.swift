#if canImport(Glibc)
import Glibc
#endif
import Foundation
import MuseScoring
import MuseSnapshot
import Testing

/// `musectl promote` against a real mused: a candidate shadowed on live
/// traffic becomes the answering predictor with maps fitted from its
/// sketches, while C clients stream; refusals that change nothing; a fleet's
/// merged sketch files giving the maps one host that saw everything gives.
@Suite(.serialized)
struct PromoteTests {
    static let musectl = ControlSocketTests.musectl
    static let candidateLevelOne = 0.5

    /// The C test client's features for event `seq` of client `client`
    /// (`features_for` in muse_test_client.c): they repeat every 1000 events.
    static func features(_ seq: UInt64, client: UInt64) -> [Double] {
        (0..<16).map { i in Double((seq &* 31 &+ UInt64(i) &* 7 &+ client &* 13) % 1000) / 1000 - 0.5 }
    }

    /// gen1.snapshot: sum-cnp (logistic of the features' sum) answers the
    /// three tenants' card-not-present events through maps onto the uniform
    /// reference fitted on their clients' scores. shadowed.snapshot: the same
    /// with cnp-next (another logistic, level 1 a negative sampling rate of
    /// 0.5) shadowing every route; other.snapshot: cnp-next with another level 1.
    static let files: (directory: String, gen1: String, shadowed: String, other: String) = {
        let dir = Harness.runtimeDirectory()
        func logistic(_ name: String, coefficient: Double, intercept: Double) {
            let names = (0..<16).map { "\"f\($0)\"" }.joined(separator: ", ")
            let coefficients = Array(repeating: "\(coefficient)", count: 16).joined(separator: ", ")
            let text = "{\"muse_model\": \"logistic_regression\", \"feature_names\": [\(names)], "
                + "\"coefficients\": [\(coefficients)], \"intercept\": \(intercept)}\n"
            FileManager.default.createFile(atPath: "\(dir)/\(name)", contents: Data(text.utf8))
        }
        logistic("sum16.json", coefficient: 1, intercept: 0)
        logistic("candidate.json", coefficient: 0.5, intercept: -1)
        var scores = ""
        for (client, tenant) in [(1, "pr-a"), (2, "pr-b"), (3, "pr-c")] {
            for seq in 0..<1000 {
                let margin = features(UInt64(seq), client: UInt64(client)).reduce(0, +)
                scores += "\(tenant) \(1 / (1 + exp(-margin)))\n"
            }
        }
        FileManager.default.createFile(atPath: "\(dir)/scores.txt", contents: Data(scores.utf8))
        func manifest(_ file: String, shadow: Double?) {
            var text = """
                generation = 1
                created_at = 1764000000
                [models.sum-cnp]
                file = "sum16.json"
                [predictors.sum-cnp]
                models = ["sum-cnp"]
                [[maps]]
                predictor = "sum-cnp"
                reference = "uniform"
                knots = 101
                min_samples = 100
                scores = "scores.txt"
                [intents.card-not-present]
                id = 1
                features = [\((0..<16).map { "\"f\($0)\"" }.joined(separator: ", "))]

                """
            if let shadow {
                text += "[models.cnp-next]\nfile = \"candidate.json\"\nnegative_sampling_rate = \(shadow)\n"
                    + "[predictors.cnp-next]\nmodels = [\"cnp-next\"]\n"
            }
            for tenant in ["pr-a", "pr-b", "pr-c"] {
                text += "[[routes]]\ntenant = \"\(tenant)\"\nintent = \"card-not-present\"\npredictor = \"sum-cnp\"\n"
                    + (shadow == nil ? "" : "shadows = [\"cnp-next\"]\n")
            }
            FileManager.default.createFile(atPath: "\(dir)/\(file).toml", contents: Data(text.utf8))
            let built = Harness.run(musectl, ["snapshot", "build", "\(dir)/\(file).toml", "-o", "\(dir)/\(file).snapshot"])
            precondition(built.status == 0, "musectl snapshot build failed: \(built.output)")
        }
        manifest("gen1", shadow: nil)
        manifest("shadowed", shadow: candidateLevelOne)
        manifest("other", shadow: 0.25)
        return (dir, "\(dir)/gen1.snapshot", "\(dir)/shadowed.snapshot", "\(dir)/other.snapshot")
    }()

    /// A mused configured from a file: the three tenants with these alert
    /// thresholds, serving `snapshot` until the state directory records another.
    static func daemon(_ snapshot: String, thresholds: [String: String], metricsPort: UInt16? = nil) throws -> DaemonUnderTest {
        let dir = Harness.runtimeDirectory()
        var text = "workers = 2\nsnapshot = \"\(snapshot)\"\n"
        if let metricsPort { text += "metrics_address = \"127.0.0.1:\(metricsPort)\"\n" }
        for tenant in ["pr-a", "pr-b", "pr-c"] {
            text += "\n[[tenant]]\nname = \"\(tenant)\"\nchannels = 2\nring_depth = 64\n"
                + (thresholds[tenant].map { "alert_thresholds = \($0)\n" } ?? "")
        }
        let config = dir + ".toml"
        try text.write(toFile: config, atomically: true, encoding: .utf8)
        return try DaemonUnderTest(tenants: [], runtimeDirectory: dir, arguments: ["--config", config])
    }

    static func json(_ output: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any], "\(output)")
    }

    static func serving(_ daemon: DaemonUnderTest) throws -> [String: Any] {
        let run = Harness.run(musectl, ["status", "--runtime-dir", daemon.runtimeDirectory, "--json"])
        let status = try #require(try json(run.output)["status"] as? [String: Any])
        return try #require(status["serving"] as? [String: Any])
    }

    /// The events the serving generation's shadow `predictor` scored for `tenant`.
    static func shadowEvents(_ daemon: DaemonUnderTest, _ tenant: String, _ predictor: String) throws -> Int {
        let run = Harness.run(musectl, ["status", "--runtime-dir", daemon.runtimeDirectory, "--json"])
        let status = try #require(try json(run.output)["status"] as? [String: Any])
        let shadows = status["shadows"] as? [[String: Any]] ?? []
        return shadows.first { $0["tenant"] as? String == tenant && $0["predictor"] as? String == predictor }?["events"] as? Int ?? 0
    }

    static func promote(_ daemon: DaemonUnderTest, _ arguments: [String]) -> Harness.Result {
        Harness.run(musectl, ["promote", "--runtime-dir", daemon.runtimeDirectory] + arguments)
    }

    static func record(_ daemon: DaemonUnderTest, _ tenant: String, client: Int, count: Int) throws -> Child {
        try daemon.client("record", tenant, ["\(client)", "\(count)", "16"])
    }

    /// A record client's answers: (seq, generation, score) for each OK one.
    static func answers(_ output: String) -> [(seq: UInt64, generation: UInt64, score: Double)] {
        output.split(separator: "\n").compactMap { line in
            let w = line.split(separator: " ")
            guard w.count == 4, w[0] == "R", let s = UInt64(w[1]), let g = UInt64(w[2]), let x = Double(w[3]) else { return nil }
            return (s, g, x)
        }
    }

    /// What `snapshot` answers a client's 1000 distinct events with, scored
    /// offline through its routing table (the canary path).
    static func offline(_ snapshot: String, tenant: String, client: UInt64) throws -> [Double] {
        let loaded = try SnapshotLoader().load(snapshot)
        let events = (0..<1000).map { CanaryEvent(tenant: tenant, intent: "card-not-present", features: features(UInt64($0), client: client)) }
        return try Canaries.record(events, table: loaded.routingTable).map { $0.expected[0].score }
    }

    /// Every file of the state directory with its bytes.
    static func stateFiles(_ daemon: DaemonUnderTest) -> [String: Data] {
        CandidateTests.stateFiles(daemon)
    }

    /// The entries of `predictor`'s maps in a snapshot's score maps.
    static func maps(_ snapshot: String, predictor: String) throws -> [ScoreMapFile.Entry] {
        try SnapshotLoader().load(snapshot).contents.scoreMaps.entries.filter { $0.predictor == predictor }
    }

    @Test func aShadowIsPromotedWhileClientsStreamAndARestartServesIt() throws {
        let port = MetricsEndpointTests.freePort()
        let daemon = try Self.daemon(Self.files.gen1, thresholds: ["pr-a": "[0.9, 0.95]", "pr-b": "[0.95]", "pr-c": "[0.95]"],
                                     metricsPort: port)
        let scratch = Harness.runtimeDirectory()
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        #expect(try Self.serving(daemon)["id"] as? Int == 1)
        let streams = [try Self.record(daemon, "pr-a", client: 1, count: 0), try Self.record(daemon, "pr-b", client: 2, count: 0)]
        usleep(200_000)
        let added = Harness.run(Self.musectl, ["candidate", "add", "\(Self.files.directory)/candidate.json", "--name", "cnp-next",
                                               "--negative-sampling-rate", "\(Self.candidateLevelOne)",
                                               "--runtime-dir", daemon.runtimeDirectory])
        try #require(added.status == 0, "\(added.output)")
        // pr-c: a few events only, all shadowed by cnp-next.
        let thin = try Self.record(daemon, "pr-c", client: 3, count: 300)
        #expect(thin.wait(seconds: 30) == 0, "\(thin.output)")
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline, try Self.shadowEvents(daemon, "pr-a", "cnp-next") < 4000 || Self.shadowEvents(daemon, "pr-b", "cnp-next") < 4000 {
            usleep(50_000)
        }

        // pr-c's 300 events cannot estimate a 5% alert rate within 10%: refused, naming the figures; nothing changes.
        let before = Self.stateFiles(daemon)
        let refused = Self.promote(daemon, ["cnp-next"])
        #expect(refused.status == 1, "\(refused.output)")
        for text in ["tenant pr-c, threshold 0.95: 300 events estimate the alert rate 5% within 25.2%, more than the allowed 10%",
                     "--allow-thin", "tenant pr-c: 300 events, pooled map (300 scores, fewer than the minimum 1000)"] {
            #expect(refused.output.contains(text), "no '\(text)' in: \(refused.output)")
        }
        #expect(Self.stateFiles(daemon) == before)
        #expect(try Self.serving(daemon)["id"] as? Int == 2)

        let out = scratch + "/promoted.snapshot"
        let promoted = Self.promote(daemon, ["cnp-next", "--allow-thin", "pr-c", "-o", out])
        try #require(promoted.status == 0, "\(promoted.output)")
        for text in ["published generation 3: cnp-next answers pr-a/card-not-present (was sum-cnp), pr-b/card-not-present (was sum-cnp), pr-c/card-not-present (was sum-cnp)",
                     "maps fitted from this host's live sketches", "tenant pr-c: 300 events, pooled map",
                     "threshold 0.95: alert rate 5% ± 25.2% (relative) — allowed thin", "threshold 0.9: alert rate 10% ± ",
                     "kept as \(daemon.stateDirectory)/serving.snapshot", "written to \(out)", "publish "] {
            #expect(promoted.output.contains(text), "no '\(text)' in: \(promoted.output)")
        }
        let own = promoted.output.split(separator: "\n").filter { $0.hasPrefix("tenant pr-a: ") || $0.hasPrefix("tenant pr-b: ") }
        #expect(own.count == 2 && own.allSatisfy { $0.hasSuffix(" events, own map") }, "\(promoted.output)")
        usleep(300_000)
        var answers: [String: [(seq: UInt64, generation: UInt64, score: Double)]] = [:]
        for (stream, tenant) in zip(streams, ["pr-a", "pr-b"]) {
            stream.kill(SIGTERM)
            #expect(stream.wait(seconds: 30) == 0, "\(stream.output.suffix(300))")
            let summary = stream.output.split(separator: "\n").last { $0.hasPrefix("answered=") }.map(String.init) ?? ""
            // Exactly once, in order, across both swaps (the client counts it).
            #expect(summary.contains("duplicates=0 lost=0 wrong=0 foreign=0"), "\(summary)")
            answers[tenant] = Self.answers(stream.output)
        }

        // Every answer is the offline score of the generation that gave it.
        let kept = "\(daemon.stateDirectory)/serving.snapshot"
        let snapshots = [1: Self.files.gen1, 2: "\(daemon.stateDirectory)/previous.snapshot", 3: out]
        for (tenant, client) in [("pr-a", UInt64(1)), ("pr-b", 2)] {
            let all = try #require(answers[tenant])
            var expected: [UInt64: [Double]] = [:]
            for (g, file) in snapshots { expected[UInt64(g)] = try Self.offline(file, tenant: tenant, client: client) }
            let wrong = all.filter { a in expected[a.generation].map { $0[Int(a.seq % 1000)].bitPattern != a.score.bitPattern } ?? true }
            #expect(wrong.isEmpty, "\(tenant): \(wrong.count) of \(all.count) answers differ, first \(wrong.first.map { "\($0)" } ?? "")")
            for g in [UInt64(1), 2, 3] {
                #expect(all.contains { $0.generation == g }, "\(tenant): no answer from generation \(g)")
            }
        }

        // -o holds the kept snapshot, byte for byte, and it verifies like any other.
        #expect(FileManager.default.contents(atPath: out) == FileManager.default.contents(atPath: kept))
        let verify = Harness.run(Self.musectl, ["snapshot", "verify", out])
        #expect(verify.status == 0 && verify.output.contains("ok: generation 3"), "\(verify.output)")
        let loaded = try SnapshotLoader().load(out)
        for route in loaded.routes {
            #expect(route.predictor == "cnp-next" && route.shadows == ["sum-cnp"], "\(route)")
        }
        let levelOne = try PosteriorCorrection(negativeSamplingRate: Self.candidateLevelOne)
        let entries = try Self.maps(out, predictor: "cnp-next")
        #expect(entries.map { $0.tenant ?? "*" }.sorted() == ["*", "pr-a", "pr-b", "pr-c"])
        #expect(entries.allSatisfy { $0.correction?.oddsRatio == levelOne.oddsRatio }, "\(entries)")
        let inspect = Harness.run(Self.musectl, ["snapshot", "inspect", out, "--maps"])
        #expect(inspect.status == 0 && inspect.output.contains("predictor cnp-next\ntenant pr-a\n")
                && inspect.output.contains("correction \(levelOne.oddsRatio)\n"), "\(inspect.output)")
        // The old primary's maps are kept for it as a shadow.
        #expect(try Self.maps(out, predictor: "sum-cnp") == Self.maps(Self.files.gen1, predictor: "sum-cnp"))

        let samples = try MetricsEndpointTests.scrape(port: port) { $0.keys.contains { $0.contains(#"kind="promote""#) } }
        #expect(samples[#"muse_swaps_total{kind="promote",result="published"}"#] == 1, "\(samples.keys.filter { $0.contains("swaps") })")
        #expect(samples[#"muse_swaps_total{kind="promote",result="refused"}"#] == 1)

        // A restart serves the promoted generation.
        daemon.kill()
        try daemon.restart()
        #expect(try Self.serving(daemon)["id"] as? Int == 3)
        let after = try Self.record(daemon, "pr-a", client: 1, count: 1000)
        #expect(after.wait(seconds: 30) == 0, "\(after.output.suffix(300))")
        let expected = try Self.offline(out, tenant: "pr-a", client: 1)
        let again = Self.answers(after.output)
        #expect(again.count == 1000 && again.allSatisfy { $0.generation == 3 && $0.score.bitPattern == expected[Int($0.seq % 1000)].bitPattern })
        #expect(daemon.stop() == 0)
        #expect(daemon.logs.contains("event=promoted") && daemon.logs.contains("event=promote-refused"))
    }
}
