#if canImport(Glibc)
import Glibc
#endif
import CMuse
import Foundation
import MuseIPC

/// The running daemon: tenant segments and the workers that serve them.
public final class Daemon<Scorer: EventScorer>: @unchecked Sendable {
    public let configuration: DaemonConfiguration
    public private(set) var segments: [Segment] = []
    private var runtimeDirectory: RuntimeDirectory?
    private var workers: [Worker<Scorer>] = []
    private var threads: [Thread] = []
    private let makeScorer: () -> Scorer

    public init(configuration: DaemonConfiguration, scorer: @escaping () -> Scorer) {
        self.configuration = configuration
        makeScorer = scorer
    }

    /// Checks the configuration, takes the runtime directory, creates or
    /// adopts every tenant's segment, publishes the intents, and starts the
    /// workers.
    ///
    /// A configuration mistake, a runtime directory others control, or a
    /// segment another daemon owns stops the start. A segment file a tenant
    /// damaged is logged and that tenant skipped: a client can cost its own
    /// tenant its service, never the others.
    public func start() throws {
        let config = configuration
        try config.validate()
        try Segment.guardAgainstTruncation()
        let directory = try RuntimeDirectory(path: config.runtimeDirectory, trust: config.runtimeDirectoryTrust)
        runtimeDirectory = directory
        var endpoints: [ChannelEndpoint] = []
        var bounds: [IntentBounds] = []
        for tenant in config.tenants {
            do {
                let layout = try SegmentLayout(channelCount: tenant.channels, ringDepth: tenant.ringDepth,
                                               maxFeatures: tenant.maxFeatures)
                let groupID = try tenant.group.map(resolveGroup)
                let segment = try Segment.createOrAdopt(in: directory, tenant: tenant.name, groupID: groupID,
                                                        layout: layout)
                let path = segment.path
                if segment.wasAdopted && segment.layout != layout {
                    Log.warning("segment-layout-kept", ["tenant": tenant.name, "reason":
                        "the adopted segment's layout differs from the configuration; remove it while no client runs to apply the new one"])
                }
                try segment.publishIntents(config.intents)
                Log.info(segment.wasAdopted ? "segment-adopted" : "segment-created",
                         ["tenant": tenant.name, "path": path, "incarnation": segment.incarnation,
                          "channels": segment.layout.channelCount, "ring_depth": segment.layout.ringDepth])
                let tenantIndex = segments.count
                segments.append(segment)
                bounds.append(IntentBounds(config.intents))
                for channel in 0..<segment.layout.channelCount {
                    endpoints.append(ChannelEndpoint(segment: segment, channel: channel, tenant: tenantIndex))
                }
            } catch {
                if case SegmentError.ownedByAnotherDaemon = error { throw error }
                Log.error("segment-refused", ["tenant": tenant.name, "error": error])
            }
        }
        guard !segments.isEmpty else { throw DaemonError.noTenantServing }
        // Deal channels round-robin so one tenant's channels spread over workers.
        var shares = Array(repeating: [ChannelEndpoint](), count: config.workers)
        for (i, endpoint) in endpoints.enumerated() { shares[i % config.workers].append(endpoint) }
        for (index, share) in shares.enumerated() {
            let worker = Worker(index: index, endpoints: share, intents: bounds, scorer: makeScorer(),
                                batchSize: config.batchSize, spinNanoseconds: config.spinNanoseconds)
            workers.append(worker)
            let thread = Thread { worker.run() }
            thread.stackSize = 1 << 20
            threads.append(thread)
        }
        for segment in segments {
            segment.beat()
            segment.publishState(Int32(MUSE_DAEMON_SERVING))
        }
        threads.forEach { $0.start() }
        Log.info("serving", ["tenants": segments.count, "workers": workers.count, "pid": getpid()])
    }

    /// Stops the workers after their current batch and marks segments stopped;
    /// what clients submit meanwhile waits in the rings for the next daemon.
    public func stop() {
        workers.forEach { $0.requestStop() }
        for segment in segments {
            segment.publishState(Int32(MUSE_DAEMON_STOPPED))
            // Wake sleeping workers so they see the stop at once.
            muse_atomic_add_u32(&segment.header.pointee.daemon_doorbell, 1)
            muse_futex_wake(&segment.header.pointee.daemon_doorbell)
        }
        while !workers.allSatisfy(\.hasFinished) { usleep(1000) }
        Log.info("stopped", ["tenants": segments.count])
    }
}
