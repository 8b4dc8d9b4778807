#if canImport(Glibc)
import Glibc
#endif
import Foundation
import MuseIPC
import Testing
@testable import MuseServer

/// `/healthz` (the workers progress) and `/readyz` (a generation serves every
/// configured tenant), in process, over the daemon's own endpoint.
@Suite(.serialized)
struct HealthTests {
    init() { Log.muted.store(true, ordering: .relaxed) }

    /// A daemon on a private runtime directory with its endpoint on a port of the kernel's choice.
    static func daemon(_ dir: String, tenants: [String]) throws -> Daemon {
        var config = DaemonConfiguration(runtimeDirectory: "\(dir)/run",
                                         tenants: tenants.map { TenantConfiguration(name: $0, channels: 1, ringDepth: 32) },
                                         workers: 2)
        var address = try #require(MetricsAddress("127.0.0.1:9464"))
        address.port = 0
        config.metricsAddress = address
        let daemon = Daemon(configuration: config) { try GenerationSwapTests.generation(1, tenants: $0) }
        try daemon.start()
        return daemon
    }

    /// (status line, body) of `method path`.
    static func ask(_ daemon: Daemon, _ path: String, method: String = "GET") throws -> (status: String, body: String) {
        let answer = try MetricsTests.exchange(port: try #require(daemon.metricsPort), "\(method) \(path) HTTP/1.1\r\nHost: x\r\n\r\n")
        let parts = answer.components(separatedBy: "\r\n\r\n")
        return (parts[0].components(separatedBy: "\r\n")[0], parts.count > 1 ? parts[1] : "")
    }

    @Test func bothPassWhileTheDaemonServesAndNeitherWaitsForTheAdministrationLock() throws {
        let dir = GenerationSwapTests.runtimeDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let daemon = try Self.daemon(dir, tenants: ["a", "b"])
        defer { daemon.stop() }

        let live = try Self.ask(daemon, "/healthz")
        #expect(live.status == "HTTP/1.1 200 OK" && live.body.hasPrefix("ok: 2 worker(s) progressing"), "\(live)")
        let ready = try Self.ask(daemon, "/readyz")
        #expect(ready == ("HTTP/1.1 200 OK", "ready: generation 1 serves 2 tenant(s)\n"), "\(ready)")
        let head = try MetricsTests.exchange(port: try #require(daemon.metricsPort), "HEAD /readyz HTTP/1.1\r\n\r\n")
        #expect(head.hasPrefix("HTTP/1.1 200 OK\r\n") && head.contains("Content-Length: 39\r\n") && head.hasSuffix("\r\n\r\n"),
                "\(head)")
        #expect(try Self.ask(daemon, "/healthz", method: "POST").status == "HTTP/1.1 405 Method Not Allowed")

        // A swap, reload or drain holds the administration lock for seconds
        // at worst; the probes answer meanwhile.
        let holder = holdAdministrationLock(of: daemon, microseconds: 1_500_000)
        let started = Date()
        #expect(try Self.ask(daemon, "/healthz").status == "HTTP/1.1 200 OK")
        #expect(try Self.ask(daemon, "/readyz").status == "HTTP/1.1 200 OK")
        #expect(Date().timeIntervalSince(started) < 1, "the probes waited for the administration lock")
        while !holder.isFinished { usleep(1000) }
    }

    /// A worker whose heartbeat stopped is named; so is each tenant not served.
    @Test func aStuckWorkerFailsBothAndATenantNotServedFailsReadiness() throws {
        let dir = GenerationSwapTests.runtimeDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // A directory where y's segment file should be: y is refused at start, x serves.
        try FileManager.default.createDirectory(atPath: "\(dir)/run/y.muse", withIntermediateDirectories: true)
        chmod("\(dir)/run", 0o755)
        let daemon = try Self.daemon(dir, tenants: ["x", "y"])
        defer { daemon.stop() }

        let ready = try Self.ask(daemon, "/readyz")
        #expect(ready.status == "HTTP/1.1 503 Service Unavailable" && ready.body.hasPrefix("not ready: tenant y has no segment: "),
                "\(ready)")
        #expect(try Self.ask(daemon, "/healthz").status == "HTTP/1.1 200 OK")

        // Seen from three seconds on, no worker has beaten for longer than the bound.
        let later = ThreadSupport.monotonicNanoseconds() + 3_000_000_000
        let stuck = daemon.liveness(now: later)
        #expect(!stuck.passes && stuck.reason.hasPrefix("stuck: worker 0 (last heartbeat ") && stuck.reason.contains("worker 1 (last heartbeat "),
                "\(stuck)")
        let notReady = daemon.readiness(now: later)
        #expect(!notReady.passes && notReady.reason.contains("stuck: worker 0"), "\(notReady)")
        #expect(daemon.liveness().passes)
    }

    @Test func aDrainedTenantFailsReadiness() throws {
        let dir = GenerationSwapTests.runtimeDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let daemon = try Self.daemon(dir, tenants: ["p", "q"])
        defer { daemon.stop() }
        _ = try daemon.retire(tenant: "q")
        let ready = try Self.ask(daemon, "/readyz")
        #expect(ready == ("HTTP/1.1 503 Service Unavailable", "not ready: tenant q is drained (musectl reload serves it again)\n"),
                "\(ready)")
        #expect(try Self.ask(daemon, "/healthz").status == "HTTP/1.1 200 OK")
    }
}
