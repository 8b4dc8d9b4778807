#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing

/// `muse_prepare`: a client says an event is coming so that a sleeping
/// worker is awake when it is submitted.
@Suite(.serialized)
struct PrepareTests {
    /// Never claimed, claimed, released, in a fork child, with mused killed
    /// and restarted meanwhile: every call returns without harm.
    @Test func prepareIsHarmlessFromEveryState() throws {
        let daemon = try DaemonUnderTest(tenants: ["prep::2:64"], arguments: ["--idle-policy", "low-power"])
        let client = try daemon.client("prepare-states", "prep", ["3"])
        usleep(700_000)
        daemon.kill()
        usleep(500_000)
        try daemon.restart()
        #expect(client.wait(seconds: 30) == 0, "\(client.output)")
        #expect(client.output.contains("ok=1 forked=1") && client.output.contains("released=1"), "\(client.output)")
        #expect(daemon.stop() == 0)
    }

    /// A prepare never followed by an event costs mused at most its spin
    /// budget: 40 prepares, 50 ms apart, against a worker spinning at most
    /// 1 ms, cost at most 40 ms of CPU and the daemon's own idle cost.
    @Test func aPrepareWithoutAnEventCostsAtMostOneSpinBudget() throws {
        let daemon = try DaemonUnderTest(tenants: ["prep::2:64"], arguments: ["--spin-us", "1000", "--workers", "1"])
        usleep(500_000)
        let before = Harness.cpuSeconds(daemon.child.pid)
        let client = try daemon.client("prepare-idle", "prep", ["40", "50"])
        #expect(client.wait(seconds: 30) == 0, "\(client.output)")
        let used = Harness.cpuSeconds(daemon.child.pid) - before
        // 40 spins of 1 ms, plus 2 s of an idle mused (housekeeping every
        // 50 ms: well under 1% of a core) and a tick of rounding.
        #expect(used <= 0.04 + 0.04 + 0.02, "mused used \(used) s of CPU for 40 prepares")
        #expect(daemon.stop() == 0)
    }
}
