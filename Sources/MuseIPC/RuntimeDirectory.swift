#if canImport(Glibc)
import Glibc
#endif
import CMuse

/// The directory that holds the tenants' segments, opened once and held by
/// one daemon for its whole life.
///
/// Whoever can write this directory can plant or replace a segment and read
/// a tenant's events, so the daemon accepts it only if it belongs to the
/// daemon's user and nobody else may write it. Every segment is then opened
/// relative to this descriptor (`openat`), never through the path again, so a
/// directory renamed or replaced after the check changes nothing.
///
/// `mused.lock` inside it carries an exclusive OFD lock for the daemon's life:
/// a second daemon on the same directory (by any path to it) is refused, and
/// the kernel drops the lock when the holder dies, however it dies.
public final class RuntimeDirectory: @unchecked Sendable {
    public let path: String
    /// The directory, opened O_DIRECTORY | O_NOFOLLOW.
    public let descriptor: Int32
    private let lockDescriptor: Int32

    public static let lockFileName = "mused.lock"

    /// How a directory that already exists is judged.
    public enum Trust: Sendable {
        /// Owned by this user, writable by nobody else (the default).
        case ownedExclusively
        /// Also accept group- or world-writable directories and other owners:
        /// only for a directory the operator controls by other means.
        case anyOwner
    }

    /// Opens (creating it if missing, with `mode`) and checks the directory,
    /// then takes its lock. `mode` is applied explicitly, so the umask cannot
    /// silently make it unreachable for clients.
    public init(path: String, mode: mode_t = 0o755, trust: Trust = .ownedExclusively) throws {
        guard path.hasPrefix("/"), path.utf8.count < Int(PATH_MAX) else {
            throw RuntimeDirectoryError.notAbsolute(path)
        }
        self.path = path
        var created = false
        if mkdir(path, 0o700) == 0 {
            created = true
        } else if errno != EEXIST {
            throw SystemCallError("mkdir", path)
        }
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else {
            if errno == ELOOP || errno == ENOTDIR { throw RuntimeDirectoryError.notADirectory(path) }
            throw SystemCallError("open", path)
        }
        descriptor = fd
        do {
            var info = stat()
            guard fstat(fd, &info) == 0 else { throw SystemCallError("stat", path) }
            guard info.st_mode & S_IFMT == S_IFDIR else { throw RuntimeDirectoryError.notADirectory(path) }
            if created {
                // Ours since mkdir; set the mode the clients need, whatever the umask.
                try retryingOnInterrupt("chmod", path) { fchmod(fd, mode) }
            } else if trust == .ownedExclusively {
                guard info.st_uid == geteuid() else {
                    throw RuntimeDirectoryError.foreignOwner(path: path, owner: info.st_uid, expected: geteuid())
                }
                guard info.st_mode & 0o022 == 0 else {
                    throw RuntimeDirectoryError.writableByOthers(path: path, mode: info.st_mode & 0o7777)
                }
            }
            lockDescriptor = try Self.lock(directory: fd, path: path)
        } catch {
            close(fd)
            throw error
        }
    }

    /// Deletes `name` (a file directly inside the directory). Clients that
    /// have it mapped keep their mapping; new opens fail.
    public func remove(_ name: String) throws {
        guard unlinkat(descriptor, name, 0) == 0 else { throw SystemCallError("unlink", "\(path)/\(name)") }
    }

    deinit {
        close(lockDescriptor)
        close(descriptor)
    }

    /// Takes the directory's lock file, records this process in it, and keeps
    /// it open: the OFD lock lasts as long as the descriptor.
    private static func lock(directory: Int32, path: String) throws -> Int32 {
        let lockPath = "\(path)/\(lockFileName)"
        let fd = openat(directory, lockFileName, O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            if errno == ELOOP { throw RuntimeDirectoryError.lockFileNotRegular(lockPath) }
            throw SystemCallError("open", lockPath)
        }
        var info = stat()
        guard fstat(fd, &info) == 0 else { let e = SystemCallError("stat", lockPath); close(fd); throw e }
        guard info.st_mode & S_IFMT == S_IFREG, info.st_uid == geteuid() else {
            close(fd)
            throw RuntimeDirectoryError.lockFileNotRegular(lockPath)
        }
        guard FileLock.tryExclusive(fd, offset: 0) else {
            // The holder wrote its pid into the file when it took the lock.
            var buffer = [UInt8](repeating: 0, count: 32)
            let n = pread(fd, &buffer, buffer.count, 0)
            let holder = n > 0 ? Int32(String(decoding: buffer.prefix(n).prefix { $0 != 10 }, as: UTF8.self)) : nil
            close(fd)
            throw RuntimeDirectoryError.ownedByAnotherDaemon(path: path, pid: holder)
        }
        let record = "\(getpid())\n"
        _ = ftruncate(fd, 0)
        _ = record.withCString { pwrite(fd, $0, strlen($0), 0) }
        return fd
    }
}

/// Exclusive, non-blocking OFD locks on one byte of a file.
///
/// OFD locks belong to the open file description, not the process: two
/// descriptions in one process conflict (so one daemon cannot own a segment
/// twice), and the kernel releases them when the last descriptor closes.
enum FileLock {
    static func tryExclusive(_ fd: Int32, offset: UInt64) -> Bool {
        while true {
            if muse__ofd_lock_byte(fd, offset, Int16(F_WRLCK)) == 0 { return true }
            if errno != EINTR { return false }
        }
    }
}

public enum RuntimeDirectoryError: Error, CustomStringConvertible, Equatable {
    case notAbsolute(String)
    case notADirectory(String)
    case foreignOwner(path: String, owner: uid_t, expected: uid_t)
    case writableByOthers(path: String, mode: mode_t)
    case lockFileNotRegular(String)
    case ownedByAnotherDaemon(path: String, pid: Int32?)

    public var description: String {
        switch self {
        case .notAbsolute(let path):
            "runtime directory '\(path)' must be an absolute path"
        case .notADirectory(let path):
            "refusing runtime directory \(path): it is not a directory (or is a symbolic link)"
        case .foreignOwner(let path, let owner, let expected):
            "refusing runtime directory \(path): it belongs to uid \(owner), not to mused's uid \(expected); "
                + "whoever owns it can replace segments and read tenants' events"
        case .writableByOthers(let path, let mode):
            "refusing runtime directory \(path): its mode \(String(mode, radix: 8)) lets others create or "
                + "replace segments; make it writable by mused's user only (chmod go-w)"
        case .lockFileNotRegular(let path):
            "refusing \(path): not a regular file of mused's user"
        case .ownedByAnotherDaemon(let path, let pid):
            "another mused\(pid.map { " (pid \($0))" } ?? "") is serving runtime directory \(path); "
                + "one directory has one daemon"
        }
    }
}
