#if canImport(Glibc)
import Glibc
#endif
import CMuse
import CMuseDaemon
import MuseCore

/// A tenant's shared-memory segment, as the daemon holds it: the mapping, the
/// file (kept open for the OFD locks: its own ownership lock and the channel
/// reclaim), and the daemon's private copy of the layout.
///
/// The layout fields of the header are written once, before `magic` is
/// published with release order; afterwards the daemon reads nothing from the
/// header but the words clients legitimately write (the doorbell).
///
/// One segment has one owner: the daemon holds an exclusive OFD lock on byte
/// 0 of the file for as long as it holds the segment. Clients lock only the
/// first byte of each channel control block, never byte 0. A second owner
/// (another daemon, or the same tenant configured twice) is refused.
public final class Segment: @unchecked Sendable {
    public let path: String
    public let tenant: String
    public let layout: SegmentLayout
    /// This daemon's incarnation number in the segment (1 for a new segment).
    public let incarnation: UInt64
    /// True when the segment was found on disk and adopted.
    public let wasAdopted: Bool
    let descriptor: Int32
    let base: UnsafeMutableRawPointer
    /// This mapping's registration in the SIGBUS guard (muse_shims.h), or -1.
    private let guardRegistration: Int32

    public var header: UnsafeMutablePointer<muse_segment_header> {
        base.assumingMemoryBound(to: muse_segment_header.self)
    }

    /// Creates the tenant's segment file in `directory`, or adopts the one
    /// already there.
    public static func createOrAdopt(
        in directory: RuntimeDirectory, tenant: String, groupID: gid_t?, layout: SegmentLayout
    ) throws -> Segment {
        try createOrAdopt(in: DirectoryHandle(directory), tenant: tenant, groupID: groupID, layout: layout)
    }

    /// `createOrAdopt` for a segment path whose directory the caller has
    /// vetted (tools and tests); the daemon goes through `RuntimeDirectory`.
    public static func createOrAdopt(path: String, tenant: String, groupID: gid_t?, layout: SegmentLayout) throws -> Segment {
        let (handle, name) = try DirectoryHandle.parent(of: path)
        defer { handle.close() }
        return try createOrAdopt(in: handle, name: name, tenant: tenant, groupID: groupID, layout: layout)
    }

    public static func create(path: String, tenant: String, groupID: gid_t?, layout: SegmentLayout) throws -> Segment {
        let (handle, name) = try DirectoryHandle.parent(of: path)
        defer { handle.close() }
        guard let segment = try create(in: handle, name: name, tenant: tenant, groupID: groupID, layout: layout) else {
            throw SystemCallError("create", path, errno: .exists)
        }
        return segment
    }

    public static func adopt(path: String, tenant: String, groupID: gid_t?) throws -> Segment {
        let (handle, name) = try DirectoryHandle.parent(of: path)
        defer { handle.close() }
        return try adopt(in: handle, name: name, tenant: tenant, groupID: groupID)
    }

    /// The tenant name rule, as this type's own error.
    static func checkTenant(_ tenant: String) throws(SegmentError) {
        do { try TenantName.validate(tenant) } catch { throw .badTenantName(error.name) }
    }

    /// `name` is the file's name in `directory`: the tenant's own
    /// (`<tenant>.muse`) unless a tool or test says otherwise.
    static func createOrAdopt(in directory: DirectoryHandle, name: String? = nil, tenant: String, groupID: gid_t?,
                              layout: SegmentLayout) throws -> Segment {
        try checkTenant(tenant)
        let name = name ?? TenantName.fileName(tenant)
        var info = stat()
        if fstatat(directory.descriptor, name, &info, AT_SYMLINK_NOFOLLOW) == 0 {
            return try adopt(in: directory, name: name, tenant: tenant, groupID: groupID)
        }
        // Nil: another process published the name first; adopt (or be refused by) its file.
        if let created = try create(in: directory, name: name, tenant: tenant, groupID: groupID, layout: layout) {
            return created
        }
        return try adopt(in: directory, name: name, tenant: tenant, groupID: groupID)
    }

