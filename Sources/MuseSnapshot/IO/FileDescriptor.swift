import Glibc

/// An open file, as a thin typed wrapper over the descriptor: each method is
/// one system call (retried on EINTR) that throws `SystemCallError`.
/// Closing is explicit, as in swift-system; `withOpened` closes for you.
public struct FileDescriptor: Sendable, Hashable {
    public let rawValue: Int32

    public init(rawValue: Int32) { self.rawValue = rawValue }

    /// Opens `path` read-only (and close-on-exec).
    public static func open(_ path: String) throws(SystemCallError) -> FileDescriptor {
        try open(path, flags: O_RDONLY | O_CLOEXEC)
    }

    public static func open(_ path: String, flags: Int32, mode: mode_t = 0o644) throws(SystemCallError) -> FileDescriptor {
        while true {
            let fd = Glibc.open(path, flags, mode)
            if fd >= 0 { return FileDescriptor(rawValue: fd) }
            let e = Errno.current
            if e != .interrupted { throw SystemCallError("open \(path)", e) }
        }
    }

    /// Opens `path` read-only, runs `body`, and closes the file whatever happens.
    public static func withOpened<R>(_ path: String, _ body: (FileDescriptor) throws -> R) throws -> R {
        let fd = try open(path)
        defer { fd.close() }
        return try body(fd)
    }

    public func close() { _ = Glibc.close(rawValue) }

    /// The file's size in bytes (`fstat`).
    public func size() throws(SystemCallError) -> Int {
        var st = stat()
        guard fstat(rawValue, &st) == 0 else { throw SystemCallError("fstat", .current) }
        guard (st.st_mode & S_IFMT) == S_IFREG else { throw SystemCallError("fstat", Errno(rawValue: EINVAL)) }
        return Int(st.st_size)
    }

    /// One `pread`: up to `buffer.count` bytes at `offset`; 0 at end of file.
    public func read(into buffer: UnsafeMutableRawBufferPointer, at offset: Int) throws(SystemCallError) -> Int {
        while true {
            let n = pread(rawValue, buffer.baseAddress, buffer.count, off_t(offset))
            if n >= 0 { return n }
            let e = Errno.current
            if e != .interrupted { throw SystemCallError("pread", e) }
        }
    }

    /// Writes all of `bytes`, looping over short writes.
    public func writeAll(_ bytes: UnsafeRawBufferPointer) throws(SystemCallError) {
        var done = 0
        while done < bytes.count {
            let n = Glibc.write(rawValue, bytes.baseAddress! + done, bytes.count - done)
            if n < 0 {
                let e = Errno.current
                if e == .interrupted { continue }
                throw SystemCallError("write", e)
            }
            done += n
        }
    }

    /// `posix_fadvise(SEQUENTIAL)`: a hint, so failure is ignored.
    public func adviseSequential(length: Int) {
        _ = posix_fadvise(rawValue, 0, off_t(length), POSIX_FADV_SEQUENTIAL)
    }

    public func sync() throws(SystemCallError) {
        guard fsync(rawValue) == 0 else { throw SystemCallError("fsync", .current) }
    }
}
