#if canImport(Glibc)
import Glibc
#endif
import MuseIPC
import Synchronization

/// A daemon thread that drains a fixed set of channels.
///
/// Its `FairScheduler` decides how much of which tenant each round answers
/// (weighted deficit round robin over tenants, rate limits answered
/// `.overloaded`); see Scheduling/FairScheduler.swift.
///
/// It owns its endpoints outright (their private heads, their reclaim), so no
/// lock guards them. While events flow it never makes a system call; when its
/// channels are empty its `IdleStrategy` decides whether it spins, yields or
/// sleeps on its segments' doorbells, and at
/// least every `housekeepingNanoseconds` it refreshes heartbeats and frees the
/// channels of dead clients. Between two rounds over its channels (never
/// inside one) it picks up a newly published `Serving`, so every event is
/// scored wholly by one generation.
final class Worker: @unchecked Sendable {
    let index: Int
    var endpoints: EndpointSet
    /// Shares this worker among its tenants (weights, rate limits), rebuilt
    /// from `policyTable` whenever the channels or a publication change.
    var scheduler: FairScheduler
    let policyTable: TenantPolicyTable
    var segments: [Segment]
    private let cell: ServingCell
    var serving: Serving
    private var servingVersion: UInt64
    /// This worker's shadow records (read by the control thread).
    let shadows = ShadowTally()
    /// This worker's live score sketches (read by the control thread).
    let sketches: WorkerSketches
    var doorbell: DaemonDoorbell
    /// Per doorbell segment (the doorbell's indices, `segments`' order): the
    /// endpoints of this worker in it. Rebuilt with the doorbell or the
    /// scheduler; the worker's alone.
    var segmentEndpoints: [[Int]] = []
    /// The scheduler flows of the segments that rang (scratch, per wake).
    private var rungFlows: [Int] = []
    let batchSize: Int
    private let spinNanoseconds: UInt64
    private let idlePolicy: IdlePolicy
    var scratch: DrainScratch
    /// Orders from the daemon, appended under the lock by its administration
    /// thread, taken by this worker once it sees the publication the daemon
    /// makes after every order.
    let orders = Locked<[WorkerOrder]>([])
    /// Tenants this worker is retiring, with their channels' answered counts
    /// when the retirement began.
    var retirements: [(tenant: TenantIndex, ticket: RetirementTicket, answeredBefore: UInt64)] = []
    private let stopping = Atomic<Bool>(false)
    private let finished = Atomic<Bool>(false)
    /// Bumped at every housekeeping; the systemd watchdog reads it.
    let heartbeat = WorkerHeartbeat()
    /// This worker's metrics cell (summed by the exporter); nil: no metrics endpoint.
    let metrics: WorkerMetrics?
    /// Channel reclaims logged, a line per tenant per second at most.
    var reclaims = ReclaimLog()

    static var housekeepingNanoseconds: UInt64 { 50_000_000 }
    /// The housekeeping interval of a worker serving more than futex_waitv's
    /// 128 segments. Each of its wakes costs a round and a `hasWork` sweep
    /// over every channel, and each housekeeping a beat on every segment:
    /// with a thousand segments that is most of an idle worker's CPU. Four
    /// times fewer wakes than the default still keep five beats inside
    /// muse.h's one-second liveness age.
    static var manySegmentsHousekeepingNanoseconds: UInt64 { 200_000_000 }

    /// This worker's housekeeping interval, for the segments it serves now.
    private var housekeepingInterval: UInt64 {
        segments.count > 128 ? Self.manySegmentsHousekeepingNanoseconds : Self.housekeepingNanoseconds
    }
    /// How long a stopping worker keeps answering what was submitted before
    /// the stop (well inside systemd's TimeoutStopSec).
    static var stopDrainNanoseconds: UInt64 { 3_000_000_000 }

