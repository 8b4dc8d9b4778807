#if canImport(Glibc)
import Glibc
#endif
import CMuse
import CMuseDaemon
import CURing
import Synchronization

/// How one daemon worker sleeps on the doorbells of the segments it serves.
///
/// Protocol (muse.h, WAKE-UPS): the worker reads each doorbell, sets its bit
/// in each segment's daemon_sleeping (a seq_cst read-modify-write), checks its
/// rings once more, and only then waits for any doorbell to move. A client
/// publishes sq_tail, fences, and rings only if some bit is set. Either the
/// worker's last check sees the submission or the client sees the bit.
public struct DaemonDoorbell: @unchecked Sendable {
    private let segments: [Segment]
    private let words: [UnsafeMutablePointer<UInt32>]
    private let sleepingFlags: [UnsafeMutablePointer<UInt32>]
    private let bit: UInt32
    private var values: [UInt32]
    /// Per segment: the start of its current empty-wake window, the empty
    /// wakes in it, and until when it is left out of the wait set. This and
    /// everything below is the owning worker's alone (no other thread reads
    /// it); the shared words are the doorbells (clients write, this reads
    /// with acquire loads) and daemon_sleeping (this worker's bit, set and
    /// cleared with seq_cst read-modify-writes).
    private var windowStart: [UInt64]
    private var emptyWakes: [Int]
    private var mutedUntil: [UInt64]
    /// Mutes in a row (each twice as long, up to 4x), cleared by a wake with
    /// work behind it or by a quiet spell.
    private var mutes: [Int]
    /// Whether this worker's bit is raised on each segment. Up to 128
    /// segments: inside `sleep`, and after one that left its settling to the
    /// caller until `settle`. Past them (io_uring): also while the worker is
    /// awake, for as long as the segment's group has its request in the
    /// kernel, so that an idle tenant's bit is not lowered and raised again
    /// around every wake; a ring on it then completes that request, and
    /// `noticeRings` lowers the group's bits.
    private var armed: [Bool]
    /// Set when a `sleep` returned with bits raised that `settle` lowers,
    /// cleared by `settle`.
    private var unsettled = false
    /// Each segment's daemon_prepare word, and its value when armed.
    private let prepareWords: [UnsafeMutablePointer<UInt32>]
    private var prepareValues: [UInt32]
    /// Set by `sleep` when it returned for a client's `muse_prepare`: an
    /// event is coming, so the worker should spin its budget for it.
    public private(set) var wokeForPrepare = false
    /// The segments (indices into `segments`) whose doorbell the kernel said
    /// ended the last wait of the last `sleep`: futex_waitv's woken word, or
    /// the words of each io_uring group whose request completed (those
    /// whose word moved). Empty when it cannot tell: a timeout, a signal, a
    /// word that had moved before the wait began, a nap. A worker with many
    /// segments serves these first: a full sweep over every segment costs
    /// tens of microseconds at a thousand of them.
    public private(set) var rang: [Int] = []
    /// The worker's reclaim count when a release wake was last excused.
    private var reclaimsExcused: UInt64 = 0
    /// The segments waited on in this pass (indices into `words`).
    private var active: [Int] = []
    private var activeWords: [UnsafeMutablePointer<UInt32>?] = []
    private var activeValues: [UInt32] = []
    /// Per io_uring group of `MUSE_FUTEX_WAITER_GROUP` segments: set by the
    /// waiter when that group's request completed in the last wait.
    private var wokenGroups: [UInt8] = []
    /// Set once by whichever worker first meets ENOSYS; read by all of them.
    /// Relaxed suffices: it only selects a fallback, and a stale false costs
    /// one more failed system call.
    private static let waitvMissing = Atomic<Bool>(false)
    /// For a wait set past futex_waitv's 128 words: io_uring futex requests
    /// of 128 words each. Made by the first such sleep; this worker's alone.
    private var manyWaiter: ManyWordWaiter?
    /// Set once when io_uring cannot wait on futexes here (kernel before
    /// 6.7, io_uring disabled); relaxed, as `waitvMissing`.
    private static let manyMissing = Atomic<Bool>(false)

