import Foundation

/// Computes the XXH32 of a buffer on its own thread while the caller is
/// still filling it front to back, so checking an LZ4 frame's content
/// checksum overlaps decoding instead of following it (with liblz4's own
/// check, the hash cost as much again as the decode).
///
/// The caller reports progress with `advance(to:)` and ends with `finish()`
/// (the hash) or `cancel()`; both wait for the thread, so the buffer is
/// never read after either returns.
final class ChecksumThread: @unchecked Sendable {
    private let condition = NSCondition()
    private let bytes: UnsafeRawBufferPointer
    private var available = 0
    private var stop = false
    private var finished = false
    private var result: UInt32?
    /// Hash in steps of at least this much, so the threads do not ping-pong.
    private let step = 1 << 20

    init(_ bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
        let thread = Thread { [self] in run() }
        thread.name = "muse-xxh32"
        thread.start()
    }

    func advance(to filled: Int) {
        condition.lock()
        available = filled
        condition.signal()
        condition.unlock()
    }

    /// The XXH32 of the whole buffer, which must now be filled.
    func finish() -> UInt32 {
        condition.lock()
        available = bytes.count
        condition.signal()
        while !finished { condition.wait() }
        let r = result!
        condition.unlock()
        return r
    }

    /// Stops hashing and waits for the thread; safe to call more than once.
    func cancel() {
        condition.lock()
        stop = true
        condition.signal()
        while !finished { condition.wait() }
        condition.unlock()
    }

    private func run() {
        var state = XXH32.Running()
        while true {
            condition.lock()
            while !stop && available < bytes.count && available - state.offset < step { condition.wait() }
            let filled = available, stopping = stop
            condition.unlock()
            if stopping { break }
            state.consume(bytes, upTo: filled)
            if filled == bytes.count {
                let hash = state.finish(bytes)
                condition.lock()
                result = hash
                condition.unlock()
                break
            }
        }
        condition.lock()
        finished = true
        condition.broadcast()
        condition.unlock()
    }
}
