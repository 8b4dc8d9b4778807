import CURing
import Glibc
import MuseCore

/// Reads a file with io_uring: the file is cut into `chunkSize` pieces and
/// up to `depth` reads are kept in flight at once, each straight into its
/// place in one buffer. The kernel serves them in parallel (page-cache hits
/// inline, misses from its worker threads), where one `read` at a time would
/// wait for each before asking for the next.
public struct IOUringReader: Sendable {
    public var chunkSize: Int
    public var depth: Int

    public init(chunkSize: Int = 1 << 20, depth: Int = 8) {
        precondition(chunkSize > 0 && depth > 0)
        self.chunkSize = chunkSize
        self.depth = depth
    }

    public func read(_ fd: FileDescriptor, size: Int) throws -> LargeBuffer {
        var ring: OpaquePointer?
        let r = muse_uring_create(UInt32(depth), &ring)
        guard r >= 0, let ring else { throw IOUringUnavailable(errno: Errno(rawValue: -r)) }
        defer { muse_uring_destroy(ring) }
        return try readIntoNewBuffer(size: size) { buffer in
            try fill(ring, fd, buffer)
        }
    }

    /// Requests never cross a chunk boundary, so a completion's user data
    /// (its offset) is enough to know what it asked for: the rest of its
    /// chunk. A short read is resubmitted for what remains.
    private func fill(_ ring: OpaquePointer, _ fd: FileDescriptor, _ buffer: UnsafeMutableRawBufferPointer) throws {
        let size = buffer.count
        var nextChunk = 0
        var inFlight = 0
        var pending: [Int] = []  // offsets to (re)submit before new chunks
        var completed = 0
        func requestEnd(_ offset: Int) -> Int { min((offset / chunkSize + 1) * chunkSize, size) }

        while completed < size {
            var queued = 0
            while inFlight < depth {
                let offset: Int
                if let p = pending.popLast() { offset = p } else if nextChunk < size {
                    offset = nextChunk
                    nextChunk += chunkSize
                } else { break }
                let length = UInt32(requestEnd(offset) - offset)
                guard muse_uring_queue_read(ring, fd.rawValue, buffer.baseAddress! + offset, length, UInt64(offset), UInt64(offset)) == 0 else {
                    pending.append(offset)
                    break
                }
                inFlight += 1
                queued += 1
            }
            if queued > 0 {
                let s = muse_uring_submit(ring)
                if s < 0 && -s != EINTR && -s != EAGAIN { throw SystemCallError("io_uring_submit", Errno(rawValue: -s)) }
            }
            // Take at least one completion, then whatever else is ready.
            var wait: Int32 = 1
            while true {
                var offset64: UInt64 = 0
                var res: Int32 = 0
                let w = muse_uring_complete(ring, wait, &offset64, &res)
                if w == -EAGAIN || w == -EINTR { break }
                guard w == 0 else { throw SystemCallError("io_uring_wait_cqe", Errno(rawValue: -w)) }
                wait = 0
                inFlight -= 1
                let offset = Int(offset64)
                if res == -EINTR || res == -EAGAIN {
                    pending.append(offset)
                } else if res < 0 {
                    throw SystemCallError("io_uring read at \(offset)", Errno(rawValue: -res))
                } else if res == 0 {
                    throw ShortFile(expected: size, got: offset)
                } else {
                    completed += Int(res)
                    if offset + Int(res) < requestEnd(offset) { pending.append(offset + Int(res)) }
                }
            }
        }
    }
}

/// io_uring cannot be used here: the kernel lacks it (ENOSYS), a seccomp
/// filter or `kernel.io_uring_disabled` forbids it (EPERM), or ring memory
/// is short (ENOMEM). The description says which, for one log line.
public struct IOUringUnavailable: Error, Sendable, CustomStringConvertible {
    public let errno: Errno

    public var description: String {
        var why = "io_uring_setup failed with \(errno)"
        switch errno.rawValue {
        case ENOSYS: why += ": the kernel has no io_uring"
        case EPERM:
            if let setting = Self.disabledSetting(), setting != "0" {
                why += ": kernel.io_uring_disabled = \(setting)"
            } else {
                why += ": forbidden (seccomp filter or container policy)"
            }
        default: break
        }
        return why + "; reading with plain read instead"
    }

    /// The `kernel.io_uring_disabled` sysctl, where the kernel has it.
    static func disabledSetting() -> String? {
        guard let fd = try? FileDescriptor.open("/proc/sys/kernel/io_uring_disabled") else { return nil }
        defer { fd.close() }
        var bytes = [UInt8](repeating: 0, count: 16)
        let n = bytes.withUnsafeMutableBytes { (try? fd.read(into: $0, at: 0)) ?? 0 }
        return String(decoding: bytes[0..<n], as: UTF8.self).filter { !$0.isWhitespace }
    }
}
