#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing

/// `musectl candidate add` against a real mused: the serving generation
/// plus a shadow model, built and published by mused while clients stream;
/// refusals that change nothing.
@Suite(.serialized)
struct CandidateTests {
    static let musectl = ControlSocketTests.musectl
    static let tenants = ["cand-a::2:64", "cand-b::2:64"]

    /// A generation that answers as mused's built-in check generation
    /// (logistic of the features' sum, no map), so the C test client checks
    /// every score exactly, plus the model files the tests add.
    static let files: (directory: String, snapshot: String) = {
        let dir = Harness.runtimeDirectory()
        func logistic(_ name: String, features: Int, coefficient: Double = 1, intercept: Double = 0) {
            let names = (0..<features).map { "\"f\($0)\"" }.joined(separator: ", ")
            let coefficients = Array(repeating: "\(coefficient)", count: features).joined(separator: ", ")
            let text = "{\"muse_model\": \"logistic_regression\", \"feature_names\": [\(names)], "
                + "\"coefficients\": [\(coefficients)], \"intercept\": \(intercept)}\n"
            FileManager.default.createFile(atPath: "\(dir)/\(name)", contents: Data(text.utf8))
        }
        logistic("sum16.json", features: 16)
        logistic("sum8.json", features: 8)
        logistic("candidate.json", features: 16, coefficient: 0.5, intercept: -1)
        logistic("fifteen.json", features: 15, coefficient: 0.5)
        let manifest = """
            generation = 1
            created_at = 1764000000
            [models.sum-cnp]
            file = "sum16.json"
            [models.sum-cp]
            file = "sum8.json"
            [predictors.sum-cnp]
            models = ["sum-cnp"]
            [predictors.sum-cp]
            models = ["sum-cp"]
            [intents.card-not-present]
            id = 1
            features = [\((0..<16).map { "\"f\($0)\"" }.joined(separator: ", "))]
            [intents.card-present]
            id = 2
            features = [\((0..<8).map { "\"f\($0)\"" }.joined(separator: ", "))]
            [[routes]]
            tenant = "cand-a"
            intent = "card-not-present"
            predictor = "sum-cnp"
            [[routes]]
            tenant = "cand-a"
            intent = "card-present"
            predictor = "sum-cp"
            [[routes]]
            tenant = "cand-b"
            intent = "card-not-present"
            predictor = "sum-cnp"

            """
        FileManager.default.createFile(atPath: "\(dir)/manifest.toml", contents: Data(manifest.utf8))
        let built = Harness.run(musectl, ["snapshot", "build", "\(dir)/manifest.toml", "-o", "\(dir)/gen1.snapshot"])
        precondition(built.status == 0, "musectl snapshot build failed: \(built.output)")
        return (dir, "\(dir)/gen1.snapshot")
    }()

    static func status(_ daemon: DaemonUnderTest) throws -> [String: Any] {
        let run = Harness.run(musectl, ["status", "--runtime-dir", daemon.runtimeDirectory, "--json"])
        #expect(run.status == 0, "\(run.output)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(run.output.utf8)) as? [String: Any])
        return try #require(json["status"] as? [String: Any])
    }

    static func serving(_ daemon: DaemonUnderTest) throws -> [String: Any] {
        try #require(try status(daemon)["serving"] as? [String: Any])
    }

