#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing

/// Fair scheduling against a real mused and real C clients (clients/muse_fair_client.c):
/// weighted fair scheduling across tenants, rate limits answered
/// MUSE_E_OVERLOADED, and a doorbell ringer that costs the host little.
@Suite(.serialized)
struct FairSchedulingTests {
    static let client: String = {
        let out = FileManager.default.temporaryDirectory.appending(path: "muse-fair-client-\(getpid())").path
        let source = Harness.packageRoot.appending(path: "Tests/EndToEndTests/clients/muse_fair_client.c").path
        let result = Harness.run("/usr/bin/env", ["cc", "-std=c11", "-O2", "-Wall", "-Wextra", "-Wpedantic", "-Werror",
                                                 "-pthread", "-I", Harness.header.path, source, "-o", out, "-lm"])
        precondition(result.status == 0, "cannot build the fairness client:\n\(result.output)")
        return out
    }()

    /// A mused on `config` (TOML, tenants and workers; the runtime and state
    /// directories come from the harness).
    static func daemon(_ config: String) throws -> (DaemonUnderTest, String) {
        let work = Harness.runtimeDirectory()
        let path = "\(work)/mused.toml"
        try config.write(toFile: path, atomically: true, encoding: .utf8)
        return (try DaemonUnderTest(tenants: [], arguments: ["--config", path]), work)
    }

    static func run(_ daemon: DaemonUnderTest, _ arguments: [String]) throws -> Child {
        try Child(client, [arguments[0], daemon.runtimeDirectory] + arguments.dropFirst())
    }

    static func number(_ output: String, _ key: String) -> Double {
        Double(fields(output.split(separator: "\n").last.map(String.init) ?? "")[key] ?? "") ?? -1
    }

    /// One worker serves a tenant keeping 1,024 rings full at full speed and
    /// a modest tenant sending 10,000 events/s, one at a time. The modest
    /// tenant's p99 (submission to completion, measured by its client) must
    /// stay under `p99Bound`, and it is never refused although it has a rate
    /// limit (above what it sends).
    ///
    /// The bound. With the scheduler a modest event waits for at most one
    /// turn of the flooder, one batch (256 events here, ~0.5 ms in a debug
    /// mused), before its own. Everything above that is the operating
    /// system's: two shared cores carry the worker (always busy), the flooding
    /// client, the modest client that must be woken for each answer, and in
    /// CI the other end-to-end suites. On the development VM under a load
    /// average of 3-5 (other builds running) p99 measured 20-24 ms with this
    /// configuration, and up to 44 ms in other runs. 100 ms leaves room
    /// for a slower CI VM. Without the scheduler (each channel drained in turn
    /// for a batch, as before the scheduler), a modest event waits for a round of
    /// up to 1,024 batches, and the same runs measured p99 = 673-679 ms: the
    /// test fails there by a factor of almost seven.
    static let p99Bound = 100_000.0

