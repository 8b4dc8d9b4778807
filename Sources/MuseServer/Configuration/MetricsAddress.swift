#if canImport(Glibc)
import Glibc
#endif

/// The metrics endpoint's TCP address: a numeric IPv4 or bracketed IPv6
/// address (or `localhost`) and a port. Any address is accepted; loopback is
/// what the documentation suggests, because whoever reaches the endpoint
/// reads tenant names and volumes (no scores, no features).
public struct MetricsAddress: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: UInt16

    /// What `metrics_address` and `--metrics-address` are told when a value is refused.
    public static let expected = "an IP address and port such as 127.0.0.1:9464, [::1]:9464 or 0.0.0.0:9464"

    /// `127.0.0.1:9464`, `0.0.0.0:9464`, `192.0.2.7:9464`, `[::1]:9464`,
    /// `[::]:9464` or `localhost:9464`.
    public init?(_ text: String) {
        let host: Substring
        let port: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]"), text[text.index(after: close)...].hasPrefix(":") else { return nil }
            host = text[text.index(after: text.startIndex)..<close]
            port = text[text.index(close, offsetBy: 2)...]
            var v6 = in6_addr()
            guard inet_pton(AF_INET6, String(host), &v6) == 1 else { return nil }
        } else {
            guard let colon = text.lastIndex(of: ":") else { return nil }
            host = text[..<colon]
            port = text[text.index(after: colon)...]
            var v4 = in_addr()
            guard host == "localhost" || inet_pton(AF_INET, String(host), &v4) == 1 else { return nil }
        }
        guard let number = UInt16(port), number > 0 else { return nil }
        self.host = String(host)
        self.port = number
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    /// Whether only this host can connect (127.0.0.0/8, ::1, localhost).
    public var isLoopback: Bool { Self.isLoopback(host) }

    static func isLoopback(_ host: String) -> Bool {
        if host == "localhost" { return true }
        var v4 = in_addr()
        if inet_pton(AF_INET, host, &v4) == 1 { return UInt32(bigEndian: v4.s_addr) >> 24 == 127 }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, host, &v6) == 1 {
            return withUnsafeBytes(of: &v6) { $0.dropLast().allSatisfy { $0 == 0 } && $0.last == 1 }
        }
        return false
    }
}