    /// Builds a new segment under a temporary name, takes its ownership lock,
    /// and links it into place only if the name is still free (`linkat` never
    /// replaces), so a client never sees a half-initialised segment and two
    /// creators can never both believe they own the name. Returns nil if the
    /// name was taken meanwhile.
    static func create(in directory: DirectoryHandle, name: String? = nil, tenant: String, groupID: gid_t?,
                       layout: SegmentLayout) throws -> Segment? {
        try checkTenant(tenant)
        let name = name ?? TenantName.fileName(tenant)
        let path = directory.path(of: name)
        // Tenant names never start with '.', so this cannot be another tenant's file.
        let temporary = ".\(name).tmp-\(getpid())"
        let fd = openat(directory.descriptor, temporary, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw SystemCallError("create", directory.path(of: temporary)) }
        let segment: Segment
        do {
            guard FileLock.tryExclusive(fd, offset: 0) else { throw SystemCallError("lock", path) }
            try retryingOnInterrupt("truncate", path) { ftruncate(fd, off_t(layout.segmentSize)) }
            try assertOwnership(fd, groupID: groupID, path: path)
            let (base, registration) = try map(fd: fd, size: layout.segmentSize, path: path)
            segment = Segment(path: path, tenant: tenant, layout: layout, incarnation: 1,
                              wasAdopted: false, descriptor: fd, base: base, guardRegistration: registration)
        } catch {
            unlinkat(directory.descriptor, temporary, 0)
            close(fd)
            throw error
        }
        // From here on `segment` owns the descriptor and the mapping.
        segment.writeLayout()
        let linked = linkat(directory.descriptor, temporary, directory.descriptor, name, 0) == 0
        let linkError = SystemCallError("link", path)
        unlinkat(directory.descriptor, temporary, 0)
        if linked { return segment }
        if linkError.errno == .exists { return nil }
        throw linkError
    }

    /// Adopts a segment a previous daemon left: checks that it is a regular
    /// file of the daemon's user that no other daemon owns, then magic, ABI and
    /// layout; re-asserts group and mode; takes the next incarnation. The
    /// indices stay as they are, so what was submitted while no daemon ran is
    /// answered now.
    static func adopt(in directory: DirectoryHandle, name: String? = nil, tenant: String,
                      groupID: gid_t?) throws -> Segment {
        try checkTenant(tenant)
        let name = name ?? TenantName.fileName(tenant)
        let path = directory.path(of: name)
        // Only a regular file is opened at all (opening a device node can act
        // on the device). The name may change between this look and the open:
        // O_NOFOLLOW then refuses a symbolic link (ELOOP), O_NONBLOCK keeps a
        // FIFO from hanging the open, and fstat refuses anything irregular.
        var before = stat()
        if fstatat(directory.descriptor, name, &before, AT_SYMLINK_NOFOLLOW) == 0 {
            switch before.st_mode & S_IFMT {
            case S_IFREG: break
            case S_IFLNK: throw SegmentError.foreign(path: path, reason: "it is a symbolic link")
            default: throw SegmentError.foreign(path: path, reason: "it is not a regular file")
            }
        }
        let fd = openat(directory.descriptor, name, O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else {
            if errno == ELOOP { throw SegmentError.foreign(path: path, reason: "it is a symbolic link") }
            throw SystemCallError("open", path)
        }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            let error = SystemCallError("stat", path)
            close(fd)
            throw error
        }
        guard info.st_mode & S_IFMT == S_IFREG else {
            close(fd)
            throw SegmentError.foreign(path: path, reason: "it is not a regular file")
        }
        guard info.st_uid == geteuid() else {
            close(fd)
            throw SegmentError.foreign(path: path, reason: "it belongs to uid \(info.st_uid), not to mused's uid \(geteuid())")
        }
        guard FileLock.tryExclusive(fd, offset: 0) else {
            close(fd)
            throw SegmentError.ownedByAnotherDaemon(path: path)
        }
        let size = Int(info.st_size)
        guard size >= Int(MUSE_HEADER_SIZE), size <= maximumSegmentSize else {
            close(fd)
            throw SegmentError.foreign(path: path, reason: "\(size) bytes is not the size of a segment")
        }
        let base: UnsafeMutableRawPointer, registration: Int32
        do { (base, registration) = try map(fd: fd, size: size, path: path) } catch { close(fd); throw error }
        // From here on every access to the file's memory is under the SIGBUS
        // guard: a client may be shrinking the file right now.
        do {
            let header = base.assumingMemoryBound(to: muse_segment_header.self)
            let layout = try validate(header, fileSize: size, path: path, tenant: tenant)
            guard muse_sigbus_guard_damaged(registration) == 0 else {
                throw SegmentError.foreign(path: path, reason: "its size changed while it was being adopted")
            }
            try assertOwnership(fd, groupID: groupID, path: path)
            let incarnation = muse__atomic_load_acquire_u64(&header.pointee.incarnation) &+ 1
            let segment = Segment(path: path, tenant: tenant, layout: layout, incarnation: incarnation,
                                  wasAdopted: true, descriptor: fd, base: base, guardRegistration: registration)
            muse__atomic_store_release_u64(&header.pointee.incarnation, incarnation)
            muse__atomic_store_release_u32(&header.pointee.daemon_pid, UInt32(bitPattern: getpid()))
            return segment
        } catch {
            muse_sigbus_guard_unregister(registration)
            munmap(base, size)
            close(fd)
            throw error
        }
    }

