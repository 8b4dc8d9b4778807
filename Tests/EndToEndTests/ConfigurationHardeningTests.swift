#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing

/// Hostile configuration files: at a start, refused with file, line and key
/// before mused creates anything; on a reload, refused the same way with
/// nothing applied, while clients stream and the control socket answers.
@Suite(.serialized) struct ConfigurationHardeningTests {
    static var musectl: String { ControlSocketTests.musectl }

    static func tenant(_ name: String) -> String {
        "[[tenant]]\nname = \"\(name)\"\nchannels = 2\nring_depth = 64\nmax_features = 16\n"
    }

    /// A file that is valid but for one thing, and where that thing is written.
    struct Hostile {
        let name: String
        let text: String
        let line: Int
        let key: String
        /// Part of the message.
        let reason: String

        func expected(_ config: String) -> String { "\(config):\(line): \(key): " }
    }

    /// Each mistake after `head` (its own lines), with `tenants` (which
    /// would change what is served, were the file applied).
    static func hostileFiles(head: String, tenants: [String], scratch: String) -> [Hostile] {
        let body = tenants.map(tenant).joined()
        let next = head.filter { $0 == "\n" }.count + 1
        let deep = Array(repeating: "a", count: 50_000).joined(separator: ".")
        let nine = Array(repeating: "a", count: 9).joined(separator: ".")
        let bodyLines = body.filter { $0 == "\n" }.count
        return [
            Hostile(name: "deep table header", text: head + "[\(deep)]\n" + body, line: next, key: nine,
                    reason: "more than 8 levels deep"),
            Hostile(name: "NUL in a tenant name", text: head + body + "[[tenant]]\nname = \"al\\u0000pha\"\n",
                    line: next + bodyLines + 1, key: "tenant[\(tenants.count)].name", reason: "control character U+0000"),
            Hostile(name: "ESC in a group", text: head + body + "[[tenant]]\nname = \"g\"\ngroup = \"0\\u001b[2J\"\n",
                    line: next + bodyLines + 2, key: "tenant[\(tenants.count)].group", reason: "control character U+001B"),
            Hostile(name: "missing snapshot", text: head + "snapshot = \"\(scratch)/missing.snapshot\"\n" + body,
                    line: next, key: "snapshot", reason: "No such file or directory"),
            Hostile(name: "FIFO snapshot", text: head + "snapshot = \"\(scratch)/fifo.snapshot\"\n" + body,
                    line: next, key: "snapshot", reason: "not a regular file (a FIFO)"),
            Hostile(name: "directory snapshot", text: head + "snapshot = \"\(scratch)\"\n" + body,
                    line: next, key: "snapshot", reason: "not a regular file (a directory)"),
            Hostile(name: "array of unknown tables", text: head + body + "[[tenants]]\nname = \"t3\"\n",
                    line: next + bodyLines, key: "tenants", reason: "unknown key"),
            Hostile(name: "unknown table", text: head + "[nonsense.sub]\nx = 1\n" + body, line: next, key: "nonsense",
                    reason: "unknown key"),
        ]
    }

    static func scratchDirectory() throws -> String {
        let scratch = Harness.runtimeDirectory()
        try #require(mkfifo(scratch + "/fifo.snapshot", 0o600) == 0)
        return scratch
    }

    /// Each hostile file stops mused with its file, line and key, before
    /// any segment, lock file or state directory exists.
    @Test func aHostileFileStopsMusedBeforeItTouchesAnything() throws {
        let scratch = try Self.scratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let dir = Harness.runtimeDirectory()
        let state = dir + ".state"
        let config = dir + ".toml"
        defer {
            unlink(config)
            try? FileManager.default.removeItem(atPath: dir)
            try? FileManager.default.removeItem(atPath: state)
        }
        let head = "runtime_directory = \"\(dir)\"\nstate_directory = \"\(state)\"\n"
        var files = Self.hostileFiles(head: head, tenants: ["t1"], scratch: scratch)
        // A NUL used to cut the path short: mused made and used the directory before it.
        files.append(Hostile(name: "NUL in the state directory",
                             text: "runtime_directory = \"\(dir)\"\nstate_directory = \"\(state)\\u0000.x\"\n" + Self.tenant("t1"),
                             line: 2, key: "state_directory", reason: "control character U+0000"))
        for file in files {
            try file.text.write(toFile: config, atomically: true, encoding: .utf8)
            let started = Date()
            // A mused that wrongly starts is stopped after a few seconds.
            let child = try Child(Harness.mused, ["--config", config])
            let status = child.wait(seconds: 5)
            #expect(status != nil && status != 0 && child.output.contains(file.expected(config))
                    && child.output.contains(file.reason),
                    "\(file.name): exit \(status.map(String.init) ?? "none"): \(child.output.prefix(2000))")
            #expect(Date().timeIntervalSince(started) < 2, "\(file.name): refused after \(Date().timeIntervalSince(started)) s")
            #expect((try? FileManager.default.contentsOfDirectory(atPath: dir)) == [], "\(file.name) left files in \(dir)")
            #expect(!FileManager.default.fileExists(atPath: state), "\(file.name) made the state directory")
            try? FileManager.default.removeItem(atPath: state)
            for name in (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? [] { unlink("\(dir)/\(name)") }
        }
    }

