#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing

/// Snapshots through the real commands: `musectl snapshot build`, mused
/// --snapshot, `musectl swap`, and mused killed in the middle of swaps.
@Suite(.serialized)
struct SnapshotSwapTests {
    static let tenants = ["bank-a::2:64", "shop-b::2:64", "wallet-c::2:64"]

    /// Generation 1 and 2 built by musectl from the example manifests.
    static let files: (gen1: String, gen2: String) = {
        let dir = Harness.runtimeDirectory()
        let gen1 = "\(dir)/gen1.snapshot", gen2 = "\(dir)/gen2.snapshot"
        for (manifest, out) in [("manifest.toml", gen1), ("manifest-retrained.toml", gen2)] {
            let built = Harness.run(ControlSocketTests.musectl, ["snapshot", "build",
                Harness.packageRoot.appending(path: "examples/generation/\(manifest)").path, "-o", out])
            precondition(built.status == 0, "musectl snapshot build failed: \(built.output)")
        }
        return (gen1, gen2)
    }()

    static func servingGeneration(_ daemon: DaemonUnderTest) -> Int? {
        let status = Harness.run(ControlSocketTests.musectl, ["status", "--runtime-dir", daemon.runtimeDirectory, "--json"])
        guard status.status == 0,
              let json = try? JSONSerialization.jsonObject(with: Data(status.output.utf8)) as? [String: Any],
              let serving = (json["status"] as? [String: Any])?["serving"] as? [String: Any] else { return nil }
        return serving["id"] as? Int
    }

    @Test func musectlSwapReportsEachStepAndARefusalNamesItsReason() throws {
        let daemon = try DaemonUnderTest(tenants: Self.tenants, arguments: ["--snapshot", Self.files.gen1])
        #expect(Self.servingGeneration(daemon) == 1)
        let swap = Harness.run(ControlSocketTests.musectl, ["swap", Self.files.gen2, "--runtime-dir", daemon.runtimeDirectory])
        #expect(swap.status == 0, "\(swap.output)")
        for step in ["copy", "read", "decode", "verify", "import", "publish"] {
            #expect(swap.output.contains("\(step) "), "no \(step) step in: \(swap.output)")
        }
        #expect(swap.output.contains("serving generation 2"))
        // A damaged file is refused by name; generation 2 keeps serving.
        let junk = daemon.runtimeDirectory + ".junk"
        FileManager.default.createFile(atPath: junk, contents: Data(repeating: 7, count: 1000))
        defer { unlink(junk) }
        let refused = Harness.run(ControlSocketTests.musectl, ["swap", junk, "--runtime-dir", daemon.runtimeDirectory])
        #expect(refused.status != 0 && refused.output.contains("refusing snapshot \(junk)"), "\(refused.output)")
        #expect(Self.servingGeneration(daemon) == 2)
        // Rollback, and the gate (no shadow traffic yet: refused, figures printed).
        let rollback = Harness.run(ControlSocketTests.musectl, ["rollback", "--runtime-dir", daemon.runtimeDirectory])
        #expect(rollback.status == 0 && Self.servingGeneration(daemon) == 1, "\(rollback.output)")
        let gated = Harness.run(ControlSocketTests.musectl, ["swap", "--gate", Self.files.gen2, "--runtime-dir", daemon.runtimeDirectory])
        #expect(gated.status != 0 && gated.output.contains("not enough shadowed events"), "\(gated.output)")
        #expect(Self.servingGeneration(daemon) == 1)
        #expect(daemon.stop() == 0)
        #expect(daemon.logs.contains("event=snapshot-loaded"))
    }

    /// `snapshot inspect` shows what `build` wrote, for people and as JSON;
    /// `verify` reproduces the canaries, and a damaged copy is refused by both,
    /// by name and with a non-zero exit.
    @Test func inspectAndVerifyReadWhatBuildWrote() throws {
        let musectl = ControlSocketTests.musectl
        let inspect = Harness.run(musectl, ["snapshot", "inspect", Self.files.gen1])
        #expect(inspect.status == 0, "\(inspect.output)")
        for line in ["generation 1 (format 1)", "sections:", "models ", "card-not-present (id 1, schema 0x"] {
            #expect(inspect.output.contains(line), "no '\(line)' in: \(inspect.output)")
        }
        let json = Harness.run(musectl, ["snapshot", "inspect", Self.files.gen2, "--json"])
        #expect(json.status == 0)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.output.utf8)) as? [String: Any])
        #expect(object["generation"] as? Int == 2)
        let intents = (object["intents"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String }
        #expect(Set(intents) == ["account-login", "card-not-present", "card-present"])
        #expect((object["canaries"] as? Int ?? 0) > 0)

        let verify = Harness.run(musectl, ["snapshot", "verify", Self.files.gen1])
        #expect(verify.status == 0 && verify.output.contains("ok: generation 1") && verify.output.contains("canaries reproduced"),
                "\(verify.output)")
        // One byte changed in the middle of the file.
        let scratch = Harness.runtimeDirectory()
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let damaged = scratch + "/damaged.snapshot"
        var bytes = try Data(contentsOf: URL(filePath: Self.files.gen1))
        bytes[bytes.count / 2] ^= 0x5a
        try bytes.write(to: URL(filePath: damaged))
        for command in ["verify", "inspect"] {
            let refused = Harness.run(musectl, ["snapshot", command, damaged])
            #expect(refused.status != 0 && refused.output.contains(damaged), "\(command): \(refused.output)")
        }
    }