    /// A doorbell that wakes this worker more than `emptyWakeBudget` times in
    /// `emptyWakeWindow` with no work behind it is left out of the wait set
    /// for `muteNanoseconds`.
    ///
    /// Why: a client may ring its segment's doorbell in a loop (only the
    /// daemon_sleeping bits make a well-behaved client ring; nothing stops a
    /// hostile one). Each ring ends the worker's futex_waitv. An empty wake
    /// (nothing to answer behind it) is handled here, without returning to the
    /// worker's spin, so it costs one system call and one look at the rings;
    /// and a segment over the budget is not waited on (nor its daemon_sleeping
    /// bit raised) for the mute (4 ms, doubling up to 16 ms while the ringing
    /// goes on), so a ringer costs the host at most about budget wakes per
    /// mute and a bit: 33 per 4-16 ms, a few thousand per second of a few
    /// microseconds each, instead of a worker kept awake (measured in
    /// `aDoorbellRingerCostsTheHostLittle`: 22-32% of a core before, ~3%
    /// now). Its channels are still answered while muted, whenever the worker
    /// is awake for anyone else, and at the latest when the mute ends (the
    /// wait's timeout is cut to it): the ringer's own latency is what it pays.
    ///
    /// So `hasWork` must cover every reason to wake: the worker passes its
    /// rings, a new generation and a stop request. The one thing it cannot
    /// see, a channel released with events in flight (freed by its worker's
    /// next drain), is looked for here after an empty wake within the budget.
    ///
    /// Legitimate clients ring only with work behind the ring, but every
    /// worker sleeping on a segment is woken by any of its channels' rings,
    /// and only the one holding that channel finds work. That herd is why the
    /// budget is a rate, not a count: a tenant ringing fewer than 32 times in
    /// 10 ms (3,200 single-event submissions per second while this worker
    /// sleeps) never mutes. The window is long enough that a worker slowed
    /// down (a loaded host: each wake taking tens of microseconds) still
    /// reaches the budget; with a 1 ms window it did not, and a ringer kept
    /// such a worker busy. Above the budget, the cost is a one-off wait of
    /// up to the mute for an event on this worker's channels of that
    /// tenant arriving while the worker sleeps (traffic already flowing keeps
    /// the worker awake and is not delayed).
    public static let emptyWakeBudget = 32
    public static let emptyWakeWindow: UInt64 = 10_000_000
    public static let muteNanoseconds: UInt64 = 4_000_000

    /// `worker` picks the bit this worker owns in daemon_sleeping (0...31).
    public init(segments: [Segment], worker: Int) {
        precondition((0..<32).contains(worker), "daemon_sleeping has 32 bits")
        self.segments = segments
        // Addresses by offset, not `&header.pointee.field`: that is an inout
        // (modifying) access, which ThreadSanitizer reports as a race when
        // two workers build doorbells for the same segment at once (a reload).
        func field(_ segment: Segment, _ key: KeyPath<muse_segment_header, UInt32>) -> UnsafeMutablePointer<UInt32> {
            (UnsafeMutableRawPointer(segment.header) + MemoryLayout<muse_segment_header>.offset(of: key)!)
                .assumingMemoryBound(to: UInt32.self)
        }
        words = segments.map { field($0, \.daemon_doorbell) }
        sleepingFlags = segments.map { field($0, \.daemon_sleeping) }
        prepareWords = segments.map { field($0, \.daemon_prepare) }
        prepareValues = Array(repeating: 0, count: segments.count)
        bit = 1 << UInt32(worker)
        values = Array(repeating: 0, count: segments.count)
        windowStart = Array(repeating: 0, count: segments.count)
        emptyWakes = Array(repeating: 0, count: segments.count)
        mutedUntil = Array(repeating: 0, count: segments.count)
        mutes = Array(repeating: 0, count: segments.count)
        armed = Array(repeating: false, count: segments.count)
        active.reserveCapacity(segments.count)
        activeWords.reserveCapacity(segments.count)
        activeValues.reserveCapacity(segments.count)
    }

    /// Reads segment `i`'s doorbell, then raises this worker's bit in its
    /// daemon_sleeping (seq_cst): the rings must be checked after.
    private mutating func arm(_ i: Int) {
        prepareValues[i] = muse__atomic_load_acquire_u32(prepareWords[i])
        values[i] = muse__atomic_load_acquire_u32(words[i])
        muse__atomic_or_u32(sleepingFlags[i], bit)
        armed[i] = true
    }

    private mutating func disarm(_ i: Int) {
        muse__atomic_and_u32(sleepingFlags[i], ~bit)
        armed[i] = false
    }

