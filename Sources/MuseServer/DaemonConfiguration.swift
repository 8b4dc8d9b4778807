#if canImport(Glibc)
import Glibc
#endif
import MuseIPC

/// One tenant: its segment's layout and the group allowed to open it.
public struct TenantConfiguration: Sendable, Equatable {
    public var name: String
    /// Group owning the segment file; nil keeps the daemon's own group.
    public var group: String?
    public var channels: Int
    public var ringDepth: Int
    public var maxFeatures: Int

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
    /// Events a worker answers from one channel before it moves to the next.
    public var batchSize: Int
    /// How long an idle worker spins before it sleeps on the doorbells.
    public var spinNanoseconds: UInt64
    public var intents: [IntentDescriptor]

    public init(runtimeDirectory: String = "/run/muse", tenants: [TenantConfiguration] = [TenantConfiguration(name: "demo")],
                workers: Int = 1, batchSize: Int = 64, spinNanoseconds: UInt64 = 100_000,
                intents: [IntentDescriptor] = DemoScorer.intents) {
        self.runtimeDirectory = runtimeDirectory
        self.tenants = tenants
        self.workers = workers
        self.batchSize = batchSize
        self.spinNanoseconds = spinNanoseconds
        self.intents = intents
    }
}

/// A group given by name or number, resolved to its id.
func resolveGroup(_ group: String) throws -> gid_t {
    if let id = gid_t(group) { return id }
    guard let entry = getgrnam(group) else { throw DaemonError.unknownGroup(group) }
    return entry.pointee.gr_gid
}

public enum DaemonError: Error, CustomStringConvertible {
    case unknownGroup(String)
    case noTenantServing
    case tooManyWorkers(Int)

    public var description: String {
        switch self {
        case .unknownGroup(let group): "no such group '\(group)'"
        case .noTenantServing: "no tenant segment could be created or adopted"
        case .tooManyWorkers(let n): "workers must be 1...32, got \(n)"
        }
    }
}
