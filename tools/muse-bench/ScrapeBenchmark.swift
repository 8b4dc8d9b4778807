#if canImport(Glibc)
import Glibc
#endif
import CMuse
import CMuseDaemon
import Foundation
import MuseClient
import Synchronization

/// The cost of metrics on event latency: round trips through a
/// real mused without a metrics endpoint (workers count nothing), then with
/// one, unscraped, scraped every 10 ms, and scraped as fast as one client can,
/// the last three interleaved over `rounds` so machine noise falls on all.
///
///   muse-bench scrape [--seconds S]   (S per phase and round; default 2)
///
/// mused runs on CPU 1, its metrics thread (nice 10) beside the worker: the
/// worst case, where each scrape takes CPU time from the worker's core. The
/// scraper, a stand-in for Prometheus, runs on the client's CPU 0 at nice 19,
/// so what it costs the client's own CPU stays out of the figures.
enum ScrapeBenchmark {
    static let rounds = 3

    static func run(seconds: Double, binDirectory: String, serverCPU: Int) throws {
        let port = freePort()
        // 1. No metrics endpoint: the baseline.
        let baseline = try withDaemon(binDirectory: binDirectory, serverCPU: serverCPU, metricsPort: nil) { channel, intent, _ in
            _ = roundTrips(channel: channel, intent: intent, seconds: 0.5)
            var histogram = LatencyHistogram()
            for _ in 0..<rounds { histogram.merge(roundTrips(channel: channel, intent: intent, seconds: seconds)) }
            return histogram
        }
        print("no metrics endpoint       \(baseline.summary())")

        // 2. With the endpoint, scraped by a thread of ours in three modes.
        try withDaemon(binDirectory: binDirectory, serverCPU: serverCPU, metricsPort: port) { channel, intent, daemonPID in
            // What one scrape costs on its own: no events, nothing else of ours running.
            var alone = [UInt64]()
            for _ in 0..<300 {
                let started = muse__now_ns()
                _ = scrape(port: port)
                alone.append(muse__now_ns() - started)
            }
            alone.sort()
            print(String(format: "one scrape, no traffic    median %.3f ms, p90 %.3f ms (connect, render, %d bytes, close)",
                         Double(alone[alone.count / 2]) / 1e6, Double(alone[alone.count * 9 / 10]) / 1e6, scrape(port: port)))
            let mode = Atomic<Int>(0) // 0: idle, 1: every 10 ms, 2: flat out, -1: exit
            let scrapes = Atomic<Int>(0), scrapeNanoseconds = Atomic<UInt64>(0), bytes = Atomic<Int>(0)
            let scraper = Thread {
                _ = muse_pin_thread_to_cpu(0)
                _ = muse_set_thread_nice(19)
                var next = muse__now_ns()
                while true {
                    let m = mode.load(ordering: .relaxed)
                    if m < 0 { break }
                    if m == 0 { usleep(1000); continue }
                    if m == 1 {
                        while muse__now_ns() < next { usleep(500) }
                        next += 10_000_000
                    }
                    let started = muse__now_ns()
                    let n = scrape(port: port)
                    scrapeNanoseconds.wrappingAdd(muse__now_ns() - started, ordering: .relaxed)
                    bytes.store(n, ordering: .relaxed)
                    scrapes.wrappingAdd(1, ordering: .relaxed)
                }
            }
            scraper.start()
            defer {
                mode.store(-1, ordering: .relaxed)
                while !scraper.isFinished { usleep(1000) }
            }
            _ = roundTrips(channel: channel, intent: intent, seconds: 0.5)
            let names = ["endpoint, not scraped    ", "scraped every 10 ms      ", "scraped flat out         "]
            var histograms = [LatencyHistogram](repeating: LatencyHistogram(), count: 3)
            var scrapeCounts = [0, 0, 0], scrapeTimes = [UInt64](repeating: 0, count: 3)
            var cpu = [UInt64](repeating: 0, count: 3), elapsed = [UInt64](repeating: 0, count: 3)
            for _ in 0..<rounds {
                for phase in 0..<3 {
                    mode.store(phase, ordering: .relaxed)
                    if phase == 1 { usleep(20_000) }
                    let scrapesBefore = scrapes.load(ordering: .relaxed)
                    let timeBefore = scrapeNanoseconds.load(ordering: .relaxed)
                    let cpuBefore = cpuTimeNanoseconds(pid: daemonPID) ?? 0
                    let started = muse__now_ns()
                    histograms[phase].merge(roundTrips(channel: channel, intent: intent, seconds: seconds))
                    elapsed[phase] += muse__now_ns() - started
                    cpu[phase] += (cpuTimeNanoseconds(pid: daemonPID) ?? 0) - cpuBefore
                    scrapeCounts[phase] += scrapes.load(ordering: .relaxed) - scrapesBefore
                    scrapeTimes[phase] += scrapeNanoseconds.load(ordering: .relaxed) - timeBefore
                    mode.store(0, ordering: .relaxed)
                }
            }
            for phase in 0..<3 {
                let seconds = Double(elapsed[phase]) / 1e9
                var line = names[phase] + histograms[phase].summary()
                line += String(format: "  mused CPU %.0f%%", Double(cpu[phase]) / Double(elapsed[phase]) * 100)
                if phase > 0 && scrapeCounts[phase] > 0 {
                    line += String(format: "  %.0f scrapes/s, %.2f ms each", Double(scrapeCounts[phase]) / seconds,
                                   Double(scrapeTimes[phase]) / Double(scrapeCounts[phase]) / 1e6)
                }
                print(line)
            }
            print("exposition size           \(bytes.load(ordering: .relaxed)) bytes")
            for phase in 1..<3 {
                print(String(format: "ratio %@/no metrics  p50 %.2fx  p99 %.2fx  p99.9 %.2fx",
                             phase == 1 ? "10 ms   " : "flat out",
                             Double(histograms[phase].percentile(0.5)) / Double(max(baseline.percentile(0.5), 1)),
                             Double(histograms[phase].percentile(0.99)) / Double(max(baseline.percentile(0.99), 1)),
                             Double(histograms[phase].percentile(0.999)) / Double(max(baseline.percentile(0.999), 1))))
            }
        }
    }

