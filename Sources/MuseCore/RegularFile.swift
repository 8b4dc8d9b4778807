#if canImport(Glibc)
import Glibc
#endif

/// Input files of musectl and the manifest: read whole, or refused naming the
/// file and the system's reason (`maps.txt: cannot read: No such file or
/// directory`). Foundation's errors name neither the path nor errno ("The
/// file doesn't exist"), which leaves an operator guessing which of several
/// files is meant.
///
/// Only regular files are read. The open does not block, so a FIFO nobody
/// writes (or a device) is refused at once instead of hanging the command.
public enum RegularFile {
    /// The whole file. A file longer than `limit` bytes is refused, by the
    /// size it has when opened and again by what is read (it may grow), so
    /// a caller reading input from others never allocates past `limit`.
    public static func read(_ path: String, limit: Int = .max) throws(FileReadError) -> [UInt8] {
        let fd = try open(path)
        defer { close(fd) }
        var info = stat()
        if fstat(fd, &info) == 0, Int(info.st_size) > limit {
            throw FileReadError(path: path, reason: "is \(info.st_size) bytes, over the limit of \(limit) bytes")
        }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw FileReadError(path: path, errno: errno)
            }
            if n == 0 { return bytes }
            guard n <= limit - bytes.count else {
                throw FileReadError(path: path, reason: "grew past the limit of \(limit) bytes while being read")
            }
            bytes.append(contentsOf: chunk[0..<n])
        }
    }

    /// Text of a file; bytes that are not UTF-8 become U+FFFD, and a parser
    /// then reports the line they are on.
    public static func readText(_ path: String) throws(FileReadError) -> String {
        String(decoding: try read(path), as: UTF8.self)
    }

    /// Throws what `read` would for a file that cannot be read, without
    /// reading it: for a caller whose own reader would block on a FIFO or
    /// word a missing file less plainly.
    public static func check(_ path: String) throws(FileReadError) {
        close(try open(path))
    }

    private static func open(_ path: String) throws(FileReadError) -> Int32 {
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY)
        guard fd >= 0 else { throw FileReadError(path: path, errno: errno) }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            let code = errno
            close(fd)
            throw FileReadError(path: path, errno: code)
        }
        let kind: String
        switch info.st_mode & S_IFMT {
        case S_IFREG: return fd
        case S_IFDIR:
            close(fd)
            throw FileReadError(path: path, errno: EISDIR)
        case S_IFIFO: kind = "a FIFO"
        case S_IFCHR: kind = "a character device"
        case S_IFBLK: kind = "a block device"
        case S_IFSOCK: kind = "a socket"
        default: kind = "a special file"
        }
        close(fd)
        throw FileReadError(path: path, reason: "is \(kind), not a regular file")
    }
}

/// A file that could not be read, reported as `PATH: cannot read: REASON`.
public struct FileReadError: Error, CustomStringConvertible, Equatable, Sendable {
    public let path: String
    /// The system's words for errno, or what kind of file it is.
    public let reason: String

    public init(path: String, reason: String) {
        self.path = path
        self.reason = reason
    }

    public init(path: String, errno code: Int32) {
        self.init(path: path, reason: String(cString: strerror(code)))
    }

    public var description: String { "\(path): cannot read: \(reason)" }
}