    /// Largest file the daemon will map when adopting (the largest layout).
    static var maximumSegmentSize: Int {
        Int(MUSE_HEADER_SIZE) + SegmentLayout.maxChannels
            * Int(muse_channel_stride(UInt32(SegmentLayout.maxRingDepth), UInt32(SegmentLayout.maxFeatureLimit)))
    }

    /// Owner = the daemon's user, group = the tenant's (or the daemon's), mode
    /// 0660, whatever the file had: a loosened file is tightened again.
    private static func assertOwnership(_ fd: Int32, groupID: gid_t?, path: String) throws {
        try retryingOnInterrupt("chown", path) { fchown(fd, geteuid(), groupID ?? getegid()) }
        try retryingOnInterrupt("chmod", path) { fchmod(fd, 0o660) }
    }

    private init(path: String, tenant: String, layout: SegmentLayout, incarnation: UInt64, wasAdopted: Bool,
                 descriptor: Int32, base: UnsafeMutableRawPointer, guardRegistration: Int32) {
        self.path = path
        self.tenant = tenant
        self.layout = layout
        self.incarnation = incarnation
        self.wasAdopted = wasAdopted
        self.descriptor = descriptor
        self.base = base
        self.guardRegistration = guardRegistration
    }

    deinit {
        muse_sigbus_guard_unregister(guardRegistration)
        munmap(base, layout.segmentSize)
        close(descriptor)
    }