    /// True if segment `i` is left out of the wait set at `now`.
    public func isMuted(_ i: Int, now: UInt64) -> Bool { mutedUntil[i] > now }

    /// Sleeps until a client rings with work behind it, `timeoutNanoseconds`
    /// pass, or `hasWork` finds work after the flags are raised (then it does
    /// not sleep at all). Returns true if it slept.
    ///
    /// `reclaims` is how many channels the worker has freed so far. A ring
    /// for a released channel is work when the previous one was (a reclaim
    /// followed it): a client that claims, submits and releases in a loop
    /// rings once per reclaim and is never muted, while one that keeps a
    /// channel RELEASED and rings frees nothing and is counted as a ringer.
    ///
    /// `segmentHasWork(i)`, if given, says whether segment `i` has work for
    /// this worker or there is work regardless of segment (a stop, a new
    /// generation). After a wake whose rung segments the kernel named, it is
    /// asked about those alone instead of `hasWork`; after any other wake,
    /// and before every wait (the arm/check protocol), `hasWork` is asked.
    /// A rung segment with nothing behind it sends the sleep round again,
    /// whose `hasWork` before the wait still sees everything else.
    ///
    /// `settleLater`: return with this worker's bits still raised; the
    /// caller calls `settle` once it has answered what woke it, and a woken
    /// event need not wait for the bits to come down. A bit left raised
    /// meanwhile costs a client at most a needless ring.
    ///
    /// Past 128 segments the io_uring requests stay in the kernel when the
    /// sleep returns, and so do the bits of every group whose request is
    /// still there (see `armed`): the next sleep raises and submits only
    /// what changed. Re-arming and re-submitting a thousand segments on
    /// every sleep, and lowering their bits and cancelling the requests on
    /// every wake, was most of what an idle worker with a thousand tenants
    /// cost (the kernel looks up each word's page to queue it).
    @discardableResult
    public mutating func sleep(timeoutNanoseconds: Int64, reclaims: UInt64 = 0, settleLater: Bool = false,
                               segmentHasWork: ((Int) -> Bool)? = nil, hasWork: () -> Bool) -> Bool {
        settle()
        // Groups that a client rang while this worker was awake come out of
        // the kernel here, their bits lowered: the passes below arm them
        // afresh, so a ring the worker's rounds already answered is not
        // taken for an empty wake.
        noticeRings()
        // futex_waitv needs Linux 5.16; without it, nap briefly instead
        // (bounded latency, no lost wake-up).
        if words.isEmpty || Self.waitvMissing.load(ordering: .relaxed) {
            var pause = timespec(tv_sec: 0, tv_nsec: Int(min(timeoutNanoseconds, words.isEmpty ? timeoutNanoseconds : 1_000_000)))
            nanosleep(&pause, nil)
            return true
        }
        wokeForPrepare = false
        rang.removeAll(keepingCapacity: true)
        var now = ThreadSupport.monotonicNanoseconds()
        let deadline = now &+ UInt64(max(timeoutNanoseconds, 1))
        var slept = false
        // This worker's bit stays raised on a segment from the pass that arms
        // it (doorbell value read, bit raised, rings checked) until the sleep
        // settles (as it returns, or later: `settleLater`; past 128 segments
        // only where the group's request left the kernel) or the segment is
        // muted, so the passes after an empty wake, and the next sleeps,
        // touch only what changed: the segments that rang are re-read before
        // the rings are checked again, the rest keep the value they were
        // armed with (any ring since moved it, and the wait returns at once).
        // The rings are still checked for every segment before each wait
        // (`hasWork`), whichever were armed in an earlier pass or sleep.
        defer {
            unsettled = true
            if !settleLater { settle() }
        }
        while true {
            // The wait set: every segment not muted; a mute's end cuts the wait.
            var until = deadline
            activeWords.removeAll(keepingCapacity: true)
            activeValues.removeAll(keepingCapacity: true)
            active.removeAll(keepingCapacity: true)
            for i in words.indices {
                if mutedUntil[i] > now {
                    until = min(until, mutedUntil[i])
                    if armed[i] { disarm(i) }
                    continue
                }
                if !armed[i] { arm(i) }
                active.append(i)
                activeWords.append(words[i])
                activeValues.append(values[i])
            }
            muse__atomic_fence_seq_cst()
            if hasWork() { return slept }
            let timeout = Int64(until > now ? until - now : 1)
            // Whether the kernel named the words that moved (into `rang`).
            var named = false
            rang.removeAll(keepingCapacity: true)
            if active.isEmpty {
                var pause = timespec(tv_sec: Int(timeout / 1_000_000_000), tv_nsec: Int(timeout % 1_000_000_000))
                nanosleep(&pause, nil)
            } else if words.count > 128, let waiter = waiterForManyWords() {
                let group = Int(MUSE_FUTEX_WAITER_GROUP)
                let groups = (words.count + group - 1) / group
                if wokenGroups.count != groups { wokenGroups = Array(repeating: 0, count: groups) }
                if waiter.wait(segments: words, values: values, armed: armed, woken: &wokenGroups,
                               timeoutNanoseconds: timeout) == 0 {
                    for g in 0..<groups where wokenGroups[g] != 0 {
                        wokenGroups[g] = 0
                        named = true
                        for i in g * group ..< min(words.count, (g + 1) * group)
                        where armed[i] && muse__atomic_load_acquire_u32(words[i]) != values[i] {
                            rang.append(i)
                        }
                    }
                    // A group completed but none of its words moved: a wake
                    // without a change (a signal's, a spurious one); look at all.
                    if rang.isEmpty { named = false }
                } else {
                    for g in wokenGroups.indices { wokenGroups[g] = 0 }
                }
            } else if activeWords.count <= 128 {
                let woken = activeValues.withUnsafeBufferPointer { v in
                    activeWords.withUnsafeBufferPointer { w in
                        muse_futex_waitv(w.baseAddress, v.baseAddress, UInt32(w.count), timeout)
                    }
                }
                if woken < 0 && errno == ENOSYS {
                    Self.waitvMissing.store(true, ordering: .relaxed)
                } else if woken >= 0 && Int(woken) < active.count {
                    // The index of the woken word (one, even if several rang:
                    // the others' values are stale, so the next wait returns
                    // at once and the full look finds them).
                    named = true
                    rang.append(active[Int(woken)])
                }
            } else {
                // No io_uring futex requests: nap, bounded as above.
                var pause = timespec(tv_sec: 0, tv_nsec: Int(min(timeout, 1_000_000)))
                nanosleep(&pause, nil)
            }
            slept = true
            now = ThreadSupport.monotonicNanoseconds()
            if now >= deadline || Self.waitvMissing.load(ordering: .relaxed) { return true }
            // Woken early: by a ring (or a signal, or a mute ending). With
            // work behind it, the worker takes over; the segments that rang
            // start a fresh window.
            let working: Bool
            if named, let segmentHasWork {
                working = rang.contains { segmentHasWork($0) }
            } else {
                named = false
                working = hasWork()
            }
            var releases = false
            for i in named ? rang : active {
                let current = muse__atomic_load_acquire_u32(words[i])
                guard current != values[i] else { continue }
                // Re-armed with the value it moved to; the next pass checks the rings after.
                values[i] = current
                if working {
                    emptyWakes[i] = 0
                    mutes[i] = 0
                    continue
                }
                if now &- windowStart[i] >= Self.emptyWakeWindow {
                    windowStart[i] = now
                    emptyWakes[i] = 0
                    if now &- mutedUntil[i] >= 4 * Self.muteNanoseconds { mutes[i] = 0 }
                }
                if !releases && reclaims != reclaimsExcused && hasReleasedChannel(i) {
                    reclaimsExcused = reclaims
                    releases = true
                    continue
                }
                // A prepare counts against the budget like any ring (a
                // client preparing in a loop is a ringer), and sends the
                // worker back to spin for the event it announces.
                let announced = muse__atomic_load_acquire_u32(prepareWords[i])
                if announced != prepareValues[i] {
                    prepareValues[i] = announced
                    wokeForPrepare = true
                }
                emptyWakes[i] += 1
                if emptyWakes[i] > Self.emptyWakeBudget {
                    mutedUntil[i] = now &+ Self.muteNanoseconds << UInt64(min(mutes[i], 2))
                    mutes[i] += 1
                    emptyWakes[i] = 0
                } else if !releases {
                    releases = hasReleasedChannel(i)
                }
            }
            // A client that released a channel with events in flight rings
            // so that the channel is freed on the next drain: work that
            // `hasWork` does not see. Such a wake goes back to the worker;
            // it counts against the budget unless the last one freed a
            // channel (a client holding a channel RELEASED and ringing is
            // muted like any ringer).
            if working || releases || wokeForPrepare { return true }
        }
    }

