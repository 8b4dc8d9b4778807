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
    /// What the daemon runs; a reload replaces its tenants (and nothing a
    /// restart alone can change). Written under `administration`.
    public internal(set) var configuration: DaemonConfiguration
    /// The tenants by `TenantIndex`; nil where a reload removed one.
    /// Written only under `administration` (and by `start`, before any
    /// other thread runs).
    var slots: [TenantSlot?] = []
    /// Serialises changes to tenants and publications: reloads, drains,
    /// publishing a generation, stopping.
    let administration = AdministrationLock()
    /// Serialises swaps and rollbacks (each loads or records a snapshot with
    /// no administration lock held, then publishes under it). Taken before
    /// `administration`, never after.
    let swapping = AdministrationLock()
    /// The tenants for readers that must not wait on `administration`.
    let roster: Locked<TenantRoster>
    /// Tenants the configuration names but the daemon holds no segment for,
    /// with the reason: refused at start or by the last reload. Written
    /// under `administration`; readers see it in the roster.
    var refusedTenants: [String: String] = [:]
    private(set) var runtimeDirectory: RuntimeDirectory?
    private(set) var workers: [Worker] = []
    private var threads: [Thread] = []
    /// Made in `start`, once the worker count is known to be sane.
    private var cell = ServingCell(workers: 0)
    /// The serving and the previous generation (kept for an instant rollback).
    /// Written only by `publish`, under this lock; never read on the hot path.
    private let generations = Locked<(serving: Serving?, previous: Serving?)>((nil, nil))
    private let initial: InitialGeneration
    /// How `swap` turns a snapshot file into a generation; nil: no swaps.
    public let snapshots: SnapshotSource?
    /// Reads the configuration again for a reload (the file, with the
    /// command line's flags applied); nil: mused runs without a file.
    let reloader: (@Sendable () throws -> DaemonConfiguration)?
    private var control: ControlServer?
    /// Every tenant's weight and rate limiter, read by the workers whenever
    /// they pick up a publication; replaced by `start` and `reload`.
    let tenantPolicies = TenantPolicyTable()
    /// The metrics exporter and its endpoint; nil without `metricsAddress`.
    private(set) var metrics: MetricsExporter?
    private var metricsServer: MetricsHTTPServer?
    /// The metrics endpoint's bound port (the kernel's pick for port 0).
    public var metricsPort: UInt16? { metricsServer?.port }

    /// The segments of the tenants the daemon holds.
    public var segments: [Segment] { administration.run { slots.compactMap { $0?.segment } } }

    /// Tenant names by `TenantIndex` ("" for a removed tenant: it routes nowhere).
    var tenantNames: [String] { slots.map { $0?.configuration.name ?? "" } }

    /// What the daemon serves first.
    public enum InitialGeneration: Sendable {
        /// The state directory's recorded snapshot if there is one, else this
        /// file if given, else the embedded default (`Generation.embeddedDefault`).
        case recordedOr(snapshot: String?)
        /// Built by the caller for the tenants whose segments the daemon holds
        /// (in `TenantIndex` order); for tests and tools.
        case custom(@Sendable (_ tenants: [String]) throws -> Generation)
    }

    public init(configuration: DaemonConfiguration, snapshots: SnapshotSource? = nil,
                initial: InitialGeneration = .recordedOr(snapshot: nil),
                reloader: (@Sendable () throws -> DaemonConfiguration)? = nil) {
        self.configuration = configuration
        roster = Locked(TenantRoster(configuration: configuration))
        self.snapshots = snapshots
        self.initial = initial
        self.reloader = reloader
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
        try publish(firstGeneration(), waitForWorkers: false)

        // Per-worker metrics cells, only when there is an endpoint to serve them.
        // Room for tenants a reload adds (at new indices) beside today's.
        let metricsLayout = config.metricsAddress.map { _ in
            MetricsLayout(tenants: tenantNames, capacity: slots.count + MetricsLayout.reloadHeadroom)
        }
        // Deal channels round-robin so one tenant's channels spread over workers.
        var shares = Array(repeating: [(TenantIndex, Segment, ChannelIndex)](), count: config.workers)
        var dealt = 0
        for (t, slot) in slots.enumerated() {
            guard let segment = slot?.segment else { continue }
            for channel in 0..<segment.layout.channelCount {
                shares[dealt % config.workers].append((TenantIndex(t), segment, ChannelIndex(channel)))
                slot?.channelsByWorker[dealt % config.workers, default: []].append(ChannelIndex(channel))
                dealt += 1
            }
        }
        refreshRoster()
        // Weights and rate limits by tenant index; one limiter per tenant,
        // shared by the workers its channels were dealt to.
        tenantPolicies.update(slots.map { $0?.configuration })
        for (index, share) in shares.enumerated() {
            let worker = Worker(index: index, channels: share, cell: cell, batchSize: config.batchSize,
                                spinNanoseconds: config.spinNanoseconds, idlePolicy: config.idlePolicy,
                                metrics: metricsLayout.map(WorkerMetrics.init(layout:)), policies: tenantPolicies)
            workers.append(worker)
            let thread = Thread { worker.run() }
            thread.stackSize = 1 << 20
            threads.append(thread)
        }
        if let address = config.metricsAddress, let metricsLayout {
            // Bound before any worker runs, so a taken port stops the start cleanly.
            let exporter = MetricsExporter(layout: metricsLayout, cells: workers.compactMap(\.metrics),
                                           segments: { [weak self] in
                guard let self else { return [] }
                return currentRoster.entries.map { ($0.index, $0.segment) }
            }, shadows: { [weak self] in
                guard let self else { return [] }
                return shadowInfo()
            }, alerts: { [weak self] in
                guard let self else { return [] }
                return workers.flatMap { $0.sketches.alertTotals() }
            }) { [generations] in
                generations.withLock { $0.serving?.generationID.rawValue }
            }
            metrics = exporter
            metricsServer = try MetricsHTTPServer(address: address, routes: [
                "/metrics": { .exposition(exporter.render()) },
                "/healthz": { [weak self] in
                    .probe(self?.liveness() ?? HealthVerdict(passes: false, reason: "mused is stopping"))
                },
                "/readyz": { [weak self] in
                    .probe(self?.readiness() ?? HealthVerdict(passes: false, reason: "mused is stopping"))
                },
            ])
        }
        for slot in slots {
            slot?.segment.beat()
            slot?.segment.publishState(.serving)
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
            Log.info("metrics-serving", ["address": address, "port": metricsServer.port, "loopback": address.isLoopback])
        }
        Log.info("serving", ["tenants": slots.count, "workers": workers.count, "pid": getpid(),
                             "generation": currentGeneration?.id ?? .none,
                             "state_directory": snapshots?.state?.path ?? "none"])
    }

    /// Every worker's shadow tally (fixed once the workers exist).
    var shadowTallies: [ShadowTally] { workers.map(\.shadows) }

    /// Loads what `initial` says, before any worker runs: a snapshot that
    /// cannot be served stops the start with its reason.
    private func firstGeneration() throws -> Generation {
        let tenants = tenantNames
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
                _ = try prepared.record()
                try prepared.commit()
                return prepared.generation
            }
            return try Generation.embeddedDefault(tenants: tenants)
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
        try administration.run { try publishLocked(generation, waitForWorkers: waitForWorkers) }
    }

    private func publishLocked(_ generation: Generation, waitForWorkers: Bool) throws {
        let segments = slots.compactMap { $0?.segment }
        // Everything that could refuse it is checked before workers see it.
        for segment in segments {
            try segment.checkIntents(generation.intents)
            for intent in generation.intents where intent.featureCount > segment.layout.maxFeatures {
                Log.warning("intent-too-wide", ["tenant": segment.tenant, "intent": intent.name,
                    "features": intent.featureCount, "max_features": segment.layout.maxFeatures,
                    "effect": "its events get feature-count errors until the segment is recreated wider"])
            }
        }
        let serving = Serving(generation: generation, tenants: tenantNames)
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
        if waitForWorkers { awaitWorkers(reaching: version) }
        retired = nil
        _ = retired
        if !serving.unroutedTenants.isEmpty {
            Log.warning("tenants-unrouted", ["generation": generation.id, "tenants": serving.unroutedTenants.joined(separator: ","),
                                             "reason": "the generation routes no intent for them; their events get no-route"])
        }
        Log.info("generation-published", ["generation": generation.id, "origin": generation.origin,
                                           "intents": generation.intents.count])
    }

    /// Workers wake on the doorbell and acknowledge within a batch; bounded
    /// so a stopped daemon cannot hang a publish.
    private func awaitWorkers(reaching version: UInt64) {
        let deadline = ThreadSupport.monotonicNanoseconds() + 2_000_000_000
        while !cell.allWorkersReached(version) && ThreadSupport.monotonicNanoseconds() < deadline {
            usleep(100)
        }
    }

    /// Publishes the serving generation again, bound to the current tenants,
    /// after workers were sent orders: the publication is what makes them
    /// read their orders. The previous generation is kept as it was.
    func republish() {
        guard var generation = currentGeneration else { return }
        // The built-in generation routes every tenant: bind it to the new set.
        if generation.origin == Generation.builtInOrigin,
           let rebuilt = try? Generation.builtIn(tenants: tenantNames.filter { !$0.isEmpty }) {
            generation = rebuilt
        }
        let serving = Serving(generation: generation, tenants: tenantNames)
        let version = cell.publish(serving)
        generations.withLock { $0.serving = serving }
        for slot in slots { slot?.segment.ringDoorbell() }
        awaitWorkers(reaching: version)
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
    var channelsPerWorker: [Int] {
        var counts = Array(repeating: 0, count: workers.count)
        for case let slot? in slots where slot.state == .serving {
            for (worker, channels) in slot.channelsByWorker { counts[worker] += channels.count }
        }
        return counts
    }

    /// Stops the workers, which first answer what clients had submitted
    /// (for up to `Worker.stopDrainNanoseconds`), and marks segments
    /// stopped; what clients submit after the stop waits in the rings for
    /// the next daemon.
    public func stop() {
        metricsServer?.stop()
        control?.stop()
        // After any reload or drain in progress.
        administration.run {
            let segments = slots.compactMap { $0?.segment }
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
}