    /// Maps the file and registers the mapping with the SIGBUS guard before
    /// anyone touches it.
    private static func map(fd: Int32, size: Int, path: String) throws -> (UnsafeMutableRawPointer, Int32) {
        guard let base = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0), base != MAP_FAILED else {
            throw SystemCallError("mmap", path)
        }
        // An unguarded mapping would let one client's truncate kill every tenant.
        let registration = muse_sigbus_guard_register(base, size)
        guard registration >= 0 else {
            munmap(base, size)
            throw SegmentError.foreign(path: path, reason: "the SIGBUS guard has no free slot for another mapping")
        }
        return (base, registration)
    }

    private func writeLayout() {
        let h = header
        // The file is fresh from ftruncate, so every reserved byte is zero.
        h.pointee.abi_major = UInt16(MUSE_ABI_MAJOR)
        h.pointee.abi_minor = UInt16(MUSE_ABI_MINOR)
        h.pointee.header_size = MUSE_HEADER_SIZE
        h.pointee.segment_size = UInt64(layout.segmentSize)
        h.pointee.channel_count = UInt32(layout.channelCount)
        h.pointee.ring_depth = UInt32(layout.ringDepth)
        h.pointee.submission_slot_size = UInt32(layout.submissionSlotSize)
        h.pointee.completion_slot_size = UInt32(layout.completionSlotSize)
        h.pointee.max_features = UInt32(layout.maxFeatures)
        h.pointee.channels_offset = UInt64(layout.channelsOffset)
        h.pointee.channel_stride = UInt64(layout.channelStride)
        if layout.schemaBytes > 0 {
            h.pointee.schema_offset = UInt64(layout.schemaOffset)
            h.pointee.schema_size = UInt32(layout.schemaBytes)
        }
        withUnsafeMutableBytes(of: &h.pointee.tenant) { buffer in
            for (i, byte) in tenant.utf8.enumerated() { buffer[i] = byte }
        }
        h.pointee.incarnation = incarnation
        h.pointee.daemon_pid = UInt32(bitPattern: getpid())
        muse__atomic_store_release_u64(&h.pointee.magic, MUSE_MAGIC)
    }

    private static func validate(
        _ h: UnsafeMutablePointer<muse_segment_header>, fileSize: Int, path: String, tenant: String
    ) throws -> SegmentLayout {
        let magic = muse__atomic_load_acquire_u64(&h.pointee.magic)
        guard magic == MUSE_MAGIC else {
            throw SegmentError.foreign(path: path, reason: "magic is 0x\(String(magic, radix: 16)), not a Muse segment")
        }
        let major = Int(h.pointee.abi_major), minor = Int(h.pointee.abi_minor)
        // A newer minor may maintain fields this daemon does not know of.
        guard major == Int(MUSE_ABI_MAJOR), minor <= Int(MUSE_ABI_MINOR) else {
            throw SegmentError.incompatibleABI(path: path, found: "\(major).\(minor)",
                                               supported: "\(MUSE_ABI_MAJOR).\(MUSE_ABI_MINOR)")
        }
        let layout: SegmentLayout
        do {
            // ABI 1.0 segments have no schema area: adopted as they are, they
            // serve without feature names (muse_lookup_feature says
            // MUSE_E_NO_SCHEMA) until removed while no client holds them.
            let schemaBytes = minor >= 1 ? Int(h.pointee.schema_size) : 0
            layout = try SegmentLayout(channelCount: Int(h.pointee.channel_count),
                                       ringDepth: Int(h.pointee.ring_depth),
                                       maxFeatures: Int(h.pointee.max_features), schemaBytes: schemaBytes)
        } catch {
            throw SegmentError.foreign(path: path, reason: "layout: \(error)")
        }
        guard h.pointee.header_size == MUSE_HEADER_SIZE,
              h.pointee.segment_size == UInt64(fileSize), fileSize == layout.segmentSize,
              h.pointee.channels_offset == UInt64(layout.channelsOffset),
              h.pointee.channel_stride == UInt64(layout.channelStride),
              layout.schemaBytes == 0 || h.pointee.schema_offset == UInt64(layout.schemaOffset),
              h.pointee.submission_slot_size == UInt32(layout.submissionSlotSize),
              h.pointee.completion_slot_size == UInt32(layout.completionSlotSize)
        else {
            throw SegmentError.foreign(path: path, reason: "header sizes do not match the layout they describe")
        }
        let recorded = withUnsafeBytes(of: h.pointee.tenant) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        guard recorded == tenant else {
            throw SegmentError.foreign(path: path, reason: "it belongs to tenant '\(recorded)', not '\(tenant)'")
        }
        return layout
    }

    /// True once a client shrank the segment file under the daemon: the
    /// mapping is then private zero pages (see `muse_sigbus_guard_install`)
    /// and the tenant can no longer be served from it.
    public var isDamaged: Bool { muse_sigbus_guard_damaged(guardRegistration) != 0 }

    /// Makes a client's ftruncate of its segment cost that tenant only, not
    /// the daemon. Call once, before mapping segments.
    public static func guardAgainstTruncation() throws {
        guard muse_sigbus_guard_install() == 0 else { throw SystemCallError("sigaction", "SIGBUS") }
    }

    // MARK: Channels

    public func control(_ channel: Int) -> UnsafeMutablePointer<muse_channel_control> {
        (base + layout.channelsOffset + channel * layout.channelStride).assumingMemoryBound(to: muse_channel_control.self)
    }

    /// File offset of the byte a channel's owner keeps OFD-locked.
    func lockOffset(_ channel: Int) -> UInt64 { UInt64(layout.channelsOffset + channel * layout.channelStride) }

    // MARK: Header words the daemon publishes

    /// Throws if `publishIntents` would refuse `intents`: too many, a name
    /// too long, a bad feature name, or more feature names than the schema
    /// area holds. Lets the daemon refuse a generation before publishing it.
    public func checkIntents(_ intents: [IntentSchema]) throws {
        _ = try schemaBlobs(intents)
    }

    private func schemaBlobs(_ intents: [IntentSchema]) throws -> [[UInt8]] {
        guard intents.count <= Int(MUSE_MAX_INTENTS) else { throw SegmentError.tooManyIntents(intents.count) }
        for intent in intents where IntentName.problem(intent.name) != nil {
            throw SegmentError.badIntentName(intent.name)
        }
        // Feature names, "\n"-joined as schema_hash hashes them, packed after
        // the schema index.
        let indexBytes = Int(MUSE_SCHEMA_INDEX_SIZE)
        var blobs: [[UInt8]] = []
        var used = indexBytes
        for intent in intents {
            for name in intent.featureNames where FeatureName.problem(name) != nil {
                throw SegmentError.badFeatureName(intent: intent.name, feature: name)
            }
            let blob = Array(intent.featureNames.joined(separator: "\n").utf8)
            used += blob.count
            blobs.append(blob)
        }
        if layout.schemaBytes > 0 && used > layout.schemaBytes {
            throw SegmentError.schemaTooLarge(bytes: used, room: layout.schemaBytes)
        }
        return blobs
    }

    /// Rewrites the intent table and the schema area under the seqlock.
    public func publishIntents(_ intents: [IntentSchema]) throws {
        // Checked before the seqlock opens.
        let blobs = try schemaBlobs(intents)
        let indexBytes = Int(MUSE_SCHEMA_INDEX_SIZE)
        let h = header
        let sequence = h.pointee.intent_seq | 1 // odd: readers retry
        muse__atomic_store_release_u32(&h.pointee.intent_seq, sequence)
        muse__atomic_fence_seq_cst()
        withUnsafeMutableBytes(of: &h.pointee.intents) { table in
            table.initializeMemory(as: UInt8.self, repeating: 0)
            let entries = table.bindMemory(to: muse_intent_entry.self)
            for (i, intent) in intents.enumerated() {
                withUnsafeMutableBytes(of: &entries[i].name) { name in
                    for (j, byte) in intent.name.utf8.enumerated() { name[j] = byte }
                }
                entries[i].id = intent.id.rawValue
                entries[i].feature_count = UInt32(intent.featureCount)
                entries[i].schema_hash = intent.schemaHash
            }
        }
        if layout.schemaBytes > 0 {
            let area = base + layout.schemaOffset
            area.initializeMemory(as: UInt8.self, repeating: 0, count: layout.schemaBytes)
            let index = area.bindMemory(to: muse_schema_entry.self, capacity: Int(MUSE_MAX_INTENTS))
            var offset = indexBytes
            for (i, blob) in blobs.enumerated() {
                if !blob.isEmpty {
                    blob.withUnsafeBytes { (area + offset).copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
                }
                index[i] = muse_schema_entry(offset: UInt32(offset), size: UInt32(blob.count))
                offset += blob.count
            }
        }
        muse__atomic_store_relaxed_u32(&h.pointee.intent_count, UInt32(intents.count))
        muse__atomic_store_release_u32(&h.pointee.intent_seq, sequence &+ 1)
    }

    public func publishState(_ state: DaemonState) {
        muse__atomic_store_release_u32(&header.pointee.daemon_state, state.rawValue)
    }

    public func publishGeneration(_ id: GenerationID) {
        muse__atomic_store_release_u64(&header.pointee.generation_id, id.rawValue)
    }

    /// Wakes every worker sleeping on this segment's doorbell, as a client's
    /// submission would (used to make workers see a stop or a new generation).
    public func ringDoorbell() {
        muse__ring(&header.pointee.daemon_doorbell)
    }

    public func beat(now: UInt64 = muse__now_ns()) {
        muse__atomic_store_release_u64(&header.pointee.heartbeat_ns, now)
    }
}

