#if canImport(Glibc)
import Glibc
#endif
import CMuse

/// The usual sidecar transport, for comparison: request/response over a Unix
/// domain stream socket, with the same 16-feature event and 64-byte answer and
/// the same scoring as mused's built-in generation.
enum UnixSocketBaseline {
    static let requestSize = 16 + 16 * 8
    static let responseSize = MemoryLayout<muse_completion>.size

    static func address(_ path: String) -> sockaddr_un {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { bytes in
            for (i, byte) in path.utf8.prefix(bytes.count - 1).enumerated() { bytes[i] = byte }
        }
        return address
    }

    /// Serves `connections` connections, a thread each, until they all close
    /// (run in its own process); then exits, or with `linger` waits to be
    /// killed, so that its CPU time can still be read.
    static func serve(path: String, connections: Int = 1, linger: Bool = false) -> Never {
        unlink(path)
        let listener = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var address = address(path)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard bound == 0, listen(listener, Int32(connections)) == 0 else { fatalError("bind \(path): \(String(cString: strerror(errno)))") }
        var threads: [pthread_t] = []
        for _ in 1..<max(connections, 1) {
            let fd = accept(listener, nil, nil)
            var thread = pthread_t()
            let box = UnsafeMutablePointer<Int32>.allocate(capacity: 1)
            box.pointee = fd
            pthread_create(&thread, nil, { raw in
                let p = raw!.assumingMemoryBound(to: Int32.self)
                UnixSocketBaseline.serveConnection(p.pointee)
                return nil
            }, box)
            threads.append(thread)
        }
        serveConnection(accept(listener, nil, nil))
        for thread in threads { pthread_join(thread, nil) }
        while linger { pause() }
        exit(0)
    }

    /// Answers one connection until it closes.
    static func serveConnection(_ connection: Int32) {
        var request = [UInt8](repeating: 0, count: requestSize)
        var response = muse_completion()
        while readFully(connection, &request) {
            request.withUnsafeBytes { bytes in
                var margin = 0.0
                for i in 0..<16 { margin += bytes.loadUnaligned(fromByteOffset: 16 + 8 * i, as: Double.self) }
                let p = 1 / (1 + exp(-margin))
                response.tag = bytes.loadUnaligned(as: UInt64.self)
                response.score = p
                response.raw_score = p
            }
            withUnsafeBytes(of: &response) { _ = write(connection, $0.baseAddress, responseSize) }
        }
        close(connection)
    }

    static func readFully(_ fd: Int32, _ buffer: inout [UInt8]) -> Bool {
        var done = 0
        let count = buffer.count
        return buffer.withUnsafeMutableBytes { bytes in
            while done < count {
                let n = read(fd, bytes.baseAddress! + done, count - done)
                if n <= 0 { return false }
                done += n
            }
            return true
        }
    }

    /// Round trips with one request in flight.
    static func roundTrip(path: String, events: Int) -> LatencyHistogram {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var address = address(path)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        precondition(connected == 0, "connect \(path): \(String(cString: strerror(errno)))")
        var request = [UInt8](repeating: 0, count: requestSize)
        var response = [UInt8](repeating: 0, count: responseSize)
        request.withUnsafeMutableBytes { bytes in
            for i in 0..<16 { bytes.storeBytes(of: 0.01, toByteOffset: 16 + 8 * i, as: Double.self) }
        }
        var histogram = LatencyHistogram()
        let warmup = events / 10
        for i in 0..<(warmup + events) {
            let start = muse__now_ns()
            request.withUnsafeMutableBytes { bytes in
                bytes.storeBytes(of: UInt64(i), as: UInt64.self)
                _ = write(fd, bytes.baseAddress, bytes.count)
            }
            guard readFully(fd, &response) else { fatalError("the socket server hung up") }
            let end = muse__now_ns()
            precondition(response.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) } == UInt64(i))
            if i >= warmup { histogram.record(end - start) }
        }
        close(fd)
        return histogram
    }
}
