#if canImport(Glibc)
import Glibc
#endif
import CMuse
import CMuseDaemon

/// The few things a daemon thread needs from the system, without C.
public enum ThreadSupport {
    /// CLOCK_MONOTONIC in nanoseconds: the clock of muse.h's heartbeats.
    @inline(__always)
    public static func monotonicNanoseconds() -> UInt64 { muse__now_ns() }

    /// Unix time (CLOCK_REALTIME) in nanoseconds: for what is compared
    /// across hosts or written into files (sketch windows, creation times).
    public static func unixNanoseconds() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return UInt64(now.tv_sec) &* 1_000_000_000 &+ UInt64(now.tv_nsec)
    }

    /// A pause inside a spin loop (PAUSE on x86, YIELD on arm64).
    @inline(__always)
    public static func relax() { muse__cpu_relax() }

    /// Makes the calling thread yield the CPU to normal-priority threads
    /// (the workers) under contention: for cold-path work such as loading a
    /// snapshot. Best effort.
    public static func lowerPriority() { _ = muse_set_thread_nice(10) }

    /// Lowers the calling thread's CPU priority below the control plane's
    /// (nice 19): a snapshot loading there yields to `status` and scrapes
    /// on the same CPUs, as they yield to the workers.
    public static func lowestPriority() { _ = muse_set_thread_nice(19) }

    /// Names the calling thread; the kernel keeps 15 bytes.
    public static func setName(_ name: String) { muse_set_thread_name(name) }
}