    /// `channels` are this worker's share: (tenant, segment, channel) triples;
    /// `policies` are every tenant's weight and rate limit, by tenant index.
    init(index: Int, channels: [(TenantIndex, Segment, ChannelIndex)], cell: ServingCell,
         batchSize: Int, spinNanoseconds: UInt64, idlePolicy: IdlePolicy = .adaptive,
         metrics: WorkerMetrics? = nil, policies: TenantPolicyTable = TenantPolicyTable(),
         sketchWindow: SketchWindow = .sincePublication) {
        self.index = index
        sketches = WorkerSketches(window: sketchWindow)
        self.metrics = metrics
        var endpoints = EndpointSet(capacity: channels.count)
        var unique: [ObjectIdentifier: Segment] = [:]
        for (tenant, segment, channel) in channels {
            endpoints.append(ChannelEndpoint(segment: segment, channel: channel, tenant: tenant))
            unique[ObjectIdentifier(segment)] = segment
        }
        self.endpoints = endpoints
        policyTable = policies
        scheduler = FairScheduler(tenants: channels.map(\.0), policies: policies.current, batchSize: batchSize)
        segments = Array(unique.values)
        self.cell = cell
        let (serving, version) = cell.load()
        guard let serving else { preconditionFailure("workers start after a generation is published") }
        self.serving = serving
        servingVersion = version
        doorbell = DaemonDoorbell(segments: segments, worker: index)
        self.batchSize = batchSize
        self.spinNanoseconds = spinNanoseconds
        self.idlePolicy = idlePolicy
        let maxFeatures = channels.map { $0.1.layout.maxFeatures }.max() ?? 1
        scratch = DrainScratch(events: batchSize, maxFeatures: maxFeatures)
        rebuildSegmentEndpoints()
    }

    deinit { scratch.deallocate() }

    func requestStop() { stopping.store(true, ordering: .releasing) }
    var hasFinished: Bool { finished.load(ordering: .acquiring) }

    func run() {
        ThreadSupport.setName("muse-worker-\(index)")
        cell.acknowledge(worker: index, version: servingVersion)
        resetShadows()
        var scorer = WorkerScorer(serving: serving, tally: shadows, sketches: sketches,
                                      alertThresholds: policyTable.current.map(\.alertThresholds),
                                      shadowSample: policyTable.current.map(\.shadowSample), metrics: metrics)
        var idle = IdleStrategy(policy: idlePolicy, maxSpinNanoseconds: spinNanoseconds,
                                now: ThreadSupport.monotonicNanoseconds())
        var nextHousekeeping: UInt64 = 0
        var workedSinceClock = false
        var rounds: UInt32 = 0
        var clockMask: UInt32 = endpoints.count > 16 ? 0 : 63
        while !stopping.load(ordering: .relaxed) {
            if cell.latestVersion != servingVersion {
                pickUpServing()
                applyOrders()
                rebuildScheduler()
                scorer = WorkerScorer(serving: serving, tally: shadows, sketches: sketches,
                                      alertThresholds: policyTable.current.map(\.alertThresholds),
                                      shadowSample: policyTable.current.map(\.shadowSample), metrics: metrics)
                clockMask = endpoints.count > 16 ? 0 : 63
            }
            let answered = scheduler.round(&endpoints, scorer: scorer, scratch: scratch)
            if answered > 0 { workedSinceClock = true }
            rounds &+= 1
            // Read the clock every 64 rounds, not every round: the busy path
            // stays free of vDSO calls. A round over many channels costs far
            // more than a clock read, so with more than 16 the clock is read
            // every round: otherwise an idle worker would spin 64 rounds of
            // hundreds of channels before it could decide to sleep.
            if rounds & clockMask != 0 {
                if answered == 0 { idle.pause() }
                continue
            }
            let now = ThreadSupport.monotonicNanoseconds()
            // Past 128 segments the bits of idle tenants stay raised while
            // the worker is awake: one that rang meanwhile has its bit
            // lowered here, so its next submissions do not ring.
            doorbell.noticeRings()
            let worked = workedSinceClock
            workedSinceClock = false
            if !retirements.isEmpty { finishRetirements(now: now) }
            if now >= nextHousekeeping {
                housekeep(now: now)
                if let table = scorer.sketches { sketches.rotateIfDue(table, now: now) }
                nextHousekeeping = now + housekeepingInterval
            }
            if idle.shouldSleep(now: now, worked: worked) {
                let timeout = Int64(nextHousekeeping > now ? nextHousekeeping - now : 1)
                // The doorbell keeps sleeping through wakes this says are
                // empty, so a stop request must count as work.
                let slept = doorbell.sleep(timeoutNanoseconds: timeout, reclaims: endpoints.reclaims, settleLater: true,
                                           segmentHasWork: { [self] i in
                    stopping.load(ordering: .relaxed) || cell.latestVersion != servingVersion
                        || !segmentEndpoints.indices.contains(i)  // out of step: let the full rounds look
                        || segmentEndpoints[i].contains { endpoints[$0].hasWork() }
                }) {
                    stopping.load(ordering: .relaxed) || cell.latestVersion != servingVersion
                        || endpoints.contains { $0.hasWork() }
                }
                // The tenants that rang are answered before anything sweeps
                // every channel (the full rounds follow, as after any wake).
                if slept && !doorbell.rang.isEmpty && cell.latestVersion == servingVersion {
                    rungFlows.removeAll(keepingCapacity: true)
                    for i in doorbell.rang where segmentEndpoints.indices.contains(i) {
                        for e in segmentEndpoints[i] where !rungFlows.contains(scheduler.flowOfEndpoint[e]) {
                            rungFlows.append(scheduler.flowOfEndpoint[e])
                        }
                    }
                    if scheduler.round(only: rungFlows, &endpoints, scorer: scorer, scratch: scratch) > 0 {
                        workedSinceClock = true
                    }
                }
                // Only now the bits come down: the rung tenants are answered.
                doorbell.settle()
                if slept { for i in 0..<endpoints.count { endpoints[i].resetReclaimPacing() } }
                idle.woke(slept: slept)
                if doorbell.wokeForPrepare { idle.prepared(now: ThreadSupport.monotonicNanoseconds()) }
            } else if answered == 0 && clockMask == 0 {
                // The rounds that read no clock pause; here every round does.
                idle.pause()
            }
        }
        // A stopping worker answers with its bits down: nobody will wait on them.
        doorbell.retire()
        answerSubmittedBeforeStop(scorer: scorer)
        for segment in segments { segment.beat() }
        finished.store(true, ordering: .releasing)
    }

