#if canImport(Glibc)
import Glibc
#endif
import CMuse
import CMuseBenchFloor
import Foundation
import MuseClient

/// muse-bench latency: an open-loop load generator. Each client process sends
/// events at Poisson arrival times for a target rate, whatever the answers do:
/// an event is timed from its *intended* send time, so a stall that delays
/// later sends is charged to every event it delays (no coordinated omission).
/// Completions are read by the same thread between sends (it waits for them
/// with muse_wait_idle, its timeout shortly before the next intended send,
/// then spins to it; with nothing in flight it sleeps to the next send).
/// The same generator runs over a Unix domain socket to a threaded server.
///
///   muse-bench latency [--seconds S] [--warmup S] [--rates 1000,10000,...]
///                      [--clients 1,4] [--policies busy-spin,adaptive,low-power]
///                      [--repeat N] [--margin-us M] [--no-socket] [--no-floor] [--prepare-us P]
///
/// For each worker policy it starts mused with --idle-policy (its clients wait
/// with the same policy), measures mused's idle CPU, then each (clients, rate)
/// cell; then the socket for each cell, and the machine's floor (FloorBaseline:
/// the same generator against a bare shared-memory ping-pong, both sides
/// spinning, then both sleeping on futexes), which the last table divides
/// every Muse and socket cell's p50, p99 and p99.9 by. mused and the servers run on
/// CPU 1, the client processes on CPU 0. CPU use is utime + stime from
/// /proc/PID/stat over the cell's wall time.
enum LatencyBenchmark {
    struct Options {
        var seconds = 2.0
        var warmup = 0.3
        var rates = [1_000, 10_000, 100_000, 1_000_000]
        var clients = [1, 4]
        var policies = ["busy-spin", "adaptive", "low-power"]
        var socket = true
        /// The bare shared-memory ping-pong (FloorBaseline), both sides
        /// spinning and both sleeping, that every cell is divided by.
        var floor = true
        /// Runs per cell; the table keeps the run with the lowest p99 (on a
        /// shared machine, the run least disturbed by other processes).
        var runs = 1
        var marginNanoseconds = LatencyBenchmark.defaultMarginNanoseconds
        /// With P > 0, each Muse cell runs again with `muse_prepare` called P
        /// µs before each send (the client busy with its own work meanwhile).
        var prepareNanoseconds: UInt64 = 0

        init(_ arguments: [String]) {
            func value(_ flag: String) -> String? {
                guard let i = arguments.firstIndex(of: flag), i + 1 < arguments.count else { return nil }
                return arguments[i + 1]
            }
            if let s = value("--seconds").flatMap(Double.init) { seconds = s }
            if let s = value("--warmup").flatMap(Double.init) { warmup = s }
            if let r = value("--rates") { rates = r.split(separator: ",").compactMap { Int($0) } }
            if let c = value("--clients") { clients = c.split(separator: ",").compactMap { Int($0) } }
            if let p = value("--policies") { policies = p.split(separator: ",").map(String.init) }
            if arguments.contains("--no-socket") { socket = false }
            if arguments.contains("--no-floor") { floor = false }
            if let r = value("--repeat").flatMap(Int.init), r > 0 { runs = r }
            if let m = value("--margin-us").flatMap(UInt64.init) { marginNanoseconds = m * 1000 }
            if let p = value("--prepare-us").flatMap(UInt64.init) { prepareNanoseconds = p * 1000 }
        }
    }

    /// Poisson arrivals: exponential gaps of mean 1/rate from a xorshift stream.
    struct Arrivals {
        private var state: UInt64
        private let meanNanoseconds: Double
        private var next: UInt64

        init(rate: Double, start: UInt64, seed: UInt64) {
            state = seed | 1
            meanNanoseconds = 1e9 / rate
            next = start
        }

        /// The current event's intended send time; moves to the next event.
        mutating func advance() -> UInt64 {
            let t = next
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            let u = (Double(state >> 11) + 0.5) / 9_007_199_254_740_992.0 // (0, 1)
            next = t + UInt64(-log(u) * meanNanoseconds)
            return t
        }
    }

