#if canImport(Glibc)
import Glibc
#endif
import MuseIPC
import MuseSnapshot

/// One tenant: its segment's layout and the group allowed to open it.
public struct TenantConfiguration: Sendable, Equatable {
    public var name: String
    /// Group owning the segment file; nil keeps the daemon's own group.
    public var group: String?
    public var channels: Int
    public var ringDepth: Int
    public var maxFeatures: Int
    /// The tenant's share of worker time relative to the others, while
    /// several have work (`FairScheduler`).
    public var weight = 1
    /// The tenant's admission rate, shared by all workers
    /// (`TenantRateLimiter`); events over it are answered `.overloaded`. nil
    /// is unlimited.
    public var rateLimit: RateLimit?
    /// Alert thresholds on the reference scale, ascending: each predictor's
    /// level-2 scores at or above each are counted (`muse_alerts_total`).
    public var alertThresholds: [Double] = []

    public init(name: String, group: String? = nil, channels: Int = 8, ringDepth: Int = 256, maxFeatures: Int = 64) {
        self.name = name
        self.group = group
        self.channels = channels
        self.ringDepth = ringDepth
        self.maxFeatures = maxFeatures
    }
}

/// What mused runs: where segments live, which tenants, how many workers.
public struct DaemonConfiguration: Sendable {
    public var runtimeDirectory: String
    public var tenants: [TenantConfiguration]
    public var workers: Int
    /// Events a worker answers in the heaviest tenant's turn, and at most from
    /// one channel at a time (`FairScheduler`).
    public var batchSize: Int
    /// The longest an idle worker spins before it sleeps on the doorbells
    /// (the adaptive policy's cap; busy-spin and low-power ignore it).
    public var spinNanoseconds: UInt64
    /// Whether a runtime directory owned by another user, or writable by
    /// others, is accepted. Only for directories secured by other means.
    public var runtimeDirectoryTrust: RuntimeDirectory.Trust = .ownedExclusively
    /// Group (name or gid) whose members may use the control socket, besides
    /// root and mused's own user.
    public var adminGroup: String?
    /// What `swap --gate` requires of a candidate's shadowed traffic.
    public var promotionGate = PromotionGate()
    /// The configuration file this was read from, if any (for a reload).
    public var configurationFile: String?
    /// Where mused records the snapshot it serves, for restarts; nil: the
    /// default for this user and runtime directory (`defaultStateDirectory`).
    public var stateDirectory: String?
    /// The snapshot to serve at start when the state directory records none
    /// (nil: `Generation.embeddedDefault`), and how snapshots are read.
    public var snapshot: String?
    public var snapshotIO: SnapshotIO = .auto
    /// The largest snapshot file, and decoded content, a swap or a start
    /// loads (`max_snapshot_bytes`); a larger one is refused from its first bytes.
    public var maximumSnapshotBytes = SnapshotLoader.defaultMaximumSize
    /// The Prometheus endpoint (`GET /metrics`); nil: none, and workers
    /// count nothing. See `systemd/mused.toml`.
    public var metricsAddress: MetricsAddress?
    /// How idle workers wait (`IdleStrategy`).
    public var idlePolicy: IdlePolicy = .adaptive

    /// The state directory of a system mused: root's, or mused.service's
    /// `muse` user's (`StateDirectory=muse`).
    public static let systemStateDirectory = "/var/lib/muse"

    /// The state directory when none is configured: `/var/lib/muse` for
    /// root or a user who may write it (or create it); for anyone else
    /// `RUNTIME_DIRECTORY.state` beside the runtime directory. Beside it, not
    /// in a per-user place, because the state belongs to that runtime
    /// directory's tenants: a mused started on another runtime directory must
    /// not come back serving this one's generation. Checks permissions only.
    public static func defaultStateDirectory(runtimeDirectory: String) -> String {
        if geteuid() == 0 || access(systemStateDirectory, W_OK | X_OK) == 0 { return systemStateDirectory }
        if access(systemStateDirectory, F_OK) != 0, access("/var/lib", W_OK | X_OK) == 0 { return systemStateDirectory }
        var base = runtimeDirectory
        while base.count > 1 && base.hasSuffix("/") { base.removeLast() }
        return base + ".state"
    }

