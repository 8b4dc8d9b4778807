#if canImport(Glibc)
import Glibc
#endif
import MuseIPC

/// mused's state directory: a copy of the last snapshot it published, so a
/// restart serves the same generation even if the operator's file moved on.
///
/// Every write is crash-safe: the copy is written under a temporary name,
/// fsynced, renamed over the old one, and the directory fsynced, so a mused
/// killed at any instant leaves either the old or the new snapshot recorded,
/// complete, never a mixture.
public struct StateDirectory: Sendable {
    public let path: String
    public static let snapshotName = "serving.snapshot"

    public init(path: String) throws {
        guard path.hasPrefix("/") else { throw StateDirectoryError.notAbsolute(path) }
        if mkdir(path, 0o700) != 0 && errno != EEXIST { throw SystemError("mkdir", path) }
        var info = stat()
        guard lstat(path, &info) == 0 else { throw SystemError("stat", path) }
        guard info.st_mode & S_IFMT == S_IFDIR, info.st_uid == geteuid(), info.st_mode & 0o022 == 0 else {
            throw StateDirectoryError.notPrivate(path)
        }
        self.path = path
    }

    /// The recorded snapshot, if any.
    public var recordedSnapshot: String? {
        let file = "\(path)/\(Self.snapshotName)"
        return access(file, R_OK) == 0 ? file : nil
    }

    /// Records `bytes` (a verified snapshot file) as the one to serve after a restart.
    public func record(snapshot bytes: [UInt8]) throws {
        let final = "\(path)/\(Self.snapshotName)"
        let temporary = "\(final).tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw SystemError("create", temporary) }
        var closed = false
        defer { if !closed { close(fd) } }
        try bytes.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = write(fd, raw.baseAddress! + offset, raw.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw SystemError("write", temporary)
                }
                offset += n
            }
        }
        guard fsync(fd) == 0 else { throw SystemError("fsync", temporary) }
        close(fd)
        closed = true
        guard rename(temporary, final) == 0 else { throw SystemError("rename", final) }
        let directory = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard directory >= 0 else { throw SystemError("open", path) }
        defer { close(directory) }
        guard fsync(directory) == 0 else { throw SystemError("fsync", path) }
    }
}

public enum StateDirectoryError: Error, CustomStringConvertible, Equatable {
    case notAbsolute(String)
    case notPrivate(String)

    public var description: String {
        switch self {
        case .notAbsolute(let path): "state directory '\(path)' must be an absolute path"
        case .notPrivate(let path): "refusing state directory \(path): it must be a directory of mused's user that others cannot write"
        }
    }
}
