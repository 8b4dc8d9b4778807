#if canImport(Glibc)
import Glibc
#endif
import Foundation
import MuseIPC
import MuseSnapshot
import Synchronization

/// The running daemon: tenant segments, the workers that serve them, and the
/// generation they serve.
public final class Daemon: @unchecked Sendable {
    public let configuration: DaemonConfiguration
    public private(set) var segments: [Segment] = []
    private var runtimeDirectory: RuntimeDirectory?
    private var workers: [Worker] = []
    private var threads: [Thread] = []
    /// Made in `start`, once the worker count is known to be sane.
    private var cell = ServingCell(workers: 0)
    /// The serving and the previous generation (kept for an instant rollback).
    /// Written only by `publish`, under this lock; never read on the hot path.
    private let generations = Locked<(serving: Serving?, previous: Serving?)>((nil, nil))
    private let initial: InitialGeneration
    /// How `swap` turns a snapshot file into a generation; nil: no swaps.
    public let snapshots: SnapshotSource?
    private var control: ControlServer?
    /// The metrics exporter and its endpoint; nil without `metricsAddress`.
    private(set) var metrics: MetricsExporter?
    private var metricsServer: MetricsHTTPServer?
    /// The metrics endpoint's bound port (the kernel's pick for port 0).
    public var metricsPort: UInt16? { metricsServer?.port }

    /// What the daemon serves first.
    public enum InitialGeneration: Sendable {
        /// The state directory's recorded snapshot if there is one, else this
        /// file if given, else the built-in generation.
        case recordedOr(snapshot: String?)
        /// Built by the caller for the tenants whose segments the daemon holds
        /// (in `TenantIndex` order); for tests and tools.
        case custom(@Sendable (_ tenants: [String]) throws -> Generation)
    }

    public init(configuration: DaemonConfiguration, snapshots: SnapshotSource? = nil,
                initial: InitialGeneration = .recordedOr(snapshot: nil)) {
        self.configuration = configuration
        self.snapshots = snapshots
        self.initial = initial
    }

    /// Convenience for tests: serve what `generation` builds first.
    public convenience init(configuration: DaemonConfiguration, snapshots: SnapshotSource? = nil,
                            generation: @escaping @Sendable (_ tenants: [String]) throws -> Generation) {
        self.init(configuration: configuration, snapshots: snapshots, initial: .custom(generation))
    }

    /// Checks the configuration, takes the runtime directory, creates or
    /// adopts every tenant's segment, publishes the first generation, and
    /// starts the workers.
    ///
    /// A configuration mistake, a runtime directory others control, or a
    /// segment another daemon owns stops the start. A segment file a tenant
    /// damaged is logged and that tenant skipped: a client can cost its own
    /// tenant its service, never the others.
    public func start() throws {
        let config = configuration
        try config.validate()
        cell = ServingCell(workers: config.workers)
        try Segment.guardAgainstTruncation()
        let directory = try RuntimeDirectory(path: config.runtimeDirectory, trust: config.runtimeDirectoryTrust)
        runtimeDirectory = directory
        for tenant in config.tenants {
            do {
                let layout = try SegmentLayout(channelCount: tenant.channels, ringDepth: tenant.ringDepth,
                                               maxFeatures: tenant.maxFeatures)
                let groupID = try tenant.group.map(resolveGroup)
                let segment = try Segment.createOrAdopt(in: directory, tenant: tenant.name, groupID: groupID,
                                                        layout: layout)
                if segment.wasAdopted && segment.layout != layout {
                    Log.warning("segment-layout-kept", ["tenant": tenant.name, "reason":
                        "the adopted segment's layout differs from the configuration; remove it while no client runs to apply the new one"])
                }
                Log.info(segment.wasAdopted ? "segment-adopted" : "segment-created",
                         ["tenant": tenant.name, "path": segment.path, "incarnation": segment.incarnation,
                          "channels": segment.layout.channelCount, "ring_depth": segment.layout.ringDepth])
                segments.append(segment)
            } catch {
                if case SegmentError.ownedByAnotherDaemon = error { throw error }
                Log.error("segment-refused", ["tenant": tenant.name, "error": error])
            }
        }
        guard !segments.isEmpty else { throw DaemonError.noTenantServing }
        try publish(firstGeneration(), waitForWorkers: false)

        // Deal channels round-robin so one tenant's channels spread over workers.
        var shares = Array(repeating: [(TenantIndex, Segment, ChannelIndex)](), count: config.workers)
        // Per-worker metrics cells, only when there is an endpoint to serve them.
        let metricsLayout = config.metricsAddress.map { _ in MetricsLayout(tenants: segments.map(\.tenant)) }
        var dealt = 0
        for (t, segment) in segments.enumerated() {
            for channel in 0..<segment.layout.channelCount {
                shares[dealt % config.workers].append((TenantIndex(t), segment, ChannelIndex(channel)))
                dealt += 1
            }
        }
        for (index, share) in shares.enumerated() {
            let worker = Worker(index: index, channels: share, cell: cell, batchSize: config.batchSize,
                                spinNanoseconds: config.spinNanoseconds,
                                metrics: metricsLayout.map(WorkerMetrics.init(layout:)))
            workers.append(worker)
            let thread = Thread { worker.run() }
            thread.stackSize = 1 << 20
            threads.append(thread)
        }
        if let address = config.metricsAddress, let metricsLayout {
            // Bound before any worker runs, so a taken port stops the start cleanly.
            let exporter = MetricsExporter(layout: metricsLayout, cells: workers.compactMap(\.metrics),
                                           segments: segments) { [generations] in
                generations.withLock { $0.serving?.generationID.rawValue }
            }
            metrics = exporter
            metricsServer = try MetricsHTTPServer(address: address) { exporter.render() }
        }
        for segment in segments {
            segment.beat()
            segment.publishState(.serving)
        }
        threads.forEach { $0.start() }
        let control = try ControlServer(runtimeDirectory: config.runtimeDirectory,
                                        adminGroup: try config.adminGroup.map(resolveGroup)) { [unowned self] in
            handle($0)
        }
        control.start()
        self.control = control
        if let metricsServer, let address = config.metricsAddress {
            metricsServer.start()
            Log.info("metrics-serving", ["address": address, "port": metricsServer.port])
        }
        Log.info("serving", ["tenants": segments.count, "workers": workers.count, "pid": getpid(),
                             "generation": currentGeneration?.id ?? .none])
    }

