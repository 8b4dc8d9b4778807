import Glibc
import MuseCore

/// An open file, as a thin typed wrapper over the descriptor: each method is
/// one system call (retried on EINTR) that throws `SystemCallError`.
/// Closing is explicit, as in swift-system; `withOpened` closes for you.
public struct FileDescriptor: Sendable, Hashable {
    public let rawValue: Int32

    public init(rawValue: Int32) { self.rawValue = rawValue }

    /// Opens `path` read-only (and close-on-exec) without blocking: opening
    /// a FIFO for reading would otherwise wait for a writer, and a terminal
    /// would become the controlling one. Reads of a regular file ignore
    /// `O_NONBLOCK`; callers that want a file's bytes check `regularFileSize`.
    public static func open(_ path: String) throws(SystemCallError) -> FileDescriptor {
        try open(path, flags: O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY)
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

    /// The size of a regular file (`fstat`). Anything else is refused: a
    /// FIFO, socket or device has no size to bound a read by, and reading
    /// one (`/dev/zero`) may never end.
    public func regularFileSize() throws -> Int {
        var st = stat()
        guard fstat(rawValue, &st) == 0 else { throw SystemCallError("fstat", .current) }
        let type = st.st_mode & S_IFMT
        guard type == S_IFREG else { throw NotARegularFile(type: type) }
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

    /// Writes all of `bytes` (MuseCore's `writeAll`, which loops over short writes).
    public func writeAll(_ bytes: UnsafeRawBufferPointer) throws(SystemCallError) {
        try MuseCore.writeAll(rawValue, bytes)
    }

    /// `posix_fadvise(SEQUENTIAL)`: a hint, so failure is ignored.
    public func adviseSequential(length: Int) {
        _ = posix_fadvise(rawValue, 0, off_t(length), POSIX_FADV_SEQUENTIAL)
    }

    public func sync() throws(SystemCallError) {
        guard fsync(rawValue) == 0 else { throw SystemCallError("fsync", .current) }
    }
}

/// A path that names something other than a regular file.
public struct NotARegularFile: Error, Sendable, Equatable, CustomStringConvertible {
    public let type: mode_t

    public var description: String {
        let what: String
        switch type {
        case S_IFDIR: what = "a directory"
        case S_IFIFO: what = "a FIFO"
        case S_IFCHR: what = "a character device"
        case S_IFBLK: what = "a block device"
        case S_IFSOCK: what = "a socket"
        default: what = "of an unknown type"
        }
        return "is \(what), not a regular file"
    }
}
