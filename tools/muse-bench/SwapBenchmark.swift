#if canImport(Glibc)
import Glibc
#endif
import CMuse
import CMuseDaemon
import Foundation
import MuseClient
import MuseControl
import Synchronization

/// Event latency through a real mused serving a real generation, steady and
/// while generations are swapped every 100 ms through the control socket, and
/// the time from a swap request to the first event scored by the new
/// generation.
///
///   muse-bench swap GEN1 GEN2 [--seconds S]   (snapshot files; see examples/generation)
enum SwapBenchmark {
    static func run(gen1: String, gen2: String, seconds: Double, binDirectory: String, serverCPU: Int) throws {
        let runtime = "/tmp/muse-bench-swap-\(getpid())"
        defer {
            try? FileManager.default.removeItem(atPath: runtime)
            try? FileManager.default.removeItem(atPath: runtime + ".state")
        }
        let daemon = try PinnedProcess(cpu: serverCPU, "\(binDirectory)/mused",
                                       ["--runtime-dir", runtime, "--state-dir", runtime + ".state",
                                        "--snapshot", gen1, "--tenant", "bank-a::2:1024"])
        defer { daemon.stop() }
        waitForFile("\(runtime)/control.sock")
        usleep(200_000)
        let connection = try TenantConnection(runtimeDirectory: runtime, tenant: "bank-a")
        let channel = try connection.claim()
        let intent = try connection.intent(named: "card-not-present")
        // A plausible event: every feature present, one varying.
        var features = [Double](repeating: 0.3, count: Int(intent.feature_count))

        func measure(seconds: Double, onCompletion: (muse_completion, UInt64) -> Void) -> (LatencyHistogram, Int) {
            var histogram = LatencyHistogram()
            var errors = 0
            var completion = muse_completion()
            let end = muse__now_ns() + UInt64(seconds * 1e9)
            var i: UInt64 = 0
            while muse__now_ns() < end {
                features[0] = Double(i % 1000) / 100
                let start = muse__now_ns()
                features.withUnsafeBufferPointer { x in
                    while channel.submit(tag: i, intent: intent.id, features: x) != MUSE_OK { muse__cpu_relax() }
                }
                withUnsafeMutablePointer(to: &completion) { out in
                    while channel.poll(into: UnsafeMutableBufferPointer(start: out, count: 1)) == 0 { muse__cpu_relax() }
                }
                let done = muse__now_ns()
                histogram.record(done - start)
                if completion.status != 0 || completion.tag != i { errors += 1 }
                onCompletion(completion, done)
                i += 1
            }
            return (histogram, errors)
        }

        _ = measure(seconds: 0.5) { _, _ in } // warm-up
        let (steady, steadyErrors) = measure(seconds: seconds) { _, _ in }
        print("steady (generation 1)   \(steady.summary())  errors \(steadyErrors)")

        // Swaps every 100 ms on another thread; the client keeps going.
        let stop = Atomic<Bool>(false)
        let pending = Mutex<(target: UInt64, since: UInt64)?>(nil)
        let swapToFirstEvent = Mutex<[UInt64]>([])
        let swapReplies = Mutex<[Double]>([])
        let socket = ControlSocket.path(runtimeDirectory: runtime)
        let swapper = Thread {
            var next = 2
            while !stop.load(ordering: .relaxed) {
                let started = muse__now_ns()
                pending.withLock { $0 = (UInt64(next), started) }
                let reply = try? ControlClient.send(ControlRequest(command: .swap, path: next == 2 ? gen2 : gen1), to: socket)
                if reply?.ok == true {
                    swapReplies.withLock { $0.append(Double(muse__now_ns() - started) / 1e6) }
                } else {
                    print("swap refused: \(reply?.error ?? "no reply")")
                }
                next = next == 2 ? 1 : 2
                let wake = started + 100_000_000
                while muse__now_ns() < wake && !stop.load(ordering: .relaxed) { usleep(1000) }
            }
        }
        swapper.start()
        let (swapping, swappingErrors) = measure(seconds: seconds) { completion, at in
            pending.withLock { p in
                if let current = p, completion.generation_id == current.target {
                    swapToFirstEvent.withLock { $0.append(at - current.since) }
                    p = nil
                }
            }
        }
        stop.store(true, ordering: .relaxed)
        while !swapper.isFinished { usleep(1000) }
        print("during swaps (100 ms)   \(swapping.summary())  errors \(swappingErrors)")
        print(String(format: "ratio swaps/steady      p50 %.2fx  p99 %.2fx  p99.9 %.2fx",
                     Double(swapping.percentile(0.5)) / Double(max(steady.percentile(0.5), 1)),
                     Double(swapping.percentile(0.99)) / Double(max(steady.percentile(0.99), 1)),
                     Double(swapping.percentile(0.999)) / Double(max(steady.percentile(0.999), 1))))
        let firsts = swapToFirstEvent.withLock { $0 }.sorted()
        let replies = swapReplies.withLock { $0 }.sorted()
        if !firsts.isEmpty {
            print(String(format: "swap request → first event on the new generation: median %.2f ms, max %.2f ms (%d swaps)",
                         Double(firsts[firsts.count / 2]) / 1e6, Double(firsts.last!) / 1e6, firsts.count))
        }
        if !replies.isEmpty {
            print(String(format: "swap request → reply (copy, read, decode, verify, import, publish): median %.2f ms, max %.2f ms",
                         replies[replies.count / 2], replies.last!))
        }
    }
}
