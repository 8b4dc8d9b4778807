#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing

/// The client contract: each test reproduces a bug of the ABI 1.0 header
/// (the commit history has the report) and passes with the fix.
@Suite(.serialized)
struct ClientContractTests {
    /// Bug 1: threads sharing one muse_client claim at once. Every claim stays
    /// locked on its own file description, so mused never frees a live channel.
    @Test func threadsSharingAClientClaimSafely() throws {
        let daemon = try DaemonUnderTest(tenants: ["race::4:64"])
        let client = try daemon.client("claim-race", "race", ["40", "4"])
        #expect(client.wait(seconds: 60) == 0, "\(client.output)")
        let result = fields(client.output)
        #expect(result["unprotected"] == "0" && result["shared"] == "0" && result["failed"] == "0"
                && result["freed_by_daemon"] == "0", "\(client.output)")
    }

    /// Bug 2: the completion ring filling while muse_poll copies must still
    /// wake mused. The test client plays mused on a segment of its own.
    @Test func pollWakesTheDaemonWhenTheRingFilledDuringTheCopy() throws {
        let dir = Harness.runtimeDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let result = Harness.run(Harness.testClient, ["poll-wakeup", dir, "-"])
        #expect(result.status == 0 && fields(result.output)["doorbell_rung"] == "1", "\(result.output)")
    }

    /// Bug 6 (batch): a full ring and a malformed event are told apart.
    @Test func submitManyTellsAFullRingFromABadEvent() throws {
        let dir = Harness.runtimeDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let result = Harness.run(Harness.testClient, ["submit-many", dir, "-"])
        #expect(result.status == 0, "\(result.output)")
    }

    /// Bug 3: a child that never uses Muse does not keep the parent's channel;
    /// a child that tries is refused and cannot disturb the parent.
    @Test func aForkedChildDoesNotKeepItsParentsChannel() throws {
        let daemon = try DaemonUnderTest(tenants: ["forky::1:64"])
        let client = try daemon.client("fork-orphan", "forky")
        #expect(client.wait(seconds: 20) == 0, "\(client.output)")
        let result = fields(client.output)
        #expect(result["child_refused"] == "yes" && result["parent_kept"] == "yes" && result["reclaimed"] == "yes",
                "\(client.output)")
    }

    /// Bug 4: claim-release loops on a one-channel segment never find it taken;
    /// released with an event in flight, mused frees it on its next drain.
    @Test func aReleasedChannelIsReusableAtOnce() throws {
        let daemon = try DaemonUnderTest(tenants: ["churn::1:64"])
        let client = try daemon.client("churn", "churn", ["2000"])
        #expect(client.wait(seconds: 60) == 0, "\(client.output)")
        let result = fields(client.output)
        #expect(result["no_channel"] == "0" && result["gave_up"] == "0", "\(client.output)")
        #expect((Double(result["mean_reuse_ms"] ?? "") ?? .infinity) < 10, "\(client.output)")
    }

    /// Bug 5: a NaN score is an error status, never MUSE_OK; a NaN feature is
    /// a missing value, which the model handles (the built-in logistic
    /// regression imputes 0, so that event scores logistic(0) = 0.5).
    @Test func anOKCompletionAlwaysCarriesAFiniteScore() throws {
        let daemon = try DaemonUnderTest(tenants: ["nan::1:16"])
        let client = try daemon.client("bad-scores", "nan")
        #expect(client.wait(seconds: 20) == 0, "\(client.output)")
        #expect(fields(client.output)["statuses"] == "0,7,0,0", "\(client.output)")
    }

    /// Bug 6: muse_wait without a deadline returns once mused is gone.
    @Test func waitingForeverEndsWhenTheDaemonDies() throws {
        let daemon = try DaemonUnderTest(tenants: ["gone::1:16"])
        let client = try daemon.client("wait-forever", "gone")
        #expect(client.waitForOutput(containing: "waiting", seconds: 10))
        usleep(100_000)
        daemon.kill() // SIGKILL: the state still says serving; only the heartbeat stops
        #expect(client.wait(seconds: 10) == 0, "\(client.output)")
        let result = fields(client.output)
        #expect(result["wait"] != nil && (Int(result["after_ms"] ?? "") ?? .max) < 5000, "\(client.output)")
    }

    /// Bug 6 (example): the example gives up when mused is down, and names
    /// non-system failures with muse_strerror, not a stale errno.
    @Test func theExampleGivesUpWhenTheDaemonIsDownAndExplainsFailures() throws {
        let daemon = try DaemonUnderTest(tenants: ["down::1:16"])
        #expect(daemon.stop() == 0)
        let dir = Harness.runtimeDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let example = Harness.packageRoot.appending(path: "examples/score_events.c").path
        let built = Harness.run("/usr/bin/env", ["cc", "-std=c11", "-O2", "-I", Harness.header.path, example,
                                                 "-o", "\(dir)/example", "-lm"])
        try #require(built.status == 0, "\(built.output)")
        let run = try Child("\(dir)/example", [daemon.runtimeDirectory, "down", "10"])
        let status = run.wait(seconds: 20)
        #expect(status == 1, "the example should give up, not loop: \(run.output)")
        #expect(run.output.contains("giving up"), "\(run.output)")
        // A file that is not a segment: the message is muse_strerror's, no errno text.
        try Data(repeating: 0x41, count: 8192).write(to: URL(filePath: "\(dir)/junk.muse"))
        let junk = Harness.run("\(dir)/example", [dir, "junk", "10"])
        #expect(junk.status == 1 && junk.output.contains("not a Muse segment") && !junk.output.contains("Success"),
                "\(junk.output)")
    }

    /// The demo's client (examples/demo_tenant.c): it builds warning-free;
    /// `--rows` writes distinct events of a mix, missing features as often as
    /// the mix says; against mused's embedded default it reports, per
    /// generation and threshold, an alert rate whose printed error is
    /// sqrt(p(1 − p)/n), a higher threshold alerting no more; SIGTERM ends
    /// its stream early with a report.
    @Test func theDemoClientReportsPerGenerationFigures() throws {
        let daemon = try DaemonUnderTest(tenants: [])
        let dir = Harness.runtimeDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let source = Harness.packageRoot.appending(path: "examples/demo_tenant.c").path
        let built = Harness.run("/usr/bin/env", ["cc", "-std=c11", "-O2", "-Wall", "-Wextra", "-Wpedantic", "-Werror",
                                                 "-I", Harness.header.path, source, "-o", "\(dir)/demo_tenant", "-lm"])
        try #require(built.status == 0, "\(built.output)")

        let distinct = Harness.run("\(dir)/demo_tenant", ["--rows", "0.1:1.5:0", "7", "2000", "a", "b", "c"])
        #expect(Set(distinct.output.split(separator: "\n").dropFirst()).count == 2000, "every event is new")
        let rows = Harness.run("\(dir)/demo_tenant", ["--rows", "0.1:1.5:0.2", "7", "2000", "a", "b", "c"])
        let lines = rows.output.split(separator: "\n")
        #expect(rows.status == 0 && lines.first == "a,b,c" && lines.count == 2001, "\(rows.output.prefix(200))")
        let missing = Double(lines.dropFirst().reduce(0) { $0 + $1.split(separator: ",").filter { $0 == "nan" }.count }) / 6000
        #expect(abs(missing - 0.2) < 0.03, "missing share \(missing)")
        #expect(Harness.run("\(dir)/demo_tenant", ["--rows", "2:0:0", "1", "10", "a"]).status == 2)

        let run = try Child("\(dir)/demo_tenant", [daemon.runtimeDirectory, "demo-a", "0.05:1.5:0.02", "1", "60",
                                                   "0.5818,0.7057", "4"])
        usleep(700_000)
        run.kill(SIGTERM)
        #expect(run.wait(seconds: 20) == 0, "\(run.output)")
        let line = run.output.split(separator: "\n").first { $0.hasPrefix("demo-a ") }.map(String.init) ?? ""
        // tenant gen events events/s p50 p99 p99.9, then per threshold: rate, ±error, raw rate.
        let fields = line.split(separator: " ").map(String.init)
        try #require(fields.count == 7 + 2 * 3, "\(run.output)")
        let events = Double(fields[2]) ?? 0
        #expect(fields[1] == "1" && events > 100, "\(run.output)")
        func percent(_ field: String) -> Double { Double(field.trimmingCharacters(in: CharacterSet(charactersIn: "±%"))) ?? .nan }
        let rates = [percent(fields[7]), percent(fields[10])]
        for (i, rate) in rates.enumerated() {
            let p = rate / 100, stated = percent(fields[8 + 3 * i]) / 100
            #expect(rate >= 0 && rate <= 100 && percent(fields[9 + 3 * i]) >= 0, "\(line)")
            #expect(abs(stated - (p * (1 - p) / events).squareRoot()) < 0.00006, "\(line)")
        }
        #expect(rates[1] <= rates[0], "\(line)")
    }

    /// ABI 1.1: a client places features by name and checks its order.
    @Test func featuresAreLookedUpByNameAndTheOrderIsChecked() throws {
        let daemon = try DaemonUnderTest(tenants: ["schema::1:16"])
        let client = try daemon.client("schema", "schema")
        #expect(client.wait(seconds: 20) == 0, "\(client.output)")
    }

    /// An ABI 1.0 client (built with the 1.0 header) works with this mused.
    @Test func anABI10ClientKeepsWorking() throws {
        let daemon = try DaemonUnderTest(tenants: ["legacy::2:64"])
        let client = try Child(Harness.testClientABI10, ["stream", daemon.runtimeDirectory, "legacy", "1", "100000"])
        #expect(client.wait(seconds: 60) == 0, "\(client.output)")
        let result = fields(client.output)
        #expect(result["answered"] == "100000" && result["lost"] == "0" && result["duplicates"] == "0"
                && result["wrong"] == "0", "\(client.output)")
    }

    /// libmuse.so: soname, versioned exports, usable through dlopen/dlvsym
    /// as a binding would; tools/install.sh installs it with a pkg-config file.
    @Test func libmuseExportsTheAPIWithVersionedSymbols() throws {
        let dir = Harness.runtimeDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let script = Harness.packageRoot.appending(path: "tools/build-libmuse.sh").path
        let built = Harness.run(script, ["\(dir)/lib"])
        try #require(built.status == 0, "\(built.output)")
        let library = "\(dir)/lib/lib/libmuse.so.1"
        let dynamic = Harness.run("/usr/bin/env", ["readelf", "-d", "--dyn-syms", "-W", library])
        #expect(dynamic.output.contains("Library soname: [libmuse.so.1]"), "\(dynamic.output)")
        #expect(dynamic.output.contains("muse_claim@@MUSE_1.0") && dynamic.output.contains("muse_lookup_feature@@MUSE_1.1")
                && dynamic.output.contains("muse_wait_idle@@MUSE_1.2") && dynamic.output.contains("muse_version@@MUSE_1.3"))
        // Nothing but the API is exported.
        let exported = dynamic.output.split(separator: "\n").filter { $0.contains(" GLOBAL ") && $0.contains(" DEFAULT ")
            && !$0.contains(" UND ") }
        #expect(exported.allSatisfy { $0.contains(" muse_") || $0.contains("MUSE_1.") }, "\(exported)")
        let smoke = Harness.packageRoot.appending(path: "Tests/EndToEndTests/clients/libmuse_smoke.c").path
        let compiled = Harness.run("/usr/bin/env", ["cc", "-std=c11", "-O2", "-Wall", "-Wextra", "-Werror", smoke,
                                                    "-o", "\(dir)/smoke", "-ldl", "-lm"])
        try #require(compiled.status == 0, "\(compiled.output)")
        let daemon = try DaemonUnderTest(tenants: ["lib::1:16"])
        let run = Harness.run("\(dir)/smoke", [library, daemon.runtimeDirectory, "lib"])
        #expect(run.status == 0 && run.output.contains("wrong=0"), "\(run.output)")
        // The library reports the release muse.h names, and its file carries it.
        let header = try String(contentsOf: Harness.header.appending(path: "muse.h"), encoding: .utf8)
        let release = try #require(header.firstMatch(of: /#define MUSE_VERSION_STRING "([0-9.]+)"/)?.1)
        #expect(run.output.contains("version=\(release)"), "\(run.output)")
        #expect(FileManager.default.fileExists(atPath: "\(dir)/lib/lib/libmuse.so.\(release)"))
        // (CMake's find_package(muse) is checked by tools/ci/cmake-check.sh:
        // cmake waits for SIGCHLD, which this test process keeps blocked.)
        // Installed under a prefix, found by pkg-config.
        let install = Harness.run(Harness.packageRoot.appending(path: "tools/install.sh").path, ["\(dir)/prefix"])
        try #require(install.status == 0, "\(install.output)")
        let flags = Harness.run("/usr/bin/env", ["PKG_CONFIG_PATH=\(dir)/prefix/lib/pkgconfig", "pkg-config",
                                                 "--cflags", "--libs", "muse"])
        #expect(flags.status == 0 && flags.output.contains("-I\(dir)/prefix/include") && flags.output.contains("-lmuse"),
                "\(flags.output)")
        #expect(FileManager.default.fileExists(atPath: "\(dir)/prefix/lib/libmuse.so.1")
                && FileManager.default.fileExists(atPath: "\(dir)/prefix/include/muse.h"))
    }
}