    /// The tenants mused holds and their states, from `musectl tenants`.
    static func tenants(_ dir: String) throws -> [String] {
        let result = Harness.run(Self.musectl, ["tenants", "--runtime-dir", dir, "--json"])
        try #require(result.status == 0, "\(result.output)")
        let tenants = try TenantLifecycleTests.json(result.output)["tenants"] as? [[String: Any]]
        return (tenants ?? []).map { "\($0["name"] as? String ?? "?"):\($0["state"] as? String ?? "?")" }
    }

    /// Each hostile file is refused by `musectl reload` and by SIGHUP with its
    /// file, line and key; nothing is applied, t1's stream loses nothing, and
    /// `musectl status` answers within a second while the reload runs.
    @Test func aHostileReloadIsRefusedAndChangesNothing() throws {
        let scratch = try Self.scratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let dir = Harness.runtimeDirectory()
        let config = dir + ".toml"
        defer { unlink(config) }
        let head = "workers = 2\n"
        try (head + Self.tenant("t1") + Self.tenant("t2")).write(toFile: config, atomically: true, encoding: .utf8)
        let daemon = try DaemonUnderTest(tenants: [], runtimeDirectory: dir, arguments: ["--config", config])
        let t1 = try daemon.client("stream", "t1", ["1", "0", "32"])
        usleep(300_000)
        let serving = ["t1:serving", "t2:serving"]
        #expect(try Self.tenants(dir) == serving)

        // Applied, each would add a tenant and remove t2.
        for file in Self.hostileFiles(head: head, tenants: ["t1", "t3"], scratch: scratch) {
            try file.text.write(toFile: config, atomically: true, encoding: .utf8)
            let started = Date()
            let reload = try Child(Self.musectl, ["reload", "--runtime-dir", dir])
            let status = Harness.run(Self.musectl, ["status", "--runtime-dir", dir])
            let statusSeconds = Date().timeIntervalSince(started)
            #expect(status.status == 0, "\(file.name): status: \(status.output)")
            #expect(statusSeconds < 1, "\(file.name): status answered after \(statusSeconds) s")
            let exit = reload.wait(seconds: 30)
            #expect(Date().timeIntervalSince(started) < 1, "\(file.name): reload took \(Date().timeIntervalSince(started)) s")
            #expect(exit != nil && exit != 0 && reload.output.contains(file.expected(config))
                    && reload.output.contains(file.reason),
                    "\(file.name): \(reload.output.prefix(2000))")
            #expect(daemon.isRunning, "\(file.name): \(daemon.child.output.suffix(3000))")
            guard daemon.isRunning else { return }
            #expect(try Self.tenants(dir) == serving, "\(file.name)")
            #expect(FileManager.default.fileExists(atPath: "\(dir)/t2.muse"), "\(file.name)")
            #expect(try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".muse") }.sorted()
                    == ["t1.muse", "t2.muse"], "\(file.name)")
        }

        // SIGHUP reads the file on the signal thread: refused the same way.
        let deep = Self.hostileFiles(head: head, tenants: ["t1", "t3"], scratch: scratch)[0]
        try deep.text.write(toFile: config, atomically: true, encoding: .utf8)
        let started = Date()
        daemon.child.kill(SIGHUP)
        let status = Harness.run(Self.musectl, ["status", "--runtime-dir", dir])
        #expect(status.status == 0 && Date().timeIntervalSince(started) < 1, "\(status.output)")
        #expect(daemon.child.waitForOutput(containing: "signal=1 reason=\"\(deep.expected(config))", seconds: 10),
                "\(daemon.child.output.suffix(3000))")
        #expect(try Self.tenants(dir) == serving)

        // A good file still applies.
        try (head + Self.tenant("t1") + Self.tenant("t3")).write(toFile: config, atomically: true, encoding: .utf8)
        let reload = Harness.run(Self.musectl, ["reload", "--runtime-dir", dir])
        #expect(reload.status == 0, "\(reload.output)")
        #expect(try Self.tenants(dir) == ["t1:serving", "t3:serving"])

        t1.kill(SIGTERM)
        #expect(t1.wait(seconds: 30) == 0, "t1 lost or duplicated events: \(t1.output)")
        #expect(t1.output.contains("duplicates=0 lost=0 wrong=0"), "\(t1.output)")
    }
}
