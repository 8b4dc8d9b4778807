import Glibc

/// A system call's failure: the call's name and the `errno` it left, so a
/// message says both what was attempted and what the kernel answered.
public struct SystemCallError: Error, Sendable, Equatable, CustomStringConvertible {
    public let call: String
    public let errno: Errno

    public init(_ call: String, _ errno: Errno) {
        self.call = call
        self.errno = errno
    }

    public var description: String { "\(call): \(errno)" }
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
    public static let notImplemented = Errno(rawValue: ENOSYS)

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
        case EINVAL: name = "EINVAL"
        case EISDIR: name = "EISDIR"
        case EIO: name = "EIO"
        default: name = "errno \(rawValue)"
        }
        return "\(name) (\(String(cString: strerror(rawValue))))"
    }
}