    /// Lowers the bits a `sleep(settleLater: true)` left raised; nothing if
    /// there are none. Up to 128 segments, every bit. Past them, the bits of
    /// the groups whose io_uring request left the kernel (they rang, or were
    /// armed in a pass that found work before the wait); the others stay
    /// raised with their requests waiting, so that a client of theirs that
    /// submits while this worker is awake rings at most once before
    /// `noticeRings` lowers its bit.
    public mutating func settle() {
        guard unsettled else { return }
        unsettled = false
        guard let manyWaiter, manyWaiter.waiting.count * Int(MUSE_FUTEX_WAITER_GROUP) >= words.count else {
            for i in words.indices where armed[i] { disarm(i) }
            return
        }
        let group = Int(MUSE_FUTEX_WAITER_GROUP)
        for g in manyWaiter.waiting.indices where !manyWaiter.waiting[g] {
            for i in g * group ..< min(words.count, (g + 1) * group) where armed[i] { disarm(i) }
        }
    }

    /// For a worker awake past 128 segments: lowers the bits of each group
    /// whose io_uring request completed since it was last asked (a client of
    /// the group rang). Takes what the kernel posted without a system call,
    /// so it costs two loads when nothing rang and may run every round.
    ///
    /// Why: the bits of idle groups stay raised while the worker is awake
    /// (`settle`), and a client that starts submitting meanwhile must not
    /// ring at every submission. Lowering a bit while awake is always safe:
    /// the next sleep raises it again, then checks the rings.
    public mutating func noticeRings() {
        guard let manyWaiter, manyWaiter.poll(woken: &wokenGroups) else { return }
        let group = Int(MUSE_FUTEX_WAITER_GROUP)
        for g in wokenGroups.indices where wokenGroups[g] != 0 {
            wokenGroups[g] = 0
            for i in g * group ..< min(words.count, (g + 1) * group) where armed[i] { disarm(i) }
        }
    }