    /// Every worker's shadow tally (fixed once the workers exist).
    var shadowTallies: [ShadowTally] { workers.map(\.shadows) }

    /// Loads what `initial` says, before any worker runs: a snapshot that
    /// cannot be served stops the start with its reason.
    private func firstGeneration() throws -> Generation {
        let tenants = segments.map(\.tenant)
        switch initial {
        case .custom(let build):
            return try build(tenants)
        case .recordedOr(let configured):
            if let snapshots, let recorded = snapshots.state?.servingSnapshot {
                Log.info("recorded-snapshot-loading", ["path": recorded])
                let snapshot: LoadedSnapshot
                do { snapshot = try snapshots.loader.load(recorded) } catch {
                    throw SnapshotSourceError(path: recorded, reason: "\(error) (the state directory's record; "
                        + "remove it to start from the configured snapshot)")
                }
                return try Generation(snapshot: snapshot, origin: recorded)
            }
            if let configured {
                guard let snapshots else { throw DaemonError.noSnapshotSupport }
                let prepared = try snapshots.prepare(configured, allowSchemaChange: true, serving: nil)
                try prepared.commit()
                return prepared.generation
            }
            return try Generation.builtIn(tenants: tenants)
        }
    }

    /// Each worker's heartbeat count, for the systemd watchdog: it grows
    /// while the worker loops and stops when the worker is stuck.
    public var workerHeartbeats: [UInt64] { workers.map(\.heartbeat.count) }

    /// The generation workers serve now.
    public var currentGeneration: Generation? { generations.withLock { $0.serving?.generation } }

    /// The generation served before the current one, kept for a rollback.
    public var previousGeneration: Generation? { generations.withLock { $0.previous?.generation } }

    /// Publishes `generation` to every worker with one exchange: each picks it
    /// up between two batches. Segment headers then show its intents and id.
    /// The replaced generation stays resident for a rollback; the one before
    /// it is dropped here, once every worker has moved on, so freeing a model
    /// never lands on a worker thread.
    public func publish(_ generation: Generation, waitForWorkers: Bool = true) throws {
        // Everything that could refuse it is checked before workers see it.
        for segment in segments {
            try segment.checkIntents(generation.intents)
            for intent in generation.intents where intent.featureCount > segment.layout.maxFeatures {
                Log.warning("intent-too-wide", ["tenant": segment.tenant, "intent": intent.name,
                    "features": intent.featureCount, "max_features": segment.layout.maxFeatures,
                    "effect": "its events get feature-count errors until the segment is recreated wider"])
            }
        }
        let serving = Serving(generation: generation, tenants: segments.map(\.tenant))
        let version = cell.publish(serving)
        var retired: Serving?
        generations.withLock { state in
            retired = state.previous
            state.previous = state.serving
            state.serving = serving
        }
        for segment in segments {
            try segment.publishIntents(generation.intents)
            segment.publishGeneration(generation.id)
            segment.ringDoorbell()
        }
        if waitForWorkers {
            // Workers wake on the doorbell and acknowledge within a batch;
            // bounded so a stopped daemon cannot hang a publish.
            let deadline = ThreadSupport.monotonicNanoseconds() + 2_000_000_000
            while !cell.allWorkersReached(version) && ThreadSupport.monotonicNanoseconds() < deadline {
                usleep(100)
            }
        }
        retired = nil
        _ = retired
        if !serving.unroutedTenants.isEmpty {
            Log.warning("tenants-unrouted", ["generation": generation.id, "tenants": serving.unroutedTenants.joined(separator: ","),
                                             "reason": "the generation routes no intent for them; their events get no-route"])
        }
        Log.info("generation-published", ["generation": generation.id, "origin": generation.origin,
                                           "intents": generation.intents.count])
    }

    /// Stops the workers after their current batch and marks segments stopped;
    /// what clients submit meanwhile waits in the rings for the next daemon.
    public func stop() {
        metricsServer?.stop()
        control?.stop()
        workers.forEach { $0.requestStop() }
        for segment in segments {
            segment.publishState(.stopped)
            // Wake sleeping workers so they see the stop at once.
            segment.ringDoorbell()
        }
        while !workers.allSatisfy(\.hasFinished) { usleep(1000) }
        Log.info("stopped", ["tenants": segments.count])
    }
}
