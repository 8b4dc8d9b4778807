#if canImport(Glibc)
import Glibc
#endif

/// What `writeAll` writes to: a socket is written with `send(MSG_NOSIGNAL)`,
/// so a peer that has gone answers EPIPE instead of killing the process
/// with SIGPIPE (musectl does not ignore the signal).
public enum WriteTarget: Sendable {
    case file
    case socket
}

/// Writes all of `bytes` to `fd`: the one loop over short writes and EINTR
/// that every writer of a file or socket uses.
///
/// With a `deadline` (CLOCK_MONOTONIC nanoseconds, `ThreadSupport`'s clock)
/// each write waits in `poll` at most until then and never blocks in the
/// call itself, so a peer that stops reading cannot hold the writer past
/// it: the write then fails with ETIMEDOUT.
public func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, to target: WriteTarget = .file,
                     deadline: UInt64? = nil, subject: String = "") throws(SystemCallError) {
    var done = 0
    while done < bytes.count {
        if let deadline {
            let now = ThreadSupport.monotonicNanoseconds()
            guard now < deadline else { throw SystemCallError("write", subject, errno: .timedOut) }
            var waiting = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
            let ready = poll(&waiting, 1, Int32(min((deadline - now) / 1_000_000 + 1, 60_000)))
            if ready < 0 && errno != EINTR { throw SystemCallError("poll", subject) }
            if ready <= 0 { continue }
        }
        let start = bytes.baseAddress! + done, left = bytes.count - done
        let n: Int
        switch target {
        case .file: n = Glibc.write(fd, start, left)
        case .socket: n = send(fd, start, left, Int32(MSG_NOSIGNAL) | (deadline == nil ? 0 : Int32(MSG_DONTWAIT)))
        }
        if n < 0 {
            let e = Errno.current
            if e == .interrupted || (deadline != nil && e == .again) { continue }
            throw SystemCallError("write", subject, errno: e)
        }
        // A write of a non-empty buffer never returns 0; were it to, the
        // loop would spin for ever, so it counts as an I/O error.
        guard n > 0 else { throw SystemCallError("write", subject, errno: Errno(rawValue: EIO)) }
        done += n
    }
}

/// `writeAll` of an array's bytes.
public func writeAll(_ fd: Int32, _ bytes: [UInt8], to target: WriteTarget = .file,
                     deadline: UInt64? = nil, subject: String = "") throws(SystemCallError) {
    // withUnsafeBytes rethrows untyped errors: carry the failure out as a value.
    let failure = bytes.withUnsafeBytes { raw -> SystemCallError? in
        do throws(SystemCallError) {
            try writeAll(fd, raw, to: target, deadline: deadline, subject: subject)
            return nil
        } catch { return error }
    }
    if let failure { throw failure }
}
