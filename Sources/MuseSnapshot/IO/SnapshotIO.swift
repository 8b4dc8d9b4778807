import MuseCore

/// How a snapshot file is read into memory.
public enum SnapshotIO: Sendable, Equatable {
    /// io_uring where the kernel allows it, else plain `read` (and say why).
    case auto
    /// io_uring only: fail if it is unavailable.
    case ioUring
    /// `pread` in a loop: no io_uring at all (tests force it to compare).
    case plainRead
}

/// Which reader actually read a file.
public enum FileReader: String, Sendable, Equatable, Codable {
    case ioUring = "io_uring"
    case plainRead = "read"
}

/// A file's bytes and how they were read.
public struct FileBytes: Sendable {
    public let buffer: LargeBuffer
    /// A copy of the bytes as an array (for tests and small files).
    public var bytes: [UInt8] { buffer.array }
    public let reader: FileReader
    /// Set when `.auto` wanted io_uring but fell back: why, for one log line.
    public let fallbackReason: String?
}

/// Reads whole files with the chosen strategy.
public struct FileLoader: Sendable {
    public var io: SnapshotIO
    public var uring: IOUringReader

    public init(io: SnapshotIO = .auto, uring: IOUringReader = IOUringReader()) {
        self.io = io
        self.uring = uring
    }

    /// Reads all of `path` into one buffer. Only a regular file is read, and
    /// `limit` refuses a larger one before anything is allocated. `check`
    /// sees the file's first `prefixLength` bytes (fewer if it is shorter)
    /// and its size before the rest is read, so a file that is not what the
    /// caller wants is refused for the price of one small read.
    public func read(_ path: String, limit: Int = .max, prefixLength: Int = 64,
                     check: (_ prefix: UnsafeRawBufferPointer, _ size: Int) throws -> Void = { _, _ in }) throws -> FileBytes {
        let fd = try FileDescriptor.open(path)
        defer { fd.close() }
        let size = try fd.regularFileSize()
        guard size <= limit else { throw FileTooLarge(path: path, size: size, limit: limit) }
        var prefix = [UInt8](repeating: 0, count: min(size, prefixLength))
        let got = try prefix.withUnsafeMutableBytes { buffer throws(SystemCallError) in try fd.read(into: buffer, at: 0) }
        try prefix.withUnsafeBytes { try check(UnsafeRawBufferPointer(rebasing: $0[0..<got]), size) }
        // The whole file is wanted, front to back: a larger readahead window
        // helps both readers when it is not in the page cache.
        fd.adviseSequential(length: size)
        switch io {
        case .plainRead:
            return FileBytes(buffer: try PlainReader.read(fd, size: size), reader: .plainRead, fallbackReason: nil)
        case .ioUring:
            return FileBytes(buffer: try uring.read(fd, size: size), reader: .ioUring, fallbackReason: nil)
        case .auto:
            do {
                return FileBytes(buffer: try uring.read(fd, size: size), reader: .ioUring, fallbackReason: nil)
            } catch let unavailable as IOUringUnavailable {
                return FileBytes(buffer: try PlainReader.read(fd, size: size), reader: .plainRead,
                                 fallbackReason: unavailable.description)
            }
        }
    }
}

public struct FileTooLarge: Error, CustomStringConvertible {
    public let path: String
    public let size: Int
    public let limit: Int
    public var description: String { "\(path): \(size) bytes is more than the limit of \(limit)" }
}

/// Fills a new buffer of exactly `size` bytes.
func readIntoNewBuffer(size: Int, _ fill: (UnsafeMutableRawBufferPointer) throws -> Void) throws -> LargeBuffer {
    let buffer = try LargeBuffer(count: size)
    if size > 0 { try fill(buffer.mutableBytes) }
    return buffer
}