    /// Lowers every bit this worker raised and cancels its io_uring requests:
    /// for a doorbell about to be replaced or dropped (the worker's segments
    /// changed, or it stops), whose bits would otherwise stay raised with
    /// nobody waiting, and make that tenant's clients ring for nothing.
    public mutating func retire() {
        unsettled = false
        manyWaiter?.end()
        for i in words.indices where armed[i] { disarm(i) }
    }

    /// Segments per io_uring request past 128 segments (by position).
    static let groupSize = Int(MUSE_FUTEX_WAITER_GROUP)

    /// io_uring group requests submitted so far (0 up to 128 segments).
    var groupSubmissions: UInt64 { manyWaiter?.submissions ?? 0 }

    private mutating func waiterForManyWords() -> ManyWordWaiter? {
        if let manyWaiter { return manyWaiter }
        guard !Self.manyMissing.load(ordering: .relaxed), let waiter = ManyWordWaiter() else {
            Self.manyMissing.store(true, ordering: .relaxed)
            return nil
        }
        manyWaiter = waiter
        return waiter
    }

    /// True if a channel of segment `i` is RELEASED (left with events in
    /// flight, to be freed by its worker's next drain). Only after an empty
    /// wake within the budget, so at most budget scans per window.
    private func hasReleasedChannel(_ i: Int) -> Bool {
        let segment = segments[i]
        let offset = MemoryLayout<muse_channel_control>.offset(of: \.state)!
        for channel in 0..<segment.layout.channelCount {
            let state = (UnsafeMutableRawPointer(segment.control(channel)) + offset).assumingMemoryBound(to: UInt32.self)
            if muse__atomic_load_acquire_u32(state) == UInt32(MUSE_CHANNEL_RELEASED) { return true }
        }
        return false
    }
}

/// `muse_futex_waiter` (CURing): a futex wait on any number of words, in
/// groups of `MUSE_FUTEX_WAITER_GROUP` by position, each group's request left
/// in the kernel until it completes or changes, across waits and across the
/// time its thread is awake in between. A segment out of the wait set
/// (muted) keeps its position with a private word that never moves, so
/// muting one changes only its own group.
///
/// Owned by one worker thread; nothing here is shared.
final class ManyWordWaiter {
    private let waiter: OpaquePointer
    private let still: UnsafeMutablePointer<UInt32>
    private var words: [UnsafeMutablePointer<UInt32>?] = []
    private var values: [UInt32] = []
    private var stale: [UInt8] = []
    /// Per group: whether its request is in the kernel (as far as the
    /// completions taken so far tell).
    private(set) var waiting: [Bool] = []
    /// Per position: the word and value its group's request was submitted
    /// with (the private word and 0 for a segment left out).
    private var submittedWords: [UnsafeMutablePointer<UInt32>?] = []
    private var submittedValues: [UInt32] = []

