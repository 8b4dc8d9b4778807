#if canImport(Glibc)
import Glibc
#endif
import Foundation
import MuseCore
import Synchronization

/// A worker's sign of life: a counter it bumps from its loop (at every
/// housekeeping, at least every `Worker.housekeepingNanoseconds` whether
/// events flow or not), and the time of that beat. The watchdog reads the
/// count, /healthz the time.
final class WorkerHeartbeat: Sendable {
    private let counter = Atomic<UInt64>(0)
    /// CLOCK_MONOTONIC of the last beat; the worker's creation until its first.
    private let lastBeat = Atomic<UInt64>(ThreadSupport.monotonicNanoseconds())

    var count: UInt64 { counter.load(ordering: .relaxed) }

    /// When the worker last beat (CLOCK_MONOTONIC nanoseconds).
    var lastBeatNanoseconds: UInt64 { lastBeat.load(ordering: .relaxed) }

    func beat(worker: Int) {
        counter.add(1, ordering: .relaxed)
        // A clock read per housekeeping (every 50-200 ms), not per event.
        lastBeat.store(ThreadSupport.monotonicNanoseconds(), ordering: .relaxed)
        if worker == 0, let stall = TestStall.afterNanoseconds { TestStall.stallIfDue(stall) }
    }
}

/// TEST ONLY: `MUSE_TEST_STALL_WORKER_AFTER_MS=N` makes worker 0 hang for
/// good N milliseconds after it started, as a deadlocked worker would, so the
/// tests can see the watchdog pings stop. Never set it in production: the
/// stalled worker's channels go unanswered and mused no longer stops on
/// SIGTERM (systemd's stop timeout then kills it).
enum TestStall {
    static let afterNanoseconds: UInt64? = getenv("MUSE_TEST_STALL_WORKER_AFTER_MS")
        .flatMap { UInt64(String(cString: $0)) }.map { $0 * 1_000_000 }
    private static let started = ThreadSupport.monotonicNanoseconds()

    static func stallIfDue(_ after: UInt64) {
        let since = started // first use: the worker's first beat
        guard ThreadSupport.monotonicNanoseconds() &- since >= after else { return }
        Log.warning("test-stall", ["worker": 0, "reason": "MUSE_TEST_STALL_WORKER_AFTER_MS is set (test only)"])
        while true { sleep(3600) }
    }
}

/// Feeds systemd's watchdog (`WatchdogSec=`) from the workers' progress.
///
/// Every half interval it reads each worker's heartbeat and sends
/// `WATCHDOG=1` only if every worker has beaten since the last ping. One
/// stuck worker (a deadlock, a scoring loop that never ends) thereby stops
/// the pings, and systemd kills and restarts mused after `WatchdogSec`.
public final class Watchdog: @unchecked Sendable {
    public let intervalNanoseconds: UInt64
    private let notifier: SystemdNotifier
    private let heartbeats: @Sendable () -> [UInt64]
    private let stopping = Atomic<Bool>(false)
    private var thread: Thread?

    /// The interval systemd asks for in `$WATCHDOG_USEC` (when
    /// `$WATCHDOG_PID`, if set, is this process), else nil.
    public static func intervalFromEnvironment() -> UInt64? {
        if let pid = getenv("WATCHDOG_PID").map({ String(cString: $0) }), !pid.isEmpty, Int32(pid) != getpid() {
            return nil
        }
        guard let text = getenv("WATCHDOG_USEC").map({ String(cString: $0) }), let usec = UInt64(text), usec > 0,
              usec < UInt64.max / 1000
        else { return nil }
        return usec * 1000
    }

    /// `heartbeats` returns every worker's heartbeat count, in a fixed order.
    public init(notifier: SystemdNotifier, intervalNanoseconds: UInt64, heartbeats: @escaping @Sendable () -> [UInt64]) {
        self.notifier = notifier
        self.intervalNanoseconds = intervalNanoseconds
        self.heartbeats = heartbeats
    }

    public func start() {
        if intervalNanoseconds < 1_000_000_000 {
            Log.warning("watchdog-interval-short", ["watchdog_usec": intervalNanoseconds / 1000, "reason":
                "workers beat every \(Worker.housekeepingNanoseconds / 1_000_000) ms; WatchdogSec below 1s risks false alarms"])
        }
        Log.info("watchdog", ["interval_ms": intervalNanoseconds / 1_000_000, "ping_every_ms": intervalNanoseconds / 2_000_000])
        let thread = Thread { [self] in run() }
        thread.name = "muse-watchdog"
        thread.stackSize = 1 << 18
        self.thread = thread
        thread.start()
    }

    /// Stops the pings (mused is stopping; systemd no longer expects them).
    public func stop() {
        stopping.store(true, ordering: .releasing)
        while let thread, !thread.isFinished { usleep(1000) }
        // The thread's block holds this watchdog: let both go.
        thread = nil
    }

    private func run() {
        let period = intervalNanoseconds / 2
        var lastPinged = heartbeats()
        var withheld: [Int] = []
        // The first ping at once: starting took time the interval did not
        // allow for.
        _ = notifier.watchdog()
        var next = ThreadSupport.monotonicNanoseconds() + period
        while !stopping.load(ordering: .acquiring) {
            let now = ThreadSupport.monotonicNanoseconds()
            if now < next {
                usleep(UInt32(min(next - now, 50_000_000) / 1000))
                continue
            }
            next = now + period
            let beats = heartbeats()
            let stuck = zip(beats, lastPinged).enumerated().filter { $0.element.0 == $0.element.1 }.map(\.offset)
            if stuck.isEmpty {
                _ = notifier.watchdog()
                lastPinged = beats
                if !withheld.isEmpty { Log.info("watchdog-resumed", ["workers": beats.count]) }
            } else if stuck != withheld {
                Log.error("watchdog-withheld", ["stuck_workers": stuck.map(String.init).joined(separator: ","), "reason":
                    "a worker made no progress since the last ping; systemd restarts mused if it does not recover"])
            }
            withheld = stuck
        }
    }
}
