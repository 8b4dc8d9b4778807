#if canImport(Glibc)
import Glibc
#endif
import Foundation
import MuseCore

/// musectl's side of the control socket: connect, send one request, read one
/// response.
public enum ControlClient {
    /// `answerLimit` bounds the answer read; `sketches` answers carry every
    /// tenant's sketches and need more than the default.
    public static func send(_ request: ControlRequest, to socketPath: String,
                            timeoutSeconds: Int = 120, answerLimit: Int = 1 << 20) throws -> ControlResponse {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw ControlError.system(SystemCallError("socket", "", errno: .current)) }
        defer { close(fd) }
        var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = try UnixAddress(socketPath)
        let connected = address.withSockaddr { connect(fd, $0, $1) }
        guard connected == 0 else { throw ControlError.connect(socketPath, errno) }
        var line = try JSONEncoder().encode(request)
        line.append(UInt8(ascii: "\n"))
        // mused answers a refused peer without reading its request and closes:
        // the request may then meet a broken pipe, and the answer is still there.
        do throws(SystemCallError) { try sendMessage(fd, line) } catch {
            if error.errno != .brokenPipe { throw ControlError.system(error) }
        }
        let reply = try readLine(fd, limit: answerLimit)
        do { return try ControlResponse.decode(reply) } catch { throw ControlError.unreadableAnswer(error.description) }
    }
}

/// A sockaddr_un for a path, checked for length.
public struct UnixAddress {
    var storage = sockaddr_un()

    public init(_ path: String) throws {
        storage.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        let capacity = MemoryLayout.size(ofValue: storage.sun_path)
        guard !bytes.isEmpty, bytes.count < capacity else { throw ControlError.pathTooLong(path) }
        withUnsafeMutableBytes(of: &storage.sun_path) { raw in
            for (i, byte) in bytes.enumerated() { raw[i] = byte }
        }
    }

    public mutating func withSockaddr<R>(_ body: (UnsafePointer<sockaddr>, socklen_t) -> R) -> R {
        withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
    }
}

/// Writes all of `data` to the socket `fd` (MuseCore's `writeAll`).
public func sendMessage(_ fd: Int32, _ data: Data) throws(SystemCallError) {
    let bytes = [UInt8](data)
    try writeAll(fd, bytes, to: .socket)
}

/// Reads up to a newline (at most `limit` bytes): one message. A last line
/// without its newline counts, as the peer may close right after writing.
/// With `deadline` (CLOCK_MONOTONIC nanoseconds), the whole line must arrive
/// by then, however it is dripped: a per-read timeout alone would let a peer
/// sending a byte at a time hold the connection for ever.
public func readLine(_ fd: Int32, limit: Int = 1 << 20, deadline: UInt64? = nil) throws(ControlError) -> Data {
    var data = Data()
    var chunk = [UInt8](repeating: 0, count: 4096)
    while data.count < limit {
        if let deadline {
            let now = ThreadSupport.monotonicNanoseconds()
            guard now < deadline else { throw .timedOut }
            var waiting = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&waiting, 1, Int32(min((deadline - now) / 1_000_000 + 1, 60_000)))
            if ready < 0 && errno != EINTR { throw .system(SystemCallError("poll", "", errno: .current)) }
            if ready <= 0 { continue }
        }
        // One request or answer per connection: nothing after its newline matters.
        let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, min($0.count, limit - data.count)) }
        if n == 0 { break }
        if n < 0 {
            if errno == EINTR { continue }
            if errno == EAGAIN || errno == EWOULDBLOCK { throw .timedOut }
            throw .system(SystemCallError("read", "", errno: .current))
        }
        if let newline = chunk[0..<n].firstIndex(of: UInt8(ascii: "\n")) {
            data.append(contentsOf: chunk[0..<newline])
            return data
        }
        data.append(contentsOf: chunk[0..<n])
    }
    if data.count >= limit { throw .tooLong(limit) }
    if data.isEmpty { throw .closed }
    return data
}

public enum ControlError: Error, CustomStringConvertible {
    case system(SystemCallError)
    case connect(String, Int32)
    case pathTooLong(String)
    /// The peer closed before sending a line.
    case closed
    /// No complete line before the socket's receive timeout.
    case timedOut
    case tooLong(Int)
    /// mused's answer is not a response this musectl can decode.
    case unreadableAnswer(String)

    public var description: String {
        switch self {
        case .system(let error): "\(error)"
        case .connect(let path, let code):
            "cannot reach mused at \(path): \(String(cString: strerror(code)))"
                + (code == EACCES ? " (run as root or as a member of mused's admin group)" : "")
        case .pathTooLong(let path): "socket path '\(path)' is too long for a Unix socket"
        case .closed: "the connection closed without an answer"
        case .timedOut: "timed out waiting for an answer"
        case .tooLong(let limit): "the answer is longer than \(limit) bytes"
        case .unreadableAnswer(let why):
            "mused answered with a message this musectl cannot read (version mismatch?): \(why)"
        }
    }
}