public enum SegmentError: Error, CustomStringConvertible, Equatable {
    case foreign(path: String, reason: String)
    case incompatibleABI(path: String, found: String, supported: String)
    case badTenantName(String)
    case ownedByAnotherDaemon(path: String)
    case badIntentName(String)
    case tooManyIntents(Int)
    case badFeatureName(intent: String, feature: String)
    case schemaTooLarge(bytes: Int, room: Int)

    public var description: String {
        switch self {
        case .foreign(let path, let reason): "refusing \(path): \(reason)"
        case .incompatibleABI(let path, let found, let supported):
            "refusing \(path): its ABI \(found) is not compatible with this daemon's \(supported); "
                + "stop its clients and remove it, or run the daemon that made it"
        case .badTenantName(let name): TenantNameError(name: name).description
        case .ownedByAnotherDaemon(let path):
            "refusing \(path): another owner holds it (a second mused, or the same tenant configured twice)"
        case .badIntentName(let name): "intent '\(name)': \(IntentName.problem(name) ?? "not a valid intent name")"
        case .tooManyIntents(let n): "\(n) intents; a segment holds at most \(MUSE_MAX_INTENTS)"
        case .badFeatureName(let intent, let feature):
            "intent '\(intent)': feature '\(feature)': \(FeatureName.problem(feature) ?? "not a valid feature name")"
        case .schemaTooLarge(let bytes, let room):
            "the intents' feature names need \(bytes) bytes; the segment's schema area holds \(room)"
        }
    }
}

