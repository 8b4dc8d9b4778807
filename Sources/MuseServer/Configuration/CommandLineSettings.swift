import MuseSnapshot

/// What mused's command line says, laid over the configuration file.
///
/// Precedence, highest first: command-line flags, the file (`--config`), the
/// built-in defaults. In detail:
/// - `--runtime-dir`, `--workers`, `--spin-us`, `--idle-policy`, `--admin-group`,
///   `--state-dir`, `--snapshot`, `--snapshot-io`, `--metrics-address` replace the file's value; `--allow-foreign-runtime-dir` can only turn the check off.
/// - each `--tenant` is added to the file's tenants; one with the name of a
///   tenant of the file replaces that tenant's whole entry (its weight and
///   rate limit go back to the defaults).
/// - with neither a file nor a `--tenant`, mused serves the embedded default:
///   the tenants `demo-a` and `demo-b` (with no snapshot, the demo generation).
public struct CommandLineSettings: Sendable {
    public var runtimeDirectory: String?
    public var tenants: [TenantConfiguration] = []
    public var workers: Int?
    public var spinMicroseconds: UInt64?
    public var idlePolicy: IdlePolicy?
    public var adminGroup: String?
    public var allowForeignRuntimeDirectory = false
    public var stateDirectory: String?
    public var snapshot: String?
    public var snapshotIO: SnapshotIO?
    public var maximumSnapshotBytes: Int?
    public var metricsAddress: MetricsAddress?

    public init() {}

    /// The configuration mused runs: `file` (nil without `--config`) with
    /// these settings applied over it.
    public func applied(to file: DaemonConfiguration?) -> DaemonConfiguration {
        var config = file ?? DaemonConfiguration(tenants: [])
        if file == nil && tenants.isEmpty { config.tenants = DaemonConfiguration.demoTenants }
        // Only a tenant of the file is replaced: a name given twice on the
        // command line stays a duplicate, refused when the daemon starts.
        let fromFile = config.tenants.count
        var replaced = Set<Int>()
        for tenant in tenants {
            if let index = config.tenants.prefix(fromFile).firstIndex(where: { $0.name == tenant.name }),
               replaced.insert(index).inserted {
                config.tenants[index] = tenant
            } else {
                config.tenants.append(tenant)
            }
        }
        if let runtimeDirectory { config.runtimeDirectory = runtimeDirectory }
        if let workers { config.workers = workers }
        if let spinMicroseconds { config.spinNanoseconds = spinMicroseconds * 1000 }
        if let idlePolicy { config.idlePolicy = idlePolicy }
        if let adminGroup { config.adminGroup = adminGroup }
        if allowForeignRuntimeDirectory { config.runtimeDirectoryTrust = .anyOwner }
        if let stateDirectory { config.stateDirectory = stateDirectory }
        if let snapshot { config.snapshot = snapshot }
        if let snapshotIO { config.snapshotIO = snapshotIO }
        if let maximumSnapshotBytes { config.maximumSnapshotBytes = maximumSnapshotBytes }
        if let metricsAddress { config.metricsAddress = metricsAddress }
        return config
    }
}
