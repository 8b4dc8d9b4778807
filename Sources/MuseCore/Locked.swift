#if canImport(Glibc)
import Glibc
#endif

/// A value behind a `pthread_mutex_t`, for state shared off the hot path.
///
/// Used instead of `Synchronization.Mutex` because ThreadSanitizer intercepts
/// pthread mutexes but cannot see the futex inside the standard library's
/// `Mutex`: under TSan, data guarded by `Mutex` is reported as raced.
public final class Locked<Value>: @unchecked Sendable {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private var value: Value

    public init(_ value: Value) {
        self.value = value
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        pthread_mutex_init(mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deinitialize(count: 1)
        mutex.deallocate()
    }

    /// Runs `body` with the value while holding the lock.
    public func withLock<R>(_ body: (inout Value) throws -> R) rethrows -> R {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(&value)
    }
}
