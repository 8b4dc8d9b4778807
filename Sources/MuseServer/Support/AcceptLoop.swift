#if canImport(Glibc)
import Glibc
#endif
import Foundation
import MuseIPC
import Synchronization

/// A listening socket whose connections are served one at a time, on a thread
/// of its own at lowered priority: what the control socket and the metrics
/// endpoint share. Neither may take a CPU from a worker, and one connection
/// at a time serialises swaps and bounds what a peer can make mused hold.
final class AcceptLoop: @unchecked Sendable {
    /// Owned from `init` on: closed by `stop`.
    let listener: Int32
    private let name: String
    private let serve: (Int32) -> Void
    /// Written by `start` and `stop` (the daemon's thread), never by the loop.
    private var thread: Thread?
    /// Set by `stop` (any thread), read by the loop; relaxed: the listener's
    /// shutdown is what wakes the loop, the flag only ends it.
    private let stopping = Atomic<Bool>(false)

    /// `serve` answers one accepted connection; the loop closes it after.
    init(listener: Int32, name: String, serve: @escaping (Int32) -> Void) {
        self.listener = listener
        self.name = name
        self.serve = serve
    }

    func start() {
        let thread = Thread { [self] in run() }
        thread.name = name
        thread.stackSize = 1 << 20
        self.thread = thread
        thread.start()
    }

    /// Stops accepting, waits for the connection in progress, closes the listener.
    func stop() {
        stopping.store(true, ordering: .relaxed)
        shutdown(listener, Int32(SHUT_RDWR))
        while let thread, !thread.isFinished { usleep(1000) }
        thread = nil // the thread's closure holds self: break the cycle
        close(listener)
    }

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
            serve(connection)
            close(connection)
        }
    }
}
