#if canImport(Glibc)
import Glibc
#endif
import CMuse

/// A muse.h status that is not MUSE_OK, with errno when a system call failed.
public struct MuseClientError: Error, CustomStringConvertible, Equatable {
    public let status: muse_status
    public let systemErrno: Int32?
    public let context: String

    init(_ status: muse_status, _ context: String) {
        self.status = status
        self.systemErrno = status == MUSE_E_SYSTEM ? errno : nil
        self.context = context
    }

    public var description: String {
        var text = "\(context): \(String(cString: muse_strerror(Int32(bitPattern: status.rawValue))))"
        if let systemErrno { text += " (\(String(cString: strerror(systemErrno))))" }
        return text
    }
}