    @Test func aFloodingTenantCannotStarveAModestOne() throws {
        let (daemon, work) = try Self.daemon("""
            workers = 1
            batch_size = 256
            [[tenant]]
            name = "flood"
            channels = 1024
            ring_depth = 256
            max_features = 16
            [[tenant]]
            name = "modest"
            channels = 1
            max_features = 16
            rate_limit = { events_per_second = 50000, burst = 1000 }
            """)
        defer { try? FileManager.default.removeItem(atPath: work) }
        let flood = try Self.run(daemon, ["flood", "flood", "1024", "5"])
        usleep(500_000)
        let modest = try Self.run(daemon, ["paced", "modest", "10000", "3"])
        #expect(modest.wait(seconds: 60) == 0, "\(modest.output)")
        #expect(flood.wait(seconds: 60) == 0, "\(flood.output)")
        let p99 = Self.number(modest.output, "p99_us")
        #expect(p99 >= 0 && p99 <= Self.p99Bound, "modest tenant: \(modest.output)")
        #expect(Self.number(modest.output, "answered") == 30000, "\(modest.output)")
        #expect(Self.number(modest.output, "overloaded") == 0 && Self.number(modest.output, "other") == 0,
                "\(modest.output)")
        // The flooder was really flooding while the modest tenant ran.
        #expect(Self.number(flood.output, "answered") > 100_000, "\(flood.output)")
        #expect(daemon.stop() == 0, "\(daemon.logs)")
    }

    /// A tenant limited to 2,000 events/s (burst 200) floods two channels that
    /// sit on two different workers for 2 s: what is over the limit is
    /// answered MUSE_E_OVERLOADED (NaN scores), in order, each event exactly
    /// once, and the limit holds for the tenant as a whole (one bucket shared
    /// by both workers, not one each).
    @Test func aTenantOverItsRateLimitIsAnsweredOverloaded() throws {
        let (daemon, work) = try Self.daemon("""
            workers = 2
            [[tenant]]
            name = "limited"
            channels = 2
            max_features = 16
            rate_limit = { events_per_second = 2000, burst = 200 }
            """)
        defer { try? FileManager.default.removeItem(atPath: work) }
        let flood = try Self.run(daemon, ["flood", "limited", "2", "2"])
        #expect(flood.wait(seconds: 60) == 0, "\(flood.output)")
        let ok = Self.number(flood.output, "ok"), overloaded = Self.number(flood.output, "overloaded")
        let seconds = Self.number(flood.output, "seconds")
        #expect(overloaded > ok, "\(flood.output)")
        #expect(ok >= 2000 * 1.5 && ok <= 2000 * seconds + 200 + 200, "\(flood.output)")
        #expect(Self.number(flood.output, "answered") == Self.number(flood.output, "sent"), "\(flood.output)")
        #expect(daemon.stop() == 0, "\(daemon.logs)")
        // The operator sees it in the log: about a line a second, not one per refusal.
        let lines = daemon.logs.split(separator: "\n").filter { $0.contains("event=tenant-over-rate-limit") }
        #expect(!lines.isEmpty && lines.count <= Int(seconds) + 2, "\(lines)")
        #expect(lines.allSatisfy { $0.contains("tenant=limited") && $0.contains("events_per_second=2000") }, "\(lines)")
    }

    /// A client ringing its daemon doorbell in a loop with nothing submitted
    /// keeps waking the worker. Before the mute, each wake meant a look at
    /// every channel and more spinning: with 257 channels on the worker, main
    /// measured 22-32% of a core spent on the ringer (~100% with 1,000+
    /// channels). Now a segment that wakes the worker with no work behind it
    /// is left out of the wait set for a while: ~2-3% measured in a release
    /// build; 10-13% in this debug build on a quiet 2-vCPU VM, where each
    /// of the ~2,000 wakes a second that the mutes still allow looks at all
    /// 257 channels twice. The bound, 16% of a core, fails for the old
    /// daemon and leaves that room. Measured with only the ringer running, as
    /// serving real traffic costs CPU of its own; then another tenant is
    /// served while the ringing goes on, none of its events refused.
    @Test func aDoorbellRingerCostsTheHostLittle() throws {
        let (daemon, work) = try Self.daemon("""
            workers = 1
            [[tenant]]
            name = "ringer"
            channels = 1
            [[tenant]]
            name = "quiet"
            channels = 256
            max_features = 16
            """)
        defer { try? FileManager.default.removeItem(atPath: work) }
        let ringer = try Self.run(daemon, ["ring", "ringer", "4"])
        usleep(300_000)
        let before = Harness.cpuSeconds(daemon.child.pid), start = Date()
        usleep(2_000_000)
        let used = Harness.cpuSeconds(daemon.child.pid) - before, elapsed = Date().timeIntervalSince(start)
        let quiet = try Self.run(daemon, ["paced", "quiet", "1000", "1"])
        #expect(quiet.wait(seconds: 60) == 0, "\(quiet.output)")
        #expect(ringer.wait(seconds: 60) == 0, "\(ringer.output)")
        #expect(Self.number(quiet.output, "answered") == 1000 && Self.number(quiet.output, "ok") == 1000,
                "\(quiet.output)")
        #expect(Self.number(ringer.output, "rings") > 10_000, "\(ringer.output)")
        #expect(before >= 0 && used < 0.16 * elapsed,
                "mused used \(used) s of CPU in \(elapsed) s while a client rang: \(ringer.output)")
        #expect(daemon.stop() == 0, "\(daemon.logs)")
    }
}
