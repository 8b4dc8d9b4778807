#if canImport(Glibc)
import Glibc
#endif
import MuseCore

/// The sd_notify protocol without libsystemd: newline-separated `KEY=VALUE`
/// assignments in one datagram to the Unix socket named by `$NOTIFY_SOCKET`
/// (a path, or `@name` for an abstract socket).
///
/// mused sends `READY=1` once every tenant's segment exists and a generation
/// serves, `STATUS=` lines for `systemctl status`, `STOPPING=1` when asked to
/// stop, and `WATCHDOG=1` from `Watchdog`. Outside systemd (no
/// `NOTIFY_SOCKET`) there is no notifier and nothing is sent.
public final class SystemdNotifier: Sendable {
    public let socketPath: String
    private let descriptor: Int32
    private let address: sockaddr_un
    private let addressLength: socklen_t

    /// The notifier `$NOTIFY_SOCKET` asks for, or nil when it is unset or
    /// names something other than a Unix socket (logged).
    public static func fromEnvironment() -> SystemdNotifier? {
        guard let value = getenv("NOTIFY_SOCKET").map({ String(cString: $0) }), !value.isEmpty else { return nil }
        do {
            return try SystemdNotifier(socket: value)
        } catch {
            Log.warning("notify-socket-unusable", ["socket": value, "reason": error])
            return nil
        }
    }

    public init(socket path: String) throws(SystemdNotifierError) {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        var bytes = Array(path.utf8)
        let abstract = bytes.first == UInt8(ascii: "@")
        guard abstract || bytes.first == UInt8(ascii: "/") else { throw .unsupportedAddress(path) }
        // An abstract name starts with a NUL byte instead of the '@'.
        if abstract { bytes[0] = 0 }
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard bytes.count > 1, bytes.count < capacity else { throw .unsupportedAddress(path) }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in bytes.enumerated() { raw[index] = byte }
        }
        // An abstract name is exactly its bytes; a path ends at its NUL.
        let pathOffset = MemoryLayout<sockaddr_un>.offset(of: \.sun_path)!
        addressLength = socklen_t(pathOffset + bytes.count + (abstract ? 0 : 1))
        let fd = Glibc.socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw .system(SystemCallError("socket", "")) }
        descriptor = fd
        self.address = address
        socketPath = path
    }

    deinit { close(descriptor) }

    /// Sends `assignments` (e.g. "READY=1\nSTATUS=serving") as one datagram.
    /// Failures are returned, never thrown: systemd being away must not stop
    /// the daemon.
    @discardableResult
    public func send(_ assignments: String) -> Bool {
        var address = self.address
        let sent = assignments.withCString { text in
            withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    sendto(descriptor, text, strlen(text), Int32(MSG_NOSIGNAL), $0, addressLength)
                }
            }
        }
        return sent >= 0
    }

    /// READY=1 with a status line.
    public func ready(status: String) { send("READY=1\nSTATUS=\(Self.oneLine(status))") }

    /// A reload began; READY=1 ends it. systemd wants the monotonic time
    /// (CLOCK_MONOTONIC, µs) with it to tell this reload from a later one.
    public func reloading() {
        send("RELOADING=1\nMONOTONIC_USEC=\(ThreadSupport.monotonicNanoseconds() / 1000)")
    }

    public func status(_ text: String) { send("STATUS=\(Self.oneLine(text))") }

    /// STOPPING=1: systemd then waits for the exit, not for a watchdog ping.
    public func stopping(status: String) { send("STOPPING=1\nSTATUS=\(Self.oneLine(status))") }

    public func watchdog() -> Bool { send("WATCHDOG=1") }

    /// A status is one line: a newline would start another assignment.
    static func oneLine(_ text: String) -> String {
        String(text.map { $0 == "\n" || $0 == "\r" ? " " : $0 })
    }
}

public enum SystemdNotifierError: Error, CustomStringConvertible {
    case unsupportedAddress(String)
    case system(SystemCallError)

    public var description: String {
        switch self {
        case .unsupportedAddress(let address):
            "NOTIFY_SOCKET '\(address)' is neither an absolute socket path nor an abstract '@name' that fits sun_path"
        case .system(let error): "\(error)"
        }
    }
}
