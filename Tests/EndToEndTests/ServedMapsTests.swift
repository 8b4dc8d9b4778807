#if canImport(Glibc)
import Glibc
#endif
import CMuse
import Foundation
import MuseClient
import Testing

/// The level 1 a map records, through the real commands: `musectl snapshot
/// inspect --maps` gives the maps a generation serves as a map file that
/// `musectl transform apply` maps exactly as mused does, and `verify` and
/// `swap` refuse a map fitted after another level 1 than its model's.
@Suite(.serialized)
struct ServedMapsTests {
    static var musectl: String { ControlSocketTests.musectl }
    static let rows = Harness.packageRoot.appending(path: "Tests/MuseScoringTests/Fixtures/models/deep.lgb.rows.csv").path

    /// The demo generation (one LightGBM model, negatives kept at 0.1, a map
    /// per tenant) as generation 3, so it can be swapped in over the
    /// embedded generation 1.
    static func buildDemoGeneration(in dir: String) throws -> String {
        let root = Harness.packageRoot.path
        let manifest = try String(contentsOfFile: root + "/examples/demo/manifest.toml", encoding: .utf8)
            .replacingOccurrences(of: "\"../../", with: "\"\(root)/")
            .replacingOccurrences(of: "generation = 1\n", with: "generation = 3\n")
        try manifest.write(toFile: dir + "/manifest.toml", atomically: true, encoding: .utf8)
        let built = Harness.run(musectl, ["snapshot", "build", dir + "/manifest.toml", "-o", dir + "/gen3.muse"])
        try #require(built.status == 0, "\(built.output)")
        return dir + "/gen3.muse"
    }

    @Test func inspectMapsAppliedOfflineGiveTheScoresMusedServes() throws {
        let daemon = try DaemonUnderTest(tenants: [])
        let work = Harness.runtimeDirectory()
        defer { try? FileManager.default.removeItem(atPath: work) }
        let snapshot = try Self.buildDemoGeneration(in: work)
        let swap = Harness.run(Self.musectl, ["swap", snapshot, "--runtime-dir", daemon.runtimeDirectory])
        try #require(swap.status == 0, "\(swap.output)")

        let inspect = Harness.run(Self.musectl, ["snapshot", "inspect", "--maps", snapshot])
        try #require(inspect.status == 0, "\(inspect.output)")
        #expect(inspect.output.contains("predictor cnp-v1\ntenant demo-a\n") && inspect.output.contains("correction 0.1\n"),
                "\(inspect.output.prefix(600))")
        let maps = work + "/served.maps"
        try inspect.output.write(toFile: maps, atomically: true, encoding: .utf8)
        // --json carries the same map file, as `transform fit --json` does.
        let json = Harness.run(Self.musectl, ["snapshot", "inspect", "--maps", "--json", snapshot])
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.output.utf8)) as? [String: Any])
        let text = try #require(object["maps"] as? String)
        #expect(object["ok"] as? Bool == true && object["generation"] as? Int == 3)
        #expect(inspect.output.hasSuffix(text) && text.hasPrefix("muse-score-maps 1\n"))
        // The summary names each map's level 1 too.
        let summary = try #require(try JSONSerialization.jsonObject(
            with: Data(Harness.run(Self.musectl, ["snapshot", "inspect", "--json", snapshot]).output.utf8)) as? [String: Any])
        let corrections = (summary["maps"] as? [[String: Any]])?.map { $0["correction"] as? String }
        #expect(corrections == ["0.1", "0.1", "0.1"], "\(summary["maps"] ?? "")")

        // Offline: the model's probabilities, then level 1 and the tenant's map.
        let rows = try Self.readRows()
        let probabilities = work + "/probabilities.txt"
        let model = Harness.packageRoot.appending(path: "Tests/MuseScoringTests/Fixtures/models/many_shallow.lgb.txt").path
        let predicted = Harness.run(Self.musectl, ["predict", "--model", model, "--input", Self.rows])
        try #require(predicted.status == 0, "\(predicted.output)")
        try predicted.output.write(toFile: probabilities, atomically: true, encoding: .utf8)

        for tenant in ["demo-a", "demo-b"] {
            let applied = Harness.run(Self.musectl, ["transform", "apply", "--maps", maps, "--predictor", "cnp-v1", "--tenant", tenant,
                                                     "--negative-sampling-rate", "0.1", probabilities])
            try #require(applied.status == 0, "\(applied.output)")
            let offline = applied.output.split(separator: "\n").map { Double(String($0))! }
            try #require(offline.count == rows.count)
            // Another level 1 than the map records is refused, naming both.
            let wrong = Harness.run(Self.musectl, ["transform", "apply", "--maps", maps, "--predictor", "cnp-v1", "--tenant", tenant,
                                                   probabilities])
            #expect(wrong.status != 0 && wrong.output.contains("odds ratio 0.1"), "\(wrong.output)")

            // Online: the same rows through mused.
            let connection = try TenantConnection(runtimeDirectory: daemon.runtimeDirectory, tenant: tenant)
            let channel = try connection.claim()
            var completion = [muse_completion](repeating: muse_completion(), count: 1)
            var same = 0
            for (i, x) in rows.enumerated() {
                try #require(x.withUnsafeBufferPointer { channel.submit(tag: UInt64(i), intent: 1, features: $0) } == MUSE_OK)
                let (status, n) = completion.withUnsafeMutableBufferPointer { channel.wait(into: $0, timeoutNanoseconds: 5_000_000_000) }
                try #require(status == MUSE_OK && n == 1)
                let c = completion[0]
                #expect(c.status == 0 && c.generation_id == 3)
                if c.score.bitPattern == offline[i].bitPattern { same += 1 } else {
                    Issue.record("\(tenant) row \(i): mused scored \(c.score), the map file \(offline[i])")
                }
            }
            #expect(same == rows.count)
        }
        #expect(daemon.stop() == 0)
    }

    /// The committed snapshot whose map was fitted after correction 0.1 on
    /// a model served uncorrected (MapLevelOneFixtureTests makes it).
    @Test func verifyAndSwapRefuseAMapFittedAfterAnotherLevelOne() throws {
        let fixture = Harness.packageRoot.appending(path: "Tests/MuseSnapshotTests/Fixtures/level1-mismatch.muse").path
        let reason = "the map of predictor 'login-v1' for tenant '*' was fitted after level-1 correction 0.1 (posterior odds ratio), "
            + "but the predictor corrects with 1.0 (model 'login-lr')"
        let verify = Harness.run(Self.musectl, ["snapshot", "verify", fixture])
        #expect(verify.status != 0 && verify.output.contains(reason), "\(verify.output)")

        let daemon = try DaemonUnderTest(tenants: ["bank-a::1:64"])
        let before = SnapshotSwapTests.servingGeneration(daemon)
        #expect(before != nil)
        let swap = Harness.run(Self.musectl, ["swap", fixture, "--runtime-dir", daemon.runtimeDirectory])
        #expect(swap.status != 0 && swap.output.contains(reason), "\(swap.output)")
        #expect(SnapshotSwapTests.servingGeneration(daemon) == before)
        #expect(daemon.stop() == 0)
    }

    static func readRows() throws -> [[Double]] {
        let lines = try String(contentsOfFile: rows, encoding: .utf8).split(separator: "\n").dropFirst()
        return lines.map { $0.split(separator: ",", omittingEmptySubsequences: false).map { Double(String($0)) ?? .nan } }
    }
}