    struct Cell {
        let transport: String
        let policy: String
        let clients: Int
        let rate: Int
        var histogram = LatencyHistogram()
        /// How late the sends went (intended to actual), the generator's own error.
        var lag = LatencyHistogram()
        var sent: UInt64 = 0
        var errors: UInt64 = 0
        var serverCPU = 0.0
    }

    static func policy(named name: String) -> muse_idle_policy {
        switch name {
        case "busy-spin": MUSE_IDLE_BUSY_SPIN
        case "low-power": MUSE_IDLE_LOW_POWER
        default: MUSE_IDLE_ADAPTIVE
        }
    }

    // MARK: Client processes

    /// `latency-client RUNTIME TENANT RATE SECONDS WARMUP POLICY MARGIN [PREPARE]`
    static func museClient(_ a: [String]) throws -> Never {
        let (runtime, tenant, rate, seconds, warmup) = (a[0], a[1], Double(a[2])!, Double(a[3])!, Double(a[4])!)
        let idle = policy(named: a[5])
        let margin = UInt64(a[6])!
        let prepare = a.count > 7 ? UInt64(a[7])! : 0
        let connection = try TenantConnection(runtimeDirectory: runtime, tenant: tenant)
        // The previous cell's clients' channels are freed at mused's next
        // housekeeping (50 ms): retry for a while.
        var claimed: ClientChannel?
        for attempt in 0..<300 {
            do { claimed = try connection.claim(); break } catch { if attempt == 299 { throw error } }
            usleep(10_000)
        }
        let intent = try connection.intent(named: "card-not-present")
        var transport = MuseTransport(channel: claimed!, intent: intent.id,
                                      features: [Double](repeating: 0.01, count: Int(intent.feature_count)), policy: idle)
        openLoop(&transport, rate: rate, seconds: seconds, warmup: warmup, margin: margin, prepare: prepare)
    }

    /// `latency-floor-client PATH LANE MODE RATE SECONDS WARMUP MARGIN`: the
    /// same generator against the bare shared-memory ping-pong (FloorBaseline).
    static func floorClient(_ a: [String]) -> Never {
        let (path, lane, mode) = (a[0], UInt32(a[1])!, a[2])
        let (rate, seconds, warmup, margin) = (Double(a[3])!, Double(a[4])!, Double(a[5])!, UInt64(a[6])!)
        guard let floor = muse_floor_open(path) else { fatalError("cannot map \(path): \(String(cString: strerror(errno)))") }
        var transport = FloorTransport(floor: floor, lane: lane, sleeps: mode == FloorBaseline.sleeping)
        openLoop(&transport, rate: rate, seconds: seconds, warmup: warmup, margin: margin, prepare: 0)
    }

    /// The open-loop generator, whatever carries the events: sends at the
    /// intended times, reads answers between sends, prints its histograms.
    static func openLoop<T: OpenLoopTransport>(_ transport: inout T, rate: Double, seconds: Double, warmup: Double,
                                               margin: UInt64, prepare: UInt64) -> Never {
        tightenTimerSlack()
        var histogram = LatencyHistogram()
        var lag = LatencyHistogram()
        var tags = [UInt64](repeating: 0, count: 256)
        let start = muse__now_ns() + 1_000_000
        let measureFrom = start + UInt64(warmup * 1e9)
        let end = measureFrom + UInt64(seconds * 1e9)
        var arrivals = Arrivals(rate: rate, start: start, seed: UInt64(getpid()) &* 0x9E37_79B9_7F4A_7C15)
        var sent: UInt64 = 0, received: UInt64 = 0, errors: UInt64 = 0
        var due = arrivals.advance()
        var prepared = false
        tags.withUnsafeMutableBufferPointer { out in
            while true {
                let now = muse__now_ns()
                // Everything due goes now; a late event keeps its intended time.
                while due <= now && due < end {
                    // The tag is the intended send time.
                    if !transport.send(tag: due) { break } // full: read first
                    if due >= measureFrom { lag.record(now &- due) }
                    sent += 1
                    due = arrivals.advance()
                    prepared = false
                }
                if due >= end && received == sent { break }
                if now > end + 5_000_000_000 { errors += sent - received; break }
                // Nothing in flight: nothing to wait for but the next send,
                // so sleep to it as the socket client's sender does (a wait
                // here would spin for nothing, and four clients on one CPU
                // would spin in one another's way).
                if received == sent && due < end {
                    // With --prepare-us: announce the event `prepare` before
                    // it, then stay busy to it (the client's own feature
                    // work), as a real client would.
                    if prepare > 0 && !prepared && due > now &+ prepare {
                        sleepUntil(due &- prepare, margin: margin)
                        transport.prepare()
                        prepared = true
                        while muse__now_ns() < due { muse__cpu_relax() }
                        continue
                    }
                    sleepUntil(due, margin: margin)
                    continue
                }
                // Wait with the policy until shortly before the next send,
                // then poll (spin) to it: the send goes at its time.
                let timeout = due < end ? Int64(bitPattern: due &- now &- margin) : 100_000_000
                var got = (count: 0, errors: 0)
                if timeout <= 0 {
                    got = transport.poll(into: out)
                    // Other clients on this CPU may be due too; the last
                    // microseconds are spun, so the send is on time.
                    if got.count == 0 && due > now &+ yieldUntilNanoseconds { sched_yield() }
                } else {
                    got = transport.wait(into: out, timeoutNanoseconds: timeout)
                }
                if got.count == 0 { continue }
                let at = muse__now_ns()
                for i in 0..<got.count where out[i] >= measureFrom { histogram.record(at &- out[i]) }
                errors += UInt64(got.errors)
                received += UInt64(got.count)
            }
        }
        print("sent=\(sent) errors=\(errors)")
        print("hist \(histogram.encoded())")
        print("lag \(lag.encoded())")
        exit(0)
    }

