#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
import MuseCore

/// MuseCore's one write-everything loop, on the three kinds of peer its
/// callers have: a pipe that takes less than asked per call, a socket whose
/// reader has gone, and a socket whose reader stops reading.
struct WriteAllTests {
    /// More than a pipe holds (64 KiB by default), so the writes are short
    /// and the loop must carry on where each stopped.
    @Test func writesEverythingThroughShortWrites() throws {
        var ends: [Int32] = [0, 0]
        #expect(pipe(&ends) == 0)
        let bytes = (0..<(1 << 20) + 17).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        let received = Locked<[UInt8]>([])
        let readEnd = ends[0]
        let reader = Thread {
            var chunk = [UInt8](repeating: 0, count: 4096)
            while true {
                let n = chunk.withUnsafeMutableBytes { read(readEnd, $0.baseAddress, $0.count) }
                if n <= 0 { break }
                received.withLock { $0.append(contentsOf: chunk[0..<n]) }
            }
        }
        reader.start()
        try writeAll(ends[1], bytes, subject: "a pipe")
        close(ends[1])
        while !reader.isFinished { usleep(1000) }
        close(ends[0])
        #expect(received.withLock { $0 } == bytes)
    }

    /// A socket whose peer closed answers EPIPE, named as a write, and the
    /// process is not killed by SIGPIPE (the test runner does not ignore it).
    @Test func aGoneSocketPeerIsEPIPENotSIGPIPE() throws {
        var pair: [Int32] = [0, 0]
        #expect(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &pair) == 0)
        close(pair[1])
        defer { close(pair[0]) }
        do {
            try writeAll(pair[0], Array("hello\n".utf8), to: .socket, subject: "the control socket")
            Issue.record("wrote to a socket with no peer")
        } catch {
            #expect(error.errno == .brokenPipe)
            #expect(error.description == "write the control socket: EPIPE (Broken pipe)", "\(error)")
        }
    }

    /// With a deadline, a reader that never reads cannot hold the writer:
    /// it gives up with ETIMEDOUT soon after the deadline.
    @Test func aDeadlineBoundsAStalledReader() throws {
        var pair: [Int32] = [0, 0]
        #expect(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &pair) == 0)
        defer { close(pair[0]); close(pair[1]) }
        let bytes = [UInt8](repeating: 7, count: 16 << 20)
        let start = ThreadSupport.monotonicNanoseconds()
        do {
            try writeAll(pair[0], bytes, to: .socket, deadline: start + 200_000_000)
            Issue.record("16 MiB fitted a socket nobody reads")
        } catch {
            #expect(error.errno == .timedOut && error.call == "write", "\(error)")
        }
        let took = ThreadSupport.monotonicNanoseconds() - start
        #expect(took >= 200_000_000 && took < 5_000_000_000, "\(took) ns")
    }

    /// A file descriptor that is not open: the error names the call, what it
    /// was on, the constant and the system's words.
    @Test func aFailedWriteSaysWhatAndWhy() {
        do {
            try writeAll(-1, [1, 2, 3], subject: "/state/incoming.snapshot")
            Issue.record("wrote to descriptor -1")
        } catch {
            #expect(error == SystemCallError("write", "/state/incoming.snapshot", errno: Errno(rawValue: EBADF)))
            #expect(error.description == "write /state/incoming.snapshot: errno \(EBADF) (Bad file descriptor)", "\(error)")
        }
    }
}
