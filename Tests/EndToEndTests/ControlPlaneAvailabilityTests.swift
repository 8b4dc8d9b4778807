#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Synchronization
import Testing

/// The control socket and the metrics endpoint serve each connection on its
/// own: idle, dripping and half-sent connections held open by anyone who
/// can connect, and a swap that takes seconds to load, delay neither
/// `status` nor a scrape, nor the events clients stream.
@Suite(.serialized)
struct ControlPlaneAvailabilityTests {
    static func connectUnix(_ path: String) -> Int32 {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (i, byte) in path.utf8.enumerated() { raw[i] = byte }
        }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        if connected != 0 { close(fd); return -1 }
        return fd
    }

    static func connectTCP(_ port: UInt16) -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        if connected != 0 { close(fd); return -1 }
        return fd
    }

    static func send(_ fd: Int32, _ text: String) {
        _ = Array(text.utf8).withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }

    /// Reads until the peer closes; the whole answer.
    static func readAll(_ fd: Int32) -> String {
        var answer = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { break }
            answer += buffer[0..<n]
        }
        return String(decoding: answer, as: UTF8.self)
    }

    /// One `status` request on the control socket: the answer and the seconds it took.
    static func status(_ socketPath: String) -> (String, Double) {
        let start = Date()
        let fd = connectUnix(socketPath)
        guard fd >= 0 else { return ("cannot connect", Date().timeIntervalSince(start)) }
        defer { close(fd) }
        send(fd, "{\"command\":\"status\"}\n")
        let answer = readAll(fd)
        return (answer, Date().timeIntervalSince(start))
    }

    /// One scrape: the answer and the seconds it took.
    static func scrape(_ port: UInt16) -> (String, Double) {
        let start = Date()
        let fd = connectTCP(port)
        guard fd >= 0 else { return ("cannot connect", Date().timeIntervalSince(start)) }
        defer { close(fd) }
        send(fd, "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        let answer = readAll(fd)
        return (answer, Date().timeIntervalSince(start))
    }

    /// A generation whose level-2 map has `knots` knots: seconds to load in
    /// a debug mused.
    static func slowGeneration(in dir: String, knots: Int) throws -> String {
        var map = "muse-score-maps 1\nmap\npredictor login-v1\ntenant *\nreference uniform\nknots \(knots)\n"
        map.reserveCapacity(knots * 40)
        for i in 1...knots {
            map += "\(Double(i) / Double(knots + 1)) \(Double(i - 1) / Double(knots - 1))\n"
        }
        map += "end\n"
        try map.write(toFile: "\(dir)/big.map", atomically: true, encoding: .utf8)
        let model = Harness.packageRoot.appending(path: "examples/generation/models/login-logistic.json").path
        let manifest = """
            generation = 2
            [models.login-lr]
            file = "\(model)"
            [predictors.login-v1]
            models = ["login-lr"]
            [[maps]]
            file = "big.map"
            [intents.account-login]
            id = 2
            features = ["f_num_0", "f_num_1", "f_num_2", "f_num_3", "f_num_4"]
            [[routes]]
            tenant = "avail"
            intent = "account-login"
            predictor = "login-v1"
            [canaries]
            per_route = 1
            """
        try manifest.write(toFile: "\(dir)/big.toml", atomically: true, encoding: .utf8)
        let out = "\(dir)/big.snapshot"
        let built = Harness.run(ControlSocketTests.musectl, ["snapshot", "build", "\(dir)/big.toml", "-o", out])
        #expect(built.status == 0, "\(built.output)")
        return out
    }

    @Test func statusAndScrapesAnswerAtOnceWhateverOtherConnectionsAndSwapsDo() throws {
        let port = MetricsEndpointTests.freePort()
        let daemon = try DaemonUnderTest(tenants: ["avail::2:64"], arguments: ["--metrics-address", "127.0.0.1:\(port)"])
        let socketPath = daemon.runtimeDirectory + "/control.sock"
        let scratch = Harness.runtimeDirectory()
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let slow = try Self.slowGeneration(in: scratch, knots: 400_000)

        // Warm-up: the first answers of a fresh mused include one-off costs.
        _ = Self.status(socketPath)
        _ = Self.scrape(port)
        // What an answer takes with nothing else going on: the bound below is
        // 100 ms, or three times that where a loaded machine (or a debug
        // mused rendering its exposition) is slower; one connection at a
        // time, an idle peer alone cost five seconds.
        func median(_ samples: [Double]) -> Double { samples.sorted()[samples.count / 2] }
        let statusBound = max(0.1, 3 * median((0..<5).map { _ in Self.status(socketPath).1 }))
        let scrapeBound = max(0.1, 3 * median((0..<5).map { _ in Self.scrape(port).1 }))
        // A client's stream, alone, for comparison below.
        func streamP99() throws -> Double {
            let paced = try FairSchedulingTests.run(daemon, ["paced", "avail", "2000", "2"])
            #expect(paced.wait(seconds: 60) == 0, "\(paced.output)")
            return FairSchedulingTests.number(paced.output, "p99_us")
        }
        // The better of two runs each way: one run's p99 is the load's as much as mused's.
        let aloneP99 = min(try streamP99(), try streamP99())

        // 20 idle, 20 dripping and 20 half-sent connections on each endpoint
        // (mused closes each after its five seconds: opened again before the swap).
        // The drip threads write to whatever descriptors they were given;
        // closed ones just fail.
        let stop = Atomic<Bool>(false)
        var opened: [Int32] = []
        defer {
            stop.store(true, ordering: .relaxed)
            usleep(200_000)
            for fd in opened { close(fd) }
        }
        func holdConnections() {
            var held: [Int32] = [], dripping: [Int32] = []
            for _ in 0..<20 {
                held.append(Self.connectUnix(socketPath))
                held.append(Self.connectTCP(port))
                dripping.append(Self.connectUnix(socketPath))
                dripping.append(Self.connectTCP(port))
                let control = Self.connectUnix(socketPath), metrics = Self.connectTCP(port)
                Self.send(control, "{\"command\":\"sta")
                Self.send(metrics, "GET /metr")
                held += [control, metrics]
            }
            #expect(!(held + dripping).contains(-1), "a connection was refused")
            opened += held + dripping
            let drips = dripping
            Thread.detachNewThread {
                while !stop.load(ordering: .relaxed) {
                    for fd in drips { Self.send(fd, " ") }
                    usleep(100_000)
                }
            }
            usleep(300_000)
        }
        holdConnections()

        // Each answer within a second (one connection at a time, a single
        // idle peer cost five), and the answers of each phase within the
        // bound at the median: a loaded two-CPU machine running the other
        // suites beside this one may delay any single answer.
        var statusTimes: [Double] = [], scrapeTimes: [Double] = []
        func check(_ when: String) {
            let (answer, seconds) = Self.status(socketPath)
            #expect(answer.contains("\"ok\":true") && seconds < 1, "status \(when): \(seconds) s, \(answer.prefix(200))")
            let (scraped, scrapeSeconds) = Self.scrape(port)
            #expect(scraped.hasPrefix("HTTP/1.1 200 OK") && scrapeSeconds < 1,
                    "scrape \(when): \(scrapeSeconds) s, \(scraped.prefix(200))")
            statusTimes.append(seconds)
            scrapeTimes.append(scrapeSeconds)
        }
        func phaseEnds(_ phase: String) {
            #expect(!statusTimes.isEmpty && median(statusTimes) < statusBound,
                    "status \(phase): median \(median(statusTimes)) s of \(statusTimes), bound \(statusBound) s")
            #expect(!scrapeTimes.isEmpty && median(scrapeTimes) < scrapeBound,
                    "scrape \(phase): median \(median(scrapeTimes)) s of \(scrapeTimes), bound \(scrapeBound) s")
            statusTimes = []
            scrapeTimes = []
        }
        for round in 0..<5 { check("with 60 connections held on each endpoint (round \(round))") }
        phaseEnds("with 60 connections held on each endpoint")
        // The held connections cost the stream nothing it would notice: each
        // holds an idle thread of its own, at lowered priority. (Generous: a
        // shared two-CPU machine moves p99 by milliseconds on its own.)
        let firstHeldP99 = try streamP99()
        holdConnections()  // the first ones near their five seconds
        var heldP99 = min(firstHeldP99, try streamP99())
        // Up to three more runs while over the bound: the other suites run
        // beside this one on two CPUs, and a spell of theirs can cover two
        // runs; a cost of the held connections would be in every run.
        for _ in 0..<3 where !(heldP99 <= 3 * aloneP99 + 3000) {
            holdConnections()
            heldP99 = min(heldP99, try streamP99())
        }
        #expect(aloneP99 > 0 && heldP99 > 0 && heldP99 <= 3 * aloneP99 + 3000,
                "stream p99 \(heldP99) µs with the connections held, \(aloneP99) µs without")

        // The same while a swap loads a generation that takes seconds, with a
        // fresh set of connections (the others closed: 60 per endpoint at a time).
        for fd in opened { close(fd) }
        opened = []
        holdConnections()
        let swap = try Child(ControlSocketTests.musectl, ["swap", slow, "--allow-schema-change", "--runtime-dir", daemon.runtimeDirectory])
        usleep(300_000)
        var checksDuringSwap = 0
        while swap.isRunning && checksDuringSwap < 10 {
            check("during a swap")
            checksDuringSwap += 1
            usleep(100_000)
        }
        #expect(checksDuringSwap >= 2, "the swap took too little time to check anything during it: \(swap.output)")
        phaseEnds("during a swap")
        #expect(swap.wait(seconds: 120) == 0, "\(swap.output)")
        #expect(SnapshotSwapTests.servingGeneration(daemon) == 2)
        // Idle connections do not hold up a stop for their deadline.
        holdConnections()
        let stopping = Date()
        let stopped = daemon.stop()
        #expect(stopped == 0, "\(daemon.logs)")
        #expect(Date().timeIntervalSince(stopping) < 4, "mused took \(Date().timeIntervalSince(stopping)) s to stop")
    }
}