    init?() {
        var made: OpaquePointer?
        guard muse_futex_waiter_create(&made) == 0, let made else { return nil }
        waiter = made
        still = .allocate(capacity: 1)
        still.initialize(to: 0)
    }

    deinit {
        muse_futex_waiter_destroy(waiter)
        still.deallocate()
    }

    /// Waits on `segments[i]` for `values[i]` where `armed[i]`. 0 however the
    /// wait ended, or a negative errno if the ring failed (the next wait
    /// makes a new one). `woken[g]` (one per group, the caller clears them)
    /// is set to 1 for each group whose request completed in this wait.
    ///
    /// A group whose request is in the kernel with the same words and values
    /// stays there; one whose words or values changed (a segment muted or
    /// back, a word re-armed with the value it moved to) is cancelled and
    /// submitted again; one whose request completed is submitted again.
    @discardableResult
    func wait(segments: [UnsafeMutablePointer<UInt32>], values current: [UInt32], armed: [Bool],
              woken: inout [UInt8], timeoutNanoseconds: Int64) -> Int32 {
        let n = segments.count
        let group = Int(MUSE_FUTEX_WAITER_GROUP)
        let groups = (n + group - 1) / group
        // Worked on as locals: element accesses to a class's arrays would
        // each be checked for exclusivity.
        var words = self.words, values = self.values, stale = self.stale
        var submittedWords = self.submittedWords, submittedValues = self.submittedValues
        if submittedWords.count != n {
            submittedWords = Array(repeating: nil, count: n)
            submittedValues = Array(repeating: 0, count: n)
            stale = Array(repeating: 1, count: groups)
            waiting = Array(repeating: false, count: groups)
        }
        words.removeAll(keepingCapacity: true)
        values.removeAll(keepingCapacity: true)
        for i in 0..<n {
            let out = !armed[i]
            let word = out ? still : segments[i]
            let value = out ? 0 : current[i]
            words.append(word)
            values.append(value)
            if word != submittedWords[i] || value != submittedValues[i] {
                submittedWords[i] = word
                submittedValues[i] = value
                stale[i / group] = 1
            }
        }
        let result = words.withUnsafeBufferPointer { w in
            values.withUnsafeBufferPointer { v in
                stale.withUnsafeBufferPointer { s in
                    woken.withUnsafeMutableBufferPointer { k in
                        precondition(k.count >= groups, "one woken flag per group")
                        return muse_futex_waiter_wait(waiter, w.baseAddress, v.baseAddress, UInt32(n), s.baseAddress,
                                                      k.baseAddress, timeoutNanoseconds)
                    }
                }
            }
        }
        for g in stale.indices { stale[g] = 0 }
        // Every group went in (those still in the kernel, those submitted
        // now); the completed ones came out. A failed ring cancelled all.
        for g in 0..<groups { waiting[g] = result == 0 && woken[g] == 0 }
        if result != 0 { for g in stale.indices { stale[g] = 1 } }
        self.words = words
        self.values = values
        self.stale = stale
        self.submittedWords = submittedWords
        self.submittedValues = submittedValues
        return result
    }

    /// Takes the completions already posted, without a system call; sets
    /// `woken[g]` to 1 for each group that completed. False when none had.
    func poll(woken: inout [UInt8]) -> Bool {
        let ended = woken.withUnsafeMutableBufferPointer { k in
            precondition(k.count >= waiting.count, "one woken flag per group")
            return muse_futex_waiter_poll(waiter, k.baseAddress)
        }
        guard ended > 0 else { return false }
        for g in waiting.indices where woken[g] != 0 { waiting[g] = false }
        return true
    }

    /// Group requests submitted so far.
    var submissions: UInt64 { muse_futex_waiter_submissions(waiter) }

    /// Cancels what is left in the kernel; the next wait submits every group.
    func end() {
        muse_futex_waiter_end(waiter)
        for g in waiting.indices { waiting[g] = false }
    }
}