    /// Runs mused (two tenants, the built-in generation) for `body`.
    @discardableResult
    static func withDaemon<R>(binDirectory: String, serverCPU: Int, metricsPort: UInt16?,
                              _ body: (ClientChannel, UInt32, Int32) throws -> R) throws -> R {
        let runtime = "/tmp/muse-bench-scrape-\(getpid())-\(metricsPort ?? 0)"
        mkdir(runtime, 0o755)
        defer {
            try? FileManager.default.removeItem(atPath: runtime)
            try? FileManager.default.removeItem(atPath: runtime + ".state")
        }
        var arguments = ["--runtime-dir", runtime, "--state-dir", runtime + ".state",
                         "--tenant", "bench::4:1024", "--tenant", "other::4:64"]
        if let metricsPort { arguments += ["--metrics-address", "127.0.0.1:\(metricsPort)"] }
        let daemon = try PinnedProcess(cpu: serverCPU, "\(binDirectory)/mused", arguments)
        defer { daemon.stop() }
        waitForFile("\(runtime)/control.sock")
        usleep(200_000)
        let connection = try TenantConnection(runtimeDirectory: runtime, tenant: "bench")
        let channel = try connection.claim()
        let intent = try connection.intent(named: "card-not-present").id
        return try body(channel, intent, daemon.process.processIdentifier)
    }

    /// One event in flight for `seconds`: submit, spin until it is answered.
    static func roundTrips(channel: ClientChannel, intent: UInt32, seconds: Double) -> LatencyHistogram {
        var histogram = LatencyHistogram()
        var completion = muse_completion()
        var features = [Double](repeating: 0.01, count: 16)
        let end = muse__now_ns() + UInt64(seconds * 1e9)
        var i: UInt64 = 0
        while muse__now_ns() < end {
            features[0] = Double(i % 100) / 100
            let start = muse__now_ns()
            features.withUnsafeBufferPointer { x in
                while channel.submit(tag: i, intent: intent, features: x) != MUSE_OK { muse__cpu_relax() }
            }
            withUnsafeMutablePointer(to: &completion) { out in
                while channel.poll(into: UnsafeMutableBufferPointer(start: out, count: 1)) == 0 { muse__cpu_relax() }
            }
            histogram.record(muse__now_ns() - start)
            precondition(completion.tag == i && completion.status == 0)
            i += 1
        }
        return histogram
    }

    /// GET /metrics; returns the bytes received (0 on failure).
    static func scrape(port: UInt16) -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return 0 }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { return 0 }
        let request = Array("GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".utf8)
        _ = request.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        var total = 0
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { break }
            total += n
        }
        return total
    }

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
}
