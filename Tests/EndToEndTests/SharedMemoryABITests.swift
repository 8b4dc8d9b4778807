#if canImport(Glibc)
import Glibc
#endif
import CMuse
import Foundation
import Testing

/// muse.h against a real mused, through real C client processes.
@Suite(.serialized)
struct SharedMemoryABITests {
    @Test func headerCompilesAsStrictC11AndCxx17() throws {
        let dir = Harness.runtimeDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let source = "#include \"muse.h\"\nint main(void) { return muse_strerror(MUSE_OK)[0] == 'o' ? 0 : 1; }\n"
        try source.write(toFile: "\(dir)/t.c", atomically: true, encoding: .utf8)
        try source.write(toFile: "\(dir)/t.cpp", atomically: true, encoding: .utf8)
        let include = ["-I", Harness.header.path]
        let c = Harness.run("/usr/bin/env", ["gcc", "-std=c11", "-Wall", "-Wextra", "-Wpedantic", "-Werror"]
                            + include + ["\(dir)/t.c", "-o", "\(dir)/t"])
        #expect(c.status == 0, "\(c.output)")
        let cxx = Harness.run("/usr/bin/env", ["g++", "-std=c++17", "-Wall", "-Wextra", "-Wpedantic", "-Werror"]
                              + include + ["\(dir)/t.cpp", "-o", "\(dir)/tpp"])
        #expect(cxx.status == 0, "\(cxx.output)")
        let example = Harness.packageRoot.appending(path: "examples/score_events.c").path
        let built = Harness.run("/usr/bin/env", ["gcc", "-std=c11", "-Wall", "-Wextra", "-Wpedantic", "-Werror"]
                                + include + [example, "-o", "\(dir)/example", "-lm"])
        #expect(built.status == 0, "\(built.output)")
        // The natural use of muse_wait is clean under gcc -O2 -Wmaybe-uninitialized:
        // MUSE_OK always comes with at least one completion written.
        let natural = """
            #include "muse.h"
            double use(uint64_t tag, int status, double score);
            double first(muse_channel *ch, int64_t timeout) {
                muse_completion done[8];
                size_t n;
                if (muse_wait(ch, done, 8, &n, timeout) == MUSE_OK) return use(done[0].tag, done[0].status, done[0].score);
                return 0;
            }
            int main(int argc, char **argv) {
                muse_client c;
                muse_channel ch;
                if (argc < 2 || muse_open(&c, argv[1]) != MUSE_OK || muse_claim(&c, &ch) != MUSE_OK) return 1;
                return (int)first(&ch, argc > 2 ? -1 : 1000000);
            }
            double use(uint64_t tag, int status, double score) { return (double)tag + status + score; }

            """
        try natural.write(toFile: "\(dir)/natural.c", atomically: true, encoding: .utf8)
        for level in ["-O2", "-O3"] {
            let clean = Harness.run("/usr/bin/env", ["gcc", "-std=c11", level, "-Wall", "-Wextra", "-Wmaybe-uninitialized",
                                                     "-Werror"] + include + ["\(dir)/natural.c", "-o", "\(dir)/natural"])
            #expect(clean.status == 0, "\(clean.output)")
        }
        // A system header before muse.h: fine in the compilers' default modes,
        // in C++, and with _DEFAULT_SOURCE; in strict ISO C, where nothing can
        // add the POSIX declarations afterwards, a clear message. And a
        // completion's int32_t status goes to muse_strerror without a cast in C++.
        let late = """
            #include <stdio.h>
            #include "muse.h"
            int main(void) {
                muse_completion d[1];
                d[0].status = MUSE_E_BAD_SCORE;
                return puts(muse_strerror(d[0].status)) < 0;
            }

            """
        try late.write(toFile: "\(dir)/late.c", atomically: true, encoding: .utf8)
        for compiler in [["gcc", "-std=gnu11"], ["gcc", "-std=c11", "-D_DEFAULT_SOURCE"], ["g++", "-x", "c++", "-std=c++17"],
                         ["clang", "-std=gnu17"]] {
            let built = Harness.run("/usr/bin/env", compiler + ["-Wall", "-Wextra", "-Wpedantic", "-Werror", "-c"] + include
                                    + ["\(dir)/late.c", "-o", "\(dir)/late.o"])
            #expect(built.status == 0, "\(compiler): \(built.output)")
        }
        let strict = Harness.run("/usr/bin/env", ["gcc", "-std=c11", "-c"] + include + ["\(dir)/late.c", "-o", "\(dir)/late.o"])
        #expect(strict.status != 0 && strict.output.contains("include muse.h first, or compile with -D_DEFAULT_SOURCE"),
                "\(strict.output)")
    }

    @Test func exampleClientExchangesEventsWithTheDaemon() throws {
        let daemon = try DaemonUnderTest(tenants: ["shop::2:64"])
        let dir = Harness.runtimeDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let example = Harness.packageRoot.appending(path: "examples/score_events.c").path
        let built = Harness.run("/usr/bin/env", ["cc", "-std=c11", "-O2", "-I", Harness.header.path, example,
                                                 "-o", "\(dir)/example", "-lm"])
        try #require(built.status == 0, "\(built.output)")
        let result = Harness.run("\(dir)/example", [daemon.runtimeDirectory, "shop", "1000"])
        #expect(result.status == 0, "\(result.output)")
        #expect(result.output.contains("answered 1000 of 1000"), "\(result.output)")
    }

    @Test(arguments: Harness.idlePolicies)
    func everyEventIsAnsweredOnceInItsOwnChannelAcrossClientsAndTenants(idlePolicy: String) throws {
        // Depth 64 and 32 with 300k events each: every ring wraps thousands of times.
        let daemon = try DaemonUnderTest(tenants: ["alpha::4:64", "beta::2:32"], arguments: ["--idle-policy", idlePolicy])
        let count = "300000"
        // Each client waits under another client policy (muse_wait_idle).
        let clients = try [("alpha", 1), ("alpha", 2), ("alpha", 3), ("beta", 4), ("beta", 5)].map { tenant, id in
            try daemon.client("stream", tenant, [String(id), count, "0", Harness.clientIdlePolicies[id - 1]])
        }
        for client in clients {
            let status = client.wait(seconds: 120)
            #expect(status == 0, "\(client.output)")
            let result = fields(client.output)
            #expect(result["answered"] == count && result["duplicates"] == "0" && result["lost"] == "0"
                    && result["wrong"] == "0" && result["foreign"] == "0", "\(client.output)")
        }
    }

    @Test func aFullRingPushesBackWithoutLosingEvents() throws {
        let daemon = try DaemonUnderTest(tenants: ["gamma::1:16"])
        let client = try daemon.client("backpressure", "gamma")
        #expect(client.wait(seconds: 30) == 0, "\(client.output)")
        // Submission stops at exactly both rings' capacity, and all come back.
        let result = fields(client.output)
        #expect(result["accepted"] == "32" && result["answered"] == "32" && result["bad"] == "0", "\(client.output)")
    }

    @Test func malformedEventsAreAnsweredWithAStatus() throws {
        let daemon = try DaemonUnderTest(tenants: ["delta::1:16"])
        let client = try daemon.client("malformed", "delta")
        #expect(client.wait(seconds: 30) == 0, "\(client.output)")
        #expect(daemon.isRunning)
    }

    @Test func aKilledClientsChannelIsReclaimedWithinASecondAndOthersNoticeNothing() throws {
        let daemon = try DaemonUnderTest(tenants: ["kappa::2:64"])
        let survivor = try daemon.client("stream", "kappa", ["1", "0"])
        let victim = try daemon.client("stream", "kappa", ["2", "0"])
        usleep(300_000) // both mid-stream
        victim.kill(SIGKILL)
        victim.waitForExit()
        // The segment has two channels; the survivor holds one, so this claim
        // succeeds only once the victim's channel is reclaimed.
        let newcomer = try daemon.client("claim", "kappa", ["3000"])
        #expect(newcomer.wait(seconds: 10) == 0, "\(newcomer.output)")
        let milliseconds = Double(fields(newcomer.output)["after_ms"] ?? "") ?? .infinity
        #expect(milliseconds < 1000, "reclaim took \(milliseconds) ms")
        // The survivor streamed throughout; it stops on SIGTERM and checks
        // that every answer came back in order, correct, with no wait timing out.
        #expect(survivor.isRunning)
        survivor.kill(SIGTERM)
        #expect(survivor.wait(seconds: 30) == 0, "\(survivor.output)")
        let result = fields(survivor.output)
        #expect(result["timeouts"] == "0" && result["lost"] == "0" && (Int(result["answered"] ?? "") ?? 0) > 10_000,
                "\(survivor.output)")
    }

    @Test(arguments: Harness.idlePolicies)
    func aRestartedDaemonAnswersEverythingSubmittedBeforeDuringAndAfterItsOutage(idlePolicy: String) throws {
        let daemon = try DaemonUnderTest(tenants: ["omega::2:64", "sigma::2:64"], arguments: ["--idle-policy", idlePolicy])
        let count = "3000000"
        let clients = try [("omega", 1), ("omega", 2), ("sigma", 3)].map { tenant, id in
            try daemon.client("stream", tenant, [String(id), count])
        }
        usleep(300_000)
        daemon.kill()
        for client in clients { #expect(client.isRunning, "a client ended during the outage: \(client.output)") }
        usleep(500_000) // clients keep submitting until their rings fill
        // Prove the outage had work in it: submissions no daemon has answered.
        let pending = try ["omega", "sigma"].map { try unansweredSubmissions(daemon.runtimeDirectory, $0) }
        #expect(pending.allSatisfy { $0 > 0 }, "nothing was submitted during the outage: \(pending)")
        try daemon.restart()
        for client in clients {
            #expect(client.wait(seconds: 180) == 0, "\(client.output)")
            let result = fields(client.output)
            #expect(result["answered"] == count && result["duplicates"] == "0" && result["lost"] == "0"
                    && result["wrong"] == "0", "\(client.output)")
            #expect(result["incarnations"] == "1", "the client should have seen one new incarnation: \(client.output)")
        }
        #expect(daemon.stop() == 0)
        #expect(daemon.logs.contains("event=segment-adopted tenant=omega"))
    }

    @Test(arguments: Harness.idlePolicies)
    func aHostileClientHarmsNeitherTheDaemonNorOtherTenants(idlePolicy: String) throws {
        let daemon = try DaemonUnderTest(tenants: ["mallory::4:64", "honest::2:64"], arguments: ["--idle-policy", idlePolicy])
        let honest = try daemon.client("stream", "honest", ["7", "0"])
        let hostiles = try (1...2).map { seed in try daemon.client("hostile", "mallory", ["3", String(seed)]) }
        for hostile in hostiles { #expect(hostile.wait(seconds: 30) == 0, "\(hostile.output)") }
        #expect(daemon.isRunning, "mused died under hostile input")
        // The honest tenant streamed throughout the attack; every answer was checked.
        #expect(honest.isRunning)
        honest.kill(SIGTERM)
        #expect(honest.wait(seconds: 30) == 0, "\(honest.output)")
        let result = fields(honest.output)
        #expect(result["wrong"] == "0" && result["duplicates"] == "0" && result["lost"] == "0"
                && result["foreign"] == "0" && (Int(result["answered"] ?? "") ?? 0) > 10_000, "\(honest.output)")
        // Still serving, and shuts down cleanly.
        let after = try daemon.client("stream", "honest", ["8", "10000"])
        #expect(after.wait(seconds: 30) == 0, "\(after.output)")
        #expect(daemon.stop() == 0, "\(daemon.logs)")
    }

    @Test func aClientTruncatingItsSegmentLosesItsOwnTenantOnly() throws {
        let daemon = try DaemonUnderTest(tenants: ["mallory::2:64", "honest::2:64"])
        let honest = try daemon.client("stream", "honest", ["9", "0"])
        let victimOfItself = try daemon.client("stream", "mallory", ["10", "0"])
        usleep(200_000)
        let truncate = try daemon.client("truncate", "mallory")
        #expect(truncate.wait(seconds: 10) == 0, "\(truncate.output)")
        usleep(300_000)
        #expect(daemon.isRunning, "mused died of SIGBUS")
        #expect(honest.isRunning)
        honest.kill(SIGTERM)
        #expect(honest.wait(seconds: 30) == 0, "\(honest.output)")
        let result = fields(honest.output)
        #expect(result["wrong"] == "0" && result["lost"] == "0" && result["timeouts"] == "0", "\(honest.output)")
        victimOfItself.kill(SIGKILL)
        #expect(daemon.stop() == 0)
        #expect(daemon.logs.contains("event=segment-truncated tenant=mallory"), "\(daemon.logs)")
    }

    // Dropping privileges needs root; CI runs the tests as root.
    @Test(.enabled(if: getuid() == 0, "switching to an unprivileged uid needs root"))
    func onlyTheTenantsGroupCanOpenItsSegment() throws {
        let group = "4242" // any gid the unprivileged uid lacks
        let daemon = try DaemonUnderTest(tenants: ["private:\(group):2:16"])
        var info = stat()
        #expect(stat("\(daemon.runtimeDirectory)/private.muse", &info) == 0)
        #expect(info.st_mode & 0o777 == 0o660 && info.st_gid == 4242)
        let outsider = Harness.run("/usr/bin/setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups",
                                                        Harness.testClient, "open", daemon.runtimeDirectory, "private"])
        #expect(outsider.status == 3 && outsider.output.contains("Permission denied"), "\(outsider.output)")
        let member = Harness.run("/usr/bin/setpriv", ["--reuid=65534", "--regid=65534", "--groups=\(group)",
                                                      Harness.testClient, "open", daemon.runtimeDirectory, "private"])
        #expect(member.status == 0, "\(member.output)")
    }
}

/// Submissions in `tenant`'s segment that no daemon has answered yet, summed
/// over its channels, read through muse.h as a client would.
func unansweredSubmissions(_ runtimeDirectory: String, _ tenant: String) throws -> UInt64 {
    var client = muse_client()
    let status = muse_open_tenant(&client, runtimeDirectory, tenant)
    try #require(status == MUSE_OK, "cannot open \(tenant): \(String(cString: muse_strerror(Int32(bitPattern: status.rawValue))))")
    defer { muse_close(&client) }
    var total: UInt64 = 0
    for i in 0..<client.channel_count {
        let control = muse_channel_at(client.base, client.channels_offset, client.channel_stride, i)!
        total += muse__atomic_load_acquire_u64(&control.pointee.sq_tail) &- muse__atomic_load_acquire_u64(&control.pointee.cq_tail)
    }
    return total
}