    /// `latency-uds-client PATH RATE SECONDS WARMUP MARGIN`: a sender thread at the
    /// intended times and a reader thread blocked in read(2), the usual shape
    /// of a socket client. The tag is the intended send time, so the threads
    /// share nothing but two counters.
    static func socketClient(_ a: [String]) -> Never {
        let (path, rate, seconds, warmup) = (a[0], Double(a[1])!, Double(a[2])!, Double(a[3])!)
        let margin = UInt64(a[4])!
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var address = UnixSocketBaseline.address(path)
        var connected: Int32 = -1
        for _ in 0..<200 {
            connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
            }
            if connected == 0 { break }
            usleep(10_000)
        }
        precondition(connected == 0, "connect \(path): \(String(cString: strerror(errno)))")
        let start = muse__now_ns() + 1_000_000
        let measureFrom = start + UInt64(warmup * 1e9)
        let end = measureFrom + UInt64(seconds * 1e9)
        tightenTimerSlack()
        var lag = LatencyHistogram()
        let reader = SocketReader(fd: fd, measureFrom: measureFrom)
        let thread = Thread { reader.run() }
        thread.start()

        var request = [UInt8](repeating: 0, count: UnixSocketBaseline.requestSize)
        request.withUnsafeMutableBytes { bytes in
            for i in 0..<16 { bytes.storeBytes(of: 0.01, toByteOffset: 16 + 8 * i, as: Double.self) }
        }
        var arrivals = Arrivals(rate: rate, start: start, seed: UInt64(getpid()) &* 0x9E37_79B9_7F4A_7C15)
        var sent: UInt64 = 0
        while true {
            let due = arrivals.advance()
            if due >= end { break }
            sleepUntil(due, margin: margin)
            if due >= measureFrom { lag.record(muse__now_ns() &- due) }
            request.withUnsafeMutableBytes { bytes in
                bytes.storeBytes(of: due, as: UInt64.self)
                var done = 0
                while done < bytes.count {
                    let n = write(fd, bytes.baseAddress! + done, bytes.count - done)
                    precondition(n > 0 || errno == EINTR, "the socket server hung up")
                    if n > 0 { done += n }
                }
            }
            sent += 1
        }
        // The server answers what it has, sees the end, and closes: the reader
        // then reads every answer and end-of-file.
        shutdown(fd, Int32(SHUT_WR))
        reader.finished.wait()
        close(fd)
        print("sent=\(sent) errors=\(sent - reader.received)")
        print("hist \(reader.histogram.encoded())")
        print("lag \(lag.encoded())")
        exit(0)
    }

    /// The socket client's reader thread: owns its histogram and count until
    /// it signals `finished` (the semaphore orders them before the main
    /// thread's reads).
    final class SocketReader: @unchecked Sendable {
        let fd: Int32
        let measureFrom: UInt64
        var histogram = LatencyHistogram()
        var received: UInt64 = 0
        let finished = DispatchSemaphore(value: 0)

        init(fd: Int32, measureFrom: UInt64) {
            self.fd = fd
            self.measureFrom = measureFrom
        }

        func run() {
            let size = UnixSocketBaseline.responseSize
            var buffer = [UInt8](repeating: 0, count: size * 512)
            var have = 0
            while true {
                let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress! + have, $0.count - have) }
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { break }
                have += n
                let at = muse__now_ns()
                let whole = have / size
                buffer.withUnsafeMutableBytes { bytes in
                    for k in 0..<whole {
                        let intended = bytes.loadUnaligned(fromByteOffset: k * size, as: UInt64.self)
                        if intended >= measureFrom { histogram.record(at &- intended) }
                    }
                    let rest = have - whole * size
                    if rest > 0 { memmove(bytes.baseAddress!, bytes.baseAddress! + whole * size, rest) }
                    have = rest
                }
                received += UInt64(whole)
            }
            finished.signal()
        }
    }

    /// How early a client stops sleeping to spin to an intended send time
    /// (`--margin-us`, default 200 µs at every rate): long enough to absorb a
    /// timed sleep's late wake-up on this VM (tens to a couple of hundred µs
    /// from an idle vCPU), else the generator's own lateness is charged to
    /// the transport. Within the margin a Muse client polls its completions
    /// (its idle policy applies to the waits longer than the margin) and a
    /// socket client's sender spins; both yield the CPU between looks (four
    /// clients share one CPU) until the last `yieldUntilNanoseconds`. At
    /// 100k events/s and above a client thus never sleeps, as a sender at
    /// that rate would not (a shorter margin let muse_wait's timed futex
    /// sleep decide when the next event went: BENCHMARKS.md). The clients
    /// also set their timer slack to 1 ns and report how late each send
    /// went (`lag`).
    static let defaultMarginNanoseconds: UInt64 = 200_000

    /// Within this of a send the margin's spin stops yielding (a sched_yield
    /// here takes about a microsecond).
    static let yieldUntilNanoseconds: UInt64 = 5_000

    /// The kernel's default timer slack (50 µs) would make every timed sleep
    /// up to 50 µs late: 1 ns for this thread.
    static func tightenTimerSlack() {
        let fd = open("/proc/thread-self/timerslack_ns", O_WRONLY)
        if fd >= 0 {
            _ = "1".withCString { write(fd, $0, 1) }
            close(fd)
        }
    }

    /// Sleeps until `margin` before `due`, then spins to it.
    static func sleepUntil(_ due: UInt64, margin: UInt64) {
        var now = muse__now_ns()
        if due > now + margin {
            let nap = due - now - margin
            var ts = timespec(tv_sec: Int(nap / 1_000_000_000), tv_nsec: Int(nap % 1_000_000_000))
            nanosleep(&ts, nil)
        }
        now = muse__now_ns()
        // Yielding (other clients on this CPU may be due too), then spinning
        // the last microseconds, so the send is on time.
        while now < due {
            if due > now + yieldUntilNanoseconds { sched_yield() } else { muse__cpu_relax() }
            now = muse__now_ns()
        }
    }

    // MARK: The run

    static func run(_ options: Options, me: String, binDirectory: String) throws {
        let cpus = sysconf(Int32(_SC_NPROCESSORS_ONLN))
        let serverCPU = cpus > 1 ? 1 : 0
        let load = (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8))?.split(separator: " ").prefix(3)
            .joined(separator: " ") ?? "?"
        print("muse-bench latency: \(cpus) CPUs, load average \(load); mused / socket server on CPU \(serverCPU), "
              + "clients on CPU 0; sends spun to from \(options.marginNanoseconds / 1000) µs before; \(options.seconds) s per cell after \(options.warmup) s warm-up; Poisson arrivals, "
              + "latency from the intended send time; \(options.runs) run(s) per cell, the table keeps the lowest p99")
        var cells: [Cell] = []
        var idleCPU: [(String, Double)] = []
        for policy in options.policies {
            let runtime = "/tmp/muse-bench-latency-\(getpid())-\(policy)"
            defer {
                try? FileManager.default.removeItem(atPath: runtime)
                try? FileManager.default.removeItem(atPath: runtime + ".state")
            }
            let daemon = try PinnedProcess(cpu: serverCPU, "\(binDirectory)/mused",
                                           ["--runtime-dir", runtime, "--state-dir", runtime + ".state",
                                            "--tenant", "bench::8:1024", "--idle-policy", policy])
            defer { daemon.stop() }
            waitForFile("\(runtime)/bench.muse")
            usleep(500_000)
            let idleSeconds = 4.0
            let before = cpuTimeNanoseconds(pid: daemon.pid) ?? 0
            usleep(UInt32(idleSeconds * 1e6))
            let idle = Double((cpuTimeNanoseconds(pid: daemon.pid) ?? 0) - before) / (idleSeconds * 1e9) * 100
            idleCPU.append((policy, idle))
            print(String(format: "mused --idle-policy %@: idle %.2f%% of a core", policy, idle))
            for clients in options.clients {
                for rate in options.rates {
                    for prepare in options.prepareNanoseconds > 0 ? [0, options.prepareNanoseconds] : [0] {
                        cells.append(best(of: options.runs) {
                            let transport = prepare > 0 ? "muse+prepare \(prepare / 1000) µs" : "muse"
                            var cell = Cell(transport: transport, policy: policy, clients: clients, rate: rate)
                            measure(&cell, server: daemon.pid, processes: (0..<clients).map { _ in
                                [me, "latency-client", runtime, "bench", String(Double(rate) / Double(clients)),
                                 String(options.seconds), String(options.warmup), policy,
                                 String(options.marginNanoseconds), String(prepare)]
                            })
                            return cell
                        })
                    }
                }
            }
        }
        if options.socket {
            for clients in options.clients {
                for rate in options.rates {
                    cells.append(try best(of: options.runs) {
                        let path = "/tmp/muse-bench-latency-\(getpid()).sock"
                        let server = try PinnedProcess(cpu: serverCPU, me, ["uds-server", path, String(clients), "linger"])
                        waitForFile(path)
                        var cell = Cell(transport: "socket", policy: "blocking", clients: clients, rate: rate)
                        measure(&cell, server: server.pid, processes: (0..<clients).map { _ in
                            [me, "latency-uds-client", path, String(Double(rate) / Double(clients)),
                             String(options.seconds), String(options.warmup), String(options.marginNanoseconds)]
                        })
                        server.stop()
                        unlink(path)
                        return cell
                    })
                }
            }
        }
        var floors: [Cell] = []
        if options.floor {
            for clients in options.clients {
                for rate in options.rates {
                    for mode in [FloorBaseline.spinning, FloorBaseline.sleeping] {
                        floors.append(try best(of: options.runs) {
                            let path = "/dev/shm/muse-bench-floor-\(getpid())"
                            let server = try PinnedProcess(cpu: serverCPU, me, ["floor-server", path, String(clients), mode])
                            waitForFile(path)
                            var cell = Cell(transport: "floor", policy: mode, clients: clients, rate: rate)
                            measure(&cell, server: server.pid, processes: (0..<clients).map { lane in
                                [me, "latency-floor-client", path, String(lane), mode, String(Double(rate) / Double(clients)),
                                 String(options.seconds), String(options.warmup), String(options.marginNanoseconds)]
                            })
                            server.stop()
                            unlink(path)
                            return cell
                        })
                    }
                }
            }
            cells += floors
        }
        print("\n| transport | worker/client policy | clients | rate (events/s) | sent/s | p50 µs | p99 µs | p99.9 µs | max µs | server CPU | send lag p99 µs |")
        print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for cell in cells { print(tableRow(cell, seconds: options.seconds + options.warmup)) }
        for (policy, idle) in idleCPU { print(String(format: "idle mused (%@): %.2f%% of a core", policy, idle)) }
        if !floors.isEmpty { printRatios(cells.filter { $0.transport != "floor" }, to: floors) }
    }

    /// Each cell's p50, p99 and p99.9 divided by the floor's at the same
    /// clients and rate, both sides spinning and both sleeping.
    static func printRatios(_ cells: [Cell], to floors: [Cell]) {
        func floor(_ mode: String, _ c: Cell) -> Cell? {
            floors.first { $0.policy == mode && $0.clients == c.clients && $0.rate == c.rate }
        }
        func ratios(_ c: Cell, _ f: Cell?) -> String {
            guard let f else { return "– | – | –" }
            return [0.5, 0.99, 0.999].map { q in
                let base = f.histogram.percentile(q)
                return base == 0 ? "–" : String(format: "%.2f", Double(c.histogram.percentile(q)) / Double(base))
            }.joined(separator: " | ")
        }
        print("\nAs multiples of the machine's floor (the same generator, a bare shared-memory ping-pong between two processes):")
        print("\n| transport | policy | clients | rate (events/s) | ÷ spin floor p50 | p99 | p99.9 | ÷ futex floor p50 | p99 | p99.9 |")
        print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        for c in cells {
            print("| \(c.transport) | \(c.policy) | \(c.clients) | \(c.rate) | \(ratios(c, floor(FloorBaseline.spinning, c))) | "
                  + "\(ratios(c, floor(FloorBaseline.sleeping, c))) |")
        }
    }

    /// Runs a cell `runs` times, printing each, and keeps the lowest p99.
    static func best(of runs: Int, _ run: () throws -> Cell) rethrows -> Cell {
        var kept: Cell?
        for _ in 0..<runs {
            let cell = try run()
            print(row(cell))
            if kept == nil || cell.histogram.percentile(0.99) < kept!.histogram.percentile(0.99) { kept = cell }
        }
        return kept!
    }

    /// Runs the client processes of one cell on CPU 0 and merges their histograms.
    static func measure(_ cell: inout Cell, server: Int32, processes: [[String]]) {
        let before = cpuTimeNanoseconds(pid: server) ?? 0
        let started = muse__now_ns()
        var children: [(Process, Pipe)] = []
        for arguments in processes {
            let process = Process()
            let pipe = Pipe()
            process.executableURL = URL(filePath: "/usr/bin/taskset")
            process.arguments = ["-c", "0"] + arguments
            process.standardOutput = pipe
            do { try process.run() } catch { fatalError("cannot start \(arguments[0]): \(error)") }
            children.append((process, pipe))
        }
        for (process, pipe) in children {
            let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            for line in output.split(separator: "\n") {
                if line.hasPrefix("hist ") { cell.histogram.merge(encoded: line.dropFirst(5)) }
                if line.hasPrefix("lag ") { cell.lag.merge(encoded: line.dropFirst(4)) }
                if line.hasPrefix("sent=") {
                    for field in line.split(separator: " ") {
                        let kv = field.split(separator: "=")
                        if kv.count == 2, let v = UInt64(kv[1]) {
                            if kv[0] == "sent" { cell.sent += v } else if kv[0] == "errors" { cell.errors += v }
                        }
                    }
                }
            }
            if process.terminationStatus != 0 { cell.errors += 1; print("a client failed: \(output)") }
        }
        let wall = Double(muse__now_ns() - started)
        cell.serverCPU = Double((cpuTimeNanoseconds(pid: server) ?? 0) - before) / wall * 100
    }

    static func us(_ ns: UInt64) -> String { String(format: "%.1f", Double(ns) / 1000) }

    static func row(_ c: Cell) -> String {
        "\(c.transport) \(c.policy) clients=\(c.clients) rate=\(c.rate): \(c.histogram.summary()) "
            + String(format: "server CPU %.1f%%", c.serverCPU) + " send lag p99 \(us(c.lag.percentile(0.99)))us"
            + (c.errors > 0 ? " errors=\(c.errors)" : "")
    }

    static func tableRow(_ c: Cell, seconds: Double) -> String {
        let h = c.histogram
        return "| \(c.transport) | \(c.policy) | \(c.clients) | \(c.rate) | \(Int(Double(c.sent) / seconds)) | "
            + "\(us(h.percentile(0.5))) | \(us(h.percentile(0.99))) | \(us(h.percentile(0.999))) | \(us(h.max)) | "
            + String(format: "%.1f%%", c.serverCPU) + (c.errors > 0 ? " (\(c.errors) errors)" : "") + " | "
            + us(c.lag.percentile(0.99)) + " |"
    }
}
