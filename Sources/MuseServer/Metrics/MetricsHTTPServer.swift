#if canImport(Glibc)
import Glibc
#endif
import Foundation
import MuseCore

/// One answer of the endpoint: status line, type and body.
struct HTTPAnswer: Sendable {
    let status: String
    let contentType: String
    let body: [UInt8]

    /// Prometheus text (exposition format 0.0.4).
    static func exposition(_ body: [UInt8]) -> HTTPAnswer {
        HTTPAnswer(status: "200 OK", contentType: "text/plain; version=0.0.4; charset=utf-8", body: body)
    }

    /// A probe's answer: 200 and its reason when it passes, else 503.
    static func probe(_ verdict: HealthVerdict) -> HTTPAnswer {
        HTTPAnswer(status: verdict.passes ? "200 OK" : "503 Service Unavailable",
                   contentType: "text/plain; charset=utf-8", body: Array((verdict.reason + "\n").utf8))
    }
}

/// The metrics endpoint: a minimal HTTP/1.1 server on a TCP address,
/// each connection on a low-priority thread of its own (`AcceptLoop`).
/// Each path has a route (`/metrics`, `/healthz`, `/readyz`): `GET` gets its
/// answer, `HEAD` the same head without the body (probes use it), another
/// method 405 with `Allow`; any other path gets 404, a malformed or
/// oversized request 400. Every connection is closed after one answer.
///
/// A slow or silent client cannot hold it: the request must arrive within
/// `requestTimeoutMilliseconds` and `maxRequestBytes`, and the answer is
/// written under the same deadline.
final class MetricsHTTPServer: @unchecked Sendable {
    /// The bound port (the configured one, or the kernel's pick for port 0).
    let port: UInt16
    private let routes: [String: @Sendable () -> HTTPAnswer]
    /// Made at the end of `init`; a scrape renders on its thread, at lowered priority.
    private var loop: AcceptLoop!
    static let maxRequestBytes = 8192
    static let requestTimeoutMilliseconds = 2000

    /// Serves `render`'s exposition at /metrics, and nothing else.
    convenience init(address: MetricsAddress, render: @escaping @Sendable () -> [UInt8]) throws {
        try self.init(address: address, routes: ["/metrics": { .exposition(render()) }])
    }

