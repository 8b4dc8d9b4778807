#if canImport(Glibc)
import Glibc
#endif
import Foundation
import MuseControl
import MuseCore
import MuseIPC
import MuseSnapshot
import Testing
@testable import MuseServer

/// The metrics cells workers count into, the exporter that sums them into
/// swift-prometheus, and the HTTP endpoint that serves the result.
@Suite(.serialized)
struct MetricsTests {
    init() { Log.muted.store(true, ordering: .relaxed) }

    static let tenants = ["acme", "globex"]

    /// `name{labels} value` lines of an exposition text, keyed by everything before the value.
    static func samples(_ text: String) -> [String: Double] {
        var result: [String: Double] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else { continue }
            result[String(line[..<space])] = value
        }
        return result
    }

    static func ok(_ score: Double, predictor: UInt32 = 1) -> Verdict {
        Verdict(status: .ok, score: score, rawScore: score, predictor: PredictorID(predictor), generation: GenerationID(1))
    }

    /// Two workers' cells, one written by a thread of its own while the
    /// exporter scrapes: every scrape is monotone, none counts twice, and the
    /// last one holds exactly the sum of what both workers counted.
    @Test func theExporterSumsTheWorkersCellsWithoutCountingTwice() throws {
        let serving = Serving(generation: try Generation.builtIn(tenants: Self.tenants), tenants: Self.tenants)
        let layout = MetricsLayout(tenants: Self.tenants, capacity: 4)
        let cells = [WorkerMetrics(layout: layout), WorkerMetrics(layout: layout)]
        let recorders = cells.map { $0.recorder(for: serving) }
        let exporter = MetricsExporter(layout: layout, cells: cells, segments: { [] }) { 1 }
        let intent = IntentID(1) // card-not-present
        let perWorker = 20_000
        let writer = Thread {
            for i in 0..<perWorker {
                recorders[1].answered(tenant: TenantIndex(0), intent: intent, verdict: Self.ok(Double(i % 10) / 10 + 0.05))
                if i % 8 == 7 { cells[1].recordBatch(tenant: 0, count: 8, nanoseconds: 8 * 400) }
            }
        }
        writer.start()
        var last = 0.0
        let key = #"muse_events_total{tenant="acme",intent="card-not-present",status="ok"}"#
        for i in 0..<perWorker {
            recorders[0].answered(tenant: TenantIndex(0), intent: intent, verdict: Self.ok(Double(i % 10) / 10 + 0.05))
            if i % 1000 == 0 {
                let now = Self.samples(String(decoding: exporter.render(), as: UTF8.self))[key] ?? 0
                #expect(now >= last)
                last = now
            }
        }
        recorders[0].answered(tenant: TenantIndex(1), intent: IntentID(999), verdict: .refused(.unknownIntent))
        recorders[0].answered(tenant: TenantIndex(1), intent: intent, verdict: .refused(.featureCount))
        cells[0].publishReclaims([(TenantIndex(1), 1), (TenantIndex(0), 0)])
        cells[0].recordBatch(tenant: 1, count: 2, nanoseconds: 2 * 3_000)
        while !writer.isFinished { usleep(1000) }
        let text = String(decoding: exporter.render(), as: UTF8.self)
        let s = Self.samples(text)
        #expect(s[key] == Double(2 * perWorker))
        #expect(s[#"muse_events_total{tenant="globex",intent="unknown",status="unknown_intent"}"#] == 1)
        #expect(s[#"muse_events_total{tenant="globex",intent="card-not-present",status="feature_count"}"#] == 1)
        #expect(s[#"muse_channels_reclaimed_total{tenant="globex"}"#] == 1)
        // Batches: counts and exact sums, in the right buckets.
        #expect(s[#"muse_batch_size_events_count{tenant="acme"}"#] == Double(perWorker / 8))
        #expect(s[#"muse_batch_size_events_sum{tenant="acme"}"#] == Double(perWorker))
        #expect(s[#"muse_batch_size_events_bucket{tenant="acme",le="4.0"}"#] == 0)
        #expect(s[#"muse_batch_size_events_bucket{tenant="acme",le="8.0"}"#] == Double(perWorker / 8))
        #expect(s[#"muse_scoring_latency_seconds_bucket{tenant="acme",le="2.5e-07"}"#] == 0)
        #expect(s[#"muse_scoring_latency_seconds_bucket{tenant="acme",le="5e-07"}"#] == Double(perWorker / 8))
        #expect(s[#"muse_scoring_latency_seconds_bucket{tenant="globex",le="2.5e-06"}"#] == 0)
        #expect(s[#"muse_scoring_latency_seconds_bucket{tenant="globex",le="5e-06"}"#] == 1)
        #expect(abs((s[#"muse_scoring_latency_seconds_sum{tenant="globex"}"#] ?? 0) - 3e-6) < 1e-12)
        #expect(s["muse_serving_generation"] == 1)
        #expect(text.contains("# TYPE muse_events_total counter"))
        #expect(text.contains("# TYPE muse_scoring_latency_seconds histogram"))
        // Drift: every decile got a tenth of acme's scores; the PSI is the shadows' formula.
        var expected = ShadowRecord()
        for i in 0..<(2 * perWorker) { expected.add(Double(i % 10) / 10 + 0.05, edges: Generation.uniformDeciles) }
        let drift = #"muse_score_drift_psi{tenant="acme",predictor="sum-card-not-present"}"#
        #expect(s[#"muse_score_drift_events{tenant="acme",predictor="sum-card-not-present"}"#] == Double(2 * perWorker))
        #expect(abs((s[drift] ?? .nan) - expected.psi) < 1e-12)
        #expect(expected.psi < 0.001)
        // Nothing new: a scrape changes none of Muse's series (the process's own CPU time moves).
        let muse = { (samples: [String: Double]) in samples.filter { $0.key.hasPrefix("muse_") } }
        #expect(muse(Self.samples(String(decoding: exporter.render(), as: UTF8.self))) == muse(s))
    }

    /// The drift counts start over with a generation, and the exporter drops
    /// the series of a generation no longer served.
    /// muse_build_info names this build's release, ABI and snapshot format;
    /// the process_* series are this process's own figures.
    @Test func theExpositionCarriesTheBuildAndTheProcess() throws {
        let layout = MetricsLayout(tenants: Self.tenants, capacity: 4)
        let exporter = MetricsExporter(layout: layout, cells: [WorkerMetrics(layout: layout)], segments: { [] }) { 1 }
        let text = String(decoding: exporter.render(), as: UTF8.self)
        let s = Self.samples(text)
        #expect(s[#"muse_build_info{version="\#(MuseVersion.release)",abi="\#(MuseVersion.abi)",snapshot_format="\#(SnapshotFormat.version)"}"#] == 1,
                "\(text)")
        #expect(text.contains("# TYPE process_cpu_seconds_total counter\n"))
        for gauge in ["process_resident_memory_bytes", "process_virtual_memory_bytes", "process_start_time_seconds",
                      "process_open_fds", "process_max_fds", "muse_build_info"] {
            #expect(text.contains("# TYPE \(gauge) gauge\n"), "\(gauge)")
        }
        let now = Date().timeIntervalSince1970
        let start = try #require(s["process_start_time_seconds"])
        #expect(start <= now + 1 && start > now - 86_400, "started at \(start), now \(now)")
        #expect((s["process_cpu_seconds_total"] ?? -1) >= 0)
        let resident = try #require(s["process_resident_memory_bytes"])
        #expect(resident > 1_048_576 && (s["process_virtual_memory_bytes"] ?? 0) >= resident)
        // This process holds stdin, stdout and stderr at least; the limit is getrlimit's.
        var limit = rlimit()
        getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit)
        let descriptors = try #require(s["process_open_fds"])
        #expect(descriptors >= 3 && descriptors <= Double(limit.rlim_cur) && s["process_max_fds"] == Double(limit.rlim_cur))
        // The CPU counter follows the kernel's total: a later scrape never shows less.
        let after = Self.samples(String(decoding: exporter.render(), as: UTF8.self))
        #expect((after["process_cpu_seconds_total"] ?? -1) >= s["process_cpu_seconds_total"] ?? 0)
    }

    /// /proc/self/stat's fields are counted after the command name, whatever it holds.
    @Test func theProcessStatLineIsReadAfterTheCommandName() throws {
        // Fields 3... of a real line; the name has spaces and a ')'.
        let line = "4242 (mu sed) (x)) S 1 4242 4242 0 -1 4194560 1503 0 0 0 250 130 0 0 20 0 5 0 123456 "
            + "1073741824 4096 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n"
        let figures = try #require(ProcessMetrics.parse(stat: line, ticksPerSecond: 100, pageSize: 4096, bootTime: 1_700_000_000))
        #expect(figures.cpuSeconds == 3.8)
        #expect(figures.startTimeSeconds == 1_700_000_000 + 1234.56)
        #expect(figures.virtualBytes == 1_073_741_824 && figures.residentBytes == 4096 * 4096)
        #expect(ProcessMetrics.parse(stat: "4242 (mused) S 1 2", ticksPerSecond: 100, pageSize: 4096, bootTime: 0) == nil)
        #expect(ProcessMetrics.parse(stat: "garbage", ticksPerSecond: 100, pageSize: 4096, bootTime: 0) == nil)
    }

    @Test func driftFollowsTheServingGeneration() throws {
        let layout = MetricsLayout(tenants: Self.tenants, capacity: 4)
        let cell = WorkerMetrics(layout: layout)
        let first = Serving(generation: try Generation.builtIn(tenants: Self.tenants), tenants: Self.tenants)
        let serving = Locked<UInt64>(1)
        // The shadow figures the gate judges are exported beside them.
        let shadow = ShadowInfo(tenant: "acme", predictor: "cnp-v2", events: 1500, mean: 0.3, psi: 0.04,
                                decileShares: Array(repeating: 0.1, count: 10), verdict: nil)
        let exporter = MetricsExporter(layout: layout, cells: [cell], segments: { [] }, shadows: {
            serving.withLock { $0 } == 1 ? [shadow] : []
        }) { serving.withLock { $0 } }
        let recorder = cell.recorder(for: first)
        // All in the top decile: far from the reference.
        for _ in 0..<100 { recorder.answered(tenant: TenantIndex(1), intent: IntentID(2), verdict: Self.ok(0.99, predictor: 2)) }
        let s = Self.samples(String(decoding: exporter.render(), as: UTF8.self))
        let psi = s[#"muse_score_drift_psi{tenant="globex",predictor="sum-card-present"}"#] ?? 0
        #expect(psi > 1)
        #expect(s[#"muse_events_total{tenant="globex",intent="card-present",status="ok"}"#] == 100)
        #expect(s[#"muse_shadow_drift_psi{tenant="acme",predictor="cnp-v2"}"#] == 0.04)
        #expect(s[#"muse_shadow_events{tenant="acme",predictor="cnp-v2"}"#] == 1500)
        // A newer generation is served before this worker picked it up: no drift series.
        serving.withLock { $0 = 2 }
        let after = String(decoding: exporter.render(), as: UTF8.self)
        #expect(!after.contains("muse_score_drift_psi{"))
        #expect(!after.contains("muse_shadow_drift_psi{"))
        #expect(Self.samples(after)["muse_serving_generation"] == 2)
    }

    // MARK: HTTP

    /// Sends `request` to 127.0.0.1:`port` and returns everything answered.
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
        _ = Array(request.utf8).withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        var answer = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { break }
            answer += buffer[0..<n]
        }
        return String(decoding: answer, as: UTF8.self)
    }

    @Test func theEndpointServesMetricsOnlyAndASilentClientCannotHoldIt() throws {
        var address = try #require(MetricsAddress("127.0.0.1:9464"))
        address.port = 0
        let server = try MetricsHTTPServer(address: address) { Array("muse_up 1\n".utf8) }
        server.start()
        defer { server.stop() }
        let ok = try Self.exchange(port: server.port, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(ok.hasPrefix("HTTP/1.1 200 OK\r\n"))
        #expect(ok.contains("Content-Type: text/plain; version=0.0.4"))
        #expect(ok.contains("Content-Length: 10\r\n"))
        #expect(ok.hasSuffix("\r\n\r\nmuse_up 1\n"))
        #expect(try Self.exchange(port: server.port, "GET / HTTP/1.1\r\n\r\n").hasPrefix("HTTP/1.1 404 "))
        let post = try Self.exchange(port: server.port, "POST /metrics HTTP/1.1\r\n\r\n")
        #expect(post.hasPrefix("HTTP/1.1 405 ") && post.contains("\r\nAllow: GET, HEAD\r\n"), "\(post)")
        // HEAD: GET's head, the body's length included, and no body.
        let head = try Self.exchange(port: server.port, "HEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(head.hasPrefix("HTTP/1.1 200 OK\r\n") && head.contains("Content-Length: 10\r\n") && head.hasSuffix("\r\n\r\n"),
                "\(head)")
        #expect(try Self.exchange(port: server.port, "garbage\r\n\r\n").hasPrefix("HTTP/1.1 400 "))
        let huge = "GET /metrics HTTP/1.1\r\nX: " + String(repeating: "a", count: 20_000) + "\r\n\r\n"
        #expect(try Self.exchange(port: server.port, huge).hasPrefix("HTTP/1.1 400 "))
        // A client that connects and says nothing is dropped after the request timeout.
        let silent = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(silent) }
        var to = sockaddr_in()
        to.sin_family = sa_family_t(AF_INET)
        to.sin_port = server.port.bigEndian
        to.sin_addr.s_addr = inet_addr("127.0.0.1")
        _ = withUnsafePointer(to: &to) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(silent, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        let started = Date()
        let after = try Self.exchange(port: server.port, "GET /metrics HTTP/1.1\r\n\r\n")
        #expect(after.hasPrefix("HTTP/1.1 200 OK"))
        #expect(Date().timeIntervalSince(started) < Double(MetricsHTTPServer.requestTimeoutMilliseconds) / 1000 + 2)
    }
}
