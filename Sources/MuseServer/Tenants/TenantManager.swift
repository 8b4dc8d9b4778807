#if canImport(Glibc)
import Glibc
#endif
import MuseIPC

/// The tenants mused holds: their slots and segments, the reload that adds,
/// updates and removes them, retiring one, and the roster the control plane
/// and the metrics endpoint read without waiting.
///
/// Its administration lock serialises every change to the slots and every
/// publication of a generation (`GenerationManager.publish` takes it), so a
/// publication always reaches exactly the segments the slots hold.
public final class TenantManager: @unchecked Sendable {
    /// What the daemon runs; a reload replaces its tenants (and nothing a
    /// restart alone can change). Written under `administration`.
    public internal(set) var configuration: DaemonConfiguration
    /// The tenants by `TenantIndex`; nil where a reload removed one.
    /// Written only under `administration` (and by `open`, before any
    /// other thread runs).
    var slots: [TenantSlot?] = []
    /// Serialises changes to tenants and publications: reloads,
    /// retirements, publishing a generation, stopping.
    let administration = AdministrationLock()
    /// The tenants for readers that must not wait on `administration`.
    let roster: Locked<TenantRoster>
    /// Tenants the configuration names but the daemon holds no segment for,
    /// with the reason: refused at start or by the last reload. Written
    /// under `administration`; readers see it in the roster.
    var refusedTenants: [String: String] = [:]
    /// Taken by `open`, before any other thread runs.
    private(set) var runtimeDirectory: RuntimeDirectory?
    /// Reads the configuration again for a reload (the file, with the
    /// command line's flags applied); nil: mused runs without a file.
    let reloader: (@Sendable () throws -> DaemonConfiguration)?
    /// Every tenant's weight and rate limiter, read by the workers whenever
    /// they pick up a publication; replaced by `open` and `reload`.
    let tenantPolicies = TenantPolicyTable()
    /// The workers orders go to, and the metrics layout a new tenant's
    /// name goes to. Written once by `attach` on the starting thread, before
    /// any worker or control thread runs (starting those threads publishes
    /// them); read-only afterwards.
    private(set) var workers: [Worker] = []
    private(set) var metricsLayout: MetricsLayout?

    init(configuration: DaemonConfiguration, reloader: (@Sendable () throws -> DaemonConfiguration)?) {
        self.configuration = configuration
        self.reloader = reloader
        roster = Locked(TenantRoster(configuration: configuration))
    }

    /// Tenant names by `TenantIndex` ("" for a removed tenant: it routes
    /// nowhere). Under the administration lock, or before other threads run.
    var names: [String] { slots.map { $0?.configuration.name ?? "" } }

    /// The segments of the tenants held, retired ones included. Under the
    /// administration lock, or before other threads run.
    var segments: [Segment] { slots.compactMap { $0?.segment } }

    /// Takes the runtime directory and creates or adopts every configured
    /// tenant's segment. A segment another daemon owns stops the start; a
    /// segment file a tenant damaged is logged and that tenant skipped: a
    /// client can cost its own tenant its service, never the others.
    func open() throws {
        let config = configuration
        runtimeDirectory = try RuntimeDirectory(path: config.runtimeDirectory, trust: config.runtimeDirectoryTrust)
        for tenant in config.tenants {
            do {
                slots.append(TenantSlot(configuration: tenant, segment: try openSegment(for: tenant)))
            } catch {
                if case SegmentError.ownedByAnotherDaemon = error { throw error }
                refusedTenants[tenant.name] = "\(error)"
                Log.error("segment-refused", ["tenant": tenant.name, "error": error])
            }
        }
        guard !slots.isEmpty else { throw DaemonError.noTenantServing }
        tenantPolicies.update(slots.map { $0?.configuration })
    }

    /// Deals the channels round-robin over `workers` workers, so one
    /// tenant's channels spread over them; returns each worker's share.
    /// Before any worker runs.
    func deal(workers: Int) -> [[(TenantIndex, Segment, ChannelIndex)]] {
        var shares = Array(repeating: [(TenantIndex, Segment, ChannelIndex)](), count: workers)
        var dealt = 0
        for (t, slot) in slots.enumerated() {
            guard let segment = slot?.segment else { continue }
            for channel in 0..<segment.layout.channelCount {
                shares[dealt % workers].append((TenantIndex(t), segment, ChannelIndex(channel)))
                slot?.channelsByWorker[dealt % workers, default: []].append(ChannelIndex(channel))
                dealt += 1
            }
        }
        refreshRoster()
        return shares
    }

    /// Hands over the workers made from `deal`'s shares. Once, before any
    /// worker or control thread runs.
    func attach(workers: [Worker], metricsLayout: MetricsLayout?) {
        self.workers = workers
        self.metricsLayout = metricsLayout
    }

    /// Opens (creates or adopts) `tenant`'s segment in the runtime directory.
    func openSegment(for tenant: TenantConfiguration) throws -> Segment {
        guard let directory = runtimeDirectory else { throw DaemonError.noTenantServing }
        let layout = try SegmentLayout(channelCount: tenant.channels, ringDepth: tenant.ringDepth,
                                       maxFeatures: tenant.maxFeatures)
        let groupID = try tenant.group.map(resolveGroup)
        let segment = try Segment.createOrAdopt(in: directory, tenant: tenant.name, groupID: groupID, layout: layout)
        if segment.wasAdopted && segment.layout != layout {
            Log.warning("segment-layout-kept", ["tenant": tenant.name, "reason":
                "the adopted segment's layout differs from the configuration; remove it while no client runs to apply the new one"])
        }
        Log.info(segment.wasAdopted ? "segment-adopted" : "segment-created",
                 ["tenant": tenant.name, "path": segment.path, "incarnation": segment.incarnation,
                  "channels": segment.layout.channelCount, "ring_depth": segment.layout.ringDepth,
                  "weight": tenant.weight,
                  "rate_limit": tenant.rateLimit.map { "\($0.eventsPerSecond)/s burst \($0.burst)" } ?? "none"])
        return segment
    }

    /// Each worker's channel count, to deal a new tenant's channels evenly.
    /// Under the administration lock.
    var channelsPerWorker: [Int] {
        var counts = Array(repeating: 0, count: workers.count)
        for case let slot? in slots where slot.state == .serving {
            for (worker, channels) in slot.channelsByWorker { counts[worker] += channels.count }
        }
        return counts
    }
}
