#if canImport(Glibc)
import Glibc
#endif
import MuseIPC

/// A tenant the daemon holds a segment for, at a fixed `TenantIndex`: the
/// index is the slot's position and never changes while mused runs, so a
/// reload cannot shift one tenant's events onto another's routes.
final class TenantSlot {
    var configuration: TenantConfiguration
    let segment: Segment
    var state: TenantState
    /// Which worker drains which of its channels (while serving).
    var channelsByWorker: [Int: [ChannelIndex]] = [:]

    init(configuration: TenantConfiguration, segment: Segment) {
        self.configuration = configuration
        self.segment = segment
        state = .serving
    }
}

/// Whether workers answer a tenant's channels.
public enum TenantState: String, Sendable, Codable {
    /// Its channels are dealt to workers.
    case serving
    /// `musectl drain` answered what it had in flight and its channels were
    /// given up; its segment shows the daemon stopped. A reload serves it
    /// again if the configuration still names it.
    case drained
}

/// A recursive lock around the daemon's administration (swaps, rollbacks,
/// reloads, drains, status): they are rare, may nest (a reload publishes),
/// and must not interleave. Never taken on a worker.
final class AdministrationLock: @unchecked Sendable {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>

    init() {
        mutex = .allocate(capacity: 1)
        var attributes = pthread_mutexattr_t()
        pthread_mutexattr_init(&attributes)
        pthread_mutexattr_settype(&attributes, Int32(PTHREAD_MUTEX_RECURSIVE))
        pthread_mutex_init(mutex, &attributes)
        pthread_mutexattr_destroy(&attributes)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    func run<R>(_ body: () throws -> R) rethrows -> R {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body()
    }
}
