#if canImport(Glibc)
import Glibc
#endif

/// A failed system call: the call's name, what it was made on, and the
/// `errno` it left, so a message says what was attempted, on which file or
/// socket, and what the kernel answered (`open /run/muse/a.muse: ENOENT (No
/// such file or directory)`). The one error every module throws for a
/// system call, in swift-system's manner (a call and an `Errno`), written
/// here rather than taken from swift-system: it is two small types, and
/// MuseCore stays a leaf that every target (musectl included) links cheaply.
public struct SystemCallError: Error, Sendable, Equatable, CustomStringConvertible {
    public let call: String
    /// The file, socket or object the call was made on; empty when the call says it all.
    public let subject: String
    public let errno: Errno

    public init(_ call: String, _ errno: Errno) {
        self.init(call, "", errno: errno)
    }

    /// Reads the calling thread's `errno` unless `errno` is given: call it
    /// right after the failed call, before anything else can change it.
    public init(_ call: String, _ subject: String, errno: Errno = .current) {
        self.call = call
        self.subject = subject
        self.errno = errno
    }

    public var description: String { subject.isEmpty ? "\(call): \(errno)" : "\(call) \(subject): \(errno)" }
}

/// An `errno` value, named as the C constants are.
public struct Errno: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
    public let rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }

    /// The calling thread's current `errno`.
    public static var current: Errno { Errno(rawValue: Glibc.errno) }

    public static let notPermitted = Errno(rawValue: EPERM)
    public static let noSuchFile = Errno(rawValue: ENOENT)
    public static let interrupted = Errno(rawValue: EINTR)
    public static let again = Errno(rawValue: EAGAIN)
    public static let noMemory = Errno(rawValue: ENOMEM)
    public static let exists = Errno(rawValue: EEXIST)
    public static let brokenPipe = Errno(rawValue: EPIPE)
    public static let timedOut = Errno(rawValue: ETIMEDOUT)
    public static let notImplemented = Errno(rawValue: ENOSYS)

    /// The system's words for it alone (`No such file or directory`), for
    /// messages that put the constant's name aside.
    public var reason: String { String(cString: strerror(rawValue)) }

    public var description: String {
        let name: String
        switch rawValue {
        case EPERM: name = "EPERM"
        case ENOENT: name = "ENOENT"
        case EINTR: name = "EINTR"
        case EAGAIN: name = "EAGAIN"
        case ENOMEM: name = "ENOMEM"
        case ENOSYS: name = "ENOSYS"
        case EACCES: name = "EACCES"
        case EEXIST: name = "EEXIST"
        case EINVAL: name = "EINVAL"
        case EISDIR: name = "EISDIR"
        case ENOTDIR: name = "ENOTDIR"
        case EIO: name = "EIO"
        case EPIPE: name = "EPIPE"
        case ENOSPC: name = "ENOSPC"
        case EADDRINUSE: name = "EADDRINUSE"
        case ETIMEDOUT: name = "ETIMEDOUT"
        case ELOOP: name = "ELOOP"
        default: name = "errno \(rawValue)"
        }
        return "\(name) (\(reason))"
    }
}

/// Retries a system call while it fails with EINTR; throws on any other failure.
@discardableResult
public func retryingOnInterrupt(_ call: String, _ subject: String, _ body: () -> Int32) throws(SystemCallError) -> Int32 {
    while true {
        let result = body()
        if result >= 0 { return result }
        let e = Errno.current
        if e != .interrupted { throw SystemCallError(call, subject, errno: e) }
    }
}
