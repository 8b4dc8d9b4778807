#if canImport(Glibc)
import Glibc
#endif
import CMuse
import CMuseDaemon
import Foundation
import MuseClient

// muse-bench: the shared-memory transport's figures, side by side with a Unix
// domain socket. The client runs on CPU 0, mused and the socket server on CPU 1.
//
//   muse-bench ipc [--events N]      (mused is taken from this binary's directory)
//   muse-bench swap GEN1 GEN2 [--seconds S]
//   muse-bench scrape [--seconds S]  (event latency while /metrics is scraped)
//   muse-bench e2e [--trees 500] [--leaves 31] [--features 32] [--events N]   (EndToEndBenchmark.swift)
//   muse-bench e2e ... --write-model DIR   (only writes the model and its events for muse-bench-models)
//   muse-bench latency [--seconds S] [--rates 1000,...] [--clients 1,4] [--policies ...]
//                      (open loop, Poisson arrivals; see LatencyBenchmark.swift)
//   muse-bench hiccups [--seconds S]  (the machine's own stalls under a spinning thread)

let arguments = CommandLine.arguments

/// `--seconds S` from the arguments, or `fallback`.
func secondsOption(default fallback: Double) -> Double {
    guard let i = arguments.firstIndex(of: "--seconds"), i + 1 < arguments.count, let s = Double(arguments[i + 1])
    else { return fallback }
    return s
}
if arguments.count >= 3 && arguments[1] == "uds-server" {
    UnixSocketBaseline.serve(path: arguments[2], connections: arguments.count > 3 ? Int(arguments[3]) ?? 1 : 1,
                             linger: arguments.count > 4 && arguments[4] == "linger")
}
if arguments.count >= 9 && arguments[1] == "latency-client" { try LatencyBenchmark.museClient(Array(arguments[2...])) }
if arguments.count >= 7 && arguments[1] == "latency-uds-client" { LatencyBenchmark.socketClient(Array(arguments[2...])) }
if arguments.count >= 9 && arguments[1] == "latency-floor-client" { LatencyBenchmark.floorClient(Array(arguments[2...])) }
if arguments.count >= 5 && arguments[1] == "floor-server" { FloorBaseline.serve(Array(arguments[2...])) }
if arguments.count >= 2 && arguments[1] == "latency" {
    let me = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? arguments[0]
    try LatencyBenchmark.run(LatencyBenchmark.Options(arguments), me: me,
                             binDirectory: URL(filePath: me).deletingLastPathComponent().path)
    exit(0)
}
if arguments.count >= 2 && arguments[1] == "hiccups" {
    let seconds = secondsOption(default: 5.0)
    HiccupBenchmark.run(seconds: seconds)
    exit(0)
}
if arguments.count >= 4 && arguments[1] == "swap" {
    let me = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? arguments[0]
    let seconds = secondsOption(default: 5.0)
    let cpus = sysconf(Int32(_SC_NPROCESSORS_ONLN))
    print("muse-bench swap: \(cpus) CPUs; client on CPU 0, mused on CPU \(cpus > 1 ? 1 : 0); one event in flight")
    guard muse_pin_thread_to_cpu(0) == 0 else { fatalError("cannot pin to CPU 0") }
    try SwapBenchmark.run(gen1: arguments[2], gen2: arguments[3], seconds: seconds,
                          binDirectory: URL(filePath: me).deletingLastPathComponent().path, serverCPU: cpus > 1 ? 1 : 0)
    exit(0)
}

if arguments.count >= 2 && arguments[1] == "scrape" {
    let me = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? arguments[0]
    let seconds = secondsOption(default: 2.0)
    let cpus = sysconf(Int32(_SC_NPROCESSORS_ONLN))
    print("muse-bench scrape: \(cpus) CPUs; client and scraper (nice 19) on CPU 0, mused on CPU \(cpus > 1 ? 1 : 0); "
        + "one event in flight; \(ScrapeBenchmark.rounds) rounds of \(seconds) s per phase")
    guard muse_pin_thread_to_cpu(0) == 0 else { fatalError("cannot pin to CPU 0") }
    try ScrapeBenchmark.run(seconds: seconds, binDirectory: URL(filePath: me).deletingLastPathComponent().path,
                            serverCPU: cpus > 1 ? 1 : 0)
    exit(0)
}
if arguments.count >= 2 && arguments[1] == "e2e" {
    func value(_ name: String) -> Int? {
        arguments.firstIndex(of: name).flatMap { $0 + 1 < arguments.count ? Int(arguments[$0 + 1]) : nil }
    }
    var options = EndToEndBenchmark.Options()
    options.trees = value("--trees") ?? options.trees
    options.leaves = value("--leaves") ?? options.leaves
    options.features = value("--features") ?? options.features
    options.events = value("--events") ?? options.events
    if let i = arguments.firstIndex(of: "--write-model"), i + 1 < arguments.count {
        try EndToEndBenchmark.writeModel(options, to: arguments[i + 1])
        exit(0)
    }
    let me = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? arguments[0]
    let cpus = sysconf(Int32(_SC_NPROCESSORS_ONLN))
    print("muse-bench e2e: \(cpus) CPUs; client on CPU 0; 1 tenant: mused on CPU \(cpus > 1 ? 1 : 0); "
        + "8 tenants: mused's 2 workers on CPUs 0-\(max(cpus - 1, 0)); load average \(loadAverage())")
    guard muse_pin_thread_to_cpu(0) == 0 else { fatalError("cannot pin to CPU 0") }
    try EndToEndBenchmark.run(options, binDirectory: URL(filePath: me).deletingLastPathComponent().path, cpus: cpus)
    print("load average at the end: \(loadAverage())")
    exit(0)
}

