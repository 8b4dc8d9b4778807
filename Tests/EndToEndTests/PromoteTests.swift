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
        #expect(daemon.stop() == 0, "\(daemon.logs.suffix(6000))")
        #expect(daemon.logs.contains("event=promoted") && daemon.logs.contains("event=promote-refused"))
    }

    /// mused killed with SIGKILL at moments spread over a promotion (before
    /// it reads the sketches, while it fits and builds, around publication)
    /// comes back on the generation before it or on the promoted one, whole:
    /// the state directory's serving snapshot verifies, and answers come
    /// from the generation it names.
    @Test func aPromotionKilledAtAnyMomentComesBackOnTheOldOrTheNewGeneration() throws {
        let daemon = try Self.daemon(Self.files.shadowed, thresholds: [:])
        var outcomes: [Int: Int] = [:]
        // First a promotion left to finish, timed; then killed at fractions
        // of that time, from at once (before musectl has even connected) to
        // past it, so the kills fall before, during and after publication
        // however fast the machine.
        var took = 0.0
        let fractions: [Double?] = [nil, 0, 0.3, 0.6, 0.8, 0.9, 1.0, 1.2]
        for (attempt, fraction) in fractions.enumerated() {
            let before = try #require(try Self.serving(daemon)["id"] as? Int)
            // Sketches live in memory: every start streams again.
            let fill = try Self.record(daemon, "pr-a", client: 1, count: 1500)
            #expect(fill.wait(seconds: 30) == 0, "\(fill.output.suffix(300))")
            // Whichever predictor is the shadow now: a promotion keeps the old primary as one.
            let shadow = (outcomes[1] ?? 0) % 2 == 0 ? "cnp-next" : "sum-cnp"
            let promote = try Child(Self.musectl, ["promote", shadow, "--min-samples", "100",
                                                   "--runtime-dir", daemon.runtimeDirectory])
            if let fraction {
                usleep(UInt32(took * fraction * 1e6))
            } else {
                let started = Date()
                #expect(promote.wait(seconds: 30) == 0, "\(promote.output)")
                took = Date().timeIntervalSince(started)
            }
            daemon.kill()
            _ = promote.wait(seconds: 10)
            try daemon.restart()
            let after = try #require(try Self.serving(daemon)["id"] as? Int)
            #expect(after == before || after == before + 1, "attempt \(attempt): \(before) then \(after)")
            outcomes[after - before, default: 0] += 1
            let verify = Harness.run(Self.musectl, ["snapshot", "verify", "\(daemon.stateDirectory)/serving.snapshot"])
            #expect(verify.status == 0 && verify.output.contains("ok: generation \(after)"), "\(verify.output)")
            let check = try Self.record(daemon, "pr-a", client: 1, count: 200)
            #expect(check.wait(seconds: 30) == 0, "\(check.output.suffix(300))")
            let expected = try Self.offline("\(daemon.stateDirectory)/serving.snapshot", tenant: "pr-a", client: 1)
            let answers = Self.answers(check.output)
            #expect(answers.count == 200 && answers.allSatisfy {
                $0.generation == UInt64(after) && $0.score.bitPattern == expected[Int($0.seq % 1000)].bitPattern
            }, "attempt \(attempt)")
        }
        print("promotions killed: \(outcomes[0] ?? 0) came back on the generation before, \(outcomes[1] ?? 0) on the promoted one")
        #expect(outcomes[0] ?? 0 > 0 && outcomes[1] ?? 0 > 0, "\(outcomes)")
        #expect(daemon.stop() == 0, "\(daemon.logs.suffix(4000))")
    }

    static func export(_ daemon: DaemonUnderTest, to file: String) throws {
        let run = Harness.run(musectl, ["sketch", "export", "-o", file, "--runtime-dir", daemon.runtimeDirectory])
        try #require(run.status == 0, "\(run.output)")
    }

    /// Each refusal names what is wrong and leaves the state directory byte
    /// for byte as it was, and the serving generation serving.
    @Test func refusalsChangeNothing() throws {
        let daemon = try Self.daemon(Self.files.shadowed, thresholds: ["pr-a": "[0.95]"])
        let scratch = Harness.runtimeDirectory()
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let before = Self.stateFiles(daemon)
        #expect(before.keys.contains("serving.snapshot"))
        // Nothing shadowed yet: no map can be fitted.
        let empty = Self.promote(daemon, ["cnp-next"])
        #expect(empty.status == 1 && empty.output.contains("no map can be fitted for 'cnp-next' from this host's live sketches"),
                "\(empty.output)")
        #expect(Self.stateFiles(daemon) == before)
        let stream = try Self.record(daemon, "pr-a", client: 1, count: 1500)
        #expect(stream.wait(seconds: 30) == 0, "\(stream.output.suffix(300))")
        let fine = scratch + "/fine.sketches"
        try Self.export(daemon, to: fine)
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: fine)))
        bytes[bytes.count - 3] ^= 0x10
        let damaged = scratch + "/damaged.sketches"
        try Data(bytes).write(to: URL(fileURLWithPath: damaged))
        // Sketches of a cnp-next with another level 1, from another mused.
        let other = try Self.daemon(Self.files.other, thresholds: [:])
        let otherStream = try Self.record(other, "pr-a", client: 1, count: 500)
        #expect(otherStream.wait(seconds: 30) == 0, "\(otherStream.output.suffix(300))")
        let foreign = scratch + "/other.sketches"
        try Self.export(other, to: foreign)
        #expect(other.stop() == 0)
        let cases: [([String], String)] = [
            (["nope"], "'nope' is not a shadow of any route of the serving generation; its shadows are cnp-next"),
            (["sum-cnp"], "'sum-cnp' is not a shadow of any route of the serving generation (it already answers pr-a/card-not-present"),
            // 1500 events estimate a 5% rate within 11.3%, over the default 10%.
            (["cnp-next"], "tenant pr-a, threshold 0.95: 1500 events estimate the alert rate 5% within 11.3%, more than the allowed 10% (that needs 1900 events)"),
            (["cnp-next", "--allow-thin", "pr-z"], "--allow-thin pr-z: 'cnp-next' shadows no route of tenant 'pr-z'"),
            (["cnp-next", "--sketches", fine, damaged], "sketch file \(damaged): "),
            (["cnp-next", "--sketches", damaged], "checksum mismatch"),
            (["cnp-next", "--sketches", foreign, "--allow-thin", "pr-a"], "sketch file \(foreign): tenant pr-a's sketch of 'cnp-next' is of level 1"),
            (["cnp-next", "--sketches", scratch + "/missing"], "sketch file \(scratch)/missing: "),
            (["cnp-next", "--min-samples", "1"], "--min-samples must be at least 2"),
        ]
        for (arguments, reason) in cases {
            let refused = Self.promote(daemon, arguments)
            #expect(refused.status == 1 && refused.output.contains(reason), "\(arguments): \(refused.output)")
            #expect(Self.stateFiles(daemon) == before, "\(arguments) changed the state directory")
            #expect(try Self.serving(daemon)["id"] as? Int == 1)
        }
        // --json carries the gate's figures with the refusal.
        let json = try Self.json(Self.promote(daemon, ["cnp-next", "--json"]).output)
        #expect(json["ok"] as? Bool == false)
        let tenants = try #require((json["promotion"] as? [String: Any])?["tenants"] as? [[String: Any]], "\(json)")
        let a = try #require(tenants.first { $0["tenant"] as? String == "pr-a" })
        #expect(a["events"] as? Int == 1500 && a["map"] as? String == "own map", "\(a)")
        // The same promotion with --allow-thin goes through; an -o musectl cannot write is
        // reported as such, naming the generation already published and where its bytes are.
        let allowed = Self.promote(daemon, ["cnp-next", "--allow-thin", "pr-a", "-o", "/proc/promoted.snapshot"])
        #expect(allowed.status == 1 && allowed.output.contains("mused published generation 2, but /proc/promoted.snapshot could not be written")
                && allowed.output.contains("the same bytes are mused's \(daemon.stateDirectory)/serving.snapshot"), "\(allowed.output)")
        #expect(try Self.serving(daemon)["id"] as? Int == 2)
        #expect(daemon.stop() == 0)
    }

    /// A fleet: two hosts' sketch exports merged give exactly the maps one
    /// host that saw all their events fits (sketches merge exactly), and the
    /// promoting host's live sketches are not added to the files.
    @Test func mergedSketchFilesGiveTheMapsOfOneHostThatSawEverything() throws {
        let scratch = Harness.runtimeDirectory()
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let thresholds = ["pr-a": "[0.9]"]
        let a = try Self.daemon(Self.files.shadowed, thresholds: thresholds)
        let b = try Self.daemon(Self.files.shadowed, thresholds: thresholds)
        let all = try Self.daemon(Self.files.shadowed, thresholds: thresholds)
        // (host, tenant, client, events)
        let streams: [(DaemonUnderTest, String, Int, Int)] = [
            (a, "pr-a", 1, 3000), (a, "pr-b", 2, 1700), (b, "pr-a", 4, 2500), (b, "pr-c", 3, 400),
            (all, "pr-a", 1, 3000), (all, "pr-b", 2, 1700), (all, "pr-a", 4, 2500), (all, "pr-c", 3, 400),
        ]
        for (host, tenant, client, count) in streams {
            let c = try Self.record(host, tenant, client: client, count: count)
            #expect(c.wait(seconds: 30) == 0, "\(c.output.suffix(300))")
        }
        let fileA = scratch + "/a.sketches", fileB = scratch + "/b.sketches"
        try Self.export(a, to: fileA)
        try Self.export(b, to: fileB)
        let merged = scratch + "/merged.snapshot", single = scratch + "/single.snapshot"
        // Host a promotes from both files (its own export among them).
        let fleet = Self.promote(a, ["cnp-next", "--sketches", fileA, fileB, "-o", merged, "--json"])
        try #require(fleet.status == 0, "\(fleet.output)")
        let report = try #require(try Self.json(fleet.output)["promotion"] as? [String: Any])
        let events = Dictionary(uniqueKeysWithValues: (report["tenants"] as? [[String: Any]] ?? []).map {
            ($0["tenant"] as? String ?? "", $0["events"] as? Int ?? -1)
        })
        #expect(events == ["pr-a": 5500, "pr-b": 1700, "pr-c": 400], "\(report)")
        #expect(report["snapshotBytes"] == nil && (report["sketches"] as? String)?.contains(fileB) == true, "\(report)")
        let one = Self.promote(all, ["cnp-next", "-o", single])
        try #require(one.status == 0, "\(one.output)")
        let fleetMaps = try Self.maps(merged, predictor: "cnp-next"), singleMaps = try Self.maps(single, predictor: "cnp-next")
        #expect(fleetMaps.count == 4 && fleetMaps == singleMaps)
        #expect(fleetMaps.contains { if case .fallback = $0.content { $0.tenant == "pr-c" } else { false } })
        // Another host of the fleet takes the file through the gated swap: its candidate shadowed
        // with no map, so the gate judges the promoted maps on its own sketches of the same scores.
        let d = try Self.daemon(Self.files.shadowed, thresholds: thresholds)
        for (tenant, client) in [("pr-a", 5), ("pr-b", 6), ("pr-c", 7)] {
            let c = try Self.record(d, tenant, client: client, count: 1500)
            #expect(c.wait(seconds: 30) == 0, "\(c.output.suffix(300))")
        }
        let gated = Harness.run(Self.musectl, ["swap", merged, "--gate", "--runtime-dir", d.runtimeDirectory])
        #expect(gated.status == 0 && gated.output.components(separatedBy: "pass (this host's sketch through the new map)").count == 4,
                "\(gated.output)")
        #expect(try Self.serving(d)["id"] as? Int == 2 && d.stop() == 0)
        #expect(a.stop() == 0 && b.stop() == 0 && all.stop() == 0)
    }

    /// The same traffic split over four mused processes, each tenant over
    /// more than one: the four export files merge to exactly the maps of one
    /// mused that saw every event (a merge adds counts, so nothing is lost
    /// to the split).
    @Test func fourHostsSketchesMergeToTheMapsOfOne() throws {
        let scratch = Harness.runtimeDirectory()
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let thresholds = ["pr-a": "[0.9]"]
        let hosts = try (0..<4).map { _ in try Self.daemon(Self.files.shadowed, thresholds: thresholds) }
        let all = try Self.daemon(Self.files.shadowed, thresholds: thresholds)
        // (host, tenant, client, events)
        let streams: [(Int, String, Int, Int)] = [
            (0, "pr-a", 1, 1200), (1, "pr-a", 2, 900), (2, "pr-a", 3, 700), (3, "pr-a", 4, 600),
            (0, "pr-b", 5, 800), (2, "pr-b", 6, 500), (1, "pr-c", 7, 300), (3, "pr-c", 8, 250),
        ]
        for (host, tenant, client, count) in streams {
            for daemon in [hosts[host], all] {
                let c = try Self.record(daemon, tenant, client: client, count: count)
                #expect(c.wait(seconds: 30) == 0, "\(c.output.suffix(300))")
            }
        }
        let files = try hosts.indices.map { i in
            let file = scratch + "/host\(i).sketches"
            try Self.export(hosts[i], to: file)
            return file
        }
        let merged = scratch + "/merged.snapshot", single = scratch + "/single.snapshot"
        let fleet = Self.promote(hosts[2], ["cnp-next", "--sketches"] + files + ["-o", merged, "--json"])
        try #require(fleet.status == 0, "\(fleet.output)")
        let report = try #require(try Self.json(fleet.output)["promotion"] as? [String: Any])
        let events = Dictionary(uniqueKeysWithValues: (report["tenants"] as? [[String: Any]] ?? []).map {
            ($0["tenant"] as? String ?? "", $0["events"] as? Int ?? -1)
        })
        #expect(events == ["pr-a": 3400, "pr-b": 1300, "pr-c": 550], "\(report)")
        let one = Self.promote(all, ["cnp-next", "-o", single])
        try #require(one.status == 0, "\(one.output)")
        let fleetMaps = try Self.maps(merged, predictor: "cnp-next"), singleMaps = try Self.maps(single, predictor: "cnp-next")
        #expect(fleetMaps.count == 4 && fleetMaps == singleMaps)
        #expect(hosts.map { $0.stop() } == [0, 0, 0, 0] && all.stop() == 0)
    }
}
