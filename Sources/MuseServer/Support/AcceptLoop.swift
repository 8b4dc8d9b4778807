#if canImport(Glibc)
import Glibc
#endif
import Foundation
import MuseCore
import Synchronization

/// A listening socket whose connections are served concurrently, each on a
/// thread of its own at lowered priority: what the control socket and the
/// metrics endpoint share. Neither may take a CPU from a worker, and neither
/// may let one slow peer delay another: a connection that sends nothing, or
/// drips its request, only holds its own thread until its deadline (the
/// `serve` function's), while `status` or a scrape on another connection is
/// answered at once. At most `maxConnections` (128) are served at a time;
/// one past that is closed unanswered, so what peers can make mused hold
/// stays bounded (a thread and a descriptor each, for at most the deadline).
final class AcceptLoop: @unchecked Sendable {
    /// Owned from `init` on: closed by `stop`.
    let listener: Int32
    private let name: String
    private let maxConnections: Int
    private let serve: @Sendable (Int32) -> Void
    /// Written by `start` and `stop` (the daemon's thread), never by the loop.
    private var thread: Thread?
    /// Set by `stop` (any thread), read by the loop; relaxed: the listener's
    /// shutdown is what wakes the loop, the flag only ends it.
    private let stopping = Atomic<Bool>(false)
    /// Connections being served: incremented by the accepting thread before
    /// it starts a connection's thread, decremented by that thread once the
    /// connection is closed. Relaxed: it only bounds the count; `stop` polls
    /// it to wait for the last one.
    private let active = Atomic<Int>(0)
    /// The connections being served, so `stop` can shut them down: a peer
    /// that sends nothing must not hold mused's stop for its deadline.
    private let open = Locked<Set<Int32>>([])

    /// The listen backlog sockets should use: connections the kernel queues
    /// while the loop starts threads for earlier ones.
    static let backlog: Int32 = 128

    /// `serve` answers one accepted connection, on its own thread, and
    /// must return by a deadline of its own; the loop closes the connection after.
    init(listener: Int32, name: String, maxConnections: Int = 128, serve: @escaping @Sendable (Int32) -> Void) {
        self.listener = listener
        self.name = name
        self.maxConnections = maxConnections
        self.serve = serve
    }

    func start() {
        let thread = Thread { [self] in run() }
        thread.name = name
        thread.stackSize = 1 << 20
        self.thread = thread
        thread.start()
    }

    /// Stops accepting, waits for the connections in progress (each ends by
    /// its deadline), closes the listener.
    func stop() {
        stopping.store(true, ordering: .relaxed)
        shutdown(listener, Int32(SHUT_RDWR))
        while let thread, !thread.isFinished { usleep(1000) }
        thread = nil // the thread's closure holds self: break the cycle
        // Reads on the connections still served return at once; a request
        // being answered (a swap loading) finishes first.
        open.withLock { for fd in $0 { shutdown(fd, Int32(SHUT_RD)) } }
        while active.load(ordering: .relaxed) > 0 { usleep(1000) }
        close(listener)
    }

    /// How many connections are being served now.
    var connections: Int { active.load(ordering: .relaxed) }

    private func run() {
        ThreadSupport.lowerPriority()
        while !stopping.load(ordering: .relaxed) {
            var poller = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
            guard poll(&poller, 1, 200) > 0 else { continue }
            // accept4 is hidden behind _GNU_SOURCE in Swift's Glibc: set
            // close-on-exec right after (mused never execs meanwhile).
            let connection = accept(listener, nil, nil)
            if connection < 0 { continue }
            _ = fcntl(connection, F_SETFD, FD_CLOEXEC)
            guard active.load(ordering: .relaxed) < maxConnections else {
                close(connection)
                continue
            }
            active.add(1, ordering: .relaxed)
            open.withLock { _ = $0.insert(connection) }
            // The thread holds self until it ends; `stop` waits for that.
            let worker = Thread { [self] in
                ThreadSupport.lowerPriority()
                serve(connection)
                open.withLock { _ = $0.remove(connection) }
                close(connection)
                active.subtract(1, ordering: .relaxed)
            }
            worker.name = name
            worker.stackSize = 1 << 20
            worker.start()
        }
    }
}