    /// The state directory mused uses: the configured one, else the default.
    public var stateDirectoryInUse: String {
        stateDirectory ?? Self.defaultStateDirectory(runtimeDirectory: runtimeDirectory)
    }

    /// The embedded default's tenants, served the demo generation.
    public static let demoTenants = Generation.demoTenants.map { TenantConfiguration(name: $0) }

    public init(runtimeDirectory: String = "/run/muse", tenants: [TenantConfiguration] = DaemonConfiguration.demoTenants,
                workers: Int = 1, batchSize: Int = 64, spinNanoseconds: UInt64 = 1_000_000) {
        self.runtimeDirectory = runtimeDirectory
        self.tenants = tenants
        self.workers = workers
        self.batchSize = batchSize
        self.spinNanoseconds = spinNanoseconds
    }
}

extension DaemonConfiguration {
    /// Checks everything that can be checked before touching the system, so a
    /// mistake stops mused at once with a message instead of serving a subset.
    public func validate() throws {
        guard runtimeDirectory.hasPrefix("/") else { throw DaemonError.notAbsolute("runtime directory", runtimeDirectory) }
        if let stateDirectory, !stateDirectory.hasPrefix("/") { throw DaemonError.notAbsolute("state directory", stateDirectory) }
        guard (1...32).contains(workers) else { throw DaemonError.tooManyWorkers(workers) }
        guard (1...4096).contains(batchSize) else { throw DaemonError.badBatchSize(batchSize) }
        guard !tenants.isEmpty else { throw DaemonError.noTenantConfigured }
        var seen = Set<String>()
        for tenant in tenants {
            try TenantName.validate(tenant.name)
            guard seen.insert(tenant.name).inserted else { throw DaemonError.duplicateTenant(tenant.name) }
            do {
                _ = try SegmentLayout(channelCount: tenant.channels, ringDepth: tenant.ringDepth,
                                      maxFeatures: tenant.maxFeatures)
            } catch {
                throw DaemonError.badTenant(tenant.name, "\(error)")
            }
            if let group = tenant.group { _ = try resolveGroup(group) }
        }
        if let adminGroup { _ = try resolveGroup(adminGroup) }
    }
}

/// A group given by name or number, resolved to its id.
func resolveGroup(_ group: String) throws -> gid_t {
    if let id = gid_t(group) {
        // (gid_t)-1 means "leave the group unchanged" to chown(2).
        guard id != gid_t.max else { throw DaemonError.badGroupID(group) }
        return id
    }
    guard let entry = getgrnam(group) else { throw DaemonError.unknownGroup(group) }
    return entry.pointee.gr_gid
}

public enum DaemonError: Error, CustomStringConvertible {
    case unknownGroup(String)
    case badGroupID(String)
    case noTenantServing
    case noTenantConfigured
    case tooManyWorkers(Int)
    case badBatchSize(Int)
    case duplicateTenant(String)
    case badTenant(String, String)
    case notAbsolute(String, String)
    case noSnapshotSupport
    case nothingToRollBackTo
    case gateRefused(String)

    public var description: String {
        switch self {
        case .unknownGroup(let group): "no such group '\(group)'"
        case .badGroupID(let group): "group id \(group) is reserved (it means 'no change' to chown)"
        case .noTenantServing: "no tenant segment could be created or adopted"
        case .noTenantConfigured: "no tenant is configured"
        case .tooManyWorkers(let n): "workers must be 1...32, got \(n)"
        case .badBatchSize(let n): "batch size must be 1...4096, got \(n)"
        case .duplicateTenant(let name): "tenant '\(name)' is configured twice; a segment has exactly one owner"
        case .badTenant(let name, let reason): "tenant '\(name)': \(reason)"
        case .notAbsolute(let what, let path): "\(what) '\(path)' must be an absolute path"
        case .noSnapshotSupport: "this mused cannot load snapshots"
        case .nothingToRollBackTo: "no previous generation is resident to roll back to"
        case .gateRefused(let reason): reason
        }
    }
}
