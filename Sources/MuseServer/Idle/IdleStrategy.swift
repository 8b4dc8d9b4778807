#if canImport(Glibc)
import Glibc
#endif
import MuseCore

/// What a worker does while its channels are empty, in the manner of Aeron's
/// idle strategies (`idle_policy`, `--idle-policy`):
///
/// - `busy-spin`: never sleeps. The lowest latency, one whole core per worker
///   even with no traffic; clients never make a system call to wake it.
/// - `adaptive`: spins for a budget learned from the gaps between this
///   worker's events, then yields the CPU a few times, then sleeps
///   on the doorbells (futex_waitv). Where events come densely (at least 95 %
///   of the recent gaps were within `spin_us`) it spins for 8 mean gaps, at
///   most `spin_us`; a Poisson stream outlasts 8 mean gaps once in e^8
///   (0.03 %): the core is nearly busy anyway and almost no event pays a
///   wake-up. Where they come sparsely it spins for an eighth of the mean
///   gap, so spinning costs about an eighth of a core at most and the events
///   that come later pay a futex wake-up. Density is judged by the share of
///   gaps within `spin_us`, not by the mean: a gap that ends in a wake-up
///   looks longer by the wake-up's latency, which would otherwise hold a
///   worker at 10k events/s in the sparse regime once it had slept.
/// - `low-power`: sleeps as soon as a clock period (64 rounds over the
///   channels, a few microseconds) found nothing. Least CPU, a wake-up per
///   burst.
///
/// The worker owns its strategy outright (one thread), so nothing here is
/// shared. Whatever the policy, the worker still wakes every housekeeping
/// period for heartbeats and reclaims (`Worker.housekeepingNanoseconds`).
struct IdleStrategy {
    let policy: IdlePolicy
    /// adaptive: the longest it spins before yielding (`spin_us`).
    let maxSpinNanoseconds: UInt64
    /// adaptive: the mean idle gap (an exponentially weighted mean, weight
    /// 1/32, each gap clamped at 4 × maxSpin so one long silence does not
    /// swamp it) and the spin budget derived from it.
    private(set) var meanGapNanoseconds: UInt64
    /// adaptive: the share of recent gaps within maxSpin, in 1/1024
    /// (exponentially weighted, weight 1/32).
    private(set) var coveredShare: UInt64 = 1024
    private(set) var spinBudgetNanoseconds: UInt64
    /// The clock reading at which the worker last had work.
    private var lastWork: UInt64
    /// Whether the last clock reading found the channels idle.
    private var idleAtLastReading = false
    /// Set by `prepared`: the wait for the next event is a client's own
    /// feature work, not a gap between arrivals, so it is not learned.
    private var preparedWait = false
    private var yielding = false
    private var yields = 0

    /// Mean gaps spun through where events are dense.
    static let gapsCovered: UInt64 = 8
    /// sched_yield calls between spinning and sleeping (adaptive). Few: on a
    /// core shared with other processes one yield can cost a time slice.
    static let yieldsBeforeSleep = 8
    static let minimumSpinNanoseconds: UInt64 = 1_000

    init(policy: IdlePolicy, maxSpinNanoseconds: UInt64, now: UInt64) {
        self.policy = policy
        self.maxSpinNanoseconds = maxSpinNanoseconds
        // Until it has learned, it spins for spin_us, as mused did before.
        meanGapNanoseconds = maxSpinNanoseconds / Self.gapsCovered
        spinBudgetNanoseconds = max(maxSpinNanoseconds, Self.minimumSpinNanoseconds)
        lastWork = now
    }

    /// A round over the channels found nothing (between two clock readings).
    @inline(__always)
    mutating func pause() {
        if yielding && yields < Self.yieldsBeforeSleep {
            sched_yield()
            yields += 1
        } else {
            ThreadSupport.relax()
        }
    }

    /// At a clock reading: `worked` says whether any round since the last
    /// reading answered events. True: sleep on the doorbells now.
    mutating func shouldSleep(now: UInt64, worked: Bool) -> Bool {
        if worked {
            if idleAtLastReading && !preparedWait { learn(gap: now &- lastWork) }
            preparedWait = false
            lastWork = now
            idleAtLastReading = false
            yielding = false
            yields = 0
            return false
        }
        idleAtLastReading = true
        switch policy {
        case .busySpin:
            return false
        case .lowPower:
            return true
        case .adaptive:
            if now &- lastWork < spinBudgetNanoseconds { return false }
            if yields < Self.yieldsBeforeSleep {
                yielding = true
                return false
            }
            return true
        }
    }

    /// After a sleep ended by a client's `muse_prepare`: spin the budget
    /// from now for the event announced (and no longer: if it never comes,
    /// the worker yields and sleeps as after any work).
    mutating func prepared(now: UInt64) {
        lastWork = now
        yielding = false
        yields = 0
        preparedWait = true
    }

    /// After a doorbell sleep, or an attempt that found work first.
    ///
    /// An attempt that found work yields afresh next time rather than
    /// sleeping straight away again. A sleep that ended (a ring, a timeout
    /// for housekeeping) goes back to sleep as soon as a round finds nothing:
    /// a ring with work behind it makes the round work, and then the spin
    /// budget applies from that work; a wake with nothing behind it (a
    /// timeout, another worker's channel) is not worth yields, which with
    /// hundreds of channels cost a round of all of them each.
    mutating func woke(slept: Bool = false) {
        yielding = slept
        yields = slept ? Self.yieldsBeforeSleep : 0
    }

    /// Folds one idle gap (last work to the reading that found work again)
    /// into the mean and derives the next spin budget.
    mutating func learn(gap: UInt64) {
        let covered: UInt64 = gap <= maxSpinNanoseconds ? 1024 : 0
        if covered >= coveredShare {
            coveredShare += (covered - coveredShare) / 32
        } else {
            coveredShare -= (coveredShare - covered) / 32
        }
        let clamped = min(gap, 4 * maxSpinNanoseconds)
        if clamped >= meanGapNanoseconds {
            meanGapNanoseconds += (clamped - meanGapNanoseconds) / 32
        } else {
            meanGapNanoseconds -= (meanGapNanoseconds - clamped) / 32
        }
        spinBudgetNanoseconds = Self.budget(meanGap: meanGapNanoseconds, coveredShare: coveredShare,
                                            maxSpin: maxSpinNanoseconds)
    }

    /// Share of gaps within maxSpin (in 1/1024) from which events count as dense.
    static let denseShare: UInt64 = 973 // 95 %

    static func budget(meanGap: UInt64, coveredShare: UInt64, maxSpin: UInt64) -> UInt64 {
        let spin = coveredShare >= denseShare ? min(maxSpin, gapsCovered * meanGap) : min(maxSpin, meanGap / 8)
        return max(spin, minimumSpinNanoseconds)
    }
}
