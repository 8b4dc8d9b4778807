#if canImport(Glibc)
import Glibc
#endif

/// A failed system call: which call, on what, and the errno it left.
public struct SystemError: Error, CustomStringConvertible, Equatable {
    public let operation: String
    public let subject: String
    public let code: Int32

    public init(_ operation: String, _ subject: String = "", code: Int32 = errno) {
        self.operation = operation
        self.subject = subject
        self.code = code
    }

    public var description: String {
        let reason = String(cString: strerror(code))
        return subject.isEmpty ? "\(operation): \(reason)" : "\(operation) \(subject): \(reason)"
    }
}

/// Retries a system call while it fails with EINTR; throws on any other failure.
@discardableResult
func retryingOnInterrupt(_ operation: String, _ subject: String, _ call: () -> Int32) throws -> Int32 {
    while true {
        let result = call()
        if result >= 0 { return result }
        if errno != EINTR { throw SystemError(operation, subject) }
    }
}
