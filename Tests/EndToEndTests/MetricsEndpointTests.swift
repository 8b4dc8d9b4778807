#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing

/// The metrics endpoint of a real mused: started from a config
/// file with `metrics_address`, fed by C clients of two tenants, driven by
/// musectl, scraped over TCP and parsed.
@Suite(.serialized)
struct MetricsEndpointTests {
    /// A loopback port nobody listens on now (the kernel's pick, released).
    static func freePort() -> UInt16 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        _ = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return UInt16(bigEndian: address.sin_port)
    }

    /// One HTTP/1.1 GET over a plain TCP socket: (status line, body).
    static func get(port: UInt16, _ path: String) throws -> (status: String, body: String) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw POSIXError(.ECONNREFUSED) }
        let request = Array("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".utf8)
        _ = request.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        var answer = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { break }
            answer += buffer[0..<n]
        }
        let text = String(decoding: answer, as: UTF8.self)
        guard let split = text.range(of: "\r\n\r\n") else { return (text, "") }
        let status = text[..<split.lowerBound].split(separator: "\r\n").first.map(String.init) ?? ""
        return (status, String(text[split.upperBound...]))
    }

    /// The exposition text's samples, `name{labels}` → value; every
    /// non-comment line must parse as one.
    static func parse(_ body: String) -> [String: Double] {
        var samples: [String: Double] = [:]
        for line in body.split(separator: "\n") where !line.hasPrefix("#") {
            let space = line.lastIndex(of: " ")
            let value = space.flatMap { Double(line[line.index(after: $0)...]) }
            #expect(value != nil, "unparsable sample line: \(line)")
            if let space, let value { samples[String(line[..<space])] = value }
        }
        return samples
    }

    /// Scrapes until `done` holds (the counters trail the answers by nanoseconds).
    static func scrape(port: UInt16, until done: ([String: Double]) -> Bool) throws -> [String: Double] {
        var samples: [String: Double] = [:]
        for _ in 0..<50 {
            let (status, body) = try get(port: port, "/metrics")
            #expect(status == "HTTP/1.1 200 OK")
            samples = parse(body)
            if done(samples) { break }
            usleep(50_000)
        }
        return samples
    }

    /// One raw request over a plain TCP socket: the whole answer, unparsed.
    static func exchange(port: UInt16, _ request: String) throws -> String {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw POSIXError(.ECONNREFUSED) }
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let bytes = Array(request.utf8)
        _ = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        var answer = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { break }
            answer += buffer[0..<n]
        }
        return String(decoding: answer, as: UTF8.self)
    }

    /// HEAD gets GET's head without the body (monitoring probes use it);
    /// another method on /metrics gets 405 naming the ones allowed.
    @Test func headIsAnsweredLikeGetWithoutABody() throws {
        let port = Self.freePort()
        let dir = Harness.runtimeDirectory()
        let config = dir + ".toml"
        try "workers = 1\nmetrics_address = \"127.0.0.1:\(port)\"\n\n[[tenant]]\nname = \"bank-a\"\nchannels = 2\nring_depth = 64\n"
            .write(toFile: config, atomically: true, encoding: .utf8)
        defer { unlink(config) }
        let daemon = try DaemonUnderTest(tenants: [], runtimeDirectory: dir, arguments: ["--config", config])

        let head = try Self.exchange(port: port, "HEAD /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        let parts = head.components(separatedBy: "\r\n\r\n")
        let lines = parts[0].components(separatedBy: "\r\n")
        #expect(lines.first == "HTTP/1.1 200 OK", "\(head)")
        #expect(lines.contains("Content-Type: text/plain; version=0.0.4; charset=utf-8"), "\(head)")
        let length = lines.first { $0.hasPrefix("Content-Length: ") }.flatMap { Int($0.dropFirst(16)) }
        #expect((length ?? 0) > 0, "\(head)")
        #expect(parts.count == 2 && parts[1].isEmpty, "HEAD answered with a body: \(head)")

        let post = try Self.exchange(port: port, "POST /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n")
        #expect(post.hasPrefix("HTTP/1.1 405 Method Not Allowed\r\n") && post.contains("\r\nAllow: GET, HEAD\r\n"), "\(post)")
        let missing = try Self.exchange(port: port, "HEAD /nothing HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        #expect(missing.hasPrefix("HTTP/1.1 404 Not Found\r\n") && missing.hasSuffix("\r\n\r\n"), "\(missing)")
        #expect(try Self.get(port: port, "/metrics").status == "HTTP/1.1 200 OK")
        #expect(daemon.stop() == 0)
    }

    /// The endpoint listens where the operator says, not only on loopback:
    /// all IPv4 or all IPv6 addresses (a Kubernetes probe or a Prometheus on
    /// another host); the log says it is reachable from elsewhere.
    @Test func theEndpointListensOnAnyAddressConfigured() throws {
        for host in ["0.0.0.0", "[::]"] {
            let port = Self.freePort()
            let daemon = try DaemonUnderTest(tenants: ["any::1:32"], arguments: ["--metrics-address", "\(host):\(port)"])
            #expect(daemon.child.output.contains("event=metrics-serving address=\(host):\(port) port=\(port) loopback=false"),
                    "\(daemon.child.output)")
            // [::] also takes IPv4 connections (IPV6_V6ONLY is off by default).
            #expect(try Self.get(port: port, "/metrics").status == "HTTP/1.1 200 OK", "\(host)")
            #expect(daemon.stop() == 0)
        }
        let port = Self.freePort()
        let loopback = try DaemonUnderTest(tenants: ["any::1:32"], arguments: ["--metrics-address", "127.0.0.1:\(port)"])
        #expect(loopback.child.output.contains("event=metrics-serving address=127.0.0.1:\(port) port=\(port) loopback=true"),
                "\(loopback.child.output)")
        #expect(loopback.stop() == 0)
        // Still an address and a port, numeric.
        for bad in ["0.0.0.0", "example.com:9464", "::1:9464", "300.1.1.1:9464", "127.0.0.1:0"] {
            let refused = Harness.run(Harness.mused, ["--metrics-address", bad, "--tenant", "any"])
            #expect(refused.status != 0 && refused.output.contains("--metrics-address must be an IP address and port"),
                    "\(bad): \(refused.output)")
        }
    }

    /// The exposition as Prometheus's own checker sees it, with the build's
    /// versions (read from muse.h) and mused's process figures.
    @Test func theExpositionPassesPromtoolAndNamesTheBuildAndTheProcess() throws {
        let promtool = Harness.run("/usr/bin/env", ["sh", "-c", "command -v promtool"])
        try #require(promtool.status == 0, "no promtool: tools/install-deps.sh --test installs Debian's prometheus package")
        let port = Self.freePort()
        let launched = Date().timeIntervalSince1970
        let daemon = try DaemonUnderTest(tenants: ["prom-a::2:64"], arguments: ["--metrics-address", "127.0.0.1:\(port)"])
        let client = try daemon.client("stream", "prom-a", ["1", "500"])
        #expect(client.wait(seconds: 60) == 0, "\(client.output)")
        let (status, body) = try Self.get(port: port, "/metrics")
        #expect(status == "HTTP/1.1 200 OK")
        let s = Self.parse(body)
        let release = try VersionTests.header("MUSE_VERSION_STRING")
        let abi = try VersionTests.header("MUSE_ABI_MAJOR") + "." + VersionTests.header("MUSE_ABI_MINOR")
        #expect(s[#"muse_build_info{version="\#(release)",abi="\#(abi)",snapshot_format="1"}"#] == 1, "\(body)")
        let started = try #require(s["process_start_time_seconds"], "\(body)")
        #expect(abs(started - launched) < 10, "mused started at \(started), launched at \(launched)")
        #expect((s["process_cpu_seconds_total"] ?? 0) > 0)
        #expect((s["process_resident_memory_bytes"] ?? 0) > 1_048_576)
        #expect((s["process_virtual_memory_bytes"] ?? 0) >= s["process_resident_memory_bytes"] ?? 0)
        // stdio, the segment, its lock, the control socket and the metrics listener at least.
        #expect((s["process_open_fds"] ?? 0) >= 6 && (s["process_max_fds"] ?? 0) >= s["process_open_fds"] ?? 0)

        let file = daemon.runtimeDirectory + ".metrics"
        try body.write(toFile: file, atomically: true, encoding: .utf8)
        defer { unlink(file) }
        let check = Harness.run("/bin/sh", ["-c", "promtool check metrics < \"$0\"", file])
        #expect(check.status == 0 && check.output.isEmpty, "promtool check metrics: \(check.output)")
        #expect(daemon.stop() == 0)
    }

    /// /healthz: the workers progress; /readyz: every configured tenant is
    /// served. Both text, 200 or 503 with the reason, HEAD answered too.
    @Test func healthAndReadinessFollowTheWorkersAndTheTenants() throws {
        let port = Self.freePort()
        let dir = Harness.runtimeDirectory()
        let config = dir + ".toml"
        try "workers = 2\nmetrics_address = \"127.0.0.1:\(port)\"\n\n[[tenant]]\nname = \"h-a\"\nchannels = 2\nring_depth = 64\n\n[[tenant]]\nname = \"h-b\"\nchannels = 2\nring_depth = 64\n"
            .write(toFile: config, atomically: true, encoding: .utf8)
        defer { unlink(config) }
        let daemon = try DaemonUnderTest(tenants: [], runtimeDirectory: dir, arguments: ["--config", config])
        let live = try Self.get(port: port, "/healthz")
        #expect(live.status == "HTTP/1.1 200 OK" && live.body.hasPrefix("ok: 2 worker(s) progressing"), "\(live)")
        #expect(try Self.get(port: port, "/readyz") == ("HTTP/1.1 200 OK", "ready: generation 1 serves 2 tenant(s)\n"))
        for path in ["/healthz", "/readyz"] {
            let head = try Self.exchange(port: port, "HEAD \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            #expect(head.hasPrefix("HTTP/1.1 200 OK\r\n") && head.contains("Content-Type: text/plain; charset=utf-8\r\n")
                    && head.hasSuffix("\r\n\r\n"), "\(head)")
            let post = try Self.exchange(port: port, "POST \(path) HTTP/1.1\r\nContent-Length: 0\r\n\r\n")
            #expect(post.hasPrefix("HTTP/1.1 405 Method Not Allowed\r\n"), "\(post)")
        }

        // A drained tenant is not served: not ready, though alive; a reload serves it again.
        #expect(Harness.run(ControlSocketTests.musectl, ["drain", "h-b", "--runtime-dir", dir]).status == 0)
        #expect(try Self.get(port: port, "/readyz")
                == ("HTTP/1.1 503 Service Unavailable", "not ready: tenant h-b is drained (musectl reload serves it again)\n"))
        #expect(try Self.get(port: port, "/healthz").status == "HTTP/1.1 200 OK")
        #expect(Harness.run(ControlSocketTests.musectl, ["reload", "--runtime-dir", dir]).status == 0)
        #expect(try Self.get(port: port, "/readyz").status == "HTTP/1.1 200 OK")
        #expect(daemon.stop() == 0)

        // A worker that hangs (the test hook stalls worker 0 a second in) fails both, named.
        let stallPort = Self.freePort()
        let stallDir = Harness.runtimeDirectory()
        defer { try? FileManager.default.removeItem(atPath: stallDir); try? FileManager.default.removeItem(atPath: stallDir + ".state") }
        let stalled = try Child("/usr/bin/env", ["MUSE_TEST_STALL_WORKER_AFTER_MS=1000", Harness.mused, "--runtime-dir", stallDir,
                                                 "--state-dir", stallDir + ".state", "--tenant", "h-c::2:64", "--workers", "2",
                                                 "--metrics-address", "127.0.0.1:\(stallPort)"])
        defer { stalled.kill(SIGKILL); stalled.wait(seconds: 10) }
        try #require(stalled.waitForOutput(containing: "event=test-stall", seconds: 30), "\(stalled.output)")
        var answer = try Self.get(port: stallPort, "/healthz")
        let deadline = Date().addingTimeInterval(10)
        while answer.status == "HTTP/1.1 200 OK" && Date() < deadline {
            usleep(100_000)
            answer = try Self.get(port: stallPort, "/healthz")
        }
        #expect(answer.status == "HTTP/1.1 503 Service Unavailable" && answer.body.hasPrefix("stuck: worker 0 (last heartbeat ")
                && !answer.body.contains("worker 1"), "\(answer)")
        let ready = try Self.get(port: stallPort, "/readyz")
        #expect(ready.status == "HTTP/1.1 503 Service Unavailable" && ready.body.contains("stuck: worker 0"), "\(ready)")
    }

    @Test func aScrapeCountsWhatTwoTenantsSentAndSeesASwap() throws {
        let port = Self.freePort()
        let dir = Harness.runtimeDirectory()
        let config = dir + ".toml"
        func writeConfig(_ tenants: [String]) throws {
            try (["workers = 2", "metrics_address = \"127.0.0.1:\(port)\""]
                 + tenants.map { "[[tenant]]\nname = \"\($0)\"\nchannels = 2\nring_depth = 64" })
                .joined(separator: "\n\n").write(toFile: config, atomically: true, encoding: .utf8)
        }
        try writeConfig(["bank-a", "shop-b"])
        defer { unlink(config) }
        let daemon = try DaemonUnderTest(tenants: [], runtimeDirectory: dir, arguments: ["--config", config])
        #expect(daemon.child.output.contains("event=metrics-serving address=127.0.0.1:\(port)"))

        // bank-a: two clients of 1500 and 500 events; shop-b: one of 700 and
        // the bad-scores client (3 OK, 1 MUSE_E_BAD_SCORE).
        let clients = [try daemon.client("stream", "bank-a", ["1", "1500", "8"]),
                       try daemon.client("stream", "bank-a", ["2", "500"]),
                       try daemon.client("stream", "shop-b", ["3", "700", "1"])]
        // Scrapes while the workers serve (the ThreadSanitizer stage runs this against a TSan mused).
        var during = 0.0
        for _ in 0..<5 {
            let (status, body) = try Self.get(port: port, "/metrics")
            #expect(status == "HTTP/1.1 200 OK")
            let now = Self.parse(body)[String(format: #"muse_events_total{tenant="%@",intent="card-not-present",status="ok"}"#, "bank-a")] ?? 0
            #expect(now >= during && now <= 2000)
            during = now
            usleep(20_000)
        }
        for client in clients { #expect(client.wait(seconds: 60) == 0, "\(client.output)") }
        let bad = try daemon.client("bad-scores", "shop-b")
        #expect(bad.wait(seconds: 20) == 0, "\(bad.output)")

        let events = #"muse_events_total{tenant="%@",intent="card-not-present",status="%@"}"#
        func key(_ tenant: String, _ status: String) -> String {
            String(format: events, tenant, status)
        }
        var s = try Self.scrape(port: port) { $0[key("shop-b", "bad_score")] == 1 && $0[key("bank-a", "ok")] == 2000 }
        #expect(s[key("bank-a", "ok")] == 2000)
        #expect(s[key("shop-b", "ok")] == 703)
        #expect(s[key("shop-b", "bad_score")] == 1)
        #expect(s.keys.filter { $0.hasPrefix("muse_events_total{") }.count == 3, "\(s.keys.sorted())")
        // One observation per batch (per 8 batches for latency); the sizes add up to the events.
        #expect(s[#"muse_batch_size_events_sum{tenant="bank-a"}"#] == 2000)
        #expect(s[#"muse_batch_size_events_sum{tenant="shop-b"}"#] == 704)
        for tenant in ["bank-a", "shop-b"] {
            let batches = s[#"muse_batch_size_events_count{tenant="\#(tenant)"}"#] ?? 0
            #expect(batches > 0)
            let timed = s[#"muse_scoring_latency_seconds_count{tenant="\#(tenant)"}"#] ?? 0
            #expect(timed > 0 && timed <= batches)
            #expect(s[#"muse_ring_submissions_pending_events{tenant="\#(tenant)"}"#] == 0)
        }
        // shop-b's window-1 client makes single-event batches.
        #expect((s[#"muse_batch_size_events_bucket{tenant="shop-b",le="1.0"}"#] ?? 0) >= 600)
        #expect(s[#"muse_score_drift_events{tenant="bank-a",predictor="sum-card-not-present"}"#] == 2000)
        #expect(s[#"muse_score_drift_psi{tenant="bank-a",predictor="sum-card-not-present"}"#] != nil)
        #expect(s["muse_serving_generation"] == 1)
        #expect(s[#"muse_swaps_total{kind="swap",result="published"}"#] == 0)
        #expect(try Self.get(port: port, "/").status == "HTTP/1.1 404 Not Found")

        // A tenant a reload adds is counted under its own name; one it removes loses its ring gauges.
        try writeConfig(["bank-a", "wallet-c"])
        let reload = Harness.run(ControlSocketTests.musectl, ["reload", "--runtime-dir", dir])
        #expect(reload.status == 0, "\(reload.output)")
        let wallet = try daemon.client("stream", "wallet-c", ["4", "300"])
        #expect(wallet.wait(seconds: 60) == 0, "\(wallet.output)")
        s = try Self.scrape(port: port) { $0[key("wallet-c", "ok")] == 300 }
        #expect(s[key("wallet-c", "ok")] == 300)
        #expect(s[#"muse_ring_submissions_pending_events{tenant="wallet-c"}"#] == 0)
        #expect(s[#"muse_ring_submissions_pending_events{tenant="shop-b"}"#] == nil)
        #expect(s[key("shop-b", "ok")] == 703)

        // musectl: a refused swap, then a published one; status agrees.
        let junk = dir + ".junk"
        _ = FileManager.default.createFile(atPath: junk, contents: Data(repeating: 7, count: 100))
        defer { unlink(junk) }
        let refused = Harness.run(ControlSocketTests.musectl, ["swap", junk, "--runtime-dir", dir])
        #expect(refused.status != 0)
        let swap = Harness.run(ControlSocketTests.musectl, ["swap", SnapshotSwapTests.files.gen2, "--allow-schema-change",
                                                            "--runtime-dir", dir])
        #expect(swap.status == 0, "\(swap.output)")
        #expect(SnapshotSwapTests.servingGeneration(daemon) == 2)
        s = try Self.scrape(port: port) { $0["muse_serving_generation"] == 2 }
        #expect(s["muse_serving_generation"] == 2)
        #expect(s[#"muse_swaps_total{kind="swap",result="published"}"#] == 1)
        #expect(s[#"muse_swaps_total{kind="swap",result="refused"}"#] == 1)
        #expect(s[#"muse_swap_duration_seconds_count{kind="swap"}"#] == 2)
        // Counters survive the swap; the drift of the old generation is gone.
        #expect(s[key("bank-a", "ok")] == 2000)
        #expect(s[#"muse_score_drift_events{tenant="bank-a",predictor="sum-card-not-present"}"#] == nil)

        #expect(daemon.stop() == 0)
    }
}
