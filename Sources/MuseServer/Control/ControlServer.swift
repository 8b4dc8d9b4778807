#if canImport(Glibc)
import Glibc
#endif
import Foundation
import MuseControl
import MuseCore

/// The control socket: a Unix stream socket in the runtime directory that
/// `musectl` talks to, one JSON request and one JSON response per connection,
/// each connection on a thread of its own (`AcceptLoop`), with five seconds
/// to send its whole request.
///
/// Only root, mused's own user, and members of the configured admin group
/// are answered: the socket file is 0600 (0660 with the admin group), and
/// each peer's credentials are checked with SO_PEERCRED / SO_PEERGROUPS too,
/// so a descriptor passed to someone else does not carry the right.
final class ControlServer: @unchecked Sendable {
    let path: String
    private let adminGroup: gid_t?
    private let handle: (ControlRequest) -> ControlResponse
    /// Made at the end of `init`; a swap loads, decodes and verifies its
    /// snapshot on its connection's thread, at lowered priority.
    private var loop: AcceptLoop!

    init(runtimeDirectory: String, adminGroup: gid_t?,
         handle: @escaping (ControlRequest) -> ControlResponse) throws {
        path = ControlSocket.path(runtimeDirectory: runtimeDirectory)
        self.adminGroup = adminGroup
        self.handle = handle
        // A socket left by a previous mused is replaced; anything else is not ours to remove.
        var info = stat()
        if lstat(path, &info) == 0 {
            guard info.st_mode & S_IFMT == S_IFSOCK else { throw ControlServerError.notASocket(path) }
            unlink(path)
        }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw SystemCallError("socket", path) }
        do {
            var address = try UnixAddress(path)
            // Made 0600 from the start: no window in which others may connect.
            let old = umask(0o177)
            let bound = address.withSockaddr { bind(fd, $0, $1) }
            umask(old)
            guard bound == 0 else { throw SystemCallError("bind", path) }
            if let adminGroup {
                guard chown(path, geteuid(), adminGroup) == 0, chmod(path, 0o660) == 0 else {
                    throw SystemCallError("chown", path)
                }
            }
            guard listen(fd, AcceptLoop.backlog) == 0 else { throw SystemCallError("listen", path) }
        } catch {
            close(fd)
            throw error
        }
        loop = AcceptLoop(listener: fd, name: "muse-control") { [unowned self] in serve($0) }
    }

    func start() { loop.start() }

    func stop() {
        loop.stop()
        unlink(path)
    }

    /// How long a peer has to send its whole request, and to take the answer.
    static let requestSeconds = 5

    private func serve(_ connection: Int32) {
        // The answer's write is bounded too: a peer that never reads cannot
        // hold the connection's thread (answers are small; this is a backstop).
        var timeout = timeval(tv_sec: Self.requestSeconds, tv_usec: 0)
        setsockopt(connection, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let deadline = ThreadSupport.monotonicNanoseconds() + UInt64(Self.requestSeconds) * 1_000_000_000
        // Read the request first, even from a peer about to be refused, so
        // the peer's write never meets a closed socket and it gets the answer.
        let request = Result { () throws(ControlMessageError) in try ControlRequest.read(from: connection, deadline: deadline) }
        let response: ControlResponse
        if let refusal = checkPeer(connection) {
            Log.warning("control-refused", ["reason": refusal])
            response = ControlResponse(ok: false, error: refusal)
        } else {
            switch request {
            case .success(let request): response = handle(request)
            case .failure(let error): response = ControlResponse(ok: false, error: "bad request: \(error)")
            }
        }
        guard var line = try? JSONEncoder().encode(response) else { return }
        line.append(UInt8(ascii: "\n"))
        try? sendMessage(connection, line)
    }

    /// Nil if the peer may operate mused; otherwise why not.
    private func checkPeer(_ connection: Int32) -> String? {
        guard let peer = try? PeerCredentials(socket: connection) else { return "cannot read the peer's credentials" }
        if peer.uid == 0 || peer.uid == geteuid() { return nil }
        if let adminGroup, peer.isMember(of: adminGroup) { return nil }
        return "uid \(peer.uid) may not operate mused (root, mused's user or its admin group only)"
    }
}

enum ControlServerError: Error, CustomStringConvertible {
    case notASocket(String)

    var description: String {
        switch self {
        case .notASocket(let path): "refusing \(path): it exists and is not a socket"
        }
    }
}
