#if canImport(Glibc)
import Glibc
#endif
import MuseIPC
import Synchronization

/// A daemon thread that drains a fixed set of channels.
///
/// Its `FairScheduler` decides how much of which tenant each round answers
/// (weighted deficit round robin over tenants, rate limits answered
/// `.overloaded`); see Scheduling/DeficitRoundRobin.swift.
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
    private var endpoints: EndpointSet
    /// Shares this worker among its tenants (weights, rate limits), rebuilt
    /// from `policyTable` whenever the channels or a publication change.
    private var scheduler: FairScheduler
    private let policyTable: TenantPolicyTable
    private var segments: [Segment]
    private let cell: ServingCell
    private var serving: Serving
    private var servingVersion: UInt64
    /// This worker's shadow records (read by the control thread).
    let shadows = ShadowTally()
    /// This worker's live score sketches (read by the control thread).
    let sketches: WorkerSketches
    private var doorbell: DaemonDoorbell
    /// Per doorbell segment (the doorbell's indices, `segments`' order): the
    /// endpoints of this worker in it. Rebuilt with the doorbell or the
    /// scheduler; the worker's alone.
    private var segmentEndpoints: [[Int]] = []
    /// The scheduler flows of the segments that rang (scratch, per wake).
    private var rungFlows: [Int] = []
    private let batchSize: Int
    private let spinNanoseconds: UInt64
    private let idlePolicy: IdlePolicy
    private var scratch: DrainScratch
    /// Orders from the daemon, appended under the lock by its administration
    /// thread, taken by this worker once it sees the publication the daemon
    /// makes after every order.
    private let orders = Locked<[WorkerOrder]>([])
    /// Tenants this worker is draining, with their channels' answered counts
    /// when the drain began.
    private var drains: [(tenant: TenantIndex, ticket: RetirementTicket, answeredBefore: UInt64)] = []
    private let stopping = Atomic<Bool>(false)
    private let finished = Atomic<Bool>(false)
    /// Bumped at every housekeeping; the systemd watchdog reads it.
    let heartbeat = WorkerHeartbeat()
    /// This worker's metrics cell (summed by the exporter); nil: no metrics endpoint.
    let metrics: WorkerMetrics?

    static var housekeepingNanoseconds: UInt64 { 50_000_000 }
    /// The housekeeping interval of a worker serving more than futex_waitv's
    /// 128 segments. Each of its wakes costs a round and a `hasWork` sweep
    /// over every channel, and each housekeeping a beat on every segment;
    /// when every sleep also re-armed every io_uring request (the kernel
    /// looks up each doorbell's page), waking every 50 ms cost an idle
    /// worker with a thousand segments 2.3% of a core. Four times fewer
    /// wakes keep five beats inside muse.h's one-second liveness age.
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
            if !drains.isEmpty { finishDrains(now: now) }
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
        drainBeforeStopping(scorer: scorer)
        for segment in segments { segment.beat() }
        finished.store(true, ordering: .releasing)
    }

    /// Daemon side: queues `order`; the daemon then publishes, which makes
    /// the worker look at its orders.
    func send(_ order: WorkerOrder) { orders.withLock { $0.append(order) } }

    /// Cold path: applies the daemon's orders.
    private func applyOrders() {
        let taken = orders.withLock { queue in
            defer { queue.removeAll() }
            return queue
        }
        for order in taken {
            switch order {
            case .serve(let tenant, let segment, let channels):
                for channel in channels {
                    endpoints.append(ChannelEndpoint(segment: segment, channel: channel, tenant: tenant))
                }
                if segment.layout.maxFeatures > scratch.stride {
                    scratch.deallocate()
                    scratch = DrainScratch(events: batchSize, maxFeatures: segment.layout.maxFeatures)
                }
                if !segments.contains(where: { $0 === segment }) {
                    segments.append(segment)
                    doorbell.retire()
                    doorbell = DaemonDoorbell(segments: segments, worker: index)
                    rebuildSegmentEndpoints()
                }
                segment.beat()
            case .retire(let tenant, let ticket):
                var before: UInt64 = 0
                for i in 0..<endpoints.count where endpoints[i].tenant == tenant {
                    endpoints[i].beginDrain()
                    before &+= endpoints[i].head
                }
                drains.append((tenant, ticket, before))
            }
        }
    }

    /// Gives up the channels of tenants whose drain is over: everything
    /// submitted before it began is answered, or the deadline passed.
    private func finishDrains(now: UInt64) {
        drains.removeAll { drain in
            let done = endpoints.allSatisfy { $0.tenant != drain.tenant || $0.isDrained }
            guard done || now >= drain.ticket.deadline else { return false }
            var answered: UInt64 = 0, left: UInt64 = 0
            for i in 0..<endpoints.count where endpoints[i].tenant == drain.tenant {
                answered &+= endpoints[i].head
                left &+= endpoints[i].undrained
            }
            endpoints.removeAll { $0.tenant == drain.tenant }
            rebuildScheduler()
            let kept = segments.filter { segment in endpoints.contains { $0.segment === segment } }
            if kept.count != segments.count {
                segments = kept
                doorbell.retire()
                doorbell = DaemonDoorbell(segments: segments, worker: index)
                rebuildSegmentEndpoints()
            }
            drain.ticket.report(answered: answered &- drain.answeredBefore, left: left)
            return true
        }
    }

    /// Answers what clients had submitted when the stop came, up to
    /// `stopDrainNanoseconds`; later submissions wait for the next daemon.
    private func drainBeforeStopping(scorer: WorkerScorer) {
        let started = ThreadSupport.monotonicNanoseconds()
        var answered = 0
        for i in 0..<endpoints.count { endpoints[i].beginDrain() }
        while !endpoints.allSatisfy({ $0.isDrained })
                && ThreadSupport.monotonicNanoseconds() - started < Self.stopDrainNanoseconds {
            var round = 0
            for i in 0..<endpoints.count {
                round &+= endpoints[i].drain(limit: batchSize, scorer: scorer, scratch: scratch)
            }
            answered &+= round
            if round == 0 { usleep(100) }
        }
        var left: UInt64 = 0
        for i in 0..<endpoints.count { left &+= endpoints[i].undrained }
        if answered > 0 || left > 0 {
            Log.info("worker-drained", ["worker": index, "answered": answered, "left": left,
                                        "milliseconds": (ThreadSupport.monotonicNanoseconds() - started) / 1_000_000])
        }
    }

    /// Cold path: the channels or the tenants' policies changed.
    private func rebuildScheduler() {
        var tenants: [TenantIndex] = []
        for i in 0..<endpoints.count { tenants.append(endpoints[i].tenant) }
        scheduler = FairScheduler(tenants: tenants, policies: policyTable.current, batchSize: batchSize)
        rebuildSegmentEndpoints()
    }

    /// Cold path: which of this worker's endpoints each doorbell segment holds.
    private func rebuildSegmentEndpoints() {
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

    private func housekeep(now: UInt64) {
        heartbeat.beat(worker: index)
        if segments.contains(where: \.isDamaged) { dropDamagedSegments() }
        for segment in segments { segment.beat(now: now) }
        for i in 0..<endpoints.count where endpoints[i].reclaimIfAbandoned() {
            reclaims.record(tenant: endpoints[i].segment.tenant, channel: endpoints[i].channel.rawValue, now: now)
        }
        metrics?.publishReclaims((0..<endpoints.count).map { (endpoints[$0].tenant, endpoints[$0].reclaims) })
        reclaims.flush(now: now)
        reportRateLimits(now: now)
    }

    /// One line a second per tenant whose events went over its rate limit
    /// (answered `.overloaded`): the operator sees it without metrics.
    private func reportRateLimits(now: UInt64) {
        for (tenant, limiter) in scheduler.limiters {
            guard let refused = limiter.refusalsToReport(now: now),
                  let i = (0..<endpoints.count).first(where: { endpoints[$0].tenant == tenant }) else { continue }
            Log.warning("tenant-over-rate-limit", ["tenant": endpoints[i].segment.tenant, "refused_since_last_line": refused,
                                                   "events_per_second": limiter.limit.eventsPerSecond,
                                                   "burst": limiter.limit.burst])
        }
    }

    private var reclaims = ReclaimLog()

    /// Stops serving tenants whose segment file a client truncated; the other
    /// tenants on this worker carry on.
    private func dropDamagedSegments() {
        for segment in segments where segment.isDamaged {
            Log.error("segment-truncated", ["tenant": segment.tenant, "path": segment.path, "reason":
                "a client shrank the segment file; this tenant is no longer served until its file is removed and mused restarted"])
        }
        endpoints.removeAll { $0.segment.isDamaged }
        rebuildScheduler()
        segments.removeAll(where: \.isDamaged)
        doorbell.retire()
        doorbell = DaemonDoorbell(segments: segments, worker: index)
        rebuildSegmentEndpoints()
    }
}

/// Logs channel reclaims, at most one line per tenant per second: a client
/// scribbling over its own segment's channel states must not flood the journal.
struct ReclaimLog {
    private var lastLine: [String: UInt64] = [:]
    private var suppressed: [String: Int] = [:]

    mutating func record(tenant: String, channel: Int, now: UInt64) {
        if let last = lastLine[tenant], now &- last < 1_000_000_000 {
            suppressed[tenant, default: 0] += 1
            return
        }
        lastLine[tenant] = now
        let earlier = suppressed.removeValue(forKey: tenant) ?? 0
        if earlier > 0 {
            Log.info("channel-reclaimed", ["tenant": tenant, "channel": channel, "also_reclaimed_in_last_second": earlier])
        } else {
            Log.info("channel-reclaimed", ["tenant": tenant, "channel": channel])
        }
    }

    /// Reports what the last second held back once it is over.
    mutating func flush(now: UInt64) {
        for (tenant, count) in suppressed where now &- (lastLine[tenant] ?? 0) >= 1_000_000_000 {
            lastLine[tenant] = now
            suppressed[tenant] = nil
            Log.info("channel-reclaimed", ["tenant": tenant, "also_reclaimed_in_last_second": count])
        }
    }
}
