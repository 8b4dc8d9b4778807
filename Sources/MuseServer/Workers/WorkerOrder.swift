import MuseIPC
import Synchronization

/// What the daemon asks of a worker besides serving: take on a tenant's
/// channels, or retire them (answer what they hold, then give them up). Orders change which channels a
/// worker owns, so the worker applies them itself, between two rounds.
enum WorkerOrder {
    case serve(TenantIndex, Segment, [ChannelIndex])
    case retire(TenantIndex, RetirementTicket)
}

/// One tenant's retirement across the workers holding its channels: each answers
/// what the tenant had submitted when its order arrived, gives the channels
/// up, and reports here.
final class RetirementTicket: Sendable {
    /// Monotonic time after which a worker gives up what is left (a client
    /// that stopped reading its completions cannot hold a retirement forever).
    let deadline: UInt64
    /// Workers yet to report; each reporting worker decrements it with
    /// release order after adding its figures, the daemon reads with acquire.
    private let pending: Atomic<Int>
    private let answeredCount = Atomic<UInt64>(0)
    private let leftCount = Atomic<UInt64>(0)

    init(workers: Int, deadline: UInt64) {
        pending = Atomic(workers)
        self.deadline = deadline
    }

    /// Called once by each worker when its share is answered or the deadline passed.
    func report(answered: UInt64, left: UInt64) {
        answeredCount.add(answered, ordering: .relaxed)
        leftCount.add(left, ordering: .relaxed)
        pending.subtract(1, ordering: .releasing)
    }

    var isComplete: Bool { pending.load(ordering: .acquiring) <= 0 }
    /// Events answered by the retirement, and events left unanswered (valid once complete).
    var answered: UInt64 { answeredCount.load(ordering: .relaxed) }
    var left: UInt64 { leftCount.load(ordering: .relaxed) }
}