    /// Cold path: the channels or the tenants' policies changed.
    func rebuildScheduler() {
        var tenants: [TenantIndex] = []
        for i in 0..<endpoints.count { tenants.append(endpoints[i].tenant) }
        scheduler = FairScheduler(tenants: tenants, policies: policyTable.current, batchSize: batchSize)
        rebuildSegmentEndpoints()
    }

    /// Cold path: which of this worker's endpoints each doorbell segment holds.
    func rebuildSegmentEndpoints() {
        var bySegment: [ObjectIdentifier: Int] = [:]
        for (i, segment) in segments.enumerated() { bySegment[ObjectIdentifier(segment)] = i }
        var map = Array(repeating: [Int](), count: segments.count)
        for e in 0..<endpoints.count {
            if let i = bySegment[ObjectIdentifier(endpoints[e].segment)] { map[i].append(e) }
        }
        segmentEndpoints = map
    }

    /// Cold path: the shadow tally starts over for `serving`, with room for
    /// its records only if it routes shadows.
    private func resetShadows() {
        let shadowed = serving.tenants.indices.contains { serving.hasShadows(tenant: TenantIndex($0)) }
        shadows.reset(generation: serving.generationID.rawValue, tenants: shadowed ? serving.tenants.count : 0,
                      predictors: shadowed ? serving.generation.routing.predictors.count : 0)
    }

    /// Cold path: a new generation was published.
    private func pickUpServing() {
        let (next, version) = cell.load()
        if let next, next !== serving {
            serving = next
            resetShadows()
        }
        servingVersion = version
        cell.acknowledge(worker: index, version: version)
    }

    /// Cold path: a doorbell for `segments` as they are now; the old one
    /// lowers its bits and cancels its waits first, so nothing is left raised
    /// with nobody waiting.
    func replaceDoorbell() {
        doorbell.retire()
        doorbell = DaemonDoorbell(segments: segments, worker: index)
        rebuildSegmentEndpoints()
    }
}
