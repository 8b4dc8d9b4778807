#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing

/// Tenants coming and going while mused runs: `musectl reload` (and SIGHUP),
/// `musectl drain`, `musectl tenants`, and the drain on SIGTERM.
@Suite(.serialized) struct TenantLifecycleTests {
    static var musectl: String { ControlSocketTests.musectl }

    static func writeConfig(_ path: String, tenants: [(name: String, channels: Int)], workers: Int = 2) throws {
        var text = "workers = \(workers)\n"
        for tenant in tenants {
            text += "[[tenant]]\nname = \"\(tenant.name)\"\nchannels = \(tenant.channels)\nring_depth = 64\nmax_features = 16\n"
        }
        try text.write(toFile: path, atomically: true, encoding: .utf8)
    }

    static func json(_ output: String) throws -> [String: Any] {
        try #require(JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any], "not JSON: \(output)")
    }

    /// A reload adds t3 and removes t2 while t1 streams: t1 loses nothing
    /// and sees nothing twice, t3 serves at once, t2's segment is gone.
    @Test func reloadAddsAndRemovesTenantsWithoutLosingOthersEvents() throws {
        let dir = Harness.runtimeDirectory()
        let config = dir + ".toml"
        defer { unlink(config) }
        try Self.writeConfig(config, tenants: [("t1", 2), ("t2", 2)])
        let daemon = try DaemonUnderTest(tenants: [], runtimeDirectory: dir, arguments: ["--config", config])
        let t1 = try daemon.client("stream", "t1", ["1", "0", "32"])
        usleep(300_000)

        try Self.writeConfig(config, tenants: [("t1", 2), ("t3", 3)])
        let reload = Harness.run(Self.musectl, ["reload", "--runtime-dir", dir, "--json"])
        #expect(reload.status == 0, "\(reload.output)")
        let report = try #require(try Self.json(reload.output)["reload"] as? [String: Any])
        #expect(report["added"] as? [String] == ["t3"])
        #expect((report["removed"] as? [[String: Any]])?.map { $0["tenant"] as? String } == ["t2"])
        #expect(!FileManager.default.fileExists(atPath: "\(dir)/t2.muse"))

        let t3 = try daemon.client("stream", "t3", ["3", "5000", "16"])
        #expect(t3.wait(seconds: 30) == 0, "\(t3.output)")
        // SIGHUP applies the file too: t2 comes back.
        try Self.writeConfig(config, tenants: [("t1", 2), ("t2", 1), ("t3", 3)])
        daemon.child.kill(SIGHUP)
        #expect(daemon.child.waitForOutput(containing: "event=reloaded added=t2", seconds: 10))
        let t2 = try daemon.client("stream", "t2", ["2", "2000", "16"])
        #expect(t2.wait(seconds: 30) == 0, "\(t2.output)")

        t1.kill(SIGTERM)
        #expect(t1.wait(seconds: 30) == 0, "t1 lost or duplicated events: \(t1.output)")
        #expect(t1.output.contains("duplicates=0 lost=0 wrong=0"))
    }

    /// What cannot change live refuses the whole reload, with the reason, and
    /// nothing is applied.
    @Test func aLayoutChangeRefusesTheReloadAndChangesNothing() throws {
        let dir = Harness.runtimeDirectory()
        let config = dir + ".toml"
        defer { unlink(config) }
        try Self.writeConfig(config, tenants: [("t1", 2), ("t2", 2)])
        let daemon = try DaemonUnderTest(tenants: [], runtimeDirectory: dir, arguments: ["--config", config])
        try Self.writeConfig(config, tenants: [("t1", 4), ("t3", 1)], workers: 1)
        let reload = Harness.run(Self.musectl, ["reload", "--runtime-dir", dir])
        #expect(reload.status != 0)
        #expect(reload.output.contains("tenant 't1': channels changed (2 → 4)"), "\(reload.output)")
        #expect(reload.output.contains("workers changed (2 → 1)"), "\(reload.output)")
        let tenants = Harness.run(Self.musectl, ["tenants", "--runtime-dir", dir, "--json"])
        #expect(tenants.status == 0)
        let names = (try Self.json(tenants.output)["tenants"] as? [[String: Any]])?.compactMap { $0["name"] as? String }
        #expect(names == ["t1", "t2"])
        #expect(!FileManager.default.fileExists(atPath: "\(dir)/t3.muse"))
        // A bad file names file, line and key, and changes nothing either.
        try "workers = 2\n[[tenant]]\nname = \"t1\"\nchannels = \"two\"\n".write(toFile: config, atomically: true, encoding: .utf8)
        let bad = Harness.run(Self.musectl, ["reload", "--runtime-dir", dir])
        #expect(bad.status != 0)
        #expect(bad.output.contains("\(config):4: tenant[0].channels"), "\(bad.output)")
        #expect(daemon.isRunning)
    }

    /// `drain` stops serving a tenant until a reload serves it again.
    @Test func aDrainedTenantIsServedAgainAfterAReload() throws {
        let dir = Harness.runtimeDirectory()
        let config = dir + ".toml"
        defer { unlink(config) }
        try Self.writeConfig(config, tenants: [("t1", 2), ("t2", 2)])
        let daemon = try DaemonUnderTest(tenants: [], runtimeDirectory: dir, arguments: ["--config", config])
        let drain = Harness.run(Self.musectl, ["drain", "t2", "--runtime-dir", dir, "--json"])
        #expect(drain.status == 0, "\(drain.output)")
        let state = (try Self.json(drain.output)["tenants"] as? [[String: Any]])?.first { $0["name"] as? String == "t2" }
        #expect(state?["state"] as? String == "drained")
        // A drained tenant's clients see mused stopped.
        let waiting = try daemon.client("wait-forever", "t2")
        #expect(waiting.wait(seconds: 15) == 0, "\(waiting.output)")
        #expect(Harness.run(Self.musectl, ["drain", "nobody", "--runtime-dir", dir]).status != 0)

        let reload = Harness.run(Self.musectl, ["reload", "--runtime-dir", dir])
        #expect(reload.status == 0, "\(reload.output)")
        #expect(reload.output.contains("serving again: t2"), "\(reload.output)")
        let t2 = try daemon.client("stream", "t2", ["2", "2000", "16"])
        #expect(t2.wait(seconds: 30) == 0, "\(t2.output)")
    }

    /// SIGTERM: mused answers every event submitted before the stop, even
    /// those waiting for the client to make room, then exits.
    @Test func sigtermAnswersWhatWasSubmittedBeforeExiting() throws {
        let daemon = try DaemonUnderTest(tenants: ["t1::4:256"])
        // 4 channels × 2 rings' worth: 1024 answered, 1024 waiting for room.
        let client = try daemon.client("preload", "t1", ["4"])
        #expect(client.waitForOutput(containing: "submitted=2048", seconds: 20), "\(client.output)")
        daemon.child.kill(SIGTERM)
        #expect(daemon.child.wait(seconds: 20) == 0)
        #expect(client.wait(seconds: 30) == 0, "\(client.output)")
        #expect(client.output.contains("answered=2048 sent=2048 bad=0"), "\(client.output)")
        #expect(daemon.child.output.contains("event=worker-drained"), "\(daemon.child.output)")
    }
}
