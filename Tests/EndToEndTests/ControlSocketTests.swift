#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing

/// musectl against a real mused's control socket.
@Suite(.serialized)
struct ControlSocketTests {
    /// musectl from this test binary's own build, whichever mused runs (the
    /// sanitizer stages build only mused).
    static var musectl: String {
        let me = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        return URL(filePath: me).deletingLastPathComponent().appending(path: "musectl").path
    }

    @Test func statusReportsTheServingGenerationAndRefusalsExitNonZero() throws {
        let daemon = try DaemonUnderTest(tenants: ["acme::2:64", "globex::2:64"])
        let status = Harness.run(Self.musectl, ["status", "--runtime-dir", daemon.runtimeDirectory, "--json"])
        #expect(status.status == 0, "\(status.output)")
        let json = try JSONSerialization.jsonObject(with: Data(status.output.utf8)) as? [String: Any]
        let body = json?["status"] as? [String: Any]
        #expect((body?["tenants"] as? [String]) == ["acme", "globex"])
        #expect(((body?["serving"] as? [String: Any])?["id"] as? Int) == 1)
        let rollback = Harness.run(Self.musectl, ["rollback", "--runtime-dir", daemon.runtimeDirectory])
        #expect(rollback.status != 0 && rollback.output.contains("no previous generation"), "\(rollback.output)")
        var info = stat()
        #expect(stat("\(daemon.runtimeDirectory)/control.sock", &info) == 0 && info.st_mode & 0o777 == 0o600)
        #expect(daemon.stop() == 0)
    }

    /// Sends `bytes` on a fresh connection to the control socket (then ends
    /// the request side) and returns the answer line.
    static func exchange(_ socketPath: String, _ bytes: [UInt8]) throws -> String {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (i, byte) in socketPath.utf8.enumerated() { raw[i] = byte }
        }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard connected == 0 else { throw POSIXError(.ECONNREFUSED) }
        var timeout = timeval(tv_sec: 15, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        _ = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        shutdown(fd, Int32(SHUT_WR))
        var answer = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { break }
            answer += buffer[0..<n]
        }
        return String(decoding: answer, as: UTF8.self)
    }

    /// A request mused cannot read is answered with a sentence saying what
    /// is wrong with it, never with the decoder's internals or silence.
    @Test func malformedRequestsAreAnsweredWithASentence() throws {
        let daemon = try DaemonUnderTest(tenants: ["acme::2:64"])
        let socket = "\(daemon.runtimeDirectory)/control.sock"
        let cases: [(request: [UInt8], says: String)] = [
            ([0] + Array(#"{"command":"status"}"#.utf8) + [10], "not a JSON object"),
            (Array("hello\n".utf8), "not a JSON object"),
            (Array("[1, 2]\n".utf8), "not a JSON object"),
            (Array(#"{"command":"explode"}"#.utf8) + [10], "unknown command 'explode'"),
            (Array(#"{"path":"/x"}"#.utf8) + [10], "'command' is missing"),
            (Array(#"{"command":"swap","path":7}"#.utf8) + [10], "'path' must be a string"),
            ([], "no request"),
        ]
        for c in cases {
            let answer = try Self.exchange(socket, c.request)
            let json = try? JSONSerialization.jsonObject(with: Data(answer.utf8)) as? [String: Any]
            let error = json?["error"] as? String ?? ""
            #expect(json?["ok"] as? Bool == false && error.hasPrefix("bad request: ") && error.contains(c.says),
                    "\(c.request.prefix(40)): \(answer)")
            #expect(!error.contains("DecodingError") && !error.contains("Debug description"), "\(error)")
        }
        // It still serves a well-formed request afterwards.
        let status = Harness.run(Self.musectl, ["status", "--runtime-dir", daemon.runtimeDirectory])
        #expect(status.status == 0, "\(status.output)")
        #expect(daemon.stop() == 0)
    }

    /// An answer musectl cannot read (another mused version, or not mused at
    /// all) is reported as such, without the decoder's internals.
    @Test func anUnreadableAnswerIsReportedAsAVersionMismatch() throws {
        let dir = Harness.runtimeDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = "\(dir)/control.sock"
        let listener = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(listener) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (i, byte) in path.utf8.enumerated() { raw[i] = byte }
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        #expect(bound == 0 && listen(listener, 4) == 0)
        let answers = [#"{"ok":"yes"}"#, "not json at all", #"{"ok":true,"status":{"pid":"one"}}"#]
        let server = Thread { [listener] in
            for answer in answers {
                let fd = accept(listener, nil, nil)
                guard fd >= 0 else { return }
                var byte: UInt8 = 0
                while recv(fd, &byte, 1, 0) == 1 && byte != 10 {}
                let line = Array((answer + "\n").utf8)
                _ = line.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                close(fd)
            }
        }
        server.start()
        for _ in answers {
            let run = try Child(Self.musectl, ["status", "--runtime-dir", dir])
            #expect(run.wait(seconds: 15) == 1)
            #expect(run.output.contains("mused answered with a message this musectl cannot read (version mismatch?)"),
                    "\(run.output)")
            #expect(!run.output.contains("DecodingError") && !run.output.contains("Debug description"), "\(run.output)")
        }
    }

    @Test(.enabled(if: getuid() == 0, "switching to an unprivileged uid needs root"))
    func unprivilegedPeersAreRefused() throws {
        let daemon = try DaemonUnderTest(tenants: ["acme::2:64"])
        let outsider = Harness.run("/usr/bin/setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups",
                                                        Self.musectl, "status", "--runtime-dir", daemon.runtimeDirectory])
        #expect(outsider.status != 0 && outsider.output.contains("Permission denied"), "\(outsider.output)")
        // Even with the socket file opened up, the kernel-reported credentials decide.
        chmod("\(daemon.runtimeDirectory)/control.sock", 0o666)
        let sneaky = Harness.run("/usr/bin/setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups",
                                                      Self.musectl, "status", "--runtime-dir", daemon.runtimeDirectory])
        #expect(sneaky.status != 0 && sneaky.output.contains("uid 65534 may not operate mused"), "\(sneaky.output)")
        #expect(daemon.stop() == 0)
    }
}
