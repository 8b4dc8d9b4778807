#if canImport(Glibc)
import Glibc
#endif
import Foundation
import MuseControl
import MuseIPC
import MuseSnapshot

/// The running daemon: composes the tenants (`TenantManager`) and the
/// generations they are served (`GenerationManager`) with the workers, the
/// control socket, the metrics endpoint and systemd.
public final class Daemon: @unchecked Sendable {
    /// The tenants' slots and segments, reloads and retirements.
    public let tenants: TenantManager
    /// The serving generation and every change of it.
    public let generations: GenerationManager
    private let initial: InitialGeneration
    /// Made by `start`, before any other thread runs; read-only afterwards.
    private(set) var workers: [Worker] = []
    private var threads: [Thread] = []
    private var control: ControlServer?
    /// The metrics exporter and its endpoint; nil without `metricsAddress`.
    private(set) var metrics: MetricsExporter?
    private var metricsServer: MetricsHTTPServer?
    /// The metrics endpoint's bound port (the kernel's pick for port 0).
    public var metricsPort: UInt16? { metricsServer?.port }

    /// What the daemon runs, as last applied.
    public var configuration: DaemonConfiguration { tenants.currentRoster.configuration }

    /// The segments of the tenants the daemon holds.
    public var segments: [Segment] { tenants.administration.run { tenants.segments } }

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
        tenants = TenantManager(configuration: configuration, reloader: reloader)
        generations = GenerationManager(snapshots: snapshots, tenants: tenants)
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
    /// damaged is logged and that tenant skipped (`TenantManager.open`).
    public func start() throws {
        let config = tenants.configuration
        try config.validate()
        try Segment.guardAgainstTruncation()
        try tenants.open()
        try generations.start(workers: config.workers, initial: initial)

        // Per-worker metrics cells, only when there is an endpoint to serve them.
        // Room for tenants a reload adds (at new indices) beside today's.
        let metricsLayout = config.metricsAddress.map { _ in
            MetricsLayout(tenants: tenants.names, capacity: tenants.slots.count + MetricsLayout.reloadHeadroom)
        }
        // One limiter per tenant, shared by the workers its channels were dealt to.
        for (index, share) in tenants.deal(workers: config.workers).enumerated() {
            let worker = Worker(index: index, channels: share, cell: generations.cell, batchSize: config.batchSize,
                                spinNanoseconds: config.spinNanoseconds, idlePolicy: config.idlePolicy,
                                metrics: metricsLayout.map(WorkerMetrics.init(layout:)), policies: tenants.tenantPolicies,
                                sketchWindow: config.sketchWindow)
            workers.append(worker)
            let thread = Thread { worker.run() }
            thread.stackSize = 1 << 20
            threads.append(thread)
        }
        tenants.attach(workers: workers, metricsLayout: metricsLayout)
        if let address = config.metricsAddress, let metricsLayout {
            try startMetrics(address: address, layout: metricsLayout)
        }
        for segment in tenants.segments {
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
            Log.info("metrics-serving", ["address": address, "port": metricsServer.port, "loopback": address.isLoopback])
        }
        Log.info("serving", ["tenants": tenants.slots.count, "workers": workers.count, "pid": getpid(),
                             "generation": generations.current?.id ?? .none,
                             "state_directory": generations.snapshots?.state?.path ?? "none"])
    }

    /// Binds the metrics endpoint before any worker runs, so a taken port
    /// stops the start cleanly; it serves from the end of `start`.
    private func startMetrics(address: MetricsAddress, layout: MetricsLayout) throws {
        let exporter = MetricsExporter(layout: layout, cells: workers.compactMap(\.metrics),
                                       segments: { [weak self] in
            guard let self else { return [] }
            return tenants.currentRoster.entries.map { ($0.index, $0.segment) }
        }, shadows: { [weak self] in
            guard let self else { return [] }
            return generations.shadowInfo()
        }, alerts: { [weak self] in
            guard let self else { return [] }
            return workers.flatMap { $0.sketches.alertTotals() }
        }) { [generations] in
            generations.servingID
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

    /// Each worker's heartbeat count, for the systemd watchdog: it grows
    /// while the worker loops and stops when the worker is stuck.
    public var workerHeartbeats: [UInt64] { workers.map(\.heartbeat.count) }

    /// Reads the configuration file again and applies it without a restart
    /// (`TenantManager.reload`); the publication that follows binds the
    /// serving generation to the new tenants.
    public func reload() throws -> ReloadReport {
        try tenants.reload(republishing: generations)
    }

    /// Answers what `tenant` has in flight, then stops serving it until a
    /// reload (`TenantManager.retire`).
    public func retire(tenant name: String) throws -> RetirementReport {
        try tenants.retire(tenant: name, republishing: generations)
    }

    /// Stops the workers, which first answer what clients had submitted
    /// (for up to `Worker.stopDrainNanoseconds`), and marks segments
    /// stopped; what clients submit after the stop waits in the rings for
    /// the next daemon.
    public func stop() {
        metricsServer?.stop()
        control?.stop()
        // After any reload or retirement in progress.
        tenants.administration.run {
            let segments = tenants.segments
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