    /// What mused-swap.service runs: every waiting snapshot swapped in, oldest
    /// first, and filed under applied/ or refused/ with the reason.
    @Test func swapIncomingAppliesAndFilesAwayEachSnapshot() throws {
        let daemon = try DaemonUnderTest(tenants: Self.tenants, arguments: ["--snapshot", Self.files.gen1])
        let incoming = daemon.runtimeDirectory + ".incoming"
        try FileManager.default.createDirectory(atPath: incoming, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: incoming) }
        try FileManager.default.copyItem(atPath: Self.files.gen2, toPath: "\(incoming)/gen2.snapshot")
        usleep(20_000)
        FileManager.default.createFile(atPath: "\(incoming)/junk.snapshot", contents: Data(repeating: 7, count: 1000))
        FileManager.default.createFile(atPath: "\(incoming)/half-copied.tmp", contents: Data(repeating: 7, count: 10))

        let run = Harness.run(ControlSocketTests.musectl, ["swap-incoming", incoming, "--runtime-dir", daemon.runtimeDirectory])
        #expect(run.status != 0, "a refused file makes the run fail: \(run.output)")
        #expect(run.output.contains("gen2.snapshot: serving generation 2"), "\(run.output)")
        #expect(Self.servingGeneration(daemon) == 2)
        let applied = (try? FileManager.default.contentsOfDirectory(atPath: "\(incoming)/applied")) ?? []
        let refused = (try? FileManager.default.contentsOfDirectory(atPath: "\(incoming)/refused")) ?? []
        #expect(applied.count == 1 && applied[0].hasPrefix("gen2-"), "\(applied)")
        #expect(refused.filter { $0.hasSuffix(".snapshot") }.count == 1, "\(refused)")
        let reason = refused.first { $0.hasSuffix(".reason") }
        let text = try reason.map { try String(contentsOfFile: "\(incoming)/refused/\($0)", encoding: .utf8) } ?? ""
        #expect(text.contains("refusing snapshot"), "\(text)")
        #expect(FileManager.default.fileExists(atPath: "\(incoming)/half-copied.tmp"))

        // Gated: generation 1's primaries were never shadowed here: refused, named.
        try FileManager.default.copyItem(atPath: Self.files.gen1, toPath: "\(incoming)/gen1.snapshot")
        let gated = Harness.run(ControlSocketTests.musectl, ["swap-incoming", incoming, "--gate", "--runtime-dir", daemon.runtimeDirectory])
        #expect(gated.status != 0 && gated.output.contains("not enough shadowed events"), "\(gated.output)")
        #expect(Self.servingGeneration(daemon) == 2)
        #expect(Harness.run(ControlSocketTests.musectl, ["swap-incoming", incoming, "--runtime-dir", daemon.runtimeDirectory])
            .output.contains("nothing to swap"))
    }

    /// mused killed with SIGKILL at random moments of swaps comes back
    /// serving the old or the new generation, never a broken one.
    @Test func aDaemonKilledMidSwapComesBackOnACompleteGeneration() throws {
        let daemon = try DaemonUnderTest(tenants: Self.tenants, arguments: ["--snapshot", Self.files.gen1])
        var before = 1
        for round in 0..<12 {
            let target = round % 2 == 0 ? Self.files.gen2 : Self.files.gen1
            let targetID = round % 2 == 0 ? 2 : 1
            let swap = try Child(ControlSocketTests.musectl, ["swap", target, "--runtime-dir", daemon.runtimeDirectory])
            usleep(UInt32.random(in: 0...15_000))
            daemon.kill()
            swap.wait(seconds: 10)
            try daemon.restart()
            // The old generation or the new one, whole (it loaded and serves).
            let serving = Self.servingGeneration(daemon)
            #expect(serving == before || serving == targetID, "round \(round): serving \(String(describing: serving))")
            before = serving ?? before
        }
        #expect(daemon.stop() == 0)
    }
}
