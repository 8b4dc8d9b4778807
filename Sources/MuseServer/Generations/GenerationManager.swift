#if canImport(Glibc)
import Glibc
#endif
import MuseIPC
import MuseSnapshot

/// The generations mused serves, and every way of changing them: the first
/// one at start, swaps, rollbacks, candidates and promotions, each recorded
/// in the state directory. It owns the serving cell the workers read.
///
/// A change goes in two phases, visible in the types: `validate` turns a
/// `GenerationCandidate` into a `ValidatedGeneration` with no daemon lock
/// held (only the swap lock, which serialises changes of generation among
/// themselves), so `status`, a scrape, a reload or a retirement go on
/// meanwhile; `publish` then takes the tenants' administration lock for the
/// exchange alone.
public final class GenerationManager: @unchecked Sendable {
    /// How a swap turns a snapshot file into a generation; nil: no swaps.
    public let snapshots: SnapshotSource?
    /// The tenants whose segments a publication reaches; their
    /// administration lock is the one publication takes.
    let tenants: TenantManager
    /// Serialises swaps, rollbacks, candidates and promotions (each loads or
    /// builds a snapshot with no administration lock held, then publishes
    /// under it). Taken before `administration`, never after.
    let swapping = AdministrationLock()
    /// Where workers pick the published generation up. Written once by
    /// `start` on the starting thread, before any worker exists (each
    /// worker is handed it); never replaced. Its own fields say their
    /// memory orders.
    private(set) var cell = ServingCell(workers: 0)
    /// The serving and the previous generation. Written only by publications,
    /// under the administration lock, and inside this lock; never read on
    /// the hot path.
    private let residents = Locked<(serving: Serving?, previous: Serving?)>((nil, nil))

    init(snapshots: SnapshotSource?, tenants: TenantManager) {
        self.snapshots = snapshots
        self.tenants = tenants
    }

    /// The generation workers serve now.
    public var current: Generation? { residents.withLock { $0.serving?.generation } }

    /// The generation served before the current one, kept for a rollback.
    public var previous: Generation? { residents.withLock { $0.previous?.generation } }

    /// Both, read together.
    public var resident: ResidentGenerations {
        residents.withLock { ResidentGenerations(serving: $0.serving?.generation, previous: $0.previous?.generation) }
    }

    /// The serving generation's id, for the metrics endpoint.
    var servingID: UInt64? { residents.withLock { $0.serving?.generationID.rawValue } }

    /// Makes the serving cell for `workers` workers and publishes what
    /// `initial` says, before any worker runs: a snapshot that cannot be
    /// served stops the start with its reason. Call under no lock, once.
    func start(workers: Int, initial: Daemon.InitialGeneration) throws {
        cell = ServingCell(workers: workers)
        try publish(firstGeneration(initial), waitForWorkers: false)
    }

    private func firstGeneration(_ initial: Daemon.InitialGeneration) throws -> Generation {
        let names = tenants.names
        switch initial {
        case .custom(let build):
            return try build(names)
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
            return try Generation.embeddedDefault(tenants: names)
        }
    }

    /// Publishes `generation` to every worker with one exchange: each picks it
    /// up between two batches. Segment headers then show its intents and id.
    /// The replaced generation stays resident for a rollback; the one before
    /// it is dropped here, once every worker has moved on, so freeing a model
    /// never lands on a worker thread.
    public func publish(_ generation: Generation, waitForWorkers: Bool = true) throws {
        try tenants.administration.run { try publishLocked(generation, waitForWorkers: waitForWorkers) }
    }

    private func publishLocked(_ generation: Generation, waitForWorkers: Bool) throws {
        let segments = tenants.segments
        // Everything that could refuse it is checked before workers see it
        // (again: a reload may have added a segment since `validate`).
        try Self.check(generation, segments: segments)
        let serving = Serving(generation: generation, tenants: tenants.names)
        let version = cell.publish(serving)
        var retired: Serving?
        residents.withLock { state in
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

    /// Throws if a segment cannot show `generation`'s intents; warns of
    /// intents wider than a segment holds (their events get errors).
    static func check(_ generation: Generation, segments: [Segment]) throws {
        for segment in segments {
            try segment.checkIntents(generation.intents)
            for intent in generation.intents where intent.featureCount > segment.layout.maxFeatures {
                Log.warning("intent-too-wide", ["tenant": segment.tenant, "intent": intent.name,
                    "features": intent.featureCount, "max_features": segment.layout.maxFeatures,
                    "effect": "its events get feature-count errors until the segment is recreated wider"])
            }
        }
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
    /// read their orders. The previous generation is kept as it was. Call
    /// under the administration lock.
    func republish() {
        guard var generation = current else { return }
        let names = tenants.names
        // The built-in generation routes every tenant: bind it to the new set.
        if generation.origin == Generation.builtInOrigin,
           let rebuilt = try? Generation.builtIn(tenants: names.filter { !$0.isEmpty }) {
            generation = rebuilt
        }
        let serving = Serving(generation: generation, tenants: names)
        let version = cell.publish(serving)
        residents.withLock { $0.serving = serving }
        for segment in tenants.segments { segment.ringDoorbell() }
        awaitWorkers(reaching: version)
    }
}