var events = 1_000_000
if let i = arguments.firstIndex(of: "--events"), i + 1 < arguments.count, let n = Int(arguments[i + 1]) { events = n }
let me = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? arguments[0]
let binDirectory = URL(filePath: me).deletingLastPathComponent().path
let cpus = sysconf(Int32(_SC_NPROCESSORS_ONLN))
let runtime = "/tmp/muse-bench-\(getpid())"
mkdir(runtime, 0o755)
defer { try? FileManager.default.removeItem(atPath: runtime) }

print("muse-bench ipc: \(cpus) CPUs; client on CPU 0, server on CPU \(cpus > 1 ? 1 : 0); 16 features per event")
guard muse_pin_thread_to_cpu(0) == 0 else { fatalError("cannot pin to CPU 0") }
let serverCPU = cpus > 1 ? 1 : 0

// 1. Muse over shared memory.
let daemon = try PinnedProcess(cpu: serverCPU, "\(binDirectory)/mused",
                               ["--runtime-dir", runtime, "--state-dir", runtime + ".state", "--tenant", "bench::4:1024", "--tenant", "idle::8:64"])
waitForFile("\(runtime)/idle.muse")
usleep(200_000)
let connection = try TenantConnection(runtimeDirectory: runtime, tenant: "bench")
var muse = try SharedMemoryBenchmarks(connection: connection)
let museRoundTrip = muse.roundTrip(events: events)
print("muse round trip      \(museRoundTrip.summary())")
let rate = muse.throughput(events: max(events * 20, 1_000_000))
print(String(format: "muse pipelined       %.2f M events/s (batches of 64, ring depth 1024)", rate / 1e6))

// 2. Unix domain socket, same event, same scoring, same CPUs.
let socketPath = "\(runtime)/uds.sock"
let server = try PinnedProcess(cpu: serverCPU, me, ["uds-server", socketPath])
waitForFile(socketPath)
let socketEvents = max(events / 5, 10_000)
let socketRoundTrip = UnixSocketBaseline.roundTrip(path: socketPath, events: socketEvents)
server.process.waitUntilExit()
print("uds round trip       \(socketRoundTrip.summary())")
print(String(format: "ratio uds/muse       p50 %.1fx  p99 %.1fx  p99.9 %.1fx",
             Double(socketRoundTrip.percentile(0.5)) / Double(max(museRoundTrip.percentile(0.5), 1)),
             Double(socketRoundTrip.percentile(0.99)) / Double(max(museRoundTrip.percentile(0.99), 1)),
             Double(socketRoundTrip.percentile(0.999)) / Double(max(museRoundTrip.percentile(0.999), 1))))

// 3. Idle cost: clients attached (channels claimed), nothing submitted.
let idleConnection = try TenantConnection(runtimeDirectory: runtime, tenant: "idle")
let idleChannels = try (0..<8).map { _ in try idleConnection.claim() }
usleep(500_000)
let idleSeconds = 5.0
let cpuBefore = cpuTimeNanoseconds(pid: daemon.pid) ?? 0
usleep(UInt32(idleSeconds * 1e6))
let cpuAfter = cpuTimeNanoseconds(pid: daemon.pid) ?? 0
print(String(format: "idle cost            %.3f%% of a core (%d channels of 2 tenants claimed, %.0f s)",
             Double(cpuAfter - cpuBefore) / (idleSeconds * 1e9) * 100, idleChannels.count + 1, idleSeconds))

// 4. Wake-up from idle: both sides asleep on their futexes when the event comes.
let wake = muse.wakeFromIdle(samples: 2000, idleMicroseconds: 2000)
print("wake-up from idle    \(wake.summary())")

daemon.stop()