    /// `routes` answer their paths, each on the connection's thread.
    init(address: MetricsAddress, routes: [String: @Sendable () -> HTTPAnswer]) throws {
        self.routes = routes
        let host = address.host == "localhost" ? "127.0.0.1" : address.host
        let ipv6 = host.contains(":")
        let fd = socket(ipv6 ? AF_INET6 : AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw MetricsServerError.system(address.description, SystemCallError("socket", "")) }
        do {
            var on: Int32 = 1
            setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, socklen_t(MemoryLayout<Int32>.size))
            let bound: Int32
            if ipv6 {
                var sa = sockaddr_in6()
                sa.sin6_family = sa_family_t(AF_INET6)
                sa.sin6_port = address.port.bigEndian
                guard inet_pton(AF_INET6, host, &sa.sin6_addr) == 1 else { throw MetricsServerError.badAddress(address.description) }
                bound = withUnsafePointer(to: &sa) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size)) }
                }
            } else {
                var sa = sockaddr_in()
                sa.sin_family = sa_family_t(AF_INET)
                sa.sin_port = address.port.bigEndian
                guard inet_pton(AF_INET, host, &sa.sin_addr) == 1 else { throw MetricsServerError.badAddress(address.description) }
                bound = withUnsafePointer(to: &sa) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
                }
            }
            guard bound == 0 else { throw MetricsServerError.system(address.description, SystemCallError("bind", "")) }
            guard listen(fd, AcceptLoop.backlog) == 0 else { throw MetricsServerError.system(address.description, SystemCallError("listen", "")) }
            var storage = sockaddr_storage()
            var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
            _ = withUnsafeMutablePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
            }
            port = withUnsafePointer(to: &storage) { pointer in
                ipv6 ? pointer.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { UInt16(bigEndian: $0.pointee.sin6_port) }
                     : pointer.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { UInt16(bigEndian: $0.pointee.sin_port) }
            }
        } catch {
            close(fd)
            throw error
        }
        loop = AcceptLoop(listener: fd, name: "muse-metrics") { [unowned self] in serve($0) }
    }

    func start() { loop.start() }

    func stop() { loop.stop() }

    private func serve(_ connection: Int32) {
        let deadline = ThreadSupport.monotonicNanoseconds() + UInt64(Self.requestTimeoutMilliseconds) * 1_000_000
        guard let head = readHead(connection, deadline: deadline) else {
            send(connection, status: "400 Bad Request", type: "text/plain", body: Array("bad request\n".utf8), deadline: deadline)
            return
        }
        let parts = head.split(separator: " ", omittingEmptySubsequences: true)
        let path = parts.count == 3 ? parts[1].split(separator: "?", maxSplits: 1).first.map(String.init) : nil
        guard parts.count == 3 && parts[2].hasPrefix("HTTP/") else {
            send(connection, status: "400 Bad Request", type: "text/plain", body: Array("bad request\n".utf8), deadline: deadline)
            return
        }
        // A HEAD answer carries GET's headers, Content-Length included, and no body.
        let isHead = parts[0] == "HEAD"
        if let path, let route = routes[path], parts[2].hasPrefix("HTTP/1.") {
            if parts[0] == "GET" || isHead {
                let answer = route()
                send(connection, status: answer.status, type: answer.contentType, body: answer.body, withBody: !isHead,
                     deadline: deadline)
            } else {
                send(connection, status: "405 Method Not Allowed", type: "text/plain", body: Array("method not allowed\n".utf8),
                     extraHeaders: "Allow: GET, HEAD\r\n", deadline: deadline)
            }
        } else {
            send(connection, status: "404 Not Found", type: "text/plain", body: Array("not found\n".utf8), withBody: !isHead,
                 deadline: deadline)
        }
    }

    /// The request line, once the whole head (up to the blank line) is in;
    /// nil if it is too long, malformed, or not in by the deadline.
    private func readHead(_ connection: Int32, deadline: UInt64) -> Substring? {
        var buffer = [UInt8](repeating: 0, count: Self.maxRequestBytes)
        var filled = 0
        while filled < buffer.count {
            let now = ThreadSupport.monotonicNanoseconds()
            guard now < deadline else { return nil }
            var poller = pollfd(fd: connection, events: Int16(POLLIN), revents: 0)
            guard poll(&poller, 1, Int32((deadline - now) / 1_000_000) + 1) > 0 else { return nil }
            let n = buffer.withUnsafeMutableBytes { recv(connection, $0.baseAddress! + filled, $0.count - filled, Int32(MSG_DONTWAIT)) }
            if n < 0 && (errno == EAGAIN || errno == EINTR) { continue }
            guard n > 0 else { return nil }
            let searchFrom = max(0, filled - 3)
            filled += n
            if let end = Self.headEnd(buffer, from: searchFrom, to: filled) {
                guard let text = String(validating: buffer[0..<end], as: UTF8.self),
                      let line = text.split(separator: "\r\n", maxSplits: 1, omittingEmptySubsequences: false).first
                else { return nil }
                return line
            }
        }
        return nil
    }

    /// Where "\r\n\r\n" starts in `buffer[from..<to]`.
    private static func headEnd(_ buffer: [UInt8], from: Int, to: Int) -> Int? {
        var i = from
        while i + 3 < to {
            if buffer[i] == 13 && buffer[i + 1] == 10 && buffer[i + 2] == 13 && buffer[i + 3] == 10 { return i }
            i += 1
        }
        return nil
    }

    private func send(_ connection: Int32, status: String, type: String, body: [UInt8], withBody: Bool = true,
                      extraHeaders: String = "", deadline: UInt64) {
        var message = Array(("HTTP/1.1 \(status)\r\nContent-Type: \(type)\r\nContent-Length: \(body.count)\r\n"
            + "\(extraHeaders)Connection: close\r\n\r\n").utf8)
        if withBody { message.append(contentsOf: body) }
        do { try writeAll(connection, message, to: .socket, deadline: deadline) } catch { return }
        // Let the client read everything before the close, and drop what it
        // sent past the head (bounded): closing with unread input would reset
        // the connection and could discard the answer on the client's side.
        shutdown(connection, Int32(SHUT_WR))
        var sink = [UInt8](repeating: 0, count: 4096)
        for _ in 0..<16 {
            let n = sink.withUnsafeMutableBytes { recv(connection, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
            if n <= 0 { break }
        }
    }
}

enum MetricsServerError: Error, CustomStringConvertible {
    case badAddress(String)
    /// The address the endpoint was to listen on, and the call that failed there.
    case system(String, SystemCallError)

    var description: String {
        switch self {
        case .badAddress(let address): "metrics address \(address) is not a numeric IP address"
        case .system(let address, let error): "metrics endpoint \(address): \(error)"
        }
    }
}