/// The directory a segment is opened in: every open is `openat` on this
/// descriptor, so the path is resolved once.
struct DirectoryHandle {
    let descriptor: Int32
    let pathPrefix: String
    private let owned: Bool

    init(_ directory: RuntimeDirectory) {
        descriptor = directory.descriptor
        pathPrefix = directory.path
        owned = false
    }

    /// Opens the directory of `path` and returns it with the file's name.
    static func parent(of path: String) throws -> (DirectoryHandle, String) {
        let slash = path.lastIndex(of: "/")
        let name = String(slash.map { path[path.index(after: $0)...] } ?? path[...])
        var parent = slash.map { String(path[..<$0]) } ?? "."
        if parent.isEmpty { parent = "/" }
        guard !name.isEmpty, name != ".", name != ".." else {
            throw SegmentError.foreign(path: path, reason: "not a file name")
        }
        let fd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw SystemCallError("open", parent) }
        return (DirectoryHandle(descriptor: fd, pathPrefix: parent == "/" ? "" : parent, owned: true), name)
    }

    private init(descriptor: Int32, pathPrefix: String, owned: Bool) {
        self.descriptor = descriptor
        self.pathPrefix = pathPrefix
        self.owned = owned
    }

    func path(of name: String) -> String { "\(pathPrefix)/\(name)" }

    func close() { if owned { _ = Glibc.close(descriptor) } }
}
