import CMuseDaemon

/// Who is at the other end of a Unix socket, as the kernel says (not as the
/// peer claims): for the control socket's access check.
public struct PeerCredentials: Sendable, Equatable {
    public let uid: UInt32
    public let gid: UInt32
    public let supplementaryGroups: [UInt32]

    public init(socket fd: Int32) throws {
        var uid: UInt32 = 0, gid: UInt32 = 0
        var groups = [UInt32](repeating: 0, count: 256)
        var count = UInt32(groups.count)
        guard muse_peer_credentials(fd, &uid, &gid, &groups, &count) == 0 else {
            throw SystemCallError("getsockopt", "SO_PEERCRED")
        }
        self.uid = uid
        self.gid = gid
        supplementaryGroups = Array(groups.prefix(Int(count)))
    }

    public func isMember(of group: UInt32) -> Bool { gid == group || supplementaryGroups.contains(group) }
}
