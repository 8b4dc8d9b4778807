#if canImport(Glibc)
import Glibc
#endif
import CMuse
import CMuseDaemon
import Foundation

/// muse-bench hiccups [--seconds S]: what this machine lets a spinning thread
/// do, with no transport at all. One thread per CPU, pinned, reads the clock
/// in a loop for S seconds, all at once (as the client and mused spin in a
/// latency run). A gap of over 1 µs between two readings is time the thread
/// did not run: a timer tick, an interrupt, the hypervisor running something
/// else. Per CPU it reports the share of time lost, the gaps by size, and the
/// delay that an event arriving at a random moment would see from those gaps
/// alone, at p99 and p99.9, on that CPU and on either (an event crosses
/// both): a floor under any spinning transport's tail on this machine.
enum HiccupBenchmark {
    /// A random moment falls inside a gap of length d with probability d / T
    /// and then waits for what is left of it, uniform on (0, d): the chance
    /// of waiting more than x is the sum over gaps of max(0, d - x) / T.
    static func delay(exceededWithProbability p: Double, gaps: [UInt64], wall: Double) -> Double {
        var lo = 0.0, hi = Double(gaps.max() ?? 0)
        func exceed(_ x: Double) -> Double { gaps.reduce(0) { $0 + max(0, Double($1) - x) } / wall }
        if exceed(0) <= p { return 0 }
        for _ in 0..<60 {
            let mid = (lo + hi) / 2
            if exceed(mid) > p { lo = mid } else { hi = mid }
        }
        return hi
    }

    final class Spinner: @unchecked Sendable {
        let cpu: Int32
        let nanoseconds: UInt64
        /// Written by the spinning thread only; read after `done` is signalled.
        var gaps: [UInt64] = []
        var wall: UInt64 = 0
        var pinned = false
        let done = DispatchSemaphore(value: 0)

        init(cpu: Int32, nanoseconds: UInt64) {
            self.cpu = cpu
            self.nanoseconds = nanoseconds
            gaps.reserveCapacity(1 << 20)
        }

        func run() {
            pinned = muse_pin_thread_to_cpu(cpu) == 0
            let start = muse__now_ns(), end = start + nanoseconds
            var last = start
            while last < end {
                let now = muse__now_ns()
                if now &- last > 1_000 && gaps.count < 1 << 20 { gaps.append(now &- last) }
                last = now
            }
            wall = last - start
            done.signal()
        }
    }

    static func run(seconds: Double) {
        let cpus = Int32(sysconf(Int32(_SC_NPROCESSORS_ONLN)))
        let load = (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8))?.split(separator: " ").prefix(3)
            .joined(separator: " ") ?? "?"
        print("muse-bench hiccups: \(cpus) CPUs, load average \(load); one spinning thread per CPU for \(seconds) s, all at once")
        let spinners = (0..<cpus).map { Spinner(cpu: $0, nanoseconds: UInt64(seconds * 1e9)) }
        for s in spinners { Thread { s.run() }.start() }
        for s in spinners { s.done.wait() }
        let bounds: [UInt64] = [2_000, 5_000, 10_000, 20_000, 50_000, 100_000, 1_000_000, .max]
        let names = ["1-2", "2-5", "5-10", "10-20", "20-50", "50-100", "100-1000", ">1000"]
        print("| CPU | time lost | gaps per s by length (µs): " + names.joined(separator: " / ")
              + " | delay p99 µs | delay p99.9 µs |")
        print("|---:|---:|---|---:|---:|")
        for s in spinners {
            precondition(s.pinned, "cannot pin to CPU \(s.cpu)")
            let wall = Double(s.wall)
            var counts = [Int](repeating: 0, count: bounds.count)
            for g in s.gaps { counts[bounds.firstIndex { g < $0 }!] += 1 }
            let perSecond = counts.map { String(format: "%.0f", Double($0) / (wall / 1e9)) }.joined(separator: " / ")
            let lost = Double(s.gaps.reduce(0, +)) / wall * 100
            print(String(format: "| %d | %.2f%% | %@ | %.1f | %.1f |", s.cpu, lost, perSecond,
                         delay(exceededWithProbability: 0.01, gaps: s.gaps, wall: wall) / 1000,
                         delay(exceededWithProbability: 0.001, gaps: s.gaps, wall: wall) / 1000))
        }
        // An event that crosses from one CPU to the other waits if either
        // stalls: the chances add (the stalls are rare and, but for shared
        // causes, independent).
        let all = spinners.flatMap(\.gaps), wall = Double(spinners.map(\.wall).min() ?? 1)
        print(String(format: "| either | %.2f%% | | %.1f | %.1f |", Double(all.reduce(0, +)) / wall * 100,
                     delay(exceededWithProbability: 0.01, gaps: all, wall: wall) / 1000,
                     delay(exceededWithProbability: 0.001, gaps: all, wall: wall) / 1000))
    }
}
