#if canImport(Glibc)
import Glibc
#endif
import MuseCore

/// mused's state directory: copies of the snapshot it serves and of the one
/// before, so a restart serves the same generation even if the operator's
/// file has moved on, and a rollback survives a restart too.
///
/// A swap writes the bytes it verified here (`incoming.snapshot`, fsynced)
/// once it is accepted, so what is recorded is byte for byte what was
/// verified and a refused file leaves nothing. Only after the publish are
/// names changed, and `serving` never
/// stops naming a complete snapshot: the serving file gets a second name with
/// link(2), that name replaces `previous`, then `incoming` replaces `serving`,
/// each with an atomic rename(2), and the directory is fsynced. A mused killed
/// at any instant comes back with the old or the new snapshot as serving.
public struct StateDirectory: Sendable {
    public let path: String
    public static let servingName = "serving.snapshot"
    public static let previousName = "previous.snapshot"
    public static let incomingName = "incoming.snapshot"
    static let rollbackName = "rollback.snapshot"
    static let previousLinkName = "previous.snapshot.link"

    public init(path: String) throws {
        guard path.hasPrefix("/") else { throw StateDirectoryError.notAbsolute(path) }
        if mkdir(path, 0o700) != 0 && errno != EEXIST { throw SystemCallError("mkdir", path) }
        var info = stat()
        guard lstat(path, &info) == 0 else { throw SystemCallError("stat", path) }
        guard info.st_mode & S_IFMT == S_IFDIR, info.st_uid == geteuid(), info.st_mode & 0o022 == 0 else {
            throw StateDirectoryError.notPrivate(path)
        }
        self.path = path
        // A swap that died before its last rename left its copy (and maybe a
        // second name of the serving file); serving is still the old snapshot.
        unlink(file(Self.incomingName))
        unlink(file(Self.previousLinkName))
        // A rollback that died half-way: finish it if serving was already
        // moved aside, else undo it.
        if access(file(Self.rollbackName), F_OK) == 0 {
            let target = access(file(Self.servingName), F_OK) == 0 ? Self.previousName : Self.servingName
            try move(Self.rollbackName, to: target)
            try syncDirectory()
        }
    }

    func file(_ name: String) -> String { "\(path)/\(name)" }

    /// The snapshot to serve after a restart, if one was recorded.
    public var servingSnapshot: String? {
        access(file(Self.servingName), R_OK) == 0 ? file(Self.servingName) : nil
    }

    /// Writes the verified bytes of an accepted snapshot to
    /// `incoming.snapshot` and makes them durable. On failure nothing stays.
    public func stage(_ bytes: UnsafeRawBufferPointer) throws {
        let target = file(Self.incomingName)
        let output = open(target, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard output >= 0 else { throw SystemCallError("create", target) }
        defer { close(output) }
        do {
            try writeAll(output, bytes, subject: target)
            guard fsync(output) == 0 else { throw SystemCallError("fsync", target) }
        } catch {
            unlink(target)
            throw error
        }
    }

    /// Removes a staged copy whose swap was refused after `stage`.
    public func discardStaged() {
        unlink(file(Self.incomingName))
    }

    /// After a publish: the staged copy becomes the serving snapshot, the
    /// serving one the previous.
    public func commitStaged() throws {
        for step in commitSteps() { try step() }
    }

    /// commitStaged's steps, each one system call, so a test can stop after
    /// any of them as a crash would.
    func commitSteps() -> [() throws -> Void] {
        var steps: [() throws -> Void] = []
        if access(file(Self.servingName), F_OK) == 0 {
            steps.append {
                unlink(file(Self.previousLinkName))
                guard link(file(Self.servingName), file(Self.previousLinkName)) == 0 else {
                    throw SystemCallError("link", file(Self.servingName))
                }
            }
            steps.append { try move(Self.previousLinkName, to: Self.previousName) }
        }
        steps.append { try move(Self.incomingName, to: Self.servingName) }
        steps.append { try syncDirectory() }
        return steps
    }

    /// After a rollback: previous and serving trade places.
    public func commitRollback() throws {
        guard access(file(Self.previousName), F_OK) == 0 else {
            // Back to a generation no snapshot recorded (the built-in one, or
            // the configured file's): a restart should come back on that too.
            if access(file(Self.servingName), F_OK) == 0 {
                try move(Self.servingName, to: Self.previousName)
                try syncDirectory()
            }
            return
        }
        for step in rollbackSteps() { try step() }
    }

    /// commitRollback's steps when a previous snapshot exists. A crash after
    /// the first leaves `rollback` beside `serving` (init undoes it), after the
    /// second leaves `rollback` without `serving` (init finishes it).
    func rollbackSteps() -> [() throws -> Void] {
        var steps: [() throws -> Void] = [{ try move(Self.previousName, to: Self.rollbackName) }]
        if access(file(Self.servingName), F_OK) == 0 {
            steps.append { try move(Self.servingName, to: Self.previousName) }
        }
        steps.append { try move(Self.rollbackName, to: Self.servingName) }
        steps.append { try syncDirectory() }
        return steps
    }

    private func move(_ from: String, to: String) throws {
        guard rename(file(from), file(to)) == 0 else { throw SystemCallError("rename", file(from)) }
    }

    private func syncDirectory() throws {
        let directory = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard directory >= 0 else { throw SystemCallError("open", path) }
        defer { close(directory) }
        guard fsync(directory) == 0 else { throw SystemCallError("fsync", path) }
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