    /// Every file of the state directory with its bytes.
    static func stateFiles(_ daemon: DaemonUnderTest) -> [String: Data] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: daemon.stateDirectory)) ?? []
        return Dictionary(uniqueKeysWithValues: names.map {
            ($0, (try? Data(contentsOf: URL(filePath: "\(daemon.stateDirectory)/\($0)"))) ?? Data())
        })
    }

    func add(_ daemon: DaemonUnderTest, _ model: String, _ arguments: [String]) -> Harness.Result {
        Harness.run(Self.musectl, ["candidate", "add", model, "--runtime-dir", daemon.runtimeDirectory] + arguments)
    }

    @Test func aCandidateJoinsWhileClientsStreamAndARestartServesIt() throws {
        let daemon = try DaemonUnderTest(tenants: Self.tenants, arguments: ["--snapshot", Self.files.snapshot])
        #expect(try Self.serving(daemon)["id"] as? Int == 1)
        let clients = try ["cand-a", "cand-b"].enumerated().map { i, tenant in
            try daemon.client("stream", tenant, ["\(i + 1)", "0", "16"])
        }
        usleep(300_000)
        let added = add(daemon, "\(Self.files.directory)/candidate.json", ["--name", "cnp-next", "--negative-sampling-rate", "0.5"])
        #expect(added.status == 0, "\(added.output)")
        for line in ["published generation 2: cnp-next shadows cand-a/card-not-present, cand-b/card-not-present",
                     "left alone: cand-a/card-present: the model needs f8, f9, f10, f11, f12, f13, f14, f15, which the intent does not send",
                     "kept as \(daemon.stateDirectory)/serving.snapshot", "publish "] {
            #expect(added.output.contains(line), "no '\(line)' in: \(added.output)")
        }
        // The shadow scores the traffic that follows; the primaries keep answering.
        usleep(500_000)
        for client in clients {
            client.kill(SIGTERM)
            #expect(client.wait(seconds: 30) == 0, "\(client.output)")
            let result = fields(client.output)
            #expect(Int(result["answered"] ?? "") ?? 0 > 0 && result["duplicates"] == "0" && result["lost"] == "0"
                    && result["wrong"] == "0" && result["foreign"] == "0", "\(client.output)")
        }
        let status = try Self.status(daemon)
        let serving = try #require(status["serving"] as? [String: Any])
        #expect(serving["id"] as? Int == 2)
        #expect((serving["predictors"] as? [String]) == ["sum-cnp", "sum-cp", "cnp-next"])
        #expect((status["previous"] as? [String: Any])?["id"] as? Int == 1)
        let shadows = (status["shadows"] as? [[String: Any]]) ?? []
        for tenant in ["cand-a", "cand-b"] {
            let record = shadows.first { $0["tenant"] as? String == tenant && $0["predictor"] as? String == "cnp-next" }
            #expect((record?["events"] as? Int ?? 0) > 0, "no shadow events for \(tenant): \(shadows)")
        }

        // What mused kept is a snapshot like any other: verify reproduces it.
        let kept = "\(daemon.stateDirectory)/serving.snapshot"
        let verify = Harness.run(Self.musectl, ["snapshot", "verify", kept])
        #expect(verify.status == 0 && verify.output.contains("ok: generation 2"), "\(verify.output)")
        let inspect = Harness.run(Self.musectl, ["snapshot", "inspect", kept, "--json"])
        #expect(inspect.output.contains("cnp-next") && inspect.output.contains("musectl candidate add"), "\(inspect.output)")

        // A restart serves the candidate generation; a client still gets exact answers.
        daemon.kill()
        try daemon.restart()
        #expect(try Self.serving(daemon)["id"] as? Int == 2)
        let after = try daemon.client("stream", "cand-a", ["3", "2000"])
        #expect(after.wait(seconds: 30) == 0, "\(after.output)")
        // And a second candidate builds on it, taking the next id.
        let second = add(daemon, "\(Self.files.directory)/candidate.json", ["--name", "cnp-next-2", "--tenants", "cand-b", "--json"])
        #expect(second.status == 0, "\(second.output)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(second.output.utf8)) as? [String: Any])
        let report = try #require(json["candidate"] as? [String: Any])
        #expect(report["generation"] as? Int == 3 && report["shadowed"] as? [String] == ["cand-b/card-not-present"], "\(report)")
        #expect(daemon.stop() == 0)
        #expect(daemon.logs.contains("event=candidate-added"))
    }

    @Test func refusedCandidatesChangeNothingAndARollbackUndoesOne() throws {
        let daemon = try DaemonUnderTest(tenants: Self.tenants, arguments: ["--snapshot", Self.files.snapshot])
        let scratch = Harness.runtimeDirectory()
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let fifo = scratch + "/model.fifo"
        #expect(mkfifo(fifo, 0o644) == 0)
        let damaged = scratch + "/damaged.json"
        let good = try String(contentsOfFile: "\(Self.files.directory)/candidate.json", encoding: .utf8)
        FileManager.default.createFile(atPath: damaged, contents: Data(good.prefix(good.count / 2).utf8))
        let candidate = "\(Self.files.directory)/candidate.json"
        let cases: [(String, [String], String)] = [
            (candidate, ["--name", "sum-cnp"], "the name 'sum-cnp' is already used"),
            ("\(Self.files.directory)/fifteen.json", ["--name", "short", "--intent", "card-not-present"],
             "no route can shadow the model: intent card-not-present: the model lacks f15, which the intent sends"),
            (fifo, ["--name", "piped"], "is a FIFO, not a regular file"),
            (scratch, ["--name", "directory"], "Is a directory"),
            (damaged, ["--name", "broken"], damaged),
            (candidate, ["--name", "two words"], "must not contain spaces"),
            (candidate, ["--name", "x", "--intent", "login"], "--intent login: the serving generation has no such intent"),
            (candidate, ["--name", "x", "--tenants", "cand-c"], "routes no events for tenant 'cand-c'"),
            (candidate, ["--name", "x", "--training-prior", "0.1"], "give either --negative-sampling-rate, or both"),
            (candidate, ["--name", "x", "--negative-sampling-rate", "2"], "level 1"),
            (candidate, ["--name", "x", "--features", "a,b"], "--features lists 2 names but \(candidate) has 16 features"),
        ]
        let before = Self.stateFiles(daemon)
        #expect(before.keys.contains("serving.snapshot"))
        for (model, arguments, reason) in cases {
            let refused = add(daemon, model, arguments)
            #expect(refused.status == 1 && refused.output.contains(reason), "\(arguments): \(refused.output)")
            #expect(Self.stateFiles(daemon) == before, "\(arguments) changed the state directory")
            #expect(try Self.serving(daemon)["id"] as? Int == 1)
        }
        // mused answered every refusal and still serves.
        let client = try daemon.client("stream", "cand-b", ["1", "1000"])
        #expect(client.wait(seconds: 30) == 0, "\(client.output)")

        // Accepted, then rolled back: generation 1 serves and is recorded again.
        let added = add(daemon, candidate, ["--name", "cnp-next", "--intent", "card-not-present", "--tenants", "cand-a"])
        #expect(added.status == 0 && added.output.contains("shadows cand-a/card-not-present\n"), "\(added.output)")
        #expect(try Self.serving(daemon)["id"] as? Int == 2)
        let rollback = Harness.run(Self.musectl, ["rollback", "--runtime-dir", daemon.runtimeDirectory])
        #expect(rollback.status == 0, "\(rollback.output)")
        #expect(try Self.serving(daemon)["id"] as? Int == 1)
        #expect(Self.stateFiles(daemon)["serving.snapshot"] == before["serving.snapshot"])
        #expect(daemon.stop() == 0)
        #expect(daemon.logs.contains("event=candidate-refused"))
    }

    /// The embedded demo generation is read back from mused's own binary;
    /// the built-in check generation has no snapshot to extend.
    @Test func theDemoGenerationTakesACandidateAndTheBuiltInOneRefuses() throws {
        let demo = try DaemonUnderTest(tenants: ["demo-a", "demo-b"])
        let forest = Harness.packageRoot.appending(path: "Tests/MuseScoringTests/Fixtures/models/random_forest.lgb.txt").path
        let added = add(demo, forest, ["--name", "cnp-forest"])
        #expect(added.status == 0 && added.output.contains("published generation 2: cnp-forest shadows demo-a/card-not-present, demo-b/card-not-present"),
                "\(added.output)")
        #expect(demo.stop() == 0)

        let builtIn = try DaemonUnderTest(tenants: ["cand-c"])
        let before = Self.stateFiles(builtIn)
        let refused = add(builtIn, "\(Self.files.directory)/candidate.json", ["--name", "c"])
        #expect(refused.status == 1 && refused.output.contains("built in code with no snapshot to extend"), "\(refused.output)")
        #expect(Self.stateFiles(builtIn) == before)
        #expect(builtIn.stop() == 0)
    }
}
