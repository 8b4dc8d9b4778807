#if canImport(Glibc)
import Glibc
#endif
import CMuse
import CMuseDaemon
import Synchronization

/// How one daemon worker sleeps on the doorbells of the segments it serves.
///
/// Protocol (muse.h, WAKE-UPS): the worker reads each doorbell, sets its bit
/// in each segment's daemon_sleeping (a seq_cst read-modify-write), checks its
/// rings once more, and only then waits for any doorbell to move. A client
/// publishes sq_tail, fences, and rings only if some bit is set. Either the
/// worker's last check sees the submission or the client sees the bit.
public struct DaemonDoorbell: @unchecked Sendable {
    private let words: [UnsafeMutablePointer<UInt32>]
    private let sleepingFlags: [UnsafeMutablePointer<UInt32>]
    private let bit: UInt32
    private var values: [UInt32]
    /// Set once by whichever worker first meets ENOSYS; read by all of them.
    /// Relaxed suffices: it only selects a fallback, and a stale false costs
    /// one more failed system call.
    private static let waitvMissing = Atomic<Bool>(false)

    /// `worker` picks the bit this worker owns in daemon_sleeping (0...31).
    public init(segments: [Segment], worker: Int) {
        precondition((0..<32).contains(worker), "daemon_sleeping has 32 bits")
        // Addresses by offset, not `&header.pointee.field`: that is an inout
        // (modifying) access, which ThreadSanitizer reports as a race when
        // two workers build doorbells for the same segment at once (a reload).
        func field(_ segment: Segment, _ key: KeyPath<muse_segment_header, UInt32>) -> UnsafeMutablePointer<UInt32> {
            (UnsafeMutableRawPointer(segment.header) + MemoryLayout<muse_segment_header>.offset(of: key)!)
                .assumingMemoryBound(to: UInt32.self)
        }
        words = segments.map { field($0, \.daemon_doorbell) }
        sleepingFlags = segments.map { field($0, \.daemon_sleeping) }
        bit = 1 << UInt32(worker)
        values = Array(repeating: 0, count: segments.count)
    }

    /// Sleeps until a client rings, `timeoutNanoseconds` pass, or `hasWork`
    /// finds work after the flags are raised (then it does not sleep at all).
    /// Returns true if it slept.
    @discardableResult
    public mutating func sleep(timeoutNanoseconds: Int64, hasWork: () -> Bool) -> Bool {
        // futex_waitv takes at most 128 words and needs Linux 5.16; beyond
        // that, nap briefly instead (bounded latency, no lost wake-up).
        if words.isEmpty || words.count > 128 || Self.waitvMissing.load(ordering: .relaxed) {
            var pause = timespec(tv_sec: 0, tv_nsec: Int(min(timeoutNanoseconds, words.isEmpty ? timeoutNanoseconds : 1_000_000)))
            nanosleep(&pause, nil)
            return true
        }
        for i in words.indices { values[i] = muse_atomic_load_acquire_u32(words[i]) }
        for flag in sleepingFlags { muse_atomic_or_u32(flag, bit) }
        muse_atomic_fence_seq_cst()
        defer { for flag in sleepingFlags { muse_atomic_and_u32(flag, ~bit) } }
        if hasWork() { return false }
        // A hostile client can keep changing its doorbell so this returns at
        // once; that costs this worker spins, never correctness.
        words.withUnsafeBufferPointer { w in
            values.withUnsafeBufferPointer { v in
                w.withMemoryRebound(to: Optional<UnsafeMutablePointer<UInt32>>.self) { optionalWords in
                    if muse_futex_waitv(optionalWords.baseAddress, v.baseAddress, UInt32(w.count), timeoutNanoseconds) < 0
                        && errno == ENOSYS {
                        Self.waitvMissing.store(true, ordering: .relaxed)
                    }
                }
            }
        }
        return true
    }
}
